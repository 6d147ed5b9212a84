"""The ``testsuite.py`` drivers: run a list of script invocations in order, resumably.

As the original drivers (reference-spec s4), progress lives in a one-integer file
(``test.conf`` by default: the index of the next run), so an interrupted sweep resumes where it
stopped. Unlike the original, a run that fails stops the sweep with a clear message and the
progress file still points at it (the original ignored exit statuses and moved on, Q36).
The resume granularity is one script invocation (the original's was one speaker / class).
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


def threads_per_job(jobs: int) -> int:
    """Intra-op threads per child so that ``jobs`` children do not oversubscribe the cores
    (a 2-thread torch process next to another busy one ran 25x slower than with 1 thread)."""
    return max(1, (os.cpu_count() or 1) // max(1, jobs))


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


def int_list(text: str) -> list[int]:
    """'0..11' or '0,3,5' or '4' -> list of ints."""
    try:
        if ".." in text:
            lo, hi = text.split("..")
            return list(range(int(lo), int(hi) + 1))
        return [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a list like 0..11 or 0,3,5, got {text!r}") from None


def driver_parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description,
                                epilog="Other flags (e.g. --synthetic --batch_size 8 --data_dir DIR) "
                                       "are passed to every run.")
    p.add_argument("--conf", default="test.conf", help="progress file (default test.conf, as the original)")
    p.add_argument("--dry_run", "--dry-run", action="store_true", help="print the runs, run nothing")
    p.add_argument("--jobs", type=int, default=1,
                   help="runs in parallel (default 1); each child gets --threads=cores//jobs")
    return p
