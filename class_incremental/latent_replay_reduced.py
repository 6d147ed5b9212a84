#!/usr/bin/env python
"""Class-incremental timestep-reduced latent replay (not in the paper; in the spirit of Replay4NCL).

As latent_replay_subsample.py (--latent_batches batches per other class, stored with
--latent_subsample frames T'), but the stored frames are replayed as they are, without
decompression: the layers above --latent_depth run T' steps of r * dt (r = nb_steps / T') with
the decays of the same physical time and a threshold scaled to keep one input spike's effect
(docs/reduced_replay.md), so replay costs r times fewer steps. New-class batches and every
evaluation run at the full T steps. --lr default 2e-4 (as the compressed script), --nb_epochs.
Writes latent_reduced_class_<C>_depth_<D>.txt, latent_reduced_class_incremental_csv.csv.
"""
from pathlib import Path

from sccl.cli_util import run_main
from sccl.config import add_flag
from sccl.scripting import add_continual_extras, continual_main, continual_parser

HERE = Path(__file__).resolve().parent


def main(argv=None):
    p = continual_parser(__doc__, held_out_flag="removed_class", nb_epochs=200, lr=2e-4, lr_flag_original=False,
                         statedict_dir=HERE.parent / "statedicts_class_incremental", script_dir=HERE)
    add_flag(p, "latent_depth", type=int, default=1, help="1..3: spikes of that layer; 0: layer-1 currents")
    add_flag(p, "latent_batches", type=int, default=1, help="batches stored per other class")
    add_flag(p, "latent_subsample", type=int, default=20, help="stored frames T' = replayed steps (r = nb_steps / T')")
    add_continual_extras(p)
    args = p.parse_args(argv)
    return continual_main(args, experiment="class", strategy="latent_replay_reduced", held_out=args.removed_class,
                          depth=args.latent_depth, memory_batches=args.latent_batches,
                          n_frames=args.latent_subsample)


if __name__ == "__main__":
    run_main(main)
