"""Where the runs of a grid execute: a local process pool, or SLURM (or its local stand-in)
through submitit.

Both take ready runs (``start``) and report finished ones (``poll``); the driver
(:mod:`sccl.suite.runner`) decides what is ready. Every run is a subprocess
``python script.py args --threads=N`` whose stdout + stderr go to the run's log file.

* ``LocalPool(jobs)``: at most ``jobs`` runs at a time, ``threads_per_job(jobs)`` torch threads
  each (so they do not oversubscribe the cores). On Linux a run dies with its driver (kill -9
  of the driver leaves no orphan behind that could still write after a restart). ``echo=True``
  also shows a run's stdout / stderr live on the driver's (the testsuite drivers with one job,
  as the original drivers did); the log file gets it all the same.
* ``SubmititPool(cluster="slurm" | "local", ...)``: ready runs are submitted as job arrays
  (one array per scheduling round), at most ``array_parallelism`` in flight; ``cpus_per_task``
  threads per run. ``cluster="local"`` is submitit's own local executor: the same code path as
  SLURM, on this machine (what the tests and CI use). submitit is optional:
  ``pip install 'sccl[slurm]'``.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from sccl.errors import ConfigError, SCCLError

EXECUTORS = ("local", "slurm", "submitit-local")


def threads_per_job(jobs: int) -> int:
    """Intra-op threads per child so that ``jobs`` children do not oversubscribe the cores
    (a 2-thread torch process next to another busy one ran 25x slower than with 1 thread)."""
    return max(1, (os.cpu_count() or 1) // max(1, jobs))


def child_env(threads: int) -> dict:
    """Environment additions of every run."""
    t = str(threads)
    return {"SCCL_NO_PROGRESS": "1", "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": t, "MKL_NUM_THREADS": t}


@dataclass
class Finished:
    key: str
    rc: int | None          # None: the job system lost the job (message says why)
    wall_s: float
    message: str = ""
    info: dict = field(default_factory=dict)  # recorded with the run (cluster job id and state)


def _libc_prctl():
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _libc_prctl()


def _die_with(parent: int):
    """A ``preexec_fn``: the child gets SIGKILL when the driver dies (Linux PR_SET_PDEATHSIG), so
    a driver killed with kill -9 leaves no run behind that could still write after a restart."""
    def preexec():  # pragma: no cover - runs in the child between fork and exec
        _PRCTL(1, signal.SIGKILL, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the driver died before the line above
            os.kill(os.getpid(), signal.SIGKILL)
    return preexec if _PRCTL is not None else None


class _Tee:
    """Copy a child's stdout and stderr, line by line, into its log file and onto the driver's."""

    def __init__(self, proc: subprocess.Popen, log: Path):
        self.file = open(log, "w")
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._copy, args=(pipe, stream), daemon=True)
                        for pipe, stream in ((proc.stdout, sys.stdout), (proc.stderr, sys.stderr))]
        for t in self.threads:
            t.start()

    def _copy(self, pipe, stream) -> None:
        shown = True
        for line in iter(pipe.readline, ""):  # drained to the end whatever happens to the driver's streams
            with self.lock:
                self.file.write(line)
                self.file.flush()
            if shown:
                try:
                    stream.write(line)
                    stream.flush()
                except (OSError, ValueError):  # e.g. the driver's stdout is a closed pipe
                    shown = False
        pipe.close()

    def close(self) -> None:
        for t in self.threads:
            t.join()
        self.file.close()


class LocalPool:
    name = "local"

    def __init__(self, jobs: int = 1, threads: int | None = None, echo: bool = False):
        if jobs < 1:
            raise ConfigError(f"--jobs must be >= 1, got {jobs}")
        self.capacity = jobs
        self.threads = threads or threads_per_job(jobs)
        self.echo = echo
        self.poll_s = 0.05
        self._procs: dict[str, tuple[subprocess.Popen, float]] = {}
        self._tees: dict[str, _Tee] = {}

    def describe(self) -> str:
        return f"local pool, {self.capacity} job(s) x {self.threads} thread(s)"

    def running(self) -> int:
        return len(self._procs)

    def start(self, items: list[tuple[str, list[str], Path, Path]]) -> None:
        """Start runs: (key, argv, cwd, log file)."""
        env = {**os.environ, **child_env(self.threads)}
        preexec = _die_with(os.getpid())
        for key, argv, cwd, log in items:
            if self.echo:
                proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        stdin=subprocess.DEVNULL, preexec_fn=preexec, text=True, errors="replace")
                self._tees[key] = _Tee(proc, log)
            else:
                with open(log, "w") as f:
                    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=f, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, preexec_fn=preexec)
            self._procs[key] = (proc, time.time())

    def _ended(self, key: str) -> None:
        tee = self._tees.pop(key, None)
        if tee is not None:
            tee.close()

    def poll(self) -> list[Finished]:
        out = []
        for key, (proc, t0) in list(self._procs.items()):
            rc = proc.poll()
            if rc is not None:
                del self._procs[key]
                self._ended(key)
                out.append(Finished(key, rc, time.time() - t0))
        return out

    def cancel_all(self) -> None:
        for proc, _ in self._procs.values():
            if proc.poll() is None:
                proc.terminate()
        deadline = time.time() + 10
        for proc, _ in self._procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for key in list(self._tees):
            self._ended(key)
        self._procs.clear()


# --------------------------------------------------------------------------- submitit


class RunFailed(RuntimeError):
    """Raised in a job whose run exited non-zero: the job then fails too (SLURM state FAILED,
    what ``sacct`` users look for), and the driver reads the exit status from the message."""


RUN_FAILED = re.compile(r"RunFailed: exit status (-?\d+)")


def job_main(argv: list[str], cwd: str, env: dict, log: str) -> int:
    """What a submitit job runs: the command, output to the run's log; 0, or RunFailed with the
    command's exit status."""
    with open(log, "w") as f:
        rc = subprocess.run(argv, cwd=cwd, env={**os.environ, **env}, stdout=f, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL).returncode
    if rc != 0:
        raise RunFailed(f"exit status {rc}")
    return 0


def import_submitit():
    try:
        import submitit
    except ImportError:
        raise SCCLError("--executor slurm / submitit-local needs submitit: pip install 'sccl[slurm]' "
                        "(or pip install submitit)") from None
    return submitit


def parse_time(text) -> int:
    """SLURM time (minutes, MM:SS, HH:MM:SS, D-HH[:MM[:SS]]) -> whole minutes."""
    if isinstance(text, (int, float)):
        return int(math.ceil(text))
    t = str(text).strip()
    m = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", t)
    if not m:
        raise ConfigError(f"--time {text!r}: use minutes (90) or SLURM's HH:MM:SS / D-HH:MM:SS")
    days, a, b, c = m.groups()
    nums = [int(x) for x in (a, b, c) if x is not None]
    if days is not None:  # D-HH, D-HH:MM, D-HH:MM:SS
        h, mi, s = (nums + [0, 0])[:3]
        total = int(days) * 1440 + h * 60 + mi + s / 60
    elif len(nums) == 1:
        total = nums[0]
    elif len(nums) == 2:  # MM:SS
        total = nums[0] + nums[1] / 60
    else:
        total = nums[0] * 60 + nums[1] + nums[2] / 60
    return max(1, int(math.ceil(total)))


def parse_mem(text) -> float:
    """'16G', '16000M', '16GB', 16 -> gigabytes."""
    if isinstance(text, (int, float)):
        return float(text)
    m = re.fullmatch(r"\s*([\d.]+)\s*([KMGT]?)B?\s*", str(text).upper())
    if not m:
        raise ConfigError(f"--mem {text!r}: use e.g. 16G or 16000M")
    scale = {"K": 1 / 1024 ** 2, "M": 1 / 1024, "G": 1, "T": 1024, "": 1}[m.group(2)]
    return float(m.group(1)) * scale


@dataclass
class ClusterParams:
    partition: str | None = None
    time: int = 24 * 60               # minutes per run
    gpus: int = 0                     # per run
    mem_gb: float | None = None
    cpus_per_task: int = 1
    array_parallelism: int = 64
    account: str | None = None
    qos: str | None = None
    additional: dict = field(default_factory=dict)  # any other sbatch option
    setup: list = field(default_factory=list)       # shell lines run before each job (module load ...)
    poll: float | None = None         # seconds between two looks at the jobs (None: 15 s on SLURM)


CLUSTER_KEYS = ("partition", "time", "gpus", "mem", "cpus_per_task", "array_parallelism", "account",
                "qos", "additional", "setup", "poll")


def load_cluster_config(path: Path) -> dict:
    """A small TOML / JSON (or YAML, with PyYAML installed) file with the keys of CLUSTER_KEYS."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"--slurm_config {path}: cannot read it ({exc.strerror})") from None
    try:
        if path.suffix == ".toml":
            import tomllib
            data = tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            try:
                import yaml
            except ImportError:
                raise ConfigError(f"--slurm_config {path}: YAML needs PyYAML (pip install pyyaml); "
                                  f"or write the same keys as TOML or JSON") from None
            data = yaml.safe_load(text) or {}
        else:
            data = json.loads(text)
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(f"--slurm_config {path} is not valid {path.suffix.lstrip('.') or 'JSON'} ({exc})") from None
    data = data.get("slurm", data) if isinstance(data, dict) else data
    if not isinstance(data, dict):
        raise ConfigError(f"--slurm_config {path}: expected a table of settings")
    unknown = sorted(set(data) - set(CLUSTER_KEYS))
    if unknown:
        raise ConfigError(f"--slurm_config {path}: unknown setting(s) {unknown}; known: {', '.join(CLUSTER_KEYS)}")
    return data


def cluster_params(args: argparse.Namespace) -> ClusterParams:
    """Config file first, flags given on the command line over it."""
    conf = load_cluster_config(args.slurm_config) if getattr(args, "slurm_config", None) else {}
    for k in ("partition", "time", "gpus", "mem", "cpus_per_task", "array_parallelism", "account", "qos", "poll"):
        v = getattr(args, k, None)
        if v is not None:
            conf[k] = v
    p = ClusterParams()
    if "partition" in conf:
        p.partition = str(conf["partition"])
    if "time" in conf:
        p.time = parse_time(conf["time"])
    if "gpus" in conf:
        p.gpus = int(conf["gpus"])
    if "mem" in conf:
        p.mem_gb = parse_mem(conf["mem"])
    if "cpus_per_task" in conf:
        p.cpus_per_task = int(conf["cpus_per_task"])
    if "array_parallelism" in conf:
        p.array_parallelism = int(conf["array_parallelism"])
    p.account, p.qos = conf.get("account"), conf.get("qos")
    p.additional = dict(conf.get("additional") or {})
    p.setup = list(conf.get("setup") or [])
    if "poll" in conf:
        try:
            p.poll = float(conf["poll"])
        except (TypeError, ValueError):
            p.poll = -1.0
        if not p.poll > 0:
            raise ConfigError(f"--poll {conf['poll']!r}: give the seconds between two looks at the jobs, e.g. 15")
    if p.cpus_per_task < 1 or p.array_parallelism < 1 or p.gpus < 0:
        raise ConfigError("--cpus_per_task and --array_parallelism must be >= 1, --gpus >= 0")
    return p


# SLURM states of a job that has not ended yet (a preempted job is requeued: it comes back)
IN_FLIGHT = ("PENDING", "RUNNING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "CONFIGURING", "COMPLETING",
             "RESIZING", "SUSPENDED", "PREEMPTED", "SIGNALING", "STAGE_OUT")


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip() and not set(ln.strip()) <= {"-"}]
    return lines[-1] if lines else ""


class SubmititPool:
    """Runs as submitit jobs. Every scheduling round is one ``executor.batch()`` (a SLURM job
    array), named ``sccl-<pid>-<round>``; each run's job is recorded in ``state.submitted`` twice:
    the name before ``sbatch``, the job id after it, so that a driver killed at any point is
    followed by one that adopts the jobs instead of submitting them again (:meth:`adopt`)."""

    def __init__(self, folder: Path, cluster: str, params: ClusterParams, state=None):
        submitit = import_submitit()
        self.submitit = submitit
        self.cluster = cluster
        self.params = params
        self.state = state
        self.folder = Path(folder)
        self.capacity = params.array_parallelism
        self.threads = params.cpus_per_task
        self.poll_s = params.poll or (0.5 if cluster == "local" else 15.0)
        self._jobs: dict[str, tuple[object, float]] = {}
        self._round = 0
        self._names: dict[str, str] = {}      # run -> job name (squeue looks jobs up by name)
        self._gone: dict[str, float] = {}     # run -> when its job was first seen out of the queue
        self._last_queue_check = 0.0
        self.lost_after_s = 60.0              # grace before an unaccounted job is called lost
        ex = submitit.AutoExecutor(folder=self.folder, cluster=cluster)
        kw = dict(name="sccl", timeout_min=params.time, cpus_per_task=params.cpus_per_task,
                  gpus_per_node=params.gpus, mem_gb=params.mem_gb, slurm_partition=params.partition,
                  slurm_array_parallelism=params.array_parallelism)
        extra = dict(params.additional)
        if params.account:
            extra["account"] = params.account
        if params.qos:
            extra["qos"] = params.qos
        if extra:
            kw["slurm_additional_parameters"] = extra
        if params.setup:
            kw["slurm_setup" if cluster == "slurm" else "local_setup"] = list(params.setup)
        ex.update_parameters(**{k: v for k, v in kw.items() if v is not None})
        self.executor = ex

    def describe(self) -> str:
        where = "SLURM" if self.cluster == "slurm" else "submitit's local executor"
        part = f", partition {self.params.partition}" if self.params.partition else ""
        gpus = f", {self.params.gpus} GPU(s)" if self.params.gpus else ""
        return (f"{where}{part}{gpus}, {self.params.cpus_per_task} CPU(s) per run, at most "
                f"{self.capacity} in flight, logs in {self.folder}")

    def running(self) -> int:
        return len(self._jobs)

    def _record(self, key: str, info: dict) -> None:
        if self.state is not None:
            self.state.mark_submitted(key, {"cluster": self.cluster, "folder": str(self.folder), **info})

    def start(self, items: list[tuple[str, list[str], Path, Path]]) -> None:
        env = child_env(self.threads)
        self._round += 1
        name = f"sccl-{os.getpid()}-{self._round}"
        if self.cluster == "slurm":
            self.executor.update_parameters(name=name)
        now = time.time()
        for key, *_ in items:  # before sbatch: a driver killed during it leaves the name to look for
            self._record(key, {"name": name, "submitted": now})
        pending = []
        with self.executor.batch():
            for key, argv, cwd, log in items:
                pending.append((key, self.executor.submit(job_main, list(argv), str(cwd), env, str(log))))
        for key, job in pending:
            self._jobs[key] = (job, now)
            self._names[key] = name
            self._record(key, {"name": name, "submitted": now, "job_id": job.job_id})

    def _belongs(self, job, key: str) -> bool:
        """Whether ``job`` runs ``key`` (job ids restart at 1 on a reinstalled cluster: the id alone
        could name another run's job): its submission file's log path is the run's."""
        try:
            delayed = self.submitit.core.utils.pickle_load(job.paths.submitted_pickle)
            return Path(delayed.args[3]).name == f"{key}.log"
        except Exception:
            return False

    def adopt(self, key: str, info: dict) -> bool:
        """Reattach a job that an earlier driver of this folder (killed or stopped) submitted, when
        it is still queued or running, or ended with a result while no driver watched (poll then
        reports it). A job that ended without one (cancelled, failed) is not adopted: the run is
        submitted again. A submission the earlier driver did not see through (killed during
        ``sbatch``: no job id recorded) is cancelled by its name, then submitted again."""
        if self.cluster != "slurm" or info.get("cluster") != "slurm":
            return False
        if not info.get("job_id"):
            if info.get("name"):
                try:
                    subprocess.run(["scancel", f"--name={info['name']}"], capture_output=True, timeout=60)
                except (OSError, subprocess.SubprocessError):
                    pass
            return False
        try:
            job = self.submitit.SlurmJob(folder=info["folder"], job_id=str(info["job_id"]))
            if not self._belongs(job, key):
                return False
            # squeue, not sacct: the accounting database learns of a queued job with a delay
            queued = subprocess.run(["squeue", "-h", "-r", "-j", job.job_id, "-o", "%T"], capture_output=True,
                                    text=True, timeout=60).stdout.split()
            ended_with_result = job.paths.result_pickle.exists()
        except Exception:
            return False
        if ended_with_result or (queued and queued[0].upper() in IN_FLIGHT):
            self._jobs[key] = (job, float(info.get("submitted", time.time())))
            self._names[key] = info.get("name", "")
            return True
        return False

    @staticmethod
    def _final_state(job, tries: int = 10) -> str:
        """The job's state once the accounting database has its end (it may lag a second)."""
        state = "UNKNOWN"
        for _ in range(tries):
            try:
                state = job.watcher.get_state(job.job_id, mode="force")
            except Exception:
                pass
            if state.split(" ")[0].upper() not in IN_FLIGHT + ("UNKNOWN",):
                break
            time.sleep(0.5)
        return state

    def _lost(self, waiting: dict) -> dict[str, str]:
        """Jobs that left the queue without a result while ``sacct`` knows nothing of them (a
        cluster without accounting: submitit would wait for them forever). ``waiting``: run ->
        job of the jobs submitit does not see as ended. Looked up with ``squeue`` at most every
        5 s; a job is lost once it has been out of the queue for ``lost_after_s``."""
        now = time.time()
        if self.cluster != "slurm" or not waiting or now - self._last_queue_check < max(5.0, self.poll_s):
            return {}
        self._last_queue_check = now
        names = sorted({self._names.get(k) for k in waiting} - {None, ""})
        try:
            proc = subprocess.run(["squeue", "-h", "-r", "-o", "%i", f"--name={','.join(names)}"],
                                  capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.SubprocessError):
            return {}
        if proc.returncode != 0 or not names:
            return {}
        queued = set(proc.stdout.split())
        lost = {}
        for key, job in waiting.items():
            if job.job_id in queued or job.paths.result_pickle.exists() or self._names.get(key) not in names:
                self._gone.pop(key, None)
                continue
            if job.watcher.get_state(job.job_id, mode="cache").split(" ")[0].upper() != "UNKNOWN":
                continue  # sacct knows it: submitit will see it end
            first = self._gone.setdefault(key, now)
            if now - first >= self.lost_after_s:
                lost[key] = (f"job {job.job_id} left the queue without a result and sacct does not know it "
                             f"(no accounting on this cluster?): cancelled, timed out or lost")
        return lost

    def poll(self) -> list[Finished]:
        out = []
        waiting = {}
        for key, (job, t0) in list(self._jobs.items()):
            try:
                if not job.done():
                    waiting[key] = job
                    continue
            except Exception:
                waiting[key] = job
                continue
            del self._jobs[key]
            rc, message, state = None, "", "COMPLETED"
            try:
                rc = int(job.result())
            except self.submitit.core.utils.FailedJobError as exc:  # (a subclass of the next one)
                state = job.state
                failed = RUN_FAILED.search(str(exc))
                if failed:  # the run exited non-zero (the runner reports its log's error line)
                    rc, state = int(failed.group(1)), "FAILED"
                    if rc < 0 and self.cluster == "slurm":  # killed: by SLURM (scancel, time limit)?
                        state = self._final_state(job)
                        if state.split(" ")[0] not in ("FAILED", "COMPLETED"):
                            message = f"job {job.job_id} ended in state {state}: the run got signal {-rc}"
                else:  # the job wrapper itself failed
                    message = f"job {job.job_id} ({state}) failed in submitit: {_last_line(exc)}"
            except self.submitit.core.utils.UncompletedJobError:
                # no result: cancelled, time limit, out of memory, node failure...
                state = job.state
                message = f"job {job.job_id} ended in state {state} without an exit status"
            except Exception as exc:
                state = job.state
                message = f"job {job.job_id} ({state}): {type(exc).__name__}: {_last_line(exc)}"
            if self.state is not None:
                self.state.forget_submitted(key)
            info = {"job_id": job.job_id, "job_state": state} if self.cluster == "slurm" else {}
            out.append(Finished(key, rc, time.time() - t0, message, info))
        for key, message in self._lost(waiting).items():
            job, t0 = self._jobs.pop(key)
            self._gone.pop(key, None)
            if self.state is not None:
                self.state.forget_submitted(key)
            out.append(Finished(key, None, time.time() - t0, message, {"job_id": job.job_id, "job_state": "UNKNOWN"}))
        return out

    def cancel_all(self) -> None:
        for job, _ in self._jobs.values():
            try:
                job.cancel(check=False)
            except Exception:
                pass
        for key in list(self._jobs):
            if self.state is not None:
                self.state.forget_submitted(key)
        self._jobs.clear()
        self._names.clear()
        self._gone.clear()


# --------------------------------------------------------------------------- flags


def add_executor_args(p: argparse.ArgumentParser, *, jobs_flag: bool = True) -> None:
    g = p.add_argument_group("where the runs execute")
    g.add_argument("--executor", choices=EXECUTORS, default="local",
                   help="local: a process pool on this machine (default); slurm: one SLURM job per run "
                        "through submitit; submitit-local: the submitit path on this machine (testing)")
    if jobs_flag:
        g.add_argument("--jobs", type=int, default=1,
                       help="local: runs in parallel (default 1); each gets --threads=cores//jobs")
    g.add_argument("--partition", default=None, help="slurm: partition")
    g.add_argument("--time", default=None, help="slurm: time limit per run (minutes or HH:MM:SS; default 24:00:00)")
    g.add_argument("--gpus", type=int, default=None, help="slurm: GPUs per run (default 0)")
    g.add_argument("--mem", default=None, help="slurm: memory per run, e.g. 8G")
    g.add_argument("--cpus_per_task", "--cpus-per-task", type=int, default=None,
                   help="slurm: CPUs per run = torch threads (default 1)")
    g.add_argument("--array_parallelism", "--array-parallelism", type=int, default=None,
                   help="slurm: runs in flight at once (default 64; submitit-local: --jobs)")
    g.add_argument("--account", default=None, help="slurm: account")
    g.add_argument("--qos", default=None, help="slurm: quality of service")
    g.add_argument("--poll", type=float, default=None,
                   help="slurm: seconds between two looks at the jobs (default 15)")
    g.add_argument("--slurm_config", "--slurm-config", type=Path, default=None,
                   help="TOML / JSON file with the settings above (partition, time, gpus, mem, cpus_per_task, "
                        "array_parallelism, account, qos, poll, additional = {sbatch option = value}, setup = [shell "
                        "lines]); flags override it")


def make_executor(args: argparse.Namespace, *, submitit_folder: Path, state=None, echo: bool = False):
    """The executor the flags chose; ``echo``: a local pool shows its runs' output live."""
    if args.executor == "local":
        return LocalPool(getattr(args, "jobs", 1), echo=echo)
    params = cluster_params(args)
    if args.executor == "submitit-local":
        if args.array_parallelism is None and "array_parallelism" not in (
                load_cluster_config(args.slurm_config) if args.slurm_config else {}):
            params.array_parallelism = getattr(args, "jobs", 1)
        if args.cpus_per_task is None:
            params.cpus_per_task = threads_per_job(params.array_parallelism)
    return SubmititPool(submitit_folder, "local" if args.executor == "submitit-local" else "slurm", params, state)
