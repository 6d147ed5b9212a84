#!/usr/bin/env python
"""Sample-incremental compressed latent replay: latents stored with --latent_subsample frames.

--pooling or (default) reproduces heidelberg_latent_subsample_new.py: a frame holds 1 if the
neuron spiked in its window and replays one spike at the window start. --pooling sum reproduces
heidelberg_latent_subsample_sums.py: a frame holds the spike count, replayed as a burst from the
window start. Depth-0 currents are summed and injected at the window start in both. lr 1e-3.
Writes latent_speaker_subsampled[_sums]_<S>_depth_<D>.txt and latent_csv_subsample[...].csv.
"""
from pathlib import Path

from sccl.cli_util import run_main
from sccl.config import add_flag
from sccl.scripting import add_continual_extras, continual_main, continual_parser

HERE = Path(__file__).resolve().parent


def main(argv=None):
    p = continual_parser(__doc__, held_out_flag="speaker", nb_epochs=200, lr=1e-3, lr_flag_original=False,
                         statedict_dir=HERE.parent / "statedicts_64_elements", script_dir=HERE)
    add_flag(p, "latent_depth", type=int, default=0, help="0: layer-1 currents; 1..3: spikes of that layer")
    add_flag(p, "latent_batches", type=int, default=10, help="pretrain batches whose latents are stored")
    add_flag(p, "latent_subsample", type=int, default=20, help="stored frames T' (ratio 1:nb_steps/T')")
    add_flag(p, "pooling", choices=("or", "sum"), default="or", help="or: the 'new' script; sum: the 'sums' script")
    add_continual_extras(p)
    args = p.parse_args(argv)
    strategy = {"or": "latent_replay_subsample", "sum": "latent_replay_sums"}[args.pooling]
    return continual_main(args, experiment="sample", strategy=strategy, held_out=args.speaker,
                          depth=args.latent_depth, memory_batches=args.latent_batches,
                          n_frames=args.latent_subsample)


if __name__ == "__main__":
    run_main(main)
