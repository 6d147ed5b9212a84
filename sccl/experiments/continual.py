"""The continual-run skeleton every continual experiment runs on.

One run is: load the pretraining (:func:`load_pretraining`) -> split the new set under the
protocol (:func:`split_new`) -> open a :class:`Session` (the model, the strategy's memory,
the frozen-prefix encoding, the training step) -> write the original's lines through a
``RunLog``. Sample- and class-incremental runs hand a :class:`Task` to :func:`run_incremental`;
the progressive run drives the same :class:`Session` once per new class.

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
from pathlib import Path
from typing import Callable

from sccl import artifacts, registry
from sccl.config import NetConfig, check_depth, check_subsample
from sccl.errors import ConfigError
from sccl.runtime import environment
from sccl.registry import PROTOCOLS, Protocol  # noqa: F401  (PROTOCOLS re-exported)


@dataclass(frozen=True)
class ContinualConfig:
    """One continual-learning run. ``script`` and ``pooling`` are the labels of its strategy
    (:mod:`sccl.registry`), as its run id and records carry them; :attr:`strategy` is the record."""

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
    pooling: str = "or"             # the strategy's variant label: "or" (new) | "sum" (sums / raw)
    seed: int = 0
    protocol: str = "faithful"
    order: str = "new_then_replay"
    dataset_fp: str | None = None   # content fingerprint of the dataset the pretraining was made from
    pretraining: str | None = None  # hash of the pretraining's manifest (sccl.manifest)

    def __post_init__(self):
        # the strategy's fixed memory per old class, where the experiment counts per class
        # (class latent_replay.py keeps 1 whatever --latent_batches says, Q29): one home, the registry
        st, exp = registry.find(self.script, self.pooling), registry.EXPERIMENTS.get(self.experiment)
        if st is not None and exp is not None and exp.per_class_memory:
            object.__setattr__(self, "memory_batches", st.memory_per_class(self.memory_batches))

    @classmethod
    def of(cls, strategy: registry.Strategy, **kw) -> "ContinualConfig":
        """The config of a run of ``strategy`` (its labels filled in)."""
        return cls(script=strategy.script, pooling=strategy.pooling, **kw)

    @property
    def strategy(self) -> registry.Strategy:
        return registry.resolve(self.script, self.pooling)

    @property
    def encode_depth(self) -> int | None:
        """Where the frozen prefix ends (None: raw input, all seven tensors train)."""
        return self.strategy.trained_depth(self.depth)

    def validate(self) -> "ContinualConfig":
        Protocol.parse(self.protocol)
        self.strategy  # noqa: B018  (an unknown strategy label raises here)
        if self.depth is not None:
            check_depth(self.depth)
        if self.n_frames is not None:
            check_subsample(self.n_frames, self.net.nb_steps)
        if self.memory_batches < 0:
            raise ConfigError(f"the memory batches must be >= 0, got {self.memory_batches}", setting="memory_batches")
        if self.nb_epochs < 0:
            raise ConfigError(f"the number of epochs must be >= 0, got {self.nb_epochs}", setting="nb_epochs")
        if not self.lr > 0:
            raise ConfigError(f"the learning rate must be > 0, got {self.lr}", setting="lr")
        if self.held_out is not None and self.held_out < 0:
            raise ConfigError(f"the held-out speaker / class must be >= 0, got {self.held_out}", setting="held_out")
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
        if self.dataset_fp or self.pretraining:  # the run's inputs: changed inputs, new run id
            parts += [f"ds{(self.dataset_fp or 'none')[:8]}", f"pt{(self.pretraining or 'none')[:8]}"]
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
    protocol = Protocol.parse(protocol)
    if not test:
        raise ConfigError("the new set has no batch to test on (fewer samples than the batch size)",
                          setting="batch_size")
    if protocol is Protocol.CLEAN:
        if len(batches) < 5:
            # clean never trains on the test batch; with a single new batch nothing is left to train
            # on, and the run is refused rather than silently falling back to the Q12 leak
            train = [b for b in batches if b is not test[0]]
    elif protocol is not Protocol.FAITHFUL:  # pragma: no cover - the enum is exhaustive
        raise AssertionError(protocol)
    if not train:
        raise ConfigError(f"the new set has only {len(batches)} batch, which is its test "
                          f"batch, so none is left to train on: use a smaller batch size (at least 2 "
                          f"batches are needed) or the faithful protocol", setting="protocol", value="clean")
    return train, test


# --------------------------------------------------------------------------- the pretraining

@dataclass(frozen=True)
class Pretraining:
    """The artifacts of one generator run, loaded (one typed loader for every experiment)."""

    folder: Path
    names: dict
    hint: str                        # the command that writes them (named in errors)
    state_dict: dict
    pretrain: list                   # (x, y) batches of the pretrain train split
    pretrain_test: list
    removed: list | None             # the held-out speaker's / class's batches (None: not loaded)
    meta: dict

    @property
    def dataset(self) -> str:
        return self.meta.get("dataset", "unknown")

    def ids(self, required: bool) -> dict | None:
        """The sample ids of the batch lists (``ids_<tag>.pt``); None when absent and not required."""
        path = self.folder / self.names["ids"]
        if not required and not path.exists():
            return None
        return artifacts.load(path, made_by=self.hint)


def load_pretraining(folder: Path, tag: str, hint: str, *, class_style: bool = False,
                     removed: bool = True) -> Pretraining:
    folder = Path(folder)
    names = artifacts.artifact_names(tag, class_style=class_style)
    sd = artifacts.load_state_dict(folder / names["state_dict"], made_by=hint)
    pre = artifacts.load_pair(folder, names, "pretrain", hint=hint)
    test = artifacts.load_pair(folder, names, "pretrain_test", hint=hint)
    rem = artifacts.load_pair(folder, names, "removed", hint=hint) if removed else None
    meta = artifacts.load_json(folder / names["meta"])
    return Pretraining(folder, names, hint, sd, pre, test, rem, meta)


def reinit_column(model, c: int, generator) -> None:
    """Re-initialise output column c of w_out with N(0.003, 0.003) (Q19), without autograd."""
    import torch

    w = model.weights["w_out"]
    fresh = torch.empty(w.shape[0]).normal_(0.003, 0.003, generator=generator)
    with torch.no_grad():
        w[:, c] = fresh.to(w.device, w.dtype)


def regroup_by_class(pairs, pair_ids, classes, k: int, batch_size: int) -> tuple[list, list]:
    """The first k*B samples of each class in ``classes`` from ``pairs`` (in batch order),
    regrouped into k single-class dense batches per class, class-major."""
    import torch

    xs = torch.cat([x.to_dense() if x.is_sparse else x for x, _ in pairs])
    ys = torch.cat([y for _, y in pairs])
    ids = torch.cat(pair_ids) if pair_ids else torch.full_like(ys, -1)
    batches, out_ids = [], []
    for cl in classes:
        rows = torch.nonzero(ys == cl).flatten()
        if len(rows) < k * batch_size:
            raise ConfigError(f"class {cl} has only {len(rows)} samples in the pretrain train split, "
                              f"fewer than memory batches x batch size = {k * batch_size}: "
                              f"store fewer batches", setting="memory_batches", value=k)
        for j in range(k):
            sel = rows[j * batch_size:(j + 1) * batch_size]
            batches.append((xs[sel], ys[sel]))
            out_ids.append(ids[sel])
    return batches, out_ids


# --------------------------------------------------------------------------- one run

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
        raise ConfigError(f"{wanted} memory batches wanted but only {available} {what} exist: choose at most "
                          f"{available}", setting="memory_batches", value=wanted)


def run_header(cfg: ContinualConfig, held_out_key: str | None, buffer, dataset: str,
               origin: dict | None = None, device="cpu") -> dict:
    """The fields every epoch record of a run carries (``origin``: the pretraining's
    ``data_origin``, recorded when known; ``env``: threads, kernel, versions)."""
    mem = buffer.describe() if buffer is not None else {"nbytes": 0, "n_samples": 0}
    head = {"experiment": cfg.experiment, "script": cfg.script, "depth": cfg.depth,
            "memory_batches": cfg.memory_batches, "n_frames": cfg.n_frames, "ratio": cfg.ratio,
            "pooling": cfg.pooling, "protocol": cfg.protocol, "seed": cfg.seed, "dataset": dataset,
            "nb_epochs": cfg.nb_epochs, "lr": cfg.lr, "memory_bytes": mem["nbytes"],
            "memory_samples": mem["n_samples"], "memory": mem, "config": cfg.to_dict(),
            "env": environment(str(device))}
    if origin:
        head["data_origin"] = origin
    if held_out_key:
        head[held_out_key] = cfg.held_out
    return head


@dataclass
class Session:
    """One run's working state: the model, the strategy's memory (a list of buffers that may
    grow), the run log, and the operations every experiment needs."""

    cfg: ContinualConfig
    model: object
    device: object
    spec: object = None                          # MemorySpec of the strategy (None: no replay)
    buffers: list = field(default_factory=list)
    out: object = None                           # sccl.results.RunLog, once opened
    clock: Clock = field(default_factory=Clock)

    @classmethod
    def open(cls, cfg: ContinualConfig, state_dict: dict, device) -> "Session":
        from sccl.model import SpikingNet
        from sccl.strategies import memory_spec

        model = SpikingNet.from_state_dict(cfg.net, state_dict, device)
        return cls(cfg, model, device, memory_spec(cfg.strategy, cfg.depth, cfg.n_frames))

    @property
    def level(self) -> int | None:
        return self.spec.level if self.spec is not None else None

    @property
    def first_buffer(self):
        return self.buffers[0] if self.buffers else None

    def items(self, batches) -> list:
        """``(x, y)`` batches -> items at the strategy's depth (the frozen prefix runs once here)."""
        from sccl.training import encode_items

        dev = self.device
        return encode_items(self.model, [(x.to(dev), y.to(dev)) for x, y in batches], self.cfg.encode_depth)

    def remember(self, batches) -> None:
        """Add the memory of ``batches``, captured from the frozen network now."""
        from sccl.strategies import make_buffer

        if self.spec is not None:
            self.buffers.append(make_buffer(self.model, batches, self.spec, self.cfg.net.nb_steps, self.device))

    def replay(self) -> list:
        from sccl.strategies import replay_items

        return replay_items(self.buffers, self.level, self.device)

    @property
    def memory_bytes(self) -> int:
        return sum(b.nbytes for b in self.buffers)

    @property
    def memory_samples(self) -> int:
        return sum(b.n_samples for b in self.buffers)

    def open_log(self, fmt, out_dir: Path, header: dict, log) -> None:
        from sccl.results import RunLog

        self.out = RunLog(out_dir, self.cfg.run_id, txt_name=fmt.txt, csv_name=fmt.csv,
                          txt_mode=fmt.txt_mode, header=header, echo=log)

    def train(self, new_items, after_epoch: Callable[[int, float], None], desc: str) -> None:
        """``cfg.nb_epochs`` epochs over ``feed(new items, memory)`` with a fresh Adamax."""
        from sccl.model import trainable_names
        from sccl.strategies import feed
        from sccl.training import train_epochs

        items = feed(new_items, self.buffers, self.level, self.device, self.cfg.order)
        train_epochs(self.model, trainable_names(self.cfg.encode_depth), items, lr=self.cfg.lr,
                     nb_epochs=self.cfg.nb_epochs, after_epoch=after_epoch, desc=desc)

    def finish(self) -> list[dict]:
        """sccl's one addition to the TXT (the replay memory actually held), then the commit."""
        if self.buffers:
            self.out.txt(f"\nReplay memory: {self.memory_bytes} bytes ({self.memory_samples} samples, "
                         f"ratio {self.cfg.ratio})\n")
        self.out.commit()
        return self.out.records


@dataclass
class Task:
    """What a sample- or class-incremental experiment hands to :func:`run_incremental`."""

    pre: Pretraining
    new_train: list
    new_test: list
    memory: list                     # (x, y) batches the replay memory is made of
    fmt: object                      # the script's output format (TXT / CSV lines)
    held_out_key: str                # "speaker" | "class"
    adapt: Callable | None = None    # change to the loaded model before anything else (class: new column)


def run_incremental(cfg: ContinualConfig, task: Task, out_dir: Path, device, *, dataset: str | None = None,
                    log=print) -> list[dict]:
    """Memory, encoding, pre-training evaluation, ``cfg.nb_epochs`` epochs with an evaluation after
    each, the closing lines, and the commit of TXT / CSV / records. Returns the records."""
    from sccl.training import score

    s = Session.open(cfg, task.pre.state_dict, device)
    if task.adapt is not None:
        task.adapt(s.model)
    s.remember(task.memory)
    new_items, old_eval, new_eval = s.items(task.new_train), s.items(task.pre.pretrain_test), s.items(task.new_test)
    fmt = task.fmt
    s.open_log(fmt, out_dir, run_header(cfg, task.held_out_key, s.first_buffer, dataset or task.pre.dataset,
                                             (task.pre.meta or {}).get("data_origin"), device), log)
    out = s.out
    if getattr(fmt, "scores_memory", False):
        out.txt(fmt.memory_line(score(s.model, s.replay()).value))

    def evaluate(epoch: int, loss):
        old, new = score(s.model, old_eval), score(s.model, new_eval)
        if epoch < 0:
            lines = fmt.pre(old.value, new.value)
        else:
            lines = fmt.epoch(epoch + 1, loss, old.value, new.value)
            for row in fmt.rows(epoch + 1, old.value, new.value):
                out.csv(row)
        for line in lines:
            out.txt(line)
        out.record(epoch=epoch + 1, loss=loss, **acc_fields("old", old), **acc_fields("new", new),
                   **acc_fields("total", old + new), wall_s=s.clock())

    evaluate(-1, None)
    s.train(new_items, evaluate, desc=f"{task.held_out_key} {cfg.held_out} {cfg.script}")
    total = score(s.model, new_eval) + score(s.model, old_eval)
    for line in fmt.end(total.value):
        out.txt(line)
    return s.finish()
