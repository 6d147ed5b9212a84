#!/usr/bin/env python
"""Class-incremental "rehearsal" as the original runs it: compressed raw replay.

Reproduces class_incremental_reharsal.py: for every other class, its first --reharsal_size
batches, input counts summed into --latent_subsample frames (default 10) and replayed at the
first step of each window; lr 2e-4, 50 epochs hard-coded (--nb_epochs ignored).
Faithful memory comes from the other classes' removed_x_class_<cl>.pt files: run the class
generator for every class first (statedicts_class_incremental/testsuite.py).
Writes class_<C>_reharsal_class_inc_train.txt, reharsal_class_incremental_subsampled_10_csv.csv.
"""
from pathlib import Path

from sccl.cli_util import run_main
from sccl.config import add_flag
from sccl.scripting import add_continual_extras, continual_main, continual_parser

HERE = Path(__file__).resolve().parent


def main(argv=None):
    p = continual_parser(__doc__, held_out_flag="removed_class", nb_epochs=200, lr=2e-4, lr_flag_original=False,
                         hard_epochs=50, statedict_dir=HERE.parent / "statedicts_class_incremental", script_dir=HERE)
    add_flag(p, "reharsal_size", type=int, default=1, help="batches kept per other class")
    add_flag(p, "latent_subsample", type=int, default=10, help="stored frames T' of the raw input")
    add_continual_extras(p)
    args = p.parse_args(argv)
    return continual_main(args, experiment="class", strategy="rehearsal", held_out=args.removed_class,
                          memory_batches=args.reharsal_size, n_frames=args.latent_subsample)


if __name__ == "__main__":
    run_main(main)
