#!/usr/bin/env python
"""Pretrain one model per held-out speaker (the original naive_testsuite.py of this folder).

Runs heidelberg_statedict_generator.py --speaker=S --nb_epochs=E for every S, resuming from
test.conf. Example: python testsuite.py --speakers 0..11 --nb_epochs 200
"""
from pathlib import Path

from sccl.cli_util import run_main
from sccl.drivers import driver_parser, int_list, run_sweep, threads_per_job

HERE = Path(__file__).resolve().parent


def main(argv=None):
    p = driver_parser(__doc__)
    p.add_argument("--speakers", type=int_list, default=list(range(12)), help="default 0..11")
    p.add_argument("--nb_epochs", "--nb-epochs", type=int, default=200)
    args, extra = p.parse_known_args(argv)
    runs = [["heidelberg_statedict_generator.py", f"--speaker={s}", f"--nb_epochs={args.nb_epochs}",
             f"--threads={threads_per_job(args.jobs)}", *extra]
            for s in args.speakers]
    return run_sweep(runs, cwd=HERE, conf=HERE / args.conf, jobs=args.jobs, dry_run=args.dry_run)


if __name__ == "__main__":
    run_main(main)
