#!/usr/bin/env python
"""Pretrain the SNN on SHD with one speaker held out (the original `statedicts/` entry point; the
sample-incremental scripts read `statedicts_64_elements/`, whose generator is the same).

Writes state_dict_speaker_<s>.pt and the pretrain / pretrain_test / removed batch lists into
this folder (or --out_dir).
Example: python heidelberg_statedict_generator.py --speaker=3 --nb_epochs=200
"""
from pathlib import Path

from sccl.cli_util import run_main
from sccl.scripting import pretrain_main, pretrain_parser


def main(argv=None):
    args = pretrain_parser(__doc__, "speaker", Path(__file__).resolve().parent).parse_args(argv)
    return pretrain_main(args, "speaker", args.speaker)


if __name__ == "__main__":
    run_main(main)
