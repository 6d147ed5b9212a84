"""Continual-learning strategies as data: what trains, and what is replayed.

Every strategy is the same loop (``sccl.training.train_epochs``) fed with

* the new batches, passed through the frozen layers once per run (``encode_items``), and
* the replay batches of a :class:`~sccl.replay.LatentBuffer`, decompressed on the fly.

| strategy                 | trains                  | replays                                   |
|--------------------------|-------------------------|-------------------------------------------|
| naive                    | all seven tensors       | nothing                                   |
| rehearsal                | all seven tensors       | raw input batches (optionally sum-pooled) |
| latent replay, depth d   | the layers above d      | latents of depth d (optionally compressed)|

Which strategy a run uses is a record of :mod:`sccl.registry`; :func:`memory_spec` turns it
into the memory's recipe at the run's depth and compression.

Batch order per epoch (reference-spec Q43): all new batches, then all replay batches
(``order="new_then_replay"``, the original's); ``order="interleave"`` alternates them.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import zip_longest
from typing import Sequence

import torch

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


def memory_spec(strategy, depth: int | None, n_frames: int | None) -> MemorySpec | None:
    """The memory recipe of a :class:`sccl.registry.Strategy` (None: the strategy replays nothing).

    Uncompressed latents take the "new" variant's labels (nothing is pooled)."""
    from sccl.replay import replay_scheme

    if not strategy.replays:
        return None
    if strategy.stores == "raw":
        return MemorySpec("raw", None, n_frames, *replay_scheme("raw", None))
    variant = strategy.variant if n_frames is not None else "new"
    return MemorySpec("latent", depth, n_frames, *replay_scheme(variant, depth))


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
    return LatentBuffer(stored, kind=spec.kind, depth=spec.depth, nb_steps=nb_steps,
                        n_frames=spec.n_frames or nb_steps, pooling=spec.pooling, mode=spec.decompression)


def replay_items(buffer, level: int | None, device) -> list[Item]:
    """Replay items of one buffer, or of a list of buffers in order (None: none)."""
    if buffer is None:
        return []
    if isinstance(buffer, (list, tuple)):
        return [it for b in buffer for it in replay_items(b, level, device)]
    return [(level, lat, y) for lat, y in buffer.batches(device)]


def feed(new_items: Sequence[Item], buffer, level: int | None, device, order: str = "new_then_replay"):
    """The per-epoch item sequence: new batches then replay batches (or interleaved).

    ``buffer``: a memory buffer, a list of them (replayed in order; read at every epoch, so a
    list that grows between calls is seen), or None."""
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")

    def items():
        replay = replay_items(buffer, level, device)
        if order == "new_then_replay":
            return [*new_items, *replay]
        mixed = []
        for a, b in zip_longest(new_items, replay):
            mixed.extend(i for i in (a, b) if i is not None)
        return mixed

    return items
