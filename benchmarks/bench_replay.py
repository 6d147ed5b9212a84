"""Benchmark: the original per-element compression / decompression loops vs sccl.replay.

For each stored representation (depth 0 currents, depth 1-3 spikes at ~10 % firing, raw input
counts) and each ratio 1:2, 1:5, 1:10 it times compression + decompression of ``--batches``
batches of ``--batch_size`` samples (T = 100):

* literal: ``tests/literal_loops.py`` (the original triple loop over batch x neuron x frame, and
  the step-by-step decompression). The compression loop is timed sample by sample until
  ``--literal_budget`` seconds are spent and then extrapolated linearly to all samples (marked
  "extrap." in the table); decompression is always run in full;
* vectorised: :func:`sccl.replay.compress` + :func:`sccl.replay.decompress` (best of
  ``--repeats``).

Equality: frames and decompressed tensors are compared with the literal results on every sample
the literal loop processed (exact ``torch.equal``; depth-0 float sums report the largest
absolute difference, expected in the last ulp). Prints a markdown table.

Run: ``.venv/bin/python benchmarks/bench_replay.py [--threads 1]``
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # run from a checkout without installing
from literal_loops import literal_compress, literal_decompress  # noqa: E402

from sccl.replay import compress, decompress  # noqa: E402

NB_STEPS = 100
# (label, width, data kind, pooling, decompression mode)
CASES = [
    ("d0 currents", 200, "currents", "sum", "first"),
    ("d1 spikes", 200, "spikes", "or", "first"),
    ("d2 spikes", 100, "spikes", "or", "first"),
    ("d3 spikes", 50, "spikes", "or", "first"),
    ("d1 spikes (sums)", 200, "spikes", "sum", "burst"),
    ("raw input", 700, "counts", "sum", "first"),
]
RATIOS = (2, 5, 10)


def make_data(kind: str, n_batches: int, batch: int, width: int, gen: torch.Generator) -> list[torch.Tensor]:
    shape = (batch, NB_STEPS, width)
    out = []
    for _ in range(n_batches):
        if kind == "currents":
            x = torch.randn(shape, generator=gen)
        elif kind == "spikes":
            x = (torch.rand(shape, generator=gen) < 0.10).float()
        else:  # raw SHD-like counts: sparse, occasional duplicates in one bin
            u = torch.rand(shape, generator=gen)
            x = (u < 0.03).float() + (u < 0.003).float()
        out.append(x)
    return out


def time_literal_compress(data, n_frames, pooling, budget):
    """Literal compression sample by sample until ``budget`` s; returns (seconds for all, done, results)."""
    total = sum(x.shape[0] for x in data)
    done, spent, results = 0, 0.0, []
    for x in data:
        for b in range(x.shape[0]):
            t0 = time.perf_counter()
            results.append(literal_compress(x[b:b + 1], n_frames, pooling))
            spent += time.perf_counter() - t0
            done += 1
            if spent >= budget and done < total:
                return spent * total / done, done, results
    return spent, done, results


def time_vectorised(data, n_frames, pooling, mode, repeats):
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        frames = [compress(x, n_frames, pooling) for x in data]
        outs = [decompress(f, NB_STEPS, mode) for f in frames]
        best = min(best, time.perf_counter() - t0)
    return best, frames, outs


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    p.add_argument("--batches", type=int, default=10)
    p.add_argument("--batch_size", type=int, default=64)
    p.add_argument("--literal_budget", type=float, default=2.0,
                   help="seconds of literal compression per row before extrapolating (default 2)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, threads={torch.get_num_threads()}, {args.batches} batches x "
          f"{args.batch_size} samples x T={NB_STEPS}, literal compression budget {args.literal_budget:g} s/row\n")
    gen = torch.Generator().manual_seed(args.seed)

    print("| latent | H | pooling / mode | ratio | T' | literal compress (s) | literal decompress (s) "
          "| vectorised comp+decomp (ms) | speed-up | equal to literal |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    worst = float("inf")
    for label, width, kind, pooling, mode in CASES:
        data = make_data(kind, args.batches, args.batch_size, width, gen)
        for w in RATIOS:
            n_frames = NB_STEPS // w
            lit_c, done, lit_frames = time_literal_compress(data, n_frames, pooling, args.literal_budget)
            vec_s, frames, outs = time_vectorised(data, n_frames, pooling, mode, args.repeats)

            t0 = time.perf_counter()
            lit_outs = [literal_decompress(f, NB_STEPS, mode) for f in frames]
            lit_d = time.perf_counter() - t0

            vec_frames = torch.cat(frames)[:done]
            lit_frames = torch.cat(lit_frames)
            if kind == "currents":
                diff = (vec_frames - lit_frames).abs().max().item()
                frames_ok = f"max abs diff {diff:.1e}"
            else:
                frames_ok = "exact" if torch.equal(vec_frames, lit_frames) else "MISMATCH"
            dec_ok = all(torch.equal(a, b) for a, b in zip(outs, lit_outs))
            equal = f"frames {frames_ok}, decomp {'exact' if dec_ok else 'MISMATCH'}"

            total = args.batches * args.batch_size
            extrap = "" if done == total else f" (extrap. from {done}/{total})"
            speedup = (lit_c + lit_d) / vec_s
            worst = min(worst, speedup)
            print(f"| {label} | {width} | {pooling} / {mode} | 1:{w} | {n_frames} | {lit_c:.1f}{extrap} | "
                  f"{lit_d:.3f} | {vec_s * 1e3:.1f} | {speedup:,.0f}x | {equal} |", flush=True)
    print(f"\nsmallest speed-up: {worst:,.0f}x (target >= 100x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
