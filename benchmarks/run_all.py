#!/usr/bin/env python
"""`make bench`: every benchmark, each as a ratio against its baseline measured in the same run.

1. bench_model.py  -- training step / evaluation / replay steps: the literal per-time-step oracle
   (tests/oracle.py, autograd through every step, as the original: its time is the original's
   step time) vs sccl's PyTorch path and compiled kernels (exact, native), at init and at
   trained-like weights, with the equivalence checks, FLOP accounting and the phase budget;
2. bench_replay.py -- latent compression + decompression of 10 batches at every depth and ratio:
   the original's per-element loops (tests/literal_loops.py) vs sccl, with an exact-equality check;
3. bench_epoch.py  -- whole continual-learning and pretraining epochs, the original's way (literal
   oracle) vs sccl (native kernel), with the equivalence checks.

Every benchmark runs at one thread (set and printed): the targets of docs/performance.md are
one-thread ratios, and on a shared machine one thread per process is the stable measurement.
Timings are noisy there: each script interleaves baseline and sccl runs in the same process and
reports medians (bench_model) or minima and medians. Pass --quick for a shorter run.
"""
import os
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    quick = "--quick" in argv
    import torch
    print(f"# sccl benchmarks\nmachine: {platform.machine()}, {os.cpu_count()} cores, python "
          f"{platform.python_version()}, torch {torch.__version__}, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}\n", flush=True)
    runs = [["bench_model.py", "--threads", "1", *(["--quick"] if quick else [])],
            ["bench_replay.py", "--threads", "1", *(["--literal_budget", "1.0"] if quick else [])],
            ["bench_epoch.py", "--threads", "1", "--kernel", "native", *(["--quick"] if quick else [])]]
    for cmd in runs:
        print(f"\n## {' '.join(cmd)}\n", flush=True)
        rc = subprocess.call([sys.executable, str(HERE / cmd[0]), *cmd[1:]], cwd=HERE.parent)
        if rc:
            print(f"error: {cmd[0]} failed with exit status {rc}", file=sys.stderr)
            return rc
    return 0


if __name__ == "__main__":
    sys.exit(main())
