#!/usr/bin/env python
"""How fast the paper's network learns a synthetic set: test accuracy every few pretraining epochs.

Generates (or reuses) a synthetic SHD-format set with the given preset / var / accent / n_rep in
--data_root, pretrains the network exactly as the generators do (one held-out speaker or class,
the 1/5 split) and prints the test accuracy and the CPU seconds every --every epochs. This is
how the demo preset and the demo's pretraining sizes were chosen (docs/synthetic.md).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--preset", default="demo", help="synthetic preset (default / demo), see docs/synthetic.md")
    p.add_argument("--var", type=float, default=None, help="per-utterance jitter; overrides the preset's")
    p.add_argument("--accent", type=float, default=None, help="speaker accent; overrides the preset's")
    p.add_argument("--n_rep", type=int, default=16, help="repetitions per speaker and word")
    p.add_argument("--mode", choices=("speaker", "class", "10classes"), default="speaker", help="what is held out")
    p.add_argument("--held_out", type=int, default=0, help="the held-out speaker or class")
    p.add_argument("--epochs", type=int, default=12, help="pretraining epochs")
    p.add_argument("--every", type=int, default=3, help="evaluate on the test split every this many epochs")
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate (the demo's pretraining lr)")
    p.add_argument("--weight_scale", type=float, default=0.5, help="init scale (the demo's)")
    p.add_argument("--batch_size", type=int, default=16, help="batch size (the demo's)")
    p.add_argument("--seed", type=int, default=0, help="pretraining seed")
    p.add_argument("--data_root", type=Path, default=Path("results") / "learnability",
                   help="folder for the generated sets (one subfolder per setting)")
    return p


def main(argv=None) -> int:
    import torch

    from sccl.config import NetConfig
    from sccl.data.binning import split_batches
    from sccl.data.source import open_merged
    from sccl.data.synthetic import make_synthetic_shd, resolve_preset
    from sccl.experiments.pretrain import PretrainConfig, build_sets
    from sccl.model import SpikingNet, init_weights, trainable_names
    from sccl.runtime import seeded
    from sccl.training import encode_items, score, train_epochs

    a = parser().parse_args(argv)
    torch.set_num_threads(1)
    var, accent = resolve_preset(a.preset, a.var, a.accent)
    d = a.data_root / f"{a.preset}-v{var:g}-a{accent:g}-n{a.n_rep}"
    if not (d / "shd_train.h5").exists():
        make_synthetic_shd(d, n_rep=a.n_rep, var=var, accent=accent, preset=a.preset)
    src = open_merged(d, log=lambda m: None)
    net = NetConfig(weight_scale=a.weight_scale)
    cfg = PretrainConfig(mode=a.mode, held_out=None if a.mode == "10classes" else a.held_out, net=net,
                         batch_size=a.batch_size, nb_epochs=a.epochs, lr=a.lr, seed=a.seed).validate()
    rng, gen = seeded(a.seed)
    pre, _ = build_sets(src, cfg, rng, lambda m: None)
    train, test = split_batches(pre)
    model = SpikingNet(net, init_weights(net, gen, torch.device("cpu")))
    ti = encode_items(model, [(b.x.coalesce(), b.y) for b in train], None)
    te = encode_items(model, [(b.x.coalesce(), b.y) for b in test], None)
    print(f"preset {a.preset} (var {var:g}, accent {accent:g}), n_rep {a.n_rep}, {a.mode} {a.held_out} held out, "
          f"batch {a.batch_size}: {len(train)} train / {len(test)} test batches", flush=True)
    t0, c0 = time.time(), time.process_time()

    def after(e, loss):
        if (e + 1) % a.every == 0 or e == a.epochs - 1:
            print(f"epoch {e + 1}: loss {loss:.3f}, test accuracy {100 * score(model, te).value:.1f} %, "
                  f"{time.process_time() - c0:.0f} s CPU, {time.time() - t0:.0f} s wall", flush=True)

    train_epochs(model, trainable_names(None), lambda: ti, lr=a.lr, nb_epochs=a.epochs, after_epoch=after)
    print(f"learnability: {a.epochs} epochs in {time.time() - t0:.0f} s wall, "
          f"{(time.process_time() - c0) / a.epochs:.1f} s CPU per epoch; data in {d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
