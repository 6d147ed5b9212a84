#!/usr/bin/env python
"""Progressive (English -> German) sweeps of the original drivers: depths 0..3 x latent
batches 1..4 (--depths, --latent_batches), uncompressed and/or compressed (--variants
plain,subsample). The compressed runs use --latent_subsample (default 50, the paper's 1:2; the
original driver silently ran the script default 20 = 1:5: pass --latent_subsample 20 for that).
Resumable (test.conf + completed runs are skipped), stops on a failing run, --jobs N;
--executor slurm sends the runs to SLURM (docs/sweeps.md).
Other flags (e.g. --nb_epochs 20 --protocol clean --batch_size 8) go to every run.
"""
from pathlib import Path

from sccl.cli_util import run_main
from sccl.drivers import dispatch, driver_parser
from sccl.suite.sweeps import PROGRESSIVE_OPTIONS, PROGRESSIVE_VARIANTS, progressive_commands

HERE = Path(__file__).resolve().parent
VARIANTS = PROGRESSIVE_VARIANTS


def main(argv=None):
    p = driver_parser(__doc__)
    for option in PROGRESSIVE_OPTIONS:
        option.add(p)
    args, extra = p.parse_known_args(argv)
    bad = set(args.variants) - set(VARIANTS)
    if bad:
        p.error(f"unknown variant {sorted(bad)}; choose from {','.join(VARIANTS)}")
    return dispatch(args, progressive_commands(args), ["--skip_done", *extra], cwd=HERE, conf=HERE / args.conf)


if __name__ == "__main__":
    run_main(main)
