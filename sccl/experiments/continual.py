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


def check_memory(wanted: int, available: int, what: str) -> None:
    if wanted > available:
        raise ConfigError(f"--latent_batches / --reharsal_size = {wanted} but only {available} {what} "
                          f"exist: choose at most {available}")


def run_header(cfg: ContinualConfig, held_out_key: str | None, buffer, dataset: str,
               origin: dict | None = None) -> dict:
    """The fields every epoch record of a run carries (``origin``: the pretraining's
    ``data_origin``, recorded when known)."""
    mem = buffer.describe() if buffer is not None else {"nbytes": 0, "n_samples": 0}
    head = {"experiment": cfg.experiment, "script": cfg.script, "depth": cfg.depth,
            "memory_batches": cfg.memory_batches, "n_frames": cfg.n_frames, "ratio": cfg.ratio,
            "pooling": cfg.pooling, "protocol": cfg.protocol, "seed": cfg.seed, "dataset": dataset,
            "nb_epochs": cfg.nb_epochs, "lr": cfg.lr, "memory_bytes": mem["nbytes"],
            "memory_samples": mem["n_samples"], "memory": mem, "config": cfg.to_dict()}
    if origin:
        head["data_origin"] = origin
    if held_out_key:
        head[held_out_key] = cfg.held_out
    return head


def train_and_log(cfg: ContinualConfig, model, depth, new_items, old_eval, new_eval, buffer, level,
                  fmt, out, device, *, desc: str):
    """Pre-training evaluation, ``cfg.nb_epochs`` epochs with an evaluation after each, the
    closing lines, and the commit of TXT / CSV / records. Returns the final total Score."""
    from sccl.model import trainable_names
    from sccl.strategies import feed
    from sccl.training import score, train_epochs

    clock = Clock()

    def evaluate(epoch: int, loss):
        old, new = score(model, old_eval), score(model, new_eval)
        if epoch < 0:
            lines = fmt.pre(old.value, new.value)
        else:
            lines = fmt.epoch(epoch + 1, loss, old.value, new.value)
            for row in fmt.rows(epoch + 1, old.value, new.value):
                out.csv(row)
        for line in lines:
            out.txt(line)
        out.record(epoch=epoch + 1, loss=loss, **acc_fields("old", old), **acc_fields("new", new),
                   **acc_fields("total", old + new), wall_s=clock())

    evaluate(-1, None)
    train_epochs(model, trainable_names(depth), feed(new_items, buffer, level, device, cfg.order),
                 lr=cfg.lr, nb_epochs=cfg.nb_epochs, after_epoch=evaluate, desc=desc)
    total = score(model, new_eval) + score(model, old_eval)
    for line in fmt.end(total.value):
        out.txt(line)
    if buffer is not None:  # sccl's one addition to the TXT: the replay memory actually held
        out.txt(f"\nReplay memory: {buffer.nbytes} bytes ({buffer.n_samples} samples, ratio {cfg.ratio})\n")
    out.commit()
    return total
