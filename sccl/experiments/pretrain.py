"""Pretraining generators (reference-spec s3.1): hold out one speaker, one class, or the ten
German classes; pretrain all seven tensors on the rest; save weights and batch lists.

Flow, as the original: filter the merged set -> bin into batches (one seeded shuffle per set,
pretrain set first, drop-last) -> print per-speaker / per-label counts -> split the pretrain
batches with the 1/5 rule -> train ``nb_epochs`` epochs at lr 2e-4 in fixed batch order ->
save the state dict -> print the accuracy on the pretrain test split -> save the batch lists.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from sccl import artifacts
from sccl import manifest
from sccl.config import NetConfig
from sccl.errors import ConfigError
from sccl.runtime import environment

MODES = ("speaker", "class", "10classes")


@dataclass(frozen=True)
class PretrainConfig:
    mode: str                      # "speaker" | "class" | "10classes"
    held_out: int | None = None    # the speaker or class left out (None for 10classes)
    net: NetConfig = field(default_factory=NetConfig)
    batch_size: int = 64
    nb_epochs: int = 200
    lr: float = 2e-4               # hard-coded in the original generators
    seed: int = 0
    removed_only: bool = False     # write only the held-out batch lists, no pretraining (sccl)

    @property
    def tag(self) -> str:
        if self.mode == "speaker":
            return artifacts.speaker_tag(self.held_out)
        if self.mode == "class":
            return artifacts.class_tag(self.held_out)
        return artifacts.TEN_CLASSES_TAG

    def validate(self) -> "PretrainConfig":
        if self.mode not in MODES:
            raise ConfigError(f"unknown pretraining mode {self.mode!r}")
        if self.mode != "10classes" and (self.held_out is None or self.held_out < 0):
            setting = "speaker" if self.mode == "speaker" else "removed_class"
            raise ConfigError(f"the held-out {setting.replace('removed_', '')} must be >= 0, got {self.held_out}",
                              setting=setting)
        if self.batch_size < 1:
            raise ConfigError(f"the batch size must be >= 1, got {self.batch_size}", setting="batch_size")
        if self.nb_epochs < 0:
            raise ConfigError(f"the number of epochs must be >= 0, got {self.nb_epochs}", setting="nb_epochs")
        if self.removed_only and self.mode != "class":
            raise ConfigError("writing only the removed lists applies to the single-class generator only",
                              setting="removed_only")
        if not self.lr > 0:
            raise ConfigError(f"the learning rate must be > 0, got {self.lr}", setting="lr")
        self.net.validate()
        return self


def _batches(source, indices, cfg: PretrainConfig, rng, log):
    from sccl.data.binning import make_batches

    batches, stats = make_batches(source.data, indices, cfg.batch_size, cfg.net.nb_steps,
                                  cfg.net.max_time, cfg.net.nb_inputs, rng)
    if stats.n_dropped_late:
        log(f"warning: {stats.n_dropped_late} of {stats.n_events} spikes at or after "
            f"max_time={cfg.net.max_time} s were dropped (the original would crash on them)")
    return batches


def _counts(batches, attr: str, size: int) -> list[int]:
    counts = np.zeros(size, dtype=np.int64)
    for b in batches:
        np.add.at(counts, getattr(b, attr).numpy(), 1)
    return counts.tolist()


def build_sets(source, cfg: PretrainConfig, rng: np.random.Generator, log=print):
    """Return ``(pretrain_batches, {name: removed_batches})`` for the mode (reference-spec s1.5)."""
    from sccl.data import binning

    data = source.data
    if cfg.mode == "speaker":
        binning.check_speaker(data, cfg.held_out)
        pre = binning.indices_where(data, not_speaker=cfg.held_out)
        rem = {"removed": binning.indices_where(data, speaker=cfg.held_out)}
    elif cfg.mode == "class":
        binning.check_class(data, cfg.held_out)
        pre = binning.indices_where(data, not_label=cfg.held_out)
        rem = {"removed": binning.indices_where(data, label=cfg.held_out)}
    else:
        for c in range(20):
            binning.check_class(data, c)
        pre = binning.indices_where(data, label_below=10)
        rem = {f"removed_class_{c}": binning.indices_where(data, label=c) for c in range(10, 20)}
    pre_batches = _batches(source, pre, cfg, rng, log)
    rem_batches = {k: _batches(source, idx, cfg, rng, log) for k, idx in rem.items()}
    if not pre_batches:
        raise ConfigError(f"the pretraining set has fewer samples than one batch ({cfg.batch_size})",
                          setting="batch_size", value=cfg.batch_size)
    for k, b in rem_batches.items():
        if not b:
            raise ConfigError(f"the held-out set ({k}) has fewer samples than one batch ({cfg.batch_size})",
                              setting="batch_size", value=cfg.batch_size)
    return pre_batches, rem_batches


def run_pretrain(cfg: PretrainConfig, source, out_dir: Path, device: torch.device, log=print) -> dict:
    """Pretrain and write the artifacts of s1.8 into ``out_dir``; return the summary record."""
    from sccl.data.binning import split_batches
    from sccl.model import SpikingNet, init_weights, trainable_names
    from sccl.runtime import seeded
    from sccl.training import encode_items, score, train_epochs

    cfg.validate()
    t0 = time.time()
    rng, gen = seeded(cfg.seed)
    pre_batches, rem_sets = build_sets(source, cfg, rng, log)
    n_speakers = int(source.data.speakers.max()) + 1
    n_labels = int(source.data.labels.max()) + 1
    if cfg.mode == "speaker":
        log(str(_counts(pre_batches, "speakers", n_speakers)))
    else:
        log(str(_counts(pre_batches, "y", max(n_labels, cfg.net.nb_outputs))))
    if int(source.data.labels.max()) >= cfg.net.nb_outputs:
        raise ConfigError(f"labels go up to {int(source.data.labels.max())} but the network has "
                          f"{cfg.net.nb_outputs} outputs", setting="nb_outputs", value=cfg.net.nb_outputs)
    train, test = split_batches(pre_batches)
    names = artifacts.artifact_names(cfg.tag, class_style=cfg.mode == "class")
    out_dir = Path(out_dir)
    xs = lambda bs: [compact(b.x) for b in bs]  # noqa: E731  (counts; to_dense() is unchanged)
    ys = lambda bs: [b.y.clone() for b in bs]  # noqa: E731
    base = {"kind": "pretrain", "mode": cfg.mode, "held_out": cfg.held_out, "tag": cfg.tag,
            "config": {**asdict(cfg), "net": cfg.net.to_dict()}, "dataset": source.dataset,
            "data_origin": getattr(source, "origin", None), "data_file": str(source.path),
            "n_speakers": n_speakers, "n_labels": n_labels,
            "keys": source.data.keys, "removed_batches": {k: len(v) for k, v in rem_sets.items()}}
    fingerprint = manifest.dataset_fingerprint(source.data)
    base["dataset_fingerprint"] = fingerprint
    sealed = dict(made_by=remake_command(cfg, source.dataset),
                  config={**asdict(cfg), "net": cfg.net.to_dict()},
                  dataset={"label": source.dataset, "fingerprint": fingerprint, "n_samples": len(source.data)})
    if cfg.removed_only:  # what faithful class-incremental memories read from other classes' runs
        rem = rem_sets["removed"]
        old = manifest.begin(out_dir, cfg.tag)
        artifacts.save(xs(rem), out_dir / names["removed_x"])
        artifacts.save(ys(rem), out_dir / names["removed_y"])
        written = [names["removed_x"], names["removed_y"]]
        if not (out_dir / names["meta"]).exists():  # never clobber a full run's ids / meta
            artifacts.save({"removed": [b.ids for b in rem]}, out_dir / names["ids"])
            artifacts.save_json({**base, "removed_only": True, "wall_s": round(time.time() - t0, 2)},
                                out_dir / names["meta"])
            written.append(names["ids"])
        if manifest.still_valid(out_dir, old):  # a full set whose batch lists were rewritten identically
            manifest.restore(out_dir, cfg.tag, old)
        else:
            manifest.write(out_dir, cfg.tag, written, **sealed, info={"removed_only": True})
        log(f"wrote the {len(rem)} batches of class {cfg.held_out} (--removed_only: no pretraining)")
        return base

    model = SpikingNet(cfg.net, init_weights(cfg.net, gen, device))
    to_dev = lambda bs: [(b.x.to(device).coalesce(), b.y.to(device)) for b in bs]  # noqa: E731
    train_items = encode_items(model, to_dev(train), None)
    test_items = encode_items(model, to_dev(test), None)

    def after_epoch(epoch, loss):
        log(f"Epoch {epoch + 1}: loss={loss:.5f}")

    train_epochs(model, trainable_names(None), lambda: train_items, lr=cfg.lr,
                 nb_epochs=cfg.nb_epochs, after_epoch=after_epoch, desc=f"pretrain {cfg.tag}")

    manifest.begin(out_dir, cfg.tag)  # from here on the old set is gone: no manifest until all is written
    artifacts.save(model.state_dict(), out_dir / names["state_dict"])
    acc = score(model, test_items)
    what = {"speaker": f"the {n_speakers - 1} speakers", "class": f"the {n_labels - 1} classes",
            "10classes": "the 10 English classes"}[cfg.mode]
    log(f"Pre-Training accuracy on {what}: {acc.value:.3f}")
    extra = {}
    if cfg.mode == "10classes":
        german = [(None, b.x.to(device), b.y.to(device)) for bs in rem_sets.values() for b in bs]
        acc_de = score(model, german)
        log(f"Pre-Training accuracy on the other 10 classes: {acc_de.value:.3f}")
        log(f"Pre-Training accuracy on all the classes: {(acc + acc_de).value:.3f}")
        extra["german_accuracy"] = acc_de.value

    ids = {"pretrain": [b.ids for b in train], "pretrain_test": [b.ids for b in test]}
    artifacts.save(xs(train), out_dir / names["pretrain_x"])
    artifacts.save(ys(train), out_dir / names["pretrain_y"])
    artifacts.save(xs(test), out_dir / names["pretrain_test_x"])
    artifacts.save(ys(test), out_dir / names["pretrain_test_y"])
    for key, bs in rem_sets.items():
        if key == "removed":
            artifacts.save(xs(bs), out_dir / names["removed_x"])
            artifacts.save(ys(bs), out_dir / names["removed_y"])
            ids["removed"] = [b.ids for b in bs]
        else:  # 10classes: removed_{x,y}_class_<c> for c = 10..19 (reference-spec Q14)
            c = int(key.rsplit("_", 1)[1])
            cn = artifacts.artifact_names(artifacts.class_tag(c), class_style=True)
            artifacts.save(xs(bs), out_dir / cn["removed_x"])
            artifacts.save(ys(bs), out_dir / cn["removed_y"])
            ids[key] = [b.ids for b in bs]
    artifacts.save(ids, out_dir / names["ids"])
    written = [names[k] for k in ("state_dict", "pretrain_x", "pretrain_y", "pretrain_test_x", "pretrain_test_y",
                                  "ids")]
    if "removed" in rem_sets:
        written += [names["removed_x"], names["removed_y"]]
    for key in rem_sets:
        if key != "removed":
            cn = artifacts.artifact_names(artifacts.class_tag(int(key.rsplit("_", 1)[1])), class_style=True)
            written += [cn["removed_x"], cn["removed_y"]]
    record = {
        **base, "n_train_batches": len(train), "n_test_batches": len(test),
        "test_accuracy": acc.value, "test_correct": acc.correct, "test_total": acc.total,
        **extra, "wall_s": round(time.time() - t0, 2), "env": environment(str(device)), "device": str(device),
    }
    artifacts.save_json(record, out_dir / names["meta"])
    manifest.write(out_dir, cfg.tag, written, **sealed,  # last: it makes the set usable
                   info={"n_speakers": n_speakers, "n_labels": n_labels, "keys": source.data.keys,
                         "n_train_batches": len(train), "n_test_batches": len(test),
                         "removed_batches": base["removed_batches"]})
    return record


def compact(x: torch.Tensor) -> torch.Tensor:
    """``x`` coalesced, its indices and values in storages of exactly their size: ``coalesce()``
    leaves spare, uninitialised capacity that ``torch.save`` writes too, so the same batches
    would give other bytes (and another sha256 in the manifest) on every run."""
    import warnings

    x = x.coalesce()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse invariant checks")
        return torch.sparse_coo_tensor(x.indices().clone(), x.values().clone(), x.shape, is_coalesced=True)


def remake_command(cfg: PretrainConfig, dataset: str) -> str:
    """The generator command line that makes this pretraining again (flags that differ from
    the defaults included)."""
    cmd = artifacts.made_by(cfg.mode, cfg.held_out)
    default_net, default = NetConfig(), PretrainConfig(mode=cfg.mode, held_out=cfg.held_out)
    flags = [f"--{k}={v}" for k, v in cfg.net.to_dict().items() if getattr(default_net, k) != v]
    for k in ("batch_size", "nb_epochs", "lr", "seed"):
        if getattr(cfg, k) != getattr(default, k):
            flags.append(f"--{k}={getattr(cfg, k)}")
    if cfg.removed_only:
        flags.append("--removed_only")
    if dataset == "synthetic":
        flags.append("--synthetic")
    return " ".join([cmd, *flags])

