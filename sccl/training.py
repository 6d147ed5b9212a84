"""The one training loop and the accuracy function every experiment uses.

A *feed* is a list of ``(level, x, y)`` items in the order they are trained on: ``level`` is
``None`` for raw input (``x`` sparse or dense ``[B, T, I]`` counts), a latent depth 0..3
(``x`` the latent at that depth, ``[B, T, H_d]``) or a strategy's own entry point (an object
with ``run(model, x)``, see :func:`step_output`). One optimiser step per item, items in the
given order, no reshuffling (reference-spec s3.0 step 8, Q43): this is how the original
trains new batches and then replay batches.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import torch

from sccl import trace
from sccl.runtime import progress

Item = tuple  # (level: int | None, x: Tensor, y: Tensor)


def adamax(params: Sequence[torch.Tensor], lr: float) -> torch.optim.Optimizer:
    """The original's optimiser (s2.5): Adamax, betas (0.9, 0.999), eps 1e-8, no weight decay."""
    return torch.optim.Adamax(list(params), lr=lr, betas=(0.9, 0.999))


def step_output(model, level, x):
    """Forward one item from its level: (logits, layer-3 spikes). ``level`` is None (raw input),
    a latent depth 0..3, or an object with ``run(model, x) -> NetOutput``: a strategy's own replay
    path (e.g. :class:`sccl.strategies.ReducedTime`)."""
    if level is None:
        out = model.run(x)
    elif isinstance(level, int):
        out = model.run_from(x, level)
    else:
        out = level.run(model, x)
    return out.logits, out.spk3


def train_epochs(model, trainable: Sequence[str], feed: Callable[[], Iterable[Item]], *,
                 lr: float, nb_epochs: int, after_epoch: Callable[[int, float], None] | None = None,
                 desc: str = "train", optimizer: torch.optim.Optimizer | None = None) -> list[float]:
    """Train ``trainable`` tensors of ``model`` on ``feed()`` for ``nb_epochs`` epochs.

    ``after_epoch(epoch, mean_loss)`` runs after each epoch (evaluation, writing results).
    Returns the mean loss of every epoch (over all items of the epoch, new and replay alike).
    """
    for name, w in model.weights.items():  # exactly these tensors get gradients
        w.requires_grad_(name in trainable)
    opt = optimizer or adamax([model.weights[n] for n in trainable], lr)
    losses = []
    seen = trace.Training(model, opt, nb_epochs)  # SCCL_TRACE observation hook (no-op when unset)
    bar = progress(range(nb_epochs), desc=desc, unit="epoch")
    for epoch in bar:
        total = torch.zeros((), dtype=torch.float64)
        n = 0
        seen.epoch()
        for level, x, y in feed():
            seen.item(level, x)
            opt.zero_grad()
            logits, spk3 = step_output(model, level, x)
            loss = model.loss(logits, y, spk3)
            loss.backward()
            opt.step()
            total += loss.detach().to("cpu", torch.float64)
            n += 1
        mean = float(total / n) if n else float("nan")
        losses.append(mean)
        bar.set_postfix(loss=f"{mean:.4f}")
        if after_epoch is not None:
            after_epoch(epoch, mean)
    seen.end()
    return losses


@dataclass(frozen=True)
class Score:
    """Correct predictions over a set of batches; ``value`` is the fraction (the original's
    accuracy: every batch is full, so the mean of per-batch accuracies equals this)."""

    correct: int
    total: int

    @property
    def value(self) -> float:
        return self.correct / self.total if self.total else float("nan")

    def __add__(self, other: "Score") -> "Score":
        return Score(self.correct + other.correct, self.total + other.total)


def score(model, items: Sequence[Item]) -> Score:
    """Accuracy of ``model`` on ``(level, x, y)`` items, without gradients."""
    return score_by_class(model, items)[0]


def score_by_class(model, items: Sequence[Item]) -> tuple[Score, dict[int, Score]]:
    """Accuracy overall and per true class (one forward pass per item)."""
    trace.evaluated(items)
    hits, labels = [], []
    with torch.no_grad():
        for level, x, y in items:
            logits, _ = step_output(model, level, x)
            hits.append((logits.argmax(dim=1) == y).cpu())
            labels.append(y.cpu())
    if not hits:
        return Score(0, 0), {}
    hit, lab = torch.cat(hits), torch.cat(labels)
    per = {int(c): Score(int(hit[lab == c].sum()), int((lab == c).sum())) for c in lab.unique()}
    return Score(int(hit.sum()), int(hit.numel())), per


def encode_items(model, batches: Sequence[tuple], depth: int | None) -> list[Item]:
    """``(x, y)`` batches -> items at ``depth``: the frozen prefix runs once here, not once per
    epoch (its weights never change during a continual-learning run)."""
    if depth is None:
        items = [(None, x, y) for x, y in batches]
    else:
        with torch.no_grad():
            items = [(depth, model.encode(x, depth), y) for x, y in batches]
    trace.encoded(depth, batches, items)
    return items
