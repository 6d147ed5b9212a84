#!/usr/bin/env python
"""Pretrain the SNN on SHD with one class held out (class-incremental statedicts).

Writes state_dict_class_<c>.pt, pretrain_{x,y}_class_<c>.pt (train split),
pretrain_class_{x,y}_class_<c>.pt (test split, the original's odd name) and
removed_{x,y}_class_<c>.pt into this folder (or --out_dir).
Example: python heidelberg_statedict_generator.py --removed_class=7 --nb_epochs=200
"""
from pathlib import Path

from sccl.cli_util import run_main
from sccl.scripting import pretrain_main, pretrain_parser


def main(argv=None):
    args = pretrain_parser(__doc__, "removed_class", Path(__file__).resolve().parent).parse_args(argv)
    return pretrain_main(args, "class", args.removed_class)


if __name__ == "__main__":
    run_main(main)
