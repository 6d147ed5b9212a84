"""Continual-learning metrics as pure functions (definitions: docs/metrics.md).

Accuracy matrix convention: ``acc[t, k]`` is the accuracy on task ``k``'s test set after
learning task ``t`` (rows and columns 0-based, ``T x T``). Entries above the diagonal (tasks
not learned yet) are ignored and may be NaN. Accuracies are fractions in [0, 1].

* :func:`average_accuracy` - Chaudhry et al. 2018 (RWalk) "A_t": mean of row ``t`` over the
  tasks learned so far;
* :func:`forgetting_per_task` / :func:`forgetting` - Chaudhry et al. 2018: the best accuracy a
  task ever had after it was learned minus its final accuracy, averaged over all tasks but the last;
* :func:`backward_transfer` - Lopez-Paz & Ranzato 2017 (GEM) "BWT": final accuracy minus the
  accuracy right after learning, averaged over all tasks but the last (negative = forgetting).

Both forgetting and BWT take optional per-task ``weights`` (test-set sizes): with them the
averages are sample-weighted instead of task-weighted.

The two-task experiments (sample / class incremental: the pretrained "old" task, then the
"new" speaker or class) use :func:`two_task_summary` over the epoch-0 and final evaluations.
Aggregation over speakers / classes / seeds uses :func:`mean_std` (sample standard deviation);
:func:`best_and_final` picks the "best" (max over epochs of the mean curve) and "final" numbers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

# --------------------------------------------------------------------------- accuracy matrix


def as_matrix(acc) -> np.ndarray:
    """``acc`` as a float ``T x T`` array; raises ValueError unless square with a finite lower triangle."""
    a = np.asarray(acc, dtype=float)
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] == 0:
        raise ValueError(f"the accuracy matrix must be square T x T with T >= 1, got shape {a.shape}")
    low = a[np.tril_indices(a.shape[0])]
    if not np.all(np.isfinite(low)):
        raise ValueError("the accuracy matrix has NaN / inf on or below the diagonal (acc[t, k], k <= t)")
    return a


def _weights(weights, n: int) -> np.ndarray:
    if weights is None:
        return np.ones(n)
    w = np.asarray(weights, dtype=float)
    if w.shape != (n,):
        raise ValueError(f"weights must hold one value per task ({n}), got shape {w.shape}")
    if np.any(w < 0) or not w.sum() > 0:
        raise ValueError("weights must be non-negative and not all zero")
    return w


def average_accuracy(acc, t: int | None = None, weights: Sequence[float] | None = None) -> float:
    """Mean of ``acc[t, 0..t]`` (accuracy on every task learned so far after task ``t``; default: the last)."""
    a = as_matrix(acc)
    T = a.shape[0]
    t = T - 1 if t is None else t
    if not 0 <= t < T:
        raise ValueError(f"t must be in 0..{T - 1}, got {t}")
    w = _weights(weights, T)[: t + 1]
    return float(np.dot(a[t, : t + 1], w) / w.sum())


def forgetting_per_task(acc) -> np.ndarray:
    """``f_k = max_{k <= l < T-1} acc[l, k] - acc[T-1, k]`` for ``k = 0..T-2`` (length ``T-1``)."""
    a = as_matrix(acc)
    T = a.shape[0]
    if T < 2:
        raise ValueError("forgetting needs at least two tasks")
    return np.array([a[k:T - 1, k].max() - a[T - 1, k] for k in range(T - 1)])


def forgetting(acc, weights: Sequence[float] | None = None) -> float:
    """Average forgetting after the last task (Chaudhry et al. 2018), over tasks ``0..T-2``."""
    f = forgetting_per_task(acc)
    w = _weights(weights, len(f) + 1)[:-1]
    if not w.sum() > 0:
        raise ValueError("weights of the tasks 0..T-2 are all zero")
    return float(np.dot(f, w) / w.sum())


def backward_transfer(acc, weights: Sequence[float] | None = None) -> float:
    """BWT (Lopez-Paz & Ranzato 2017): mean over ``k < T-1`` of ``acc[T-1, k] - acc[k, k]``."""
    a = as_matrix(acc)
    T = a.shape[0]
    if T < 2:
        raise ValueError("backward transfer needs at least two tasks")
    d = np.array([a[T - 1, k] - a[k, k] for k in range(T - 1)])
    w = _weights(weights, T)[:-1]
    if not w.sum() > 0:
        raise ValueError("weights of the tasks 0..T-2 are all zero")
    return float(np.dot(d, w) / w.sum())


# --------------------------------------------------------------------------- two-task view


def two_task_matrix(old0: float, new0: float, old: float, new: float) -> np.ndarray:
    """The 2 x 2 matrix of a sample / class run: row 0 = before continual training (epoch 0),
    row 1 = after it; column 0 = old (pretraining) test set, column 1 = the new speaker / class."""
    return np.array([[old0, new0], [old, new]], dtype=float)


def two_task_summary(first: dict, last: dict) -> dict:
    """Old / new / total view of one sample- or class-incremental run from its epoch-0 record
    ``first`` and its final record ``last`` (fields ``old_acc``, ``new_acc``, ``total_acc``).

    ``old_drop = old(0) - old(final)`` (= forgetting of the 2 x 2 matrix = -BWT),
    ``new_gain = new(final) - new(0)``, ``total_gain = total(final) - total(0)``.
    """
    out = {}
    for f in ("old", "new", "total"):
        out[f"{f}0"] = float(first[f"{f}_acc"])
        out[f] = float(last[f"{f}_acc"])
    out["old_drop"] = out["old0"] - out["old"]
    out["new_gain"] = out["new"] - out["new0"]
    out["total_gain"] = out["total"] - out["total0"]
    return out


# --------------------------------------------------------------------------- accumulators


class Accuracy:
    """Streaming accuracy: ``update(predictions, targets)`` or ``add(correct, total)``;
    ``result()`` (NaN while empty); ``reset()``. Raises ValueError on a size mismatch."""

    def __init__(self):
        self.correct = 0
        self.total = 0

    def update(self, predictions: Sequence, targets: Sequence) -> "Accuracy":
        p, t = np.asarray(predictions).ravel(), np.asarray(targets).ravel()
        if p.shape != t.shape:
            raise ValueError(f"{p.size} predictions for {t.size} targets")
        self.correct += int((p == t).sum())
        self.total += int(t.size)
        return self

    def add(self, correct: int, total: int) -> "Accuracy":
        if not 0 <= correct <= total:
            raise ValueError(f"need 0 <= correct <= total, got {correct} / {total}")
        self.correct += int(correct)
        self.total += int(total)
        return self

    def result(self) -> float:
        return self.correct / self.total if self.total else math.nan

    def reset(self) -> None:
        self.correct = self.total = 0


# --------------------------------------------------------------------------- aggregation


@dataclass(frozen=True)
class Stat:
    """Mean, sample standard deviation (ddof=1; None for n < 2) and count of some values."""

    mean: float | None
    std: float | None
    n: int

    def fmt(self, scale: float = 100.0, digits: int = 2, with_n: bool = True) -> str:
        """e.g. ``92.46 ± 1.20 (n=12)``; ``-`` when there is no value."""
        if self.mean is None:
            return "-"
        s = f"{self.mean * scale:.{digits}f}"
        if self.std is not None:
            s += f" ± {self.std * scale:.{digits}f}"
        if with_n:
            s += f" (n={self.n})"
        return s


def mean_std(values: Iterable[float | None]) -> Stat:
    """:class:`Stat` of the non-None, non-NaN ``values`` (std with ddof=1, as across speakers)."""
    v = np.array([x for x in values if x is not None and not math.isnan(x)], dtype=float)
    if v.size == 0:
        return Stat(None, None, 0)
    return Stat(float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else None, int(v.size))


def mean_curve(curves: Sequence[dict[int, float]]) -> dict[int, Stat]:
    """Per x (e.g. epoch): :class:`Stat` over the runs' ``{x: value}`` curves that have that x."""
    xs = sorted({x for c in curves for x in c})
    return {x: mean_std(c[x] for c in curves if x in c) for x in xs}


def best_and_final(curve: dict[int, Stat], final_values: Sequence[float]
                   ) -> tuple[Stat, tuple[float | None, int | None]]:
    """``(final, (best, best_x))``: ``final`` = :func:`mean_std` of each run's final value (the main
    number); ``best`` = the maximum over x >= 1 (x = 0 only if it is all there is) of the mean
    ``curve`` and the x where it is reached (the paper's "up to")."""
    final = mean_std(final_values)
    pts = {x: s.mean for x, s in curve.items() if s.mean is not None}
    later = {x: v for x, v in pts.items() if x >= 1} or pts
    if not later:
        return final, (None, None)
    x = max(later, key=lambda k: (later[k], -k))  # earliest epoch among ties
    return final, (later[x], x)


# --------------------------------------------------------------------------- memory


def kb(nbytes: float | None) -> float | None:
    """Bytes to KB with 1 KB = 1000 bytes (the paper's unit: 160 KB = 160,000 bytes)."""
    return None if nbytes is None else nbytes / 1000.0


def raw_ratio(nbytes: float | None, n_samples: int | None, nb_steps: int = 100, nb_inputs: int = 700) -> float | None:
    """How many times smaller the memory is than the same samples kept as raw binary input
    (``sccl.replay.raw_equivalent_ratio``); None for an empty memory (naive)."""
    from sccl.replay import raw_equivalent_ratio

    if not nbytes or not n_samples:
        return None
    return raw_equivalent_ratio(nbytes, n_samples, nb_steps, nb_inputs)


def closest(values: Sequence[float], target: float) -> list[int]:
    """Indices of the values nearest ``target`` (all ties; relative tolerance 1e-9)."""
    if not values:
        return []
    d = [abs(v - target) for v in values]
    m = min(d)
    return [i for i, x in enumerate(d) if x <= m + 1e-9 * max(1.0, abs(target))]


# --------------------------------------------------------------------------- progressive


def progressive_summary(steps: dict[int, dict]) -> dict:
    """Paper metrics of one progressive run from the last record of each step (0..S).

    ``steps[0]`` is the record before any German class (``previous_*`` = English test set,
    ``global_*``); ``steps[s]``, s >= 1, the record after the last epoch of step s
    (``previous_*`` = every class learned before s, ``new_*`` = class s, ``global_*``).
    Returns (fractions; None where a step is missing):

    * ``global0`` / ``global_final``: global accuracy before any German class / after the last;
    * ``new_mean``: mean over steps of the new class's accuracy (the paper's "+88.2 %");
    * ``old_loss_mean``: mean over steps of the drop of accuracy on the classes known before the
      step: ``acc(known before s, measured after s-1) - previous(after s)`` (the paper's "2.2 %").
      ``acc(known before s, after s-1)`` pools ``previous`` and ``new`` counts of step s-1;
    * ``seen_final``: accuracy on the test sets of every class learned, after the last step
      (the sample-weighted average accuracy ``ACC_w`` of the accuracy matrix);
    * ``bwt_w``: sample-weighted backward transfer: pooled over the tasks 0..S-1,
      ``(correct after the last step - correct right after learning each task) / samples``.
    """
    S = max(steps) if steps else 0
    out = {"steps": S, "global0": None, "global_final": None, "new_mean": None, "old_loss_mean": None,
           "seen_final": None, "bwt_w": None, "old_losses": [], "new_accs": []}
    if 0 in steps:
        out["global0"] = steps[0].get("global_acc")
    if S < 1 or any(s not in steps for s in range(S + 1)):
        return out
    out["global_final"] = steps[S].get("global_acc")
    out["new_accs"] = [float(steps[s]["new_acc"]) for s in range(1, S + 1)]
    out["new_mean"] = float(np.mean(out["new_accs"]))
    losses = []
    for s in range(1, S + 1):
        before = Accuracy().add(steps[s - 1]["previous_correct"], steps[s - 1]["previous_total"])
        if s > 1:
            before.add(steps[s - 1]["new_correct"], steps[s - 1]["new_total"])
        losses.append(before.result() - float(steps[s]["previous_acc"]))
    out["old_losses"] = losses
    out["old_loss_mean"] = float(np.mean(losses))
    last = steps[S]
    out["seen_final"] = Accuracy().add(last["previous_correct"], last["previous_total"]).add(
        last["new_correct"], last["new_total"]).result()
    diag = Accuracy().add(steps[0]["previous_correct"], steps[0]["previous_total"])
    for s in range(1, S):
        diag.add(steps[s]["new_correct"], steps[s]["new_total"])
    if diag.total == last["previous_total"] and diag.total:
        out["bwt_w"] = (last["previous_correct"] - diag.correct) / diag.total
    return out


def progressive_matrix(steps: dict[int, dict], first_new_class: int = 10) -> tuple[np.ndarray, np.ndarray] | None:
    """The full ``acc[t, k]`` matrix of a progressive run, when its records carry per-class counts
    (``class_correct`` / ``class_total``: ``{class: count}`` over every class learned so far);
    task 0 = the pretraining classes (``< first_new_class``) pooled, task s = the s-th new class.
    Returns ``(acc, weights)`` (weights = test samples per task) or None without those fields."""
    S = max(steps) if steps else 0
    if S < 1 or any(s not in steps or "class_correct" not in steps[s] for s in range(S + 1)):
        return None
    acc = np.full((S + 1, S + 1), np.nan)
    weights = np.zeros(S + 1)
    for t in range(S + 1):
        cc = {int(k): v for k, v in steps[t]["class_correct"].items()}
        ct = {int(k): v for k, v in steps[t]["class_total"].items()}
        groups = {0: [c for c in ct if c < first_new_class]}
        for k in range(1, t + 1):
            groups[k] = [c for c in ct if c == first_new_class + k - 1]
        for k, cls in groups.items():
            tot = sum(ct[c] for c in cls)
            if tot == 0:
                return None
            acc[t, k] = sum(cc.get(c, 0) for c in cls) / tot
            if t == S:
                weights[k] = tot
    return acc, weights
