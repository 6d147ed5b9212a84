#!/usr/bin/env python
"""Sample-incremental sweeps of the original drivers (docs/sweeps.md), over speakers.

Strategies (--strategies, default all): naive; rehearsal (--reharsal_sizes, default 1..5);
lr = latent replay (--depths 1..3 x --latent_batches 40, 50 epochs); subsample = compressed,
"new" (--subsample_depths 0 x 40 batches, --latent_subsample 10); sums = compressed, "sums"
(--sums_depths 0..3 x 40 batches, --sums_subsample 1). The defaults are the original drivers'
literal lists. Resumable (test.conf + completed runs are skipped), stops on a failing run,
--jobs N runs N at a time; --executor slurm sends the runs to SLURM (docs/sweeps.md). Other flags (e.g. --batch_size 8 --statedict_dir DIR) go to every run.
Example: python testsuite.py --speakers 0..11 --strategies lr,subsample --jobs 2
"""
from pathlib import Path

from sccl.cli_util import run_main
from sccl.drivers import dispatch, driver_parser, int_list
from sccl.suite.sweeps import SAMPLE_CHOICES, SAMPLE_OPTIONS, SAMPLE_STRATEGIES, sample_commands

HERE = Path(__file__).resolve().parent
STRATEGIES = SAMPLE_STRATEGIES  # the original driver's (default)
CHOICES = SAMPLE_CHOICES  # every strategy with sweep entries


def runs(a) -> list[list[str]]:
    return sample_commands(a, a.speakers, a.strategies)


def main(argv=None):
    p = driver_parser(__doc__)
    p.add_argument("--speakers", type=int_list, default=list(range(12)), help="default 0..11")
    p.add_argument("--strategies", type=lambda t: t.split(","), default=list(STRATEGIES),
                   help="comma list of " + ",".join(CHOICES) + " (default: the original's " + ",".join(STRATEGIES) + ")")
    for option in SAMPLE_OPTIONS:
        option.add(p)
    args, extra = p.parse_known_args(argv)
    bad = set(args.strategies) - set(CHOICES)
    if bad:
        p.error(f"unknown strategy {sorted(bad)}; choose from {','.join(CHOICES)}")
    return dispatch(args, runs(args), ["--skip_done", *extra], cwd=HERE, conf=HERE / args.conf)


if __name__ == "__main__":
    run_main(main)
