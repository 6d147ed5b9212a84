"""Binning SHD samples into sparse batches, sample filters and the train/test split.

Implements reference-spec s1.4 (the "sparse generator": digitize time binning, drop-last
batches [Q7], one shuffle of the sample order, uncoalesced COO tensors whose dense form is a
spike *count* per (step, channel) [Q10]), s1.5 (the speaker / class filters) and s1.6 (the
1/5 split rule with its ``stop-1`` quirk [Q11] and the ``d == 0`` leak [Q12]).

Time binning, exactly as the original (kept for faithfulness, [Q9])::

    edges = linspace(0, max_time, nb_steps)          # nb_steps edges, spacing max_time/(nb_steps-1)
    step  = digitize(t, edges)                       # number of edges <= t

so step 0 is always empty, a spike in ``[(k-1)*d, k*d)`` lands in step ``k`` and a spike at
``t >= max_time`` would get step ``nb_steps`` (out of range). The original never checked; here
such late events are dropped and counted in :class:`BinningStats` so the caller can warn.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Sequence, TypeVar

import numpy as np
import torch

from sccl.data.shd import SHDData
from sccl.errors import ConfigError

T = TypeVar("T")


class Batch(NamedTuple):
    """One batch of ``B`` samples.

    x:        sparse COO float32 ``[B, T, I]``, one entry of value 1.0 per spike at
              (position in batch, time step, unit); NOT coalesced, so ``x.to_dense()`` sums
              duplicates into spike counts.
    y:        int64 ``[B]`` labels.
    ids:      int64 ``[B]`` indices of the samples in the :class:`SHDData` they came from.
    speakers: int64 ``[B]`` speaker ids.
    """

    x: torch.Tensor
    y: torch.Tensor
    ids: torch.Tensor
    speakers: torch.Tensor


@dataclass(frozen=True)
class BinningStats:
    """Event accounting of one :func:`make_batches` call.

    n_events:               spikes of the samples placed in batches (before dropping late ones)
    n_dropped_late:         of those, spikes at ``t >= max_time`` (step >= nb_steps), dropped
    n_samples_used:         samples placed in batches (``n_batches * batch_size``)
    n_samples_dropped_last: trailing samples of the shuffled order that fill no batch
    """

    n_events: int
    n_dropped_late: int
    n_samples_used: int
    n_samples_dropped_last: int

    @property
    def n_kept(self) -> int:
        """Spikes actually present in the batches."""
        return self.n_events - self.n_dropped_late


# ------------------------------------------------------------------------------- binning

def time_bins(nb_steps: int, max_time: float) -> np.ndarray:
    """The ``nb_steps`` bin edges ``linspace(0, max_time, nb_steps)`` in seconds."""
    return np.linspace(0, max_time, nb_steps)


def bin_times(times: np.ndarray, nb_steps: int, max_time: float) -> np.ndarray:
    """Time step of each spike time (seconds): ``digitize(times, time_bins(...))``, int64.

    Values are in ``1..nb_steps``; ``nb_steps`` means ``t >= max_time`` (out of range).
    """
    return np.digitize(np.asarray(times, dtype=np.float64), time_bins(nb_steps, max_time)).astype(np.int64)


def bin_events(times: Sequence[np.ndarray], units: Sequence[np.ndarray], nb_steps: int,
               max_time: float) -> tuple[np.ndarray, int]:
    """COO indices of a list of samples, and the number of late spikes dropped.

    ``times[b]`` (seconds) and ``units[b]`` are the spikes of the sample at batch position
    ``b``. Returns ``(idx, n_dropped)`` where ``idx`` is int64 ``[3, n_kept]`` holding
    (batch position, step, unit) per kept spike, in sample order then spike order, and
    ``n_dropped`` counts the spikes at ``t >= max_time``.
    """
    lengths = np.fromiter((len(t) for t in times), dtype=np.int64, count=len(times))
    if lengths.sum() == 0:
        return np.zeros((3, 0), dtype=np.int64), 0
    pos = np.repeat(np.arange(len(times), dtype=np.int64), lengths)
    steps = bin_times(np.concatenate(times), nb_steps, max_time)
    unit = np.concatenate(units).astype(np.int64, copy=False)
    keep = steps < nb_steps
    n_dropped = int(len(keep) - np.count_nonzero(keep))
    if n_dropped:
        pos, steps, unit = pos[keep], steps[keep], unit[keep]
    return np.stack([pos, steps, unit]), n_dropped


def make_batches(data: SHDData, indices: np.ndarray | Sequence[int], batch_size: int,
                 nb_steps: int, max_time: float, nb_inputs: int,
                 rng: np.random.Generator | None) -> tuple[list[Batch], BinningStats]:
    """Shuffle ``indices`` once and cut them into full batches (reference-spec s1.4).

    indices:  sample indices into ``data`` in file order (e.g. from :func:`indices_where`).
    rng:      one ``rng.shuffle`` of a copy of ``indices``; ``None`` keeps the given order.
    Returns ``len(indices) // batch_size`` batches (drop-last: the trailing samples of the
    shuffled order are unused, [Q7]) and the :class:`BinningStats`. Spikes at
    ``t >= max_time`` are dropped and counted (the caller should warn when any were).
    """
    if batch_size < 1:
        raise ConfigError(f"--batch_size must be a positive integer, got {batch_size}")
    if nb_steps < 1:
        raise ConfigError(f"--nb_steps must be a positive integer, got {nb_steps}")
    if not max_time > 0:
        raise ConfigError(f"--max_time must be > 0 seconds, got {max_time}")
    order = np.array(indices, dtype=np.int64).reshape(-1)  # always a copy
    if len(order) and (order.min() < 0 or order.max() >= len(data)):
        raise IndexError(f"sample indices must be in 0..{len(data) - 1}, got "
                         f"{order.min()}..{order.max()}")
    if rng is not None:
        rng.shuffle(order)
    n_batches = len(order) // batch_size
    batches: list[Batch] = []
    n_events = n_dropped = 0
    for b in range(n_batches):
        ids = order[b * batch_size:(b + 1) * batch_size]
        idx, dropped = bin_events([data.times[i] for i in ids], [data.units[i] for i in ids],
                                  nb_steps, max_time)
        if idx.shape[1] and idx[2].max() >= nb_inputs:
            raise ConfigError(f"--nb_inputs={nb_inputs} is too small for {data.path}: it has "
                              f"unit {int(idx[2].max())}; use --nb_inputs {int(idx[2].max()) + 1} "
                              "or more")
        n_events += idx.shape[1] + dropped
        n_dropped += dropped
        # Indices are in range by construction (steps < nb_steps, units checked above).
        x = torch.sparse_coo_tensor(torch.from_numpy(idx), torch.ones(idx.shape[1]),
                                    (batch_size, nb_steps, nb_inputs), dtype=torch.float32,
                                    check_invariants=False)
        ids_t = torch.from_numpy(ids.copy())
        batches.append(Batch(x=x, y=torch.from_numpy(data.labels[ids]), ids=ids_t,
                             speakers=torch.from_numpy(data.speakers[ids])))
    stats = BinningStats(n_events=n_events, n_dropped_late=n_dropped,
                         n_samples_used=n_batches * batch_size,
                         n_samples_dropped_last=len(order) - n_batches * batch_size)
    return batches, stats


def dense(batch_x: torch.Tensor) -> torch.Tensor:
    """Dense float32 ``[B, T, I]`` spike counts of a COO batch (duplicates summed)."""
    return batch_x.to_dense().to(torch.float32) if batch_x.is_sparse else batch_x.to(torch.float32)


# --------------------------------------------------------------------------------- split

def split_sizes(n: int) -> tuple[int, int, int]:
    """``(n_test, n_discarded, n_train)`` batches of :func:`split_batches` for ``n`` batches.

    For ``n`` in 1..4 the test batch is also in train, so the three do not sum to ``n``.
    """
    d = n // 5
    if d > 1:
        return d - 1, 1, n - d
    if d == 1:
        return 1, 0, n - 1
    return min(n, 1), 0, n


def split_batches(batches: Sequence[T]) -> tuple[list[T], list[T]]:
    """``(train, test)`` by the original's 1/5 rule (reference-spec s1.6), quirks kept.

    With ``d = n // 5``: if ``d > 1``, test = batches ``[0, d-1)``, batch ``d-1`` is in
    neither split [Q11] and train = ``[d, n)``; if ``d == 1``, test = batch 0 and train =
    ``[1, n)``; if ``d == 0``, test = batch 0 (none when ``n == 0``) and train = **all**
    batches, batch 0 included [Q12].
    """
    batches = list(batches)
    d = len(batches) // 5
    if d > 1:
        return batches[d:], batches[:d - 1]
    if d == 1:
        return batches[1:], batches[:1]
    return batches, batches[:1]


# ------------------------------------------------------------------------------- filters

def indices_where(data: SHDData, *, speaker: int | None = None, not_speaker: int | None = None,
                  label: int | None = None, not_label: int | None = None,
                  label_below: int | None = None) -> np.ndarray:
    """int64 indices (file order) of the samples meeting every given condition.

    ``speaker=s`` / ``not_speaker=s``: speaker id equal / not equal to ``s``;
    ``label=c`` / ``not_label=c``: label equal / not equal to ``c``; ``label_below=k``: label < k.
    With no condition, all samples. (reference-spec s1.5)
    """
    mask = np.ones(len(data), dtype=bool)
    if speaker is not None:
        mask &= data.speakers == speaker
    if not_speaker is not None:
        mask &= data.speakers != not_speaker
    if label is not None:
        mask &= data.labels == label
    if not_label is not None:
        mask &= data.labels != not_label
    if label_below is not None:
        mask &= data.labels < label_below
    return np.flatnonzero(mask).astype(np.int64)


def _ranges(values: np.ndarray) -> str:
    """Compact listing of sorted unique ints: ``[0,1,2,3,5,7,8]`` -> ``"0..3, 5, 7..8"``."""
    vals = np.unique(values).tolist()
    if not vals:
        return "none"
    parts, start, prev = [], vals[0], vals[0]
    for v in vals[1:] + [None]:
        if v is not None and v == prev + 1:
            prev = v
            continue
        parts.append(str(start) if start == prev else f"{start}..{prev}")
        if v is not None:
            start = prev = v
    return ", ".join(parts)


def check_speaker(data: SHDData, s: int, flag: str = "--speaker") -> int:
    """``s`` if some sample has speaker ``s``, else :class:`ConfigError` listing those present."""
    if not np.any(data.speakers == s):
        raise ConfigError(f"{flag} {s} is not in {data.path}: speakers present are "
                          f"{_ranges(data.speakers)}")
    return s


def check_class(data: SHDData, c: int, flag: str = "--removed_class") -> int:
    """``c`` if some sample has label ``c``, else :class:`ConfigError` listing those present."""
    if not np.any(data.labels == c):
        raise ConfigError(f"{flag} {c} is not in {data.path}: classes present are "
                          f"{_ranges(data.labels)}")
    return c
