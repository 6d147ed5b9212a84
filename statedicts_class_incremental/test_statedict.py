#!/usr/bin/env python
"""Accuracy of a class-held-out model on its pretrain test split and on the held-out class;
appends "<class> <old acc> <held-out acc>" to pretrain_classes_accuracy.txt in this folder."""
from pathlib import Path

from sccl.cli_util import run_main
from sccl.config import add_common_args, add_flag, add_run_args
from sccl.scripting import mark_fixed, pretrained_net
from sccl.experiments.analysis import statedict_accuracy
from sccl.runtime import select_device, set_threads

HERE = Path(__file__).resolve().parent


def main(argv=None):
    import argparse
    p = argparse.ArgumentParser(description=__doc__)
    add_common_args(p)
    add_flag(p, "removed_class", type=int, default=0)
    add_run_args(p)
    add_flag(p, "out_dir", type=Path, default=HERE, help="folder holding the artifacts (default: this folder)")
    mark_fixed(p)
    args = p.parse_args(argv)
    set_threads(args.threads)
    net = pretrained_net(args, "class", args.removed_class, args.out_dir)  # the pretraining's network
    statedict_accuracy(net, args.out_dir, args.removed_class, select_device(args.device))
    return 0


if __name__ == "__main__":
    run_main(main)
