"""The ``testsuite.py`` drivers: run a list of script invocations in order, resumably.

As the original drivers (reference-spec s4), progress lives in a one-integer file
(``test.conf`` by default: the index of the next run), so an interrupted sweep resumes where it
stopped. Unlike the original, a run that fails stops the sweep with a clear message and the
progress file still points at it (the original ignored exit statuses and moved on, Q36).
The resume granularity is one script invocation (the original's was one speaker / class).

``--executor slurm`` (or ``submitit-local``) sends the same runs to SLURM through submitit
(:mod:`sccl.suite`): every run from the saved progress on is submitted (job arrays, at most
``--array_parallelism`` in flight), the driver waits, reports one line per finished run and a
summary, and then writes the progress file as above. Its logs and lock live in ``<conf>.grid/``.
"""
from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Sequence

from sccl.errors import ConfigError, SCCLError
from sccl.suite.executors import threads_per_job
from sccl.suite.sweeps import int_list

__all__ = ["dispatch", "driver_parser", "int_list", "read_progress", "run_cluster_sweep", "run_sweep",
           "threads_per_job", "write_progress"]


def read_progress(conf: Path) -> int:
    if not conf.exists():
        write_progress(conf, 0)
        return 0
    text = conf.read_text().strip().splitlines()
    try:
        value = int(text[0]) if text else 0
    except ValueError:
        raise ConfigError(f"{conf} should hold one integer (the next run to do), found {text[0]!r}: "
                          f"fix or delete it (deleting restarts the sweep)") from None
    if value < 0:
        raise ConfigError(f"{conf} holds {value}; it should be >= 0")
    return value


def write_progress(conf: Path, value: int) -> None:
    tmp = conf.with_name(conf.name + ".tmp")
    tmp.write_text(f"{value}\n")
    os.replace(tmp, conf)




def run_sweep(commands: Sequence[Sequence[str]], *, cwd: Path, conf: Path, jobs: int = 1,
              dry_run: bool = False, log=print) -> int:
    """Run ``commands`` (argv lists; a first item ending in .py runs with this Python, in ``cwd``)
    from the saved progress on, ``jobs`` at a time. The progress file always holds the index of
    the first run not yet finished; with ``jobs > 1`` later runs may have finished too, which is
    why the continual scripts get ``--skip_done`` from their drivers."""
    if jobs < 1:
        raise ConfigError(f"--jobs must be >= 1, got {jobs}")
    conf = Path(conf)
    start = read_progress(conf)
    n = len(commands)
    if start >= n:
        log(f"{conf.name}: all {n} runs already done (delete {conf} to run the sweep again)")
        return 0
    if start:
        log(f"{conf.name}: resuming at run {start + 1} of {n}")
    if dry_run:
        for i in range(start, n):
            log(f"[{i + 1}/{n}] {shlex.join(str(c) for c in commands[i])}")
        return 0

    def launch(i: int):
        argv = [str(c) for c in commands[i]]
        if argv[0].endswith(".py"):
            argv = [sys.executable, *argv]
        shown = shlex.join(str(c) for c in commands[i])
        log(f"[{i + 1}/{n}] start {shown}")
        t0 = time.time()
        if jobs == 1:
            proc = subprocess.run(argv, cwd=cwd)
            tail = ""
        else:  # keep parallel children's output apart: show it when the run ends
            proc = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            tail = "\n".join(proc.stdout.splitlines()[-15:])
        return i, proc.returncode, time.time() - t0, shown, tail

    finished = set()
    failure = None
    t_all = time.time()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        todo = iter(range(start, n))
        running = set()
        while True:
            while failure is None and len(running) < jobs:
                i = next(todo, None)
                if i is None:
                    break
                running.add(pool.submit(launch, i))
            if not running:
                break
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for fut in done:
                i, rc, dt, shown, tail = fut.result()
                if rc != 0:
                    if tail:
                        log(tail)
                    failure = failure or (i, rc, shown)
                    continue
                finished.add(i)
                log(f"[{i + 1}/{n}] done in {dt:.1f} s")
                nxt = start
                while nxt in finished:
                    nxt += 1
                write_progress(conf, max(nxt, read_progress(conf)))
    if failure is not None:
        i, rc, shown = failure
        raise SCCLError(f"run {i + 1} of {n} failed with exit status {rc}: `{shown}` (in {cwd}); "
                        f"fix the cause and rerun the testsuite, it resumes at the first unfinished run")
    log(f"{n - start} runs done in {time.time() - t_all:.1f} s")
    return 0


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
    """Run a driver's ``runs`` (each followed by ``--threads=N`` and ``tail``) on the executor the
    flags chose: the local sweep of :func:`run_sweep` (default, unchanged) or submitit."""
    if args.executor == "local":
        threads = f"--threads={threads_per_job(args.jobs)}"
        return run_sweep([[*r, threads, *tail] for r in runs], cwd=cwd, conf=conf, jobs=args.jobs,
                         dry_run=args.dry_run, log=log)
    return run_cluster_sweep([[*r, *tail] for r in runs], cwd=cwd, conf=conf, args=args, log=log)


def run_cluster_sweep(commands: Sequence[Sequence[str]], *, cwd: Path, conf: Path, args: argparse.Namespace,
                      log=print) -> int:
    """The runs from the saved progress on, through submitit; then the progress file is set to the
    first run that did not finish (all of them: the number of runs)."""
    from sccl.suite.executors import make_executor
    from sccl.suite.runner import run_grid
    from sccl.suite.spec import ROOT, Grid, RunSpec
    from sccl.suite.state import GridState

    conf = Path(conf).resolve()
    start = read_progress(conf)
    n = len(commands)
    if start >= n:
        log(f"{conf.name}: all {n} runs already done (delete {conf} to run the sweep again)")
        return 0
    cwd = Path(cwd).resolve()
    try:
        folder = str(cwd.relative_to(ROOT))
    except ValueError:
        raise ConfigError(f"{cwd} is not inside the repository {ROOT}") from None
    specs = [RunSpec(folder, [str(c) for c in cmd], label=" ".join(str(c) for c in cmd[:3]))
             for cmd in commands[start:]]
    grid = Grid()
    for s in specs:
        if s.id not in grid.by_id():
            grid.add(s)
    grid.validate()
    if start:
        log(f"{conf.name}: resuming at run {start + 1} of {n}")
    state = GridState(conf.parent, name=conf.name + ".grid")
    if args.dry_run:
        for i, s in enumerate(specs, start + 1):
            log(f"[{i}/{n}] {s.shown()}")
        return 0
    executor = make_executor(args, submitit_folder=state.dir / "submitit", state=state)
    # test.conf is this driver's memory (delete it to run the sweep again), not the done markers
    summary = run_grid(grid, conf.parent, executor, state=state, log=log, forget_done=True)
    finished = {i for i, st in summary.runs.items() if st in ("done", "skipped")}
    nxt = start
    while nxt < n and specs[nxt - start].id in finished:
        nxt += 1
    write_progress(conf, max(nxt, read_progress(conf)))
    if nxt < n:
        failed = [i for i, st in summary.runs.items() if st == "failed"]
        first = next((start + k + 1 for k, s in enumerate(specs) if s.id in failed), nxt + 1)
        shown = shlex.join(str(c) for c in commands[first - 1])
        raise SCCLError(f"{len(failed)} of {n - start} runs failed, the first: run {first} of {n} `{shown}` "
                        f"(in {cwd}; log: {state.log_dir}); fix the cause and rerun the testsuite, it resumes "
                        f"at the first unfinished run")
    return 0
