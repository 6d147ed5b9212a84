"""The ``data`` run of a grid: make sure the merged dataset exists (and is valid) once, before
any generator reads it.

    python -m sccl.suite.prepare --data_dir DIR [--synthetic [--synthetic_reps N]] [--nb_inputs 700]

Real SHD: merges ``shd_train.h5`` + ``shd_test.h5`` into ``shd_merged.h5`` unless it exists;
``--synthetic``: generates sccl's synthetic SHD-format set there first. Both write atomically.
"""
from __future__ import annotations

import argparse
import sys

from sccl.cli_util import run_main


def main(argv=None) -> int:
    from sccl.data.source import open_merged

    p = argparse.ArgumentParser(prog="python -m sccl.suite.prepare", description=__doc__.split("\n\n")[0])
    p.add_argument("--data_dir", "--data-dir", default=None)
    p.add_argument("--synthetic", action="store_true")
    p.add_argument("--synthetic_reps", "--synthetic-reps", type=int, default=40)
    p.add_argument("--nb_inputs", "--nb-inputs", type=int, default=700)
    p.add_argument("--threads", type=int, default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    src = open_merged(a.data_dir, synthetic=a.synthetic, synthetic_reps=a.synthetic_reps,
                      nb_inputs=a.nb_inputs, log=lambda m: print(m, file=sys.stderr, flush=True))
    print(f"dataset ready: {src.path} ({src.dataset}, {len(src.data)} samples)")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
