#!/usr/bin/env python
"""Progressive class learning (English -> German) with uncompressed latent replay.

Reproduces class_incremental_latent_10classes.py: start from the 10-class (English) model, add
the German classes 10..19 one at a time (lr 2e-4, --nb_epochs per class, default 20),
replaying the latents of what was learned so far. Needs
statedicts_class_incremental/heidelberg_statedict_generator_10classes.py, and under the
faithful protocol also the single-class generator's removed_x_class_0..9.pt (global test set).
Writes latent_10classes_depth<D>_batches<L>.txt (append) and
latent_10classes_incremental_csv_depth<D>_batches<L>_fixed_2.csv, records/<run>.jsonl.
"""
from pathlib import Path

from sccl.cli_util import run_main
from sccl.config import add_flag
from sccl.scripting import add_continual_extras, continual_main, continual_parser

HERE = Path(__file__).resolve().parent


def main(argv=None):
    p = continual_parser(__doc__, held_out_flag=None, nb_epochs=20, lr=2e-4, lr_flag_original=False,
                         statedict_dir=HERE.parent / "statedicts_class_incremental", script_dir=HERE)
    add_flag(p, "latent_depth", type=int, default=0, help="0: layer-1 currents; 1..3: spikes of that layer")
    add_flag(p, "latent_batches", type=int, default=1, help="English train batches in the old memory")
    add_continual_extras(p)
    args = p.parse_args(argv)
    return continual_main(args, experiment="progressive", strategy="latent_replay", held_out=None,
                          depth=args.latent_depth, memory_batches=args.latent_batches)


if __name__ == "__main__":
    run_main(main)
