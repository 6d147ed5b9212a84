"""Shared pieces of the continual-learning experiments: config, protocol, evaluation sets,
run ids and the per-run result record.

``--protocol faithful`` (default) reproduces the original's data flow; ``--protocol clean``
applies the fixes marked FIX-OPT in reference-spec s6.1 (see docs/protocols.md). For every
experiment the split fix is the same: when the new set has fewer than 5 batches the original
trains on its own test batch (Q12); the clean split keeps it out of training.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field, replace

from sccl.config import NetConfig, check_depth, check_subsample
from sccl.errors import ConfigError

PROTOCOLS = ("faithful", "clean")


@dataclass(frozen=True)
class ContinualConfig:
    """One continual-learning run; ``script`` names the original script it reproduces."""

    experiment: str                 # "sample" | "class" | "progressive"
    script: str                     # e.g. "latent_replay_subsample"
    held_out: int | None            # speaker (sample) or class (class); None for progressive
    net: NetConfig = field(default_factory=NetConfig)
    batch_size: int = 64
    nb_epochs: int = 50             # effective epochs (hard-coded ones already applied)
    lr: float = 2e-4
    depth: int | None = None        # trainable-set / latent depth; None = train all seven
    memory_batches: int = 0         # replay batches taken (per old class for class-incremental)
    n_frames: int | None = None     # stored steps T' (None: no compression)
    pooling: str = "or"             # "or" (new) | "sum" (sums / raw)
    seed: int = 0
    protocol: str = "faithful"
    order: str = "new_then_replay"

    def validate(self) -> "ContinualConfig":
        if self.protocol not in PROTOCOLS:
            raise ConfigError(f"--protocol must be faithful or clean, got {self.protocol!r}")
        if self.depth is not None:
            check_depth(self.depth)
        if self.n_frames is not None:
            check_subsample(self.n_frames, self.net.nb_steps)
        if self.memory_batches < 0:
            raise ConfigError(f"--latent_batches / --reharsal_size must be >= 0, got {self.memory_batches}")
        if self.nb_epochs < 0:
            raise ConfigError(f"--nb_epochs must be >= 0, got {self.nb_epochs}")
        if not self.lr > 0:
            raise ConfigError(f"--lr must be > 0, got {self.lr}")
        if self.held_out is not None and self.held_out < 0:
            raise ConfigError(f"the speaker / class must be >= 0, got {self.held_out}")
        self.net.validate()
        return self

    @property
    def ratio(self) -> str:
        return "1:1" if self.n_frames is None else f"1:{self.net.nb_steps // self.n_frames}"

    @property
    def run_id(self) -> str:
        """Stable name derived from everything that changes the result."""
        parts = [self.experiment, self.script]
        if self.held_out is not None:
            parts.append(("s" if self.experiment == "sample" else "c") + str(self.held_out))
        if self.depth is not None:
            parts.append(f"d{self.depth}")
        parts.append(f"m{self.memory_batches}")
        if self.n_frames is not None:
            parts.append(f"t{self.n_frames}{self.pooling}")
        parts += [f"e{self.nb_epochs}", f"lr{self.lr:g}", f"b{self.batch_size}", f"seed{self.seed}", self.protocol]
        if self.order != "new_then_replay":
            parts.append(self.order)
        if self.net != NetConfig():
            digest = hashlib.sha1(json.dumps(self.net.to_dict(), sort_keys=True).encode()).hexdigest()
            parts.append("net" + digest[:8])
        return "-".join(parts)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["net"] = self.net.to_dict()
        d["ratio"] = self.ratio
        return d

    def with_(self, **kw) -> "ContinualConfig":
        return replace(self, **kw)


def split_new(batches, protocol: str):
    """Split the new speaker's / class's batches (reference-spec s1.6; clean: no Q12 leak)."""
    from sccl.data.binning import split_batches

    train, test = split_batches(batches)
    if protocol == "clean" and len(batches) < 5 and len(batches) > 1:
        train = [b for b in batches if b is not test[0]]
    if not test:
        raise ConfigError("the new set has no batch to test on (fewer samples than --batch_size)")
    if not train:
        raise ConfigError("the new set has no batch to train on: it needs at least 2 batches under "
                          "--protocol clean (use a smaller --batch_size)")
    return train, test


class Clock:
    def __init__(self):
        self.t0 = time.time()

    def __call__(self) -> float:
        return round(time.time() - self.t0, 3)


def acc_fields(prefix: str, s) -> dict:
    """Record fields of one Score: acc, correct, total."""
    return {f"{prefix}_acc": s.value, f"{prefix}_correct": s.correct, f"{prefix}_total": s.total}
