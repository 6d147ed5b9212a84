"""How learnable is the synthetic SHD-format set? A by-hand check, not a unit test.

Generates the set (``sccl.data.synthetic``) into a temporary folder, reads it back with h5py,
and fits a multinomial logistic regression (torch, Adam, full batch) on coarse features:
``log(1 + spike counts)`` in 50 ms x 10-channel bins (28 x 70 = 1,960 features, standardised
with the training statistics). Reports:

* seen speakers: train on 80 % of the samples of every speaker except 4 and 5, test on the
  other 20 % and on speakers 4 and 5 (the SHD test-only speakers);
* leave-one-speaker-out for speakers 0 and 7: train on 80 % of the other 11 speakers, test on
  their remaining 20 % and on the held-out speaker;
* English -> German: train on English words only, then the share of German samples predicted
  as their English counterpart (chance 10 %);
* the share of 20-way errors that are English <-> German counterpart confusions.

Usage: ``python benchmarks/synthetic_learnability.py [--n_rep 20] [--seed 0] [--var 1.5]``
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # run from a checkout, uninstalled
from sccl.data.synthetic import make_synthetic_shd

T_BIN, CH_BIN, MAX_TIME, N_UNITS = 0.05, 10, 1.4, 700


def load(folder: Path):
    times, units, labels, speakers = [], [], [], []
    for name in ("shd_train.h5", "shd_test.h5"):
        with h5py.File(folder / name, "r") as f:
            times += list(f["spikes/times"][:])
            units += list(f["spikes/units"][:])
            labels.append(f["labels"][:].astype(np.int64))
            speakers.append(f["extra/speaker"][:].astype(np.int64))
    return times, units, np.concatenate(labels), np.concatenate(speakers)


def features(times, units) -> np.ndarray:
    nt, nc = int(np.ceil(MAX_TIME / T_BIN)), N_UNITS // CH_BIN
    x = np.zeros((len(times), nt * nc), dtype=np.float32)
    for i, (t, u) in enumerate(zip(times, units)):
        idx = (t / T_BIN).astype(np.int64) * nc + u.astype(np.int64) // CH_BIN
        x[i] = np.bincount(idx, minlength=nt * nc)
    return np.log1p(x)


def fit_lr(x: np.ndarray, y: np.ndarray, n_classes: int, steps: int = 300, seed: int = 0):
    torch.manual_seed(seed)
    mu, sd = x.mean(0), x.std(0) + 1e-3
    xt = torch.from_numpy((x - mu) / sd)
    yt = torch.from_numpy(y)
    w = torch.zeros(x.shape[1], n_classes, requires_grad=True)
    b = torch.zeros(n_classes, requires_grad=True)
    opt = torch.optim.Adam([w, b], lr=1e-2)
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(xt @ w + b, yt) + 1e-3 * (w ** 2).sum()
        loss.backward()
        opt.step()

    def predict(xq: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return (torch.from_numpy((xq - mu) / sd) @ w + b).argmax(1).numpy()
    return predict


def split80(idx: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    idx = rng.permutation(idx)
    k = int(round(0.8 * len(idx)))
    return idx[:k], idx[k:]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n_rep", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--var", type=float, default=1.5)
    p.add_argument("--accent", type=float, default=0.12)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--loso", type=int, nargs="*", default=[0, 7])
    args = p.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        make_synthetic_shd(tmp, n_rep=args.n_rep, seed=args.seed, var=args.var, accent=args.accent)
        gen_s = time.perf_counter() - t0
        times, units, y, spk = load(Path(tmp))
    x = features(times, units)
    n_spikes = np.array([t.size for t in times])
    print(f"n_rep {args.n_rep} seed {args.seed} var {args.var} accent {args.accent}: {len(y)} samples, "
          f"generated in {gen_s:.1f} s; spikes/sample mean {n_spikes.mean():.0f} "
          f"median {np.median(n_spikes):.0f}")
    rng = np.random.default_rng(0)
    acc = lambda pred, idx: float((pred(x[idx]) == y[idx]).mean())  # noqa: E731

    # seen speakers vs the SHD test-only speakers 4 and 5
    seen = np.flatnonzero(~np.isin(spk, (4, 5)))
    tr, te = split80(seen, rng)
    pred = fit_lr(x[tr], y[tr], 20, args.steps)
    unseen = np.flatnonzero(np.isin(spk, (4, 5)))
    print(f"20 classes: seen speakers (20 % held out) {acc(pred, te):.1%}, "
          f"unseen speakers 4+5 {acc(pred, unseen):.1%}")
    # counterpart confusions among the errors on all held-out samples
    ev = np.concatenate([te, unseen])
    yp = pred(x[ev])
    wrong = yp != y[ev]
    counterpart = wrong & (yp % 10 == y[ev] % 10)
    print(f"  errors that are EN<->DE counterpart confusions: {counterpart.sum() / max(wrong.sum(), 1):.1%} "
          f"of {wrong.sum()} errors (uniform would be ~5%)")

    for s in args.loso:
        others = np.flatnonzero(spk != s)
        tr, te = split80(others, rng)
        pred = fit_lr(x[tr], y[tr], 20, args.steps)
        print(f"held-out speaker {s}: other speakers {acc(pred, te):.1%}, "
              f"speaker {s} {acc(pred, np.flatnonzero(spk == s)):.1%}")

    english = np.flatnonzero((y < 10) & ~np.isin(spk, (4, 5)))
    tr, te = split80(english, rng)
    pred = fit_lr(x[tr], y[tr], 10, args.steps)
    german = np.flatnonzero(y >= 10)
    to_counterpart = float((pred(x[german]) == y[german] - 10).mean())
    print(f"English only: English test {acc(pred, te):.1%}; German samples predicted as their "
          f"English counterpart {to_counterpart:.1%} (chance 10%)")


if __name__ == "__main__":
    main()
