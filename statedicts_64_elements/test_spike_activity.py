#!/usr/bin/env python
"""Print the input and per-layer spike densities of a pretrained speaker model on its
pretrain test split ("sparsity" in the original's wording). Reads the artifacts of
heidelberg_statedict_generator.py --speaker=S from this folder (or --out_dir)."""
from pathlib import Path

from sccl.cli_util import run_main
from sccl.config import add_common_args, add_flag, add_run_args
from sccl.scripting import mark_fixed, pretrained_net
from sccl.experiments.analysis import spike_activity
from sccl.runtime import select_device, set_threads

HERE = Path(__file__).resolve().parent


def main(argv=None):
    import argparse
    p = argparse.ArgumentParser(description=__doc__)
    add_common_args(p)
    add_flag(p, "speaker", type=int, default=0)
    add_run_args(p)
    add_flag(p, "out_dir", type=Path, default=HERE, help="folder holding the artifacts (default: this folder)")
    mark_fixed(p)
    args = p.parse_args(argv)
    set_threads(args.threads)
    net = pretrained_net(args, "speaker", args.speaker, args.out_dir)  # the pretraining's network
    spike_activity(net, args.out_dir, args.speaker, select_device(args.device))
    return 0


if __name__ == "__main__":
    run_main(main)
