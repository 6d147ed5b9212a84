#!/usr/bin/env python
"""Sample-incremental latent replay: freeze the layers up to --latent_depth and replay the
stored latents of the first --latent_batches pretrain batches at that depth.

Reproduces heidelberg_latent.py (lr 2e-4, --nb_epochs; its driver passes 50).
Writes latent_speaker_<S>_depth_<D>.txt, latent_csv.csv (two rows per epoch), records/<run>.jsonl.
"""
from pathlib import Path

from sccl.cli_util import run_main
from sccl.config import add_flag
from sccl.scripting import add_continual_extras, continual_main, continual_parser

HERE = Path(__file__).resolve().parent


def main(argv=None):
    p = continual_parser(__doc__, held_out_flag="speaker", nb_epochs=200, lr=2e-4, lr_flag_original=False,
                         statedict_dir=HERE.parent / "statedicts_64_elements", script_dir=HERE)
    add_flag(p, "latent_depth", type=int, default=0, help="0: layer-1 currents; 1..3: spikes of that layer")
    add_flag(p, "latent_batches", type=int, default=10, help="pretrain batches whose latents are stored")
    add_continual_extras(p)
    args = p.parse_args(argv)
    return continual_main(args, experiment="sample", strategy="latent_replay", held_out=args.speaker,
                          depth=args.latent_depth, memory_batches=args.latent_batches)


if __name__ == "__main__":
    run_main(main)
