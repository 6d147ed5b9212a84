"""Observation hook: what a run actually did, written as JSON lines when ``SCCL_TRACE`` is set.

``SCCL_TRACE=<file>`` makes the library append one JSON object per event to ``<file>``; unset
(the default) every call here returns at once and nothing is computed. The tests of
``tests/test_settings.py`` read these traces to check each script's *effective* settings (what
the optimiser, the feed and the evaluation really saw), not what a config says. The hook lives
in this one module; the library calls it from four places (``encode_items``, ``make_buffer``,
``score_by_class``, ``train_epochs``). docs/testing.md describes the events.

Tensors are named by content: ``digest(x)`` is a short SHA-1 of the dense float32 values and the
shape; ``sample_fingerprints(x)`` is one digest per sample row of a *raw input* batch. A test maps
fingerprints to sample ids with the ``ids_<tag>.pt`` artifacts; an item fed to the optimiser or
scored is traced by its digest, which an ``encode`` / ``memory`` event ties to the raw samples
it was made from.

Events (``"event"`` key):

* ``encode``  -- ``level`` and, per batch, ``digest`` of the item and ``samples`` (fingerprints);
* ``memory``  -- the replay memory spec (``kind``, ``depth``, ``n_frames``, ``pooling``,
  ``decompression``) and, per stored batch, the ``digest`` of the batch *as replayed* and its
  ``samples``;
* ``eval``    -- ``items``: the digests of an evaluated item list (once per distinct list);
* ``train``   -- the optimiser (``optimizer``, ``lr``, ``betas``, ``eps``, ``weight_decay``,
  ``params``: the names it updates, in order; ``fresh``: it had no state yet), ``requires_grad`` (tensors that get gradients),
  ``nb_epochs``, ``epochs`` (per epoch, the ``[level, digest]`` of every item in training
  order) and per-tensor / per-``w_out``-column digests before (``start``) and after (``end``).
"""
from __future__ import annotations

import hashlib
import json
import os

import torch

ENV = "SCCL_TRACE"
_seen: set = set()


def path() -> str | None:
    return os.environ.get(ENV) or None


def enabled() -> bool:
    return path() is not None


def _dense_cpu(x: torch.Tensor) -> torch.Tensor:
    x = x.detach()
    if x.layout != torch.strided:
        x = x.to_dense()
    return x.to("cpu", torch.float32).contiguous()


def digest(x: torch.Tensor) -> str:
    """Content name of a tensor: SHA-1 of its shape and dense float32 values, 16 hex digits."""
    d = _dense_cpu(x)
    h = hashlib.sha1(str(tuple(d.shape)).encode())
    h.update(d.numpy().tobytes())
    return h.hexdigest()[:16]


def sample_fingerprints(x: torch.Tensor) -> list[str]:
    """One digest per sample (first dimension) of a batch."""
    d = _dense_cpu(x)
    return [digest(row) for row in d]


def emit(event: str, **data) -> None:
    """Append one event to the trace file (no-op when ``SCCL_TRACE`` is unset)."""
    p = path()
    if p is None:
        return
    with open(p, "a") as f:
        f.write(json.dumps({"event": event, **data}) + "\n")


def encoded(level, raw_batches, items) -> None:
    """``encode_items`` turned raw ``(x, y)`` batches into ``(level, x, y)`` items."""
    if not enabled():
        return
    emit("encode", level=level, batches=[
        {"digest": digest(it[1]), "samples": sample_fingerprints(x), "labels": y.tolist()}
        for (x, y), it in zip(raw_batches, items)])


def memory(spec, raw_batches, buffer, device) -> None:
    """``make_buffer`` stored ``raw_batches``; ``buffer.batches()`` is what replay feeds."""
    if not enabled():
        return
    emit("memory", kind=spec.kind, depth=spec.depth, n_frames=spec.n_frames, pooling=spec.pooling,
         decompression=spec.decompression, batches=[
             {"digest": digest(lat), "samples": sample_fingerprints(x), "labels": y.tolist()}
             for (x, y), (lat, _) in zip(raw_batches, buffer.batches(device))])


def evaluated(items) -> None:
    """``score_by_class`` scored ``items``; each distinct list is written once per trace file."""
    if not enabled():
        return
    names = tuple(digest(it[1]) for it in items)
    key = (path(), names)
    if key in _seen:
        return
    _seen.add(key)
    emit("eval", items=list(names))


def _weights(model) -> dict:
    w = model.weights
    return {"tensors": {n: digest(t) for n, t in w.items()},
            "w_out_columns": [digest(w["w_out"][:, c]) for c in range(w["w_out"].shape[1])]}


class Training:
    """Collects one ``train_epochs`` call: ``start`` before, ``item`` per step, ``end`` after."""

    def __init__(self, model, opt, nb_epochs: int):
        self.on = enabled()
        if not self.on:
            return
        self.model, self.opt, self.nb_epochs = model, opt, nb_epochs
        self.epochs: list[list] = []
        self.start = _weights(model)
        self.fresh = len(opt.state) == 0

    def epoch(self) -> None:
        if self.on:
            self.epochs.append([])

    def item(self, level, x) -> None:
        if self.on:
            self.epochs[-1].append([level, digest(x)])

    def end(self) -> None:
        if not self.on:
            return
        names = {id(t): n for n, t in self.model.weights.items()}
        group = self.opt.param_groups[0]
        emit("train", optimizer=type(self.opt).__name__, lr=group["lr"], betas=list(group.get("betas", ())),
             eps=group.get("eps"), weight_decay=group.get("weight_decay"),
             params=[names.get(id(p), "?") for g in self.opt.param_groups for p in g["params"]],
             requires_grad=[n for n, t in self.model.weights.items() if t.requires_grad],
             fresh=self.fresh, nb_epochs=self.nb_epochs, epochs=self.epochs, start=self.start, end=_weights(self.model))
