#!/usr/bin/env python
"""Class-incremental, naive fine-tuning: train all weights on the held-out class only.

Reproduces class_incremental_naive.py (lr 2e-4, --nb_epochs, default 200; its driver passes 10;
output column c re-initialised with N(0.003, 0.003) first). Reads the artifacts of
statedicts_class_incremental/heidelberg_statedict_generator.py --removed_class=C.
Writes class_<C>_naive_class_inc_train.txt, naive_class_incremental_csv.csv, records/<run>.jsonl.
"""
from pathlib import Path

from sccl.cli_util import run_main
from sccl.scripting import add_continual_extras, continual_main, continual_parser

HERE = Path(__file__).resolve().parent


def main(argv=None):
    p = continual_parser(__doc__, held_out_flag="removed_class", nb_epochs=200, lr=2e-4, lr_flag_original=False,
                         statedict_dir=HERE.parent / "statedicts_class_incremental", script_dir=HERE)
    add_continual_extras(p)
    args = p.parse_args(argv)
    return continual_main(args, experiment="class", strategy="naive", held_out=args.removed_class)


if __name__ == "__main__":
    run_main(main)
