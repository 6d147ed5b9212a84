#!/usr/bin/env python
"""Class-incremental latent replay, uncompressed: one batch of latents per other class.

Reproduces class_incremental_latent.py: --latent_batches is accepted and ignored (the memory
always holds one batch per other class) and the CSV carries the original's literal 38;
--lr (default 2e-4; its driver passes 0.001), --nb_epochs (driver: 100).
Faithful memory comes from the other classes' removed_x_class_<cl>.pt files.
Writes latent_class_<C>_depth_<D>.txt, latent_class_incremental_csv.csv, records/<run>.jsonl.
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
    add_flag(p, "latent_batches", type=int, default=10, help="ignored, as in the original (one batch per class)")
    add_flag(p, "lr", type=float, default=2e-4)
    add_continual_extras(p)
    args = p.parse_args(argv)
    return continual_main(args, experiment="class", strategy="latent_replay", held_out=args.removed_class,
                          depth=args.latent_depth, memory_batches=args.latent_batches)  # kept at 1 (registry)


if __name__ == "__main__":
    run_main(main)
