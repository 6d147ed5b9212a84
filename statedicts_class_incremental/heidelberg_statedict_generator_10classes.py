#!/usr/bin/env python
"""Pretrain the SNN on the ten English digits (labels 0-9) for the progressive experiment.

Writes state_dict_10classes.pt, pretrain_{x,y}_10classes.pt, pretrain_test_{x,y}_10classes.pt
and removed_{x,y}_class_<c>.pt for the German classes c = 10..19 (as the original, these
overwrite the single-class generator's files of the same name).
Example: python heidelberg_statedict_generator_10classes.py --nb_epochs=200
"""
from pathlib import Path

from sccl.cli_util import run_main
from sccl.scripting import pretrain_main, pretrain_parser


def main(argv=None):
    args = pretrain_parser(__doc__, None, Path(__file__).resolve().parent).parse_args(argv)
    return pretrain_main(args, "10classes", None)


if __name__ == "__main__":
    run_main(main)
