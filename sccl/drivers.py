"""The ``testsuite.py`` drivers: run a list of script invocations in order, resumably, on the
sweep engine of :mod:`sccl.suite` (its lock, its executors and child handling, its logs).

As the original drivers (reference-spec s4), progress lives in a one-integer file
(``test.conf`` by default: the index of the next run), so an interrupted sweep resumes where it
stopped; ``test.conf.sweeps.json`` beside it keys the progress by the sweep's arguments, so a
sweep with other arguments in the same folder never skips runs it has not done
(:mod:`sccl.suite.progress`). Unlike the original, a run that fails stops the sweep with a clear message and the
progress file still points at it (the original ignored exit statuses and moved on, Q36).
The resume granularity is one script invocation (the original's was one speaker / class).

Every executor is the grid's: ``--executor local`` (default) is its local pool, ``--jobs N`` runs
at a time (one job: the runs' output shows live, as the original's); ``--executor slurm`` (or
``submitit-local``) submits them through submitit (job arrays, at most ``--array_parallelism``
in flight). One driver per progress file (a lock), runs die with their driver; the lock, the
runs' logs and the submitit folder live in ``<conf>.grid/``.
"""
from __future__ import annotations

import argparse
import shlex
import time
from pathlib import Path
from typing import Sequence

from sccl.errors import ConfigError, SCCLError
from sccl.suite.executors import threads_per_job
from sccl.suite.sweeps import int_list

__all__ = ["dispatch", "driver_parser", "int_list", "read_progress", "run_driver_sweep", "threads_per_job",
           "write_progress"]


def read_progress(conf: Path, commands: Sequence[Sequence[str]] = (), *, log=print) -> int:
    """The next run of the sweep ``commands`` (progress keyed by the sweep's arguments, the
    original's one-integer ``test.conf`` kept: :mod:`sccl.suite.progress`)."""
    from sccl.suite import progress

    return progress.read(conf, commands, log=log)


def write_progress(conf: Path, value: int, commands: Sequence[Sequence[str]] = ()) -> None:
    from sccl.suite import progress

    progress.write(conf, commands, value)


def driver_parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description,
                                epilog="Other flags (e.g. --synthetic --batch_size 8 --data_dir DIR) "
                                       "are passed to every run.")
    p.add_argument("--conf", default="test.conf", help="progress file (default test.conf, as the original)")
    p.add_argument("--dry_run", "--dry-run", action="store_true", help="print the runs, run nothing")
    from sccl.suite.executors import add_executor_args

    add_executor_args(p)
    return p


def dispatch(args: argparse.Namespace, runs: Sequence[Sequence[str]], tail: Sequence[str], *, cwd: Path,
             conf: Path, log=print) -> int:
    """Run a driver's ``runs`` (each followed by ``tail``) on the executor the flags chose."""
    return run_driver_sweep([[*r, *tail] for r in runs], cwd=cwd, conf=conf, args=args, log=log)


def _spec(folder: str, cmd: Sequence[str]):
    from sccl.suite.spec import RunSpec

    argv = [str(c) for c in cmd]
    own_threads = any(a.split("=", 1)[0] == "--threads" for a in argv)  # the user's --threads wins
    return RunSpec(folder, argv, label=" ".join(argv[:3]), threads_flag=not own_threads)


def run_driver_sweep(commands: Sequence[Sequence[str]], *, cwd: Path, conf: Path, args: argparse.Namespace,
                     log=print) -> int:
    """The runs from the saved progress on, on the sweep engine; the progress file always holds
    the index of the first run not yet finished (with ``--jobs > 1`` later runs may have finished
    too, which is why the continual scripts get ``--skip_done`` from their drivers)."""
    from sccl.suite.executors import make_executor
    from sccl.suite.runner import Policy, run_grid
    from sccl.suite.spec import ROOT, Grid
    from sccl.suite.state import GridState

    if getattr(args, "jobs", 1) < 1:
        raise ConfigError(f"--jobs must be >= 1, got {args.jobs}")
    conf = Path(conf).resolve()
    start = read_progress(conf, commands, log=log)
    n = len(commands)
    if start >= n:
        log(f"{conf.name}: all {n} runs already done (delete {conf} to run the sweep again)")
        return 0
    cwd = Path(cwd).resolve()
    try:
        folder = str(cwd.relative_to(ROOT))
    except ValueError:
        raise ConfigError(f"{cwd} is not inside the repository {ROOT}") from None
    specs = [_spec(folder, cmd) for cmd in commands[start:]]
    grid = Grid()
    for s in specs:
        if s.id not in grid.by_id():
            grid.add(s)
    grid.validate()
    if start:
        log(f"{conf.name}: resuming at run {start + 1} of {n}")
    if args.dry_run:
        threads = [f"--threads={threads_per_job(args.jobs)}"] if args.executor == "local" else []
        for i, s in enumerate(specs, start + 1):
            log(f"[{i}/{n}] {shlex.join([*s.argv, *(threads if s.threads_flag else [])])}")
        return 0
    state = GridState(conf.parent, name=conf.name + ".grid")
    executor = make_executor(args, submitit_folder=state.dir / "submitit", state=state,
                             echo=getattr(args, "jobs", 1) == 1)
    finished: set[str] = set()

    def advance(run_id: str, status: str) -> None:
        if status not in ("done", "skipped"):
            return
        finished.add(run_id)
        nxt = start
        while nxt < n and specs[nxt - start].id in finished:
            nxt += 1
        write_progress(conf, max(nxt, read_progress(conf, commands, log=lambda m: None)), commands)

    t0 = time.time()
    # test.conf is this driver's memory (delete it to run the sweep again), not the done markers
    summary = run_grid(grid, conf.parent, executor, state=state, log=log, forget_done=True,
                       policy=Policy(stop_on_failure=True, on_finish=advance))
    failed = [k for k, s in enumerate(specs) if summary.runs.get(s.id) == "failed"]
    if failed:
        k = failed[0]
        why = summary.messages.get(specs[k].id, "")
        raise SCCLError(f"run {start + k + 1} of {n} failed ({why.split(':')[0]}): `{shlex.join(specs[k].argv)}` "
                        f"(in {cwd}; log: {state.log_path(specs[k].id)}); fix the cause and rerun the testsuite, "
                        f"it resumes at the first unfinished run")
    if not summary.ok:
        raise SCCLError(f"{summary.count('not_run')} runs were not run; rerun the testsuite, it resumes at the "
                        f"first unfinished run")
    log(f"{n - start} runs done in {time.time() - t0:.1f} s")
    return 0
