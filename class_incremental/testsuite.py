#!/usr/bin/env python
"""Class-incremental sweeps of the original drivers (docs/sweeps.md), over classes.

Strategies (--strategies, default all): naive (--naive_epochs 10); rehearsal (--reharsal_sizes 2);
lr = uncompressed latent replay (depth --lr_depth 2, --lr_epochs 100, --lr_rate 0.001);
subsample = compressed latent replay (--depths 0..3 x --latent_batches 2, --latent_subsample 10,
--nb_epochs 50). The defaults are the original drivers' literal values. Resumable (test.conf +
completed runs are skipped), stops on a failing run, --jobs N runs N at a time,
--executor slurm sends the runs to SLURM (docs/sweeps.md). Other flags
(e.g. --batch_size 8 --protocol clean --statedict_dir DIR) go to every run.
Needs the class generator's artifacts for every class (statedicts_class_incremental/testsuite.py).
"""
from pathlib import Path

from sccl.cli_util import run_main
from sccl.drivers import dispatch, driver_parser, int_list
from sccl.suite.sweeps import CLASS_CHOICES, CLASS_OPTIONS, CLASS_STRATEGIES, class_commands

HERE = Path(__file__).resolve().parent
STRATEGIES = CLASS_STRATEGIES  # the original driver's (default)
CHOICES = CLASS_CHOICES  # every strategy with sweep entries


def runs(a) -> list[list[str]]:
    return class_commands(a, a.classes, a.strategies)


def main(argv=None):
    p = driver_parser(__doc__)
    p.add_argument("--classes", type=int_list, default=list(range(20)), help="default 0..19")
    p.add_argument("--strategies", type=lambda t: t.split(","), default=list(STRATEGIES),
                   help="comma list of " + ",".join(CHOICES) + " (default: the original's " + ",".join(STRATEGIES) + ")")
    for option in CLASS_OPTIONS:
        option.add(p)
    args, extra = p.parse_known_args(argv)
    bad = set(args.strategies) - set(CHOICES)
    if bad:
        p.error(f"unknown strategy {sorted(bad)}; choose from {','.join(CHOICES)}")
    return dispatch(args, runs(args), ["--skip_done", *extra], cwd=HERE, conf=HERE / args.conf)


if __name__ == "__main__":
    run_main(main)
