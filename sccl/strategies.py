"""Continual-learning strategies as data: what trains, and what is replayed.

Every strategy is the same loop (``sccl.training.train_epochs``) fed with

* the new batches, passed through the frozen layers once per run (``encode_items``), and
* the replay batches of a :class:`~sccl.replay.LatentBuffer`, decompressed on the fly.

| strategy                 | trains                  | replays                                   |
|--------------------------|-------------------------|-------------------------------------------|
| naive                    | all seven tensors       | nothing                                   |
| rehearsal                | all seven tensors       | raw input batches (optionally sum-pooled) |
| latent replay, depth d   | the layers above d      | latents of depth d (optionally compressed)|

Batch order per epoch (reference-spec Q43): all new batches, then all replay batches
(``order="new_then_replay"``, the original's); ``order="interleave"`` alternates them.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import zip_longest
from typing import Sequence

import torch

from sccl import trace
from sccl.training import Item

ORDERS = ("new_then_replay", "interleave")


@dataclass(frozen=True)
class MemorySpec:
    """How a replay memory is made from ``(x, y)`` batches."""

    kind: str                      # "raw" (input counts) or "latent"
    depth: int | None = None       # latent depth 0..3 (None for raw)
    n_frames: int | None = None    # stored steps T' (None: uncompressed)
    pooling: str = "or"            # "or" | "sum" (compression)
    decompression: str = "first"   # "first" | "burst"

    @property
    def level(self) -> int | None:
        """Where replayed tensors enter the network (None: the input)."""
        return self.depth if self.kind == "latent" else None


def make_buffer(model, batches: Sequence[tuple], spec: MemorySpec, nb_steps: int, device):
    """Capture the replay memory once from the frozen network: latents and labels together."""
    from sccl.replay import LatentBuffer, compress

    stored = []
    with torch.no_grad():
        for x, y in batches:
            x = x.to(device)
            lat = x.to_dense() if spec.kind == "raw" else model.encode(x, spec.depth)
            if spec.n_frames is not None:
                lat = compress(lat, spec.n_frames, spec.pooling)
            stored.append((lat, y.to(device)))
    buffer = LatentBuffer(stored, kind=spec.kind, depth=spec.depth, nb_steps=nb_steps,
                          n_frames=spec.n_frames or nb_steps, pooling=spec.pooling, mode=spec.decompression)
    trace.memory(spec, batches, buffer, device)  # SCCL_TRACE observation hook (no-op when unset)
    return buffer


def replay_items(buffer, level: int | None, device) -> list[Item]:
    return [(level, lat, y) for lat, y in buffer.batches(device)]


def feed(new_items: Sequence[Item], buffer, level: int | None, device, order: str = "new_then_replay"):
    """The per-epoch item sequence: new batches then replay batches (or interleaved)."""
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")

    def items():
        replay = replay_items(buffer, level, device) if buffer is not None else []
        if order == "new_then_replay":
            return [*new_items, *replay]
        mixed = []
        for a, b in zip_longest(new_items, replay):
            mixed.extend(i for i in (a, b) if i is not None)
        return mixed

    return items
