"""Continual-learning strategies as data: what trains, and what is replayed.

Every strategy is the same loop (``sccl.training.train_epochs``) fed with

* the new batches, passed through the frozen layers once per run (``encode_items``), and
* the replay batches of a :class:`~sccl.replay.LatentBuffer`, decompressed on the fly.

| strategy                 | trains                  | replays                                   |
|--------------------------|-------------------------|-------------------------------------------|
| naive                    | all seven tensors       | nothing                                   |
| rehearsal                | all seven tensors       | raw input batches (optionally sum-pooled) |
| latent replay, depth d   | the layers above d      | latents of depth d (optionally compressed)|
| reduced-time LR, depth d | the layers above d      | compressed latents, run at T' steps       |

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
    replay: str = "decompress"     # "decompress" to T steps | "reduced": the frames at T' steps

    @property
    def level(self):
        """Where replayed tensors enter the network (None: the input; a ReducedTime entry point)."""
        if self.kind != "latent":
            return None
        if self.replay == "reduced" and self.n_frames is not None:
            return ReducedTime(self.depth)
        return self.depth


# --------------------------------------------------------------------------- reduced-time replay

def impulse_peak(alpha: float, beta: float, nb_steps: int) -> float:
    """Peak membrane potential of one LIF neuron (no reset) after a unit input at step 0:
    ``I_{t+1} = alpha I_t + a_t``, ``U_{t+1} = beta U_t + I_t`` (sccl.model's update order)."""
    syn = mem = peak = 0.0
    for t in range(nb_steps):
        syn, mem = alpha * syn + (1.0 if t == 0 else 0.0), beta * mem + syn
        peak = max(peak, mem)
    return peak


def threshold_scale(net, factor: int) -> float:
    """Threshold of the reduced-time layers relative to the original: the ratio of the peak
    membrane response to one input spike at T / factor steps of factor * dt to that at T steps
    of dt (docs/reduced_replay.md)."""
    fine = impulse_peak(net.alpha, net.beta, net.nb_steps)
    coarse = impulse_peak(net.alpha ** factor, net.beta ** factor, net.nb_steps // factor)
    return coarse / fine


def reduced_view(model, factor: int):
    """``model`` running ``T / factor`` steps of ``factor * dt``: the same weight tensors (so the
    gradients reach the model's own weights), decays over the same physical time, threshold
    scaled by :func:`threshold_scale`."""
    from dataclasses import replace

    from sccl.model import SpikingNet

    net = model.net
    view = SpikingNet(replace(net, nb_steps=net.nb_steps // factor, time_step=net.time_step * factor),
                      model.weights)
    view.params = view.params._replace(threshold=view.params.threshold * threshold_scale(net, factor))
    return view


@dataclass(frozen=True)
class ReducedTime:
    """Replay entry point of timestep-reduced latent replay (Replay4NCL-style): the stored frames
    ``[B, T', H]`` go to the layers above ``depth`` as they are, no decompression."""

    depth: int

    def run(self, model, x):
        """Forward of the stored frames ``x``; the reduction factor r = T / T' follows from them."""
        return reduced_view(model, model.net.nb_steps // x.shape[1]).run_from(x, self.depth)


def memory_spec(strategy, depth: int | None, n_frames: int | None) -> MemorySpec | None:
    """The memory recipe of a :class:`sccl.registry.Strategy` (None: the strategy replays nothing).

    Uncompressed latents take the "new" variant's labels (nothing is pooled)."""
    from sccl.replay import replay_scheme

    if not strategy.replays:
        return None
    if strategy.stores == "raw":
        return MemorySpec("raw", None, n_frames, *replay_scheme("raw", None))
    variant = strategy.variant if n_frames is not None else "new"
    return MemorySpec("latent", depth, n_frames, *replay_scheme(variant, depth), replay=strategy.replay)


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
    """Replay items of one buffer, or of a list of buffers in order (None: none)."""
    if buffer is None:
        return []
    if isinstance(buffer, (list, tuple)):
        return [it for b in buffer for it in replay_items(b, level, device)]
    if isinstance(level, ReducedTime):  # the stored frames as they are
        return [(level, buffer.frames(i, device), buffer.labels(i, device)) for i in range(len(buffer))]
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
