"""Slow, deliberately literal restatements of the original per-element replay loops.

These are test oracles for :mod:`sccl.replay` (reference-spec s3.5, s3.7, s3.8, s3.10, Q25).
They follow the original scripts' control flow element by element -- a triple loop over
batch x neuron x frame for compression, one step at a time for decompression -- and are
intentionally not vectorised. Do not use them outside tests and benchmarks.
"""
from __future__ import annotations

import torch
from torch import Tensor


def literal_compress(x: Tensor, n_frames: int, pooling: str) -> Tensor:
    """Original compression: for every (sample, neuron, frame) sum the window's steps.

    The window is ``w = T // n_frames``; steps past ``n_frames * w`` are never visited. A frame
    stays 0 unless the window sum is nonzero; then it becomes 1 (``"or"``, the "new" scripts at
    depth >= 1) or the sum itself (``"sum"``: depth 0, the "sums" scripts, raw-input rehearsal).
    """
    batch, steps, width = x.shape
    w = steps // n_frames
    out = torch.zeros(batch, n_frames, width, dtype=x.dtype, device=x.device)
    for b in range(batch):
        for h in range(width):
            for k in range(n_frames):
                s = torch.sum(x[b, k * w:k * w + w, h])
                if s:
                    if pooling == "or":
                        out[b, k, h] = 1
                    else:
                        out[b, k, h] = s
    return out


def literal_decompress(frames: Tensor, nb_steps: int, mode: str) -> Tensor:
    """Original run-time un-compression, one time step at a time, stacked to [B, T, H].

    ``"first"``: at step t the stored frame ``t // w`` is injected when ``t % w == 0``; on every
    other step the injected vector is zeros. ``"burst"``: at step t a neuron spikes where the
    stored count of frame ``t // w`` exceeds ``t % w``.
    """
    w = nb_steps // frames.shape[1]
    steps = []
    for t in range(nb_steps):
        if mode == "first":
            if t % w == 0:
                step = frames[:, t // w].clone()
            else:
                step = torch.zeros_like(frames[:, t // w])
        else:
            step = torch.where(frames[:, t // w] > (t % w), 1, 0).to(frames.dtype)
        steps.append(step)
    return torch.stack(steps, dim=1)
