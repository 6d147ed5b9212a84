#!/usr/bin/env python
"""Sample-incremental rehearsal of time-compressed raw input.

Reproduces heidelberg_reharsal_subsample.py: the first --latent_batches pretrain batches are
stored with --latent_subsample frames (spike counts summed over each window) and replayed as
input counts at the first step of each window; lr 1e-3; --nb_epochs (default 200).
Writes reharsal_speaker_<S>.txt, reharsal_csv.csv, records/<run>.jsonl.
"""
from pathlib import Path

from sccl.cli_util import run_main
from sccl.config import add_flag
from sccl.scripting import add_continual_extras, continual_main, continual_parser

HERE = Path(__file__).resolve().parent


def main(argv=None):
    p = continual_parser(__doc__, held_out_flag="speaker", nb_epochs=200, lr=1e-3, lr_flag_original=False,
                         statedict_dir=HERE.parent / "statedicts_64_elements", script_dir=HERE)
    add_flag(p, "latent_subsample", type=int, default=20, help="stored frames T' (window nb_steps // T')")
    add_flag(p, "latent_batches", type=int, default=10, help="raw pretrain batches kept")
    add_continual_extras(p)
    args = p.parse_args(argv)
    return continual_main(args, experiment="sample", strategy="rehearsal_subsample", held_out=args.speaker,
                          memory_batches=args.latent_batches, n_frames=args.latent_subsample)


if __name__ == "__main__":
    run_main(main)
