#!/usr/bin/env python
"""Progressive class learning (English -> German) with compressed latent replay.

Reproduces class_incremental_latent_10classes_subsampled.py: as latent_replay.py, with every
memory entry stored with --latent_subsample frames (default 20 = 1:5 as the original; the
paper's 1:2 is --latent_subsample=50) and replayed with first-step decompression; each German
class's memory batch is its first train batch.
Writes latent_10classes_depth<D>_batches<L>.txt (append, shared with latent_replay.py as in the
original) and latent_10classes_incremental_csv_depth<D>_batches<L>_subsampled.csv.
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
    add_flag(p, "latent_subsample", type=int, default=20, help="stored frames T' (50 = the paper's 1:2)")
    add_continual_extras(p)
    args = p.parse_args(argv)
    return continual_main(args, experiment="progressive", strategy="latent_replay_subsample", held_out=None,
                          depth=args.latent_depth, memory_batches=args.latent_batches,
                          n_frames=args.latent_subsample)


if __name__ == "__main__":
    run_main(main)
