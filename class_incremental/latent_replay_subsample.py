#!/usr/bin/env python
"""Class-incremental compressed latent replay: --latent_batches batches per other class,
stored with --latent_subsample frames (OR-pooled spikes, summed depth-0 currents), replayed
with one spike (or the summed current) at the start of each window.

Reproduces class_incremental_latent_subsampled.py (--lr default 2e-4, --nb_epochs; its driver
passes 50). --latent_subsample=100 is the uncompressed replay with any number of batches per
class (how the paper's Fig. 5 class-incremental memory sizes are produced).
Writes latent_class_subsampled_<C>_depth_<D>.txt, latent_class_incremental_subsampled_csv.csv.
"""
from pathlib import Path

from sccl.cli_util import run_main
from sccl.config import add_flag
from sccl.scripting import add_continual_extras, continual_main, continual_parser

HERE = Path(__file__).resolve().parent


def main(argv=None):
    p = continual_parser(__doc__, held_out_flag="removed_class", nb_epochs=200, lr=2e-4, lr_flag_original=True,
                         statedict_dir=HERE.parent / "statedicts_class_incremental", script_dir=HERE)
    add_flag(p, "latent_depth", type=int, default=0, help="0: layer-1 currents; 1..3: spikes of that layer")
    add_flag(p, "latent_batches", type=int, default=1, help="batches stored per other class")
    add_flag(p, "latent_subsample", type=int, default=20, help="stored frames T' (ratio 1:nb_steps/T')")
    add_flag(p, "lr", type=float, default=2e-4)
    add_continual_extras(p)
    args = p.parse_args(argv)
    return continual_main(args, experiment="class", strategy="latent_replay_subsample", held_out=args.removed_class,
                          depth=args.latent_depth, memory_batches=args.latent_batches,
                          n_frames=args.latent_subsample)


if __name__ == "__main__":
    run_main(main)
