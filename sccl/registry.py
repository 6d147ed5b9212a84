"""The strategy registry: every continual-learning strategy is one frozen record.

Scripts, experiments, sweeps and the report read these records; nothing else decides what a
strategy stores, which layers it trains or how it is labelled. Adding a strategy is adding a
record here (plus, when its replay is not one of the existing kinds, its replay function in
:mod:`sccl.strategies`), a script, and its sweep entries (docs/architecture.md, "Where to add a
strategy").

This module imports nothing heavy (no torch): the sweep drivers and the report read it.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sccl.errors import ConfigError


class Protocol(StrEnum):
    """How a continual run's data flows (docs/protocols.md)."""

    FAITHFUL = "faithful"   # the original's data flow, leaks included
    CLEAN = "clean"         # the fixes of reference-spec s6.1

    @classmethod
    def parse(cls, value) -> "Protocol":
        try:
            return cls(value)
        except ValueError:
            raise ConfigError(f"protocol must be one of {', '.join(PROTOCOLS)}, got {value!r}") from None


PROTOCOLS = tuple(p.value for p in Protocol)
STORES = ("none", "raw", "latent")
REPLAYS = ("decompress", "reduced")


@dataclass(frozen=True)
class Strategy:
    """One strategy: what its memory stores and how it replays, and its labels.

    ``script`` and ``pooling`` are the labels a run carries in its run id and records (the
    original script's name and its ``--pooling`` variant, "or" = the "new" script, "sum" = the
    "sums" script); the memory's actual per-depth pooling follows from ``variant``
    (:func:`sccl.replay.replay_scheme`) and is written in the records' ``memory`` field.
    """

    name: str                      # registry key
    script: str                    # script file stem in each experiment folder; records' "script"
    stores: str                    # "none" | "raw" input counts | "latent" at the run's depth
    variant: str = "new"           # compression variant when compressed: "new" | "sums" | "raw"
    pooling: str = "or"            # run-id / record label of the variant
    per_class: int | None = None   # fixed memory batches per old class where the experiment counts per class
                                   # (class-incremental; None: the script's flag)
    replay: str = "decompress"     # "decompress": back to T steps; "reduced": T' steps, no decompression
    sweep: str = ""                # its name in the testsuites' --strategies lists
    label: str = ""                # report label
    short: str = ""                # report legend label
    files: str = ""                # output file stem, for strategies without an original output format
    uncompressed_label: str = ""   # report label of a run of this strategy without compression
    paper: bool = True             # one of the paper's strategies (in the drivers' default lists, --paper)

    @property
    def replays(self) -> bool:
        return self.stores != "none"

    def trained_depth(self, depth: int | None) -> int | None:
        """Depth the frozen prefix ends at (None: all seven tensors train, raw input)."""
        return depth if self.stores == "latent" else None

    def memory_per_class(self, memory_batches: int) -> int:
        return memory_batches if self.per_class is None else self.per_class


STRATEGIES: dict[str, Strategy] = {s.name: s for s in (
    Strategy("naive", "naive", "none", sweep="naive", label="Naive", short="Naive"),
    Strategy("rehearsal", "rehearsal", "raw", variant="raw", pooling="sum", sweep="rehearsal",
             label="Rehearsal", short="Reh."),
    Strategy("rehearsal_subsample", "rehearsal_subsample", "raw", variant="raw", pooling="sum",
             label="Rehearsal (compressed raw)", short="Reh. comp."),
    Strategy("latent_replay", "latent_replay", "latent", per_class=1, sweep="lr", label="LR", short="LR"),
    Strategy("latent_replay_subsample", "latent_replay_subsample", "latent", sweep="subsample",
             label="Compressed LR", short="CLR", uncompressed_label="LR (T' = T)"),
    Strategy("latent_replay_sums", "latent_replay_subsample", "latent", variant="sums", pooling="sum",
             sweep="sums", label="Compressed LR", short="CLR", uncompressed_label="LR (T' = T)"),
    # not in the paper: Replay4NCL-style replay of the stored frames at T' steps (docs/reduced_replay.md)
    Strategy("latent_replay_reduced", "latent_replay_reduced", "latent", replay="reduced", sweep="reduced",
             label="Reduced-time LR", short="RLR", files="latent_reduced", paper=False),
)}


def get(name: str) -> Strategy:
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ConfigError(f"unknown strategy {name!r}; known: {', '.join(STRATEGIES)}") from None


def resolve(script: str, pooling: str | None = None) -> Strategy:
    """The strategy a run labelled ``(script, pooling)`` used (run ids and records carry these)."""
    found = [s for s in STRATEGIES.values() if s.script == script]
    if len(found) > 1:
        found = [s for s in found if s.pooling == pooling] or found[:1]
    if not found:
        raise ConfigError(f"no strategy has the script name {script!r}; known: "
                          f"{', '.join(sorted({s.script for s in STRATEGIES.values()}))}")
    return found[0]


def find(script: str, pooling: str | None = None) -> Strategy | None:
    """:func:`resolve`, or None for a label no strategy has (e.g. records of another version)."""
    try:
        return resolve(script, pooling)
    except ConfigError:
        return None


def by_sweep(names) -> list[Strategy]:
    return [s for s in STRATEGIES.values() if s.sweep and s.sweep in names]


# --------------------------------------------------------------------------- experiments

@dataclass(frozen=True)
class Experiment:
    """A continual-learning experiment: where its scripts live and which artifacts beyond its
    own pretraining its faithful replay memory reads (the grid draws its dependencies from this).

    ``"class_lists"``: every other class's removed_{x,y}_class_<cl>.pt (single-class generator);
    ``"english_lists"``: the removed lists of classes 0..9 (the progressive global test set)."""

    name: str                          # "sample" | "class" | "progressive"
    folder: str                        # scripts' folder
    held_out: str | None               # record field of the held-out speaker / class
    faithful_reads: tuple[str, ...] = ()
    per_class_memory: bool = False     # its memory flag counts batches per old class (Strategy.per_class applies)

    def memory_reads(self, protocol, strategy: Strategy) -> tuple[str, ...]:
        protocol = Protocol.parse(protocol)
        if protocol is Protocol.CLEAN:
            return ()
        if protocol is Protocol.FAITHFUL:
            return self.faithful_reads if strategy.replays else ()
        raise AssertionError(protocol)  # pragma: no cover - the enum is exhaustive


EXPERIMENTS: dict[str, Experiment] = {e.name: e for e in (
    Experiment("sample", "sample_incremental", "speaker"),
    Experiment("class", "class_incremental", "class", faithful_reads=("class_lists",), per_class_memory=True),
    Experiment("progressive", "class_incremental_multiclasses", None, faithful_reads=("english_lists",)),
)}
