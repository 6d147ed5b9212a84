"""Sweeps on a real SLURM cluster: the tiny grid and a per-folder testsuite through
``--executor slurm``, job arrays, and the faults (a run that fails, a job cancelled with
``scancel`` mid-run, a driver killed while its jobs are queued, a driver killed during ``sbatch``).

These tests need a running cluster; ``make test-slurm`` installs SLURM (Debian packages, as
root), starts a single-node cluster on 127.0.0.1 (scripts/slurm_cluster.sh), runs them with
SCCL_SLURM_TESTS=1 and stops the cluster. Elsewhere (``make test``) they are skipped.
Each test has its own grid folder, so its own submitit folder (job ids restart at 1 on a fresh
cluster: a shared folder could mix two clusters' jobs).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import ROOT, TINY_FLAGS, run_script

pytestmark = pytest.mark.slurm
POLL = "0.5"  # seconds between two looks at the jobs (15 on a real cluster)


def _why_no_cluster() -> str | None:
    if not os.environ.get("SCCL_SLURM_TESTS"):
        return ("SLURM tests: run `make test-slurm` (as root: installs SLURM, starts a single-node cluster on "
                "127.0.0.1, runs them, stops it), or set SCCL_SLURM_TESTS=1 with SLURM_CONF naming a running cluster")
    for cmd in ("sbatch", "squeue", "sacct", "scancel", "sinfo"):
        if shutil.which(cmd) is None:
            return f"SCCL_SLURM_TESTS is set but `{cmd}` is not installed (make test-slurm installs SLURM)"
    try:
        proc = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"no SLURM cluster reachable: sinfo failed ({exc})"
    if proc.returncode != 0 or not re.search(r"idle|mixed|allocated", proc.stdout):
        return f"no SLURM cluster reachable (sinfo: {(proc.stderr or proc.stdout).strip()[:200]}); start one: " \
               f"scripts/slurm_cluster.sh start && source $SCCL_SLURM_DIR/env"
    try:
        import submitit  # noqa: F401
    except ImportError:
        return "submitit is not installed (make install)"
    return None


_WHY = _why_no_cluster()
if _WHY:
    pytestmark = [pytest.mark.slurm, pytest.mark.skip(reason=_WHY)]


def sacct(*job_ids: str) -> dict[str, tuple[str, str]]:
    """job id -> (state, exit code) as the accounting database has them (waits for it to know them all)."""
    rows = {}
    for _ in range(60):
        proc = subprocess.run(["sacct", "-X", "-n", "-P", "-o", "JobID,State,ExitCode", "-S", "now-1hours",
                               *[f"-j{j}" for j in job_ids]], capture_output=True, text=True, timeout=30)
        rows = {}
        for line in proc.stdout.split("\n"):
            if line.strip():
                jid, state, code = line.split("|")
                rows[jid] = (state.split(" ")[0], code)
        if all(j in rows and rows[j][0] not in ("PENDING", "RUNNING", "COMPLETING") for j in job_ids):
            return rows
        time.sleep(0.5)
    raise AssertionError(f"sacct does not know jobs {job_ids}: {rows}")


def squeue() -> list[tuple[str, str]]:
    proc = subprocess.run(["squeue", "-h", "-r", "-o", "%i %T"], capture_output=True, text=True, timeout=30)
    return [tuple(ln.split()) for ln in proc.stdout.splitlines() if ln.strip()]


def submissions(out: Path) -> list[str]:
    """Job ids of every job submitit submitted for the grid in ``out`` (one file per job)."""
    return sorted(p.name.removesuffix("_submitted.pkl") for p in (out / "grid" / "submitit").glob("*_submitted.pkl"))


def slurm_args(*extra) -> list[str]:
    return ["--executor", "slurm", "--poll", POLL, "--time", "10", *extra]


# --------------------------------------------------------------------------- fake runs


def job(name: str, log: Path, *, deps=(), after=(), sleep: float = 0.0, fail_once: bool = False,
        slow_once: float = 0.0):
    """A run that notes its start and end in ``log``: ``fail_once`` exits 3 the first time,
    ``slow_once`` sleeps that long the first time (so that it can be cancelled mid-run)."""
    from sccl.suite.spec import RunSpec

    code = (
        "import sys, time, pathlib\n"
        f"d = pathlib.Path({str(log)!r}); n = {name!r}\n"
        "first = not (d / ('start_' + n)).exists()\n"
        "(d / ('start_' + n)).write_text(repr(time.time()))\n"
        f"time.sleep({slow_once} if first else {sleep})\n"
        f"if first and {fail_once}:\n"
        "    print('error: ' + n + ' fails the first time'); sys.exit(3)\n"
        "with open(d / 'count', 'a') as f: f.write(n + '\\n')\n")
    return RunSpec("", ["-c", code], label=f"fake {name}", deps=tuple(deps), after=tuple(after), threads_flag=False)


def pool(out: Path, **params):
    from sccl.suite.executors import ClusterParams, SubmititPool
    from sccl.suite.state import GridState

    state = GridState(out)
    return SubmititPool(state.dir / "submitit", "slurm", ClusterParams(time=10, poll=float(POLL), **params),
                        state), state


def counts(log: Path) -> dict[str, int]:
    names = (log / "count").read_text().split() if (log / "count").exists() else []
    return {n: names.count(n) for n in names}


# --------------------------------------------------------------------------- the tiny grid


def test_tiny_grid_on_slurm_equals_the_local_pool(synth_dir, tmp_path):
    from test_suite import N_RUNS, grid_cmd, results

    env = {**os.environ, "SCCL_NO_PROGRESS": "1"}
    local, slurm = tmp_path / "local", tmp_path / "slurm"
    t0 = time.time()
    ref = subprocess.run(grid_cmd(synth_dir, local, "--jobs", "2"), cwd=ROOT, capture_output=True, text=True,
                         env=env, timeout=900)
    t1 = time.time()
    proc = subprocess.run(grid_cmd(synth_dir, slurm, *slurm_args()), cwd=ROOT, capture_output=True, text=True,
                          env=env, timeout=900)
    t2 = time.time()
    assert ref.returncode == 0 and proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    print(f"tiny grid: local pool --jobs 2 {t1 - t0:.1f} s, SLURM {t2 - t1:.1f} s")
    lines = proc.stdout.strip().splitlines()
    assert "(SLURM, 1 CPU(s) per run" in lines[0]
    assert lines[-1].startswith(f"grid: {N_RUNS} runs: {N_RUNS} done, 0 skipped, 0 failed, 0 not run")
    # byte-identical results (CSV rows, TXT, records, artifacts tensor by tensor)
    mine, theirs = results(slurm), results(local)
    assert mine.keys() == theirs.keys() and mine == theirs
    # every run was one SLURM job, recorded with its id, COMPLETED in the accounting database,
    # started after its dependencies' jobs ended
    markers = [json.loads(p.read_text()) for p in (slurm / "grid" / "done").glob("*.json")]
    ids = [m["job_id"] for m in markers]
    assert len(set(ids)) == N_RUNS and sorted(ids) == sorted(submissions(slurm))
    assert {s for s, _ in sacct(*ids).values()} == {"COMPLETED"}
    by_id = {m["id"]: m for m in markers}
    for m in markers:
        for d in m["deps"]:
            assert m["finished"] - m["wall_s"] >= by_id[d]["finished"] - 0.5
    # runs ready in the same round went out as one job array (the two pretrainings)
    assert any("_" in i for i in ids)
    # a rerun submits nothing
    again = subprocess.run(grid_cmd(synth_dir, slurm, *slurm_args()), cwd=ROOT, capture_output=True, text=True,
                           env=env, timeout=300)
    assert again.returncode == 0 and f"{N_RUNS} already done, skipped" in again.stdout
    assert sorted(submissions(slurm)) == sorted(ids)


def test_testsuite_driver_on_slurm(speaker_dir, tmp_path):
    flags = ["--speakers", "0", "--strategies", "naive,rehearsal", "--reharsal_sizes", "1", *TINY_FLAGS[:-1],
             "--override_epochs=1", f"--statedict_dir={speaker_dir}"]
    run_script("sample_incremental/testsuite.py", *flags, f"--conf={tmp_path / 'local.conf'}",
               f"--out_dir={tmp_path / 'local'}")
    proc = run_script("sample_incremental/testsuite.py", *flags, *slurm_args(), f"--conf={tmp_path / 's.conf'}",
                      f"--out_dir={tmp_path / 'slurm'}")
    assert "SLURM" in proc.stdout and "2 done" in proc.stdout
    assert (tmp_path / "s.conf").read_text().strip() == "2"
    for csv in ("naive_incremental_csv.csv", "rehearsal_64_csv.csv"):
        mine = sorted((tmp_path / "slurm" / csv).read_text().splitlines())
        assert mine and mine == sorted((tmp_path / "local" / csv).read_text().splitlines())
    ids = [p.name.removesuffix("_submitted.pkl") for p in (tmp_path / "s.conf.grid/submitit").glob("*_submitted.pkl")]
    assert len(ids) == 2 and {s for s, _ in sacct(*ids).values()} == {"COMPLETED"}
    # the two runs were ready together: one array of two tasks
    assert len({i.split("_")[0] for i in ids}) == 1


# --------------------------------------------------------------------------- faults


def test_failed_and_cancelled_jobs_then_rerun(tmp_path):
    """A run that exits 3 and one whose job is cancelled with scancel while it runs: one line
    each, recorded, their dependants not run, the independent runs finish; the rerun completes
    the grid without running a finished run again."""
    from sccl.suite import run_grid
    from sccl.suite.spec import Grid

    log, out = tmp_path / "log", tmp_path / "out"
    log.mkdir()
    g = Grid()
    a = g.add(job("a", log, sleep=0.5))
    bad = g.add(job("bad", log, fail_once=True))
    g.add(job("after_bad", log, deps=[bad]))
    slow = g.add(job("slow", log, slow_once=120))
    mid = g.add(job("after_slow", log, deps=[slow]))
    g.add(job("after_after_slow", log, deps=[mid]))
    g.add(job("after_a", log, deps=[a], sleep=1.0))
    g.validate()
    ex, state = pool(out, array_parallelism=8)
    lines: list[str] = []
    result = {}
    driver = threading.Thread(target=lambda: result.update(s=run_grid(g, out, ex, state=state, log=lines.append)))
    driver.start()
    slow_id = next(s.id for s in g.runs if s.label == "fake slow")
    deadline = time.time() + 120
    while not (log / "start_slow").exists() and time.time() < deadline:
        time.sleep(0.1)
    assert (log / "start_slow").exists(), lines
    job_id = state.submitted(slow_id)["job_id"]
    subprocess.run(["scancel", job_id], check=True, timeout=30)
    driver.join(timeout=180)
    assert not driver.is_alive()
    s = result["s"]
    assert (s.count("done"), s.count("failed"), s.count("not_run")) == (2, 2, 3), lines
    failed = [ln for ln in lines if "FAILED" in ln]
    assert len(failed) == 2
    bad_line = next(ln for ln in failed if "fake bad " in ln)
    assert "exit status 3 (job " in bad_line and "error: bad fails the first time" in bad_line
    slow_line = next(ln for ln in failed if "fake slow " in ln)
    assert f"job {job_id} ended in state CANCELLED" in slow_line and "the run got signal 15" in slow_line
    assert sum("] not run" in ln for ln in lines) == 3
    # recorded: the summary names both with their SLURM job, the accounting database agrees
    summary = json.loads((out / "grid" / "summary.json").read_text())
    assert set(summary["failed_runs"]) == {bad, slow_id} and job_id in summary["failed_runs"][slow_id]
    bad_job = re.search(r"\(job (\S+)\)", bad_line).group(1)
    states = sacct(job_id, bad_job)
    assert states[job_id][0] == "CANCELLED" and states[bad_job] == ("FAILED", "1:0")
    assert not list((out / "grid" / "submitted").glob("*.json"))  # nothing left to adopt
    assert counts(log) == {"a": 1, "after_a": 1}
    # the rerun: the two failed runs and their dependants, nothing else
    before = len(submissions(out))
    lines.clear()
    ex, state = pool(out, array_parallelism=8)
    s = run_grid(g, out, ex, state=state, log=lines.append)
    assert s.ok and (s.count("skipped"), s.count("done")) == (2, 5), lines
    assert counts(log) == {n: 1 for n in ("a", "after_a", "bad", "after_bad", "slow", "after_slow",
                                          "after_after_slow")}
    assert len(submissions(out)) == before + 5


def _driver_script(tmp_path: Path, log: Path, out: Path) -> Path:
    """A driver in its own process (to be killed): five independent runs of 3 s (more than the
    node's CPUs: some stay queued) and one that needs all of them."""
    script = tmp_path / "driver.py"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from pathlib import Path\n"
        "from test_slurm import fault_grid, pool\n"
        "from sccl.suite import run_grid\n"
        f"out = Path({str(out)!r})\n"
        f"ex, state = pool(out, array_parallelism=8)\n"
        f"s = run_grid(fault_grid(Path({str(log)!r})), out, ex, state=state)\n"
        "sys.exit(0 if s.ok else 2)\n")
    return script


def fault_grid(log: Path):
    from sccl.suite.spec import Grid

    g = Grid()
    firsts = [g.add(job(f"q{i}", log, sleep=3)) for i in range(5)]
    g.add(job("last", log, deps=firsts))
    return g.validate()


def test_driver_killed_while_jobs_are_queued(tmp_path):
    """kill -9 of the driver with jobs running and queued; the jobs go on; the next driver
    adopts them (the finished ones with their results, the queued ones when they end) instead of
    submitting them again, then runs the rest: every run once, every job submitted once."""
    from sccl.suite import run_grid

    log, out = tmp_path / "log", tmp_path / "out"
    log.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    driver = subprocess.Popen([sys.executable, str(_driver_script(tmp_path, log, out))], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        states = {s for _, s in squeue()}
        records = [json.loads(p.read_text() or "{}") for p in (out / "grid" / "submitted").glob("*.json")]
        if len(records) == 5 and all("job_id" in r for r in records) and {"RUNNING", "PENDING"} <= states:
            break
        time.sleep(0.1)
    os.kill(driver.pid, signal.SIGKILL)
    driver.communicate(timeout=30)
    queued = squeue()
    assert {"RUNNING", "PENDING"} <= {s for _, s in queued}, queued
    first = submissions(out)
    assert len(first) == 5 and len({i.split("_")[0] for i in first}) == 1  # one job array of five
    sbatch = next((out / "grid" / "submitit").glob("*_submission.sh"), None)
    assert sbatch is not None and "#SBATCH --array=0-4%5" in sbatch.read_text()  # at most 8 in flight: all 5
    # let a job end while no driver watches: the next driver takes its result, does not rerun it
    while not (log / "count").exists() and time.time() < deadline:
        time.sleep(0.1)
    lines: list[str] = []
    ex, state = pool(out, array_parallelism=8)
    s = run_grid(fault_grid(log), out, ex, state=state, log=lines.append)
    assert s.ok and s.count("done") == 6, lines
    assert "grid: 5 runs submitted by an earlier driver are still queued or running" in "\n".join(lines), lines
    assert counts(log) == {n: 1 for n in ("q0", "q1", "q2", "q3", "q4", "last")}
    assert len(submissions(out)) == 6 and set(first) <= set(submissions(out))


def test_driver_killed_during_sbatch_cancels_and_resubmits(tmp_path):
    """The one moment the job ids are not yet recorded (sbatch has returned, the driver dies):
    the next driver finds the submission by its job name, cancels it and submits the run again,
    so it never runs twice at once."""
    from sccl.suite import run_grid
    from sccl.suite.spec import Grid

    log, out = tmp_path / "log", tmp_path / "out"
    log.mkdir()
    g = Grid()
    a = g.add(job("a", log))
    g.validate()
    ex, state = pool(out)
    state.prepare()
    name = f"sccl-orphan-{os.getpid()}"
    orphan = subprocess.run(["sbatch", "--parsable", f"--job-name={name}", f"--output={tmp_path}/orphan.out",
                             "--wrap", "sleep 120"], capture_output=True, text=True, check=True, timeout=30)
    orphan_id = orphan.stdout.strip().split(";")[0]
    state.mark_submitted(a, {"cluster": "slurm", "folder": str(ex.folder), "name": name, "submitted": time.time()})
    s = run_grid(g, out, ex, state=state, log=lambda m: None)
    assert s.ok and counts(log) == {"a": 1}
    assert sacct(orphan_id)[orphan_id][0] == "CANCELLED"


def test_cancelled_job_on_a_cluster_without_accounting(tmp_path, monkeypatch):
    """Without accounting (sacct fails) submitit never sees the end of a job cancelled before it
    started (a running one still writes its result): the driver finds it out of the queue
    (squeue) without a result and reports it lost, instead of waiting forever."""
    from sccl.suite import run_grid
    from sccl.suite.spec import Grid

    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "sacct").write_text("#!/bin/sh\necho 'sacct: error: accounting storage is disabled' >&2\nexit 1\n")
    (fake_bin / "sacct").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_bin}{os.pathsep}{os.environ['PATH']}")
    log, out = tmp_path / "log", tmp_path / "out"
    log.mkdir()
    g = Grid()
    held = g.add(job("held", log))
    g.add(job("after_held", log, deps=[held]))
    g.validate()
    ex, state = pool(out, additional={"begin": "now+600"})  # stays PENDING
    ex.lost_after_s = 2.0
    lines: list[str] = []
    result = {}
    driver = threading.Thread(target=lambda: result.update(s=run_grid(g, out, ex, state=state, log=lines.append)))
    driver.start()
    deadline = time.time() + 60
    while time.time() < deadline and not (state.submitted(held) or {}).get("job_id"):
        time.sleep(0.1)
    job_id = state.submitted(held)["job_id"]
    assert dict(squeue()).get(job_id) == "PENDING"
    subprocess.run(["scancel", job_id], check=True, timeout=30)
    driver.join(timeout=120)
    assert not driver.is_alive(), "the driver still waits for a cancelled job"
    s = result["s"]
    assert (s.count("failed"), s.count("not_run")) == (1, 1), lines
    failed = [ln for ln in lines if "FAILED" in ln]
    assert len(failed) == 1 and f"job {job_id} left the queue without a result" in failed[0]
    assert not (log / "start_held").exists()
    ex, state = pool(out)
    s = run_grid(g, out, ex, state=state, log=lines.append)
    assert s.ok and counts(log) == {"held": 1, "after_held": 1}
