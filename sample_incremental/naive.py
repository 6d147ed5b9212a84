#!/usr/bin/env python
"""Sample-incremental, naive fine-tuning: train all weights on the held-out speaker only.

Reproduces heidelberg_multi_layers_incremental_naive_pickle.py (lr 2e-4, 50 epochs hard-coded;
--nb_epochs is accepted and ignored as in the original). Reads the pretraining artifacts of
statedicts_64_elements/heidelberg_statedict_generator.py --speaker=S.
Writes speaker_<S>_naive_sample_inc_train.txt, naive_incremental_csv.csv, records/<run>.jsonl.
"""
from pathlib import Path

from sccl.cli_util import run_main
from sccl.scripting import add_continual_extras, continual_main, continual_parser

HERE = Path(__file__).resolve().parent


def main(argv=None):
    p = continual_parser(__doc__, held_out_flag="speaker", nb_epochs=200, lr=2e-4, lr_flag_original=False,
                         hard_epochs=50, statedict_dir=HERE.parent / "statedicts_64_elements", script_dir=HERE)
    add_continual_extras(p)
    args = p.parse_args(argv)
    return continual_main(args, experiment="sample", strategy="naive", held_out=args.speaker)


if __name__ == "__main__":
    run_main(main)
