#!/usr/bin/env python
"""Pretrain one model per held-out class (the original testsuite.py of this folder).

Runs heidelberg_statedict_generator.py --removed_class=C --nb_epochs=E for every C, resuming
from test.conf; with --executor slurm every pretraining is one SLURM job (docs/sweeps.md).
Example: python testsuite.py --classes 0..19 --nb_epochs 200
"""
from pathlib import Path

from sccl.cli_util import run_main
from sccl.drivers import dispatch, driver_parser, int_list

HERE = Path(__file__).resolve().parent


def main(argv=None):
    p = driver_parser(__doc__)
    p.add_argument("--classes", type=int_list, default=list(range(20)), help="default 0..19")
    p.add_argument("--nb_epochs", "--nb-epochs", type=int, default=200)
    args, extra = p.parse_known_args(argv)
    runs = [["heidelberg_statedict_generator.py", f"--removed_class={n}", f"--nb_epochs={args.nb_epochs}"]
            for n in args.classes]
    return dispatch(args, runs, extra, cwd=HERE, conf=HERE / args.conf)


if __name__ == "__main__":
    run_main(main)
