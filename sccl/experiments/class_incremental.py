"""Class-incremental learning: a model pretrained without class c learns c (reference-spec
s3.9-s3.12). Same loop and writers as the sample-incremental runs; what differs is the output
column re-initialisation and where the replay memory comes from.

Memory, ``--protocol faithful`` (the original): for every other class cl in increasing order,
the first k batches of ``removed_x_class_<cl>.pt`` -- files written by the *other* classes'
generator runs. Those batches are independent draws of class cl, so about a fifth of them are
in the old test split of the model under study (Q28). ``--protocol clean``: the first k*B
samples of each other class taken from this model's own pretrain *train* split, in batch order,
regrouped into single-class batches; memory and test sets are then disjoint.
"""
from __future__ import annotations

from pathlib import Path

import torch

from sccl import artifacts
from sccl.errors import ArtifactError, ConfigError
from sccl.experiments.continual import ContinualConfig, run_header, split_new, train_and_log
from sccl.replay import replay_scheme
from sccl.strategies import MemorySpec, make_buffer


class Format:
    """The original's TXT / CSV lines of the class-incremental scripts (s8.3)."""

    txt_mode = "w"

    def __init__(self, cfg: ContinualConfig, n_old: int):
        self.cfg, self.c, self.n = cfg, cfg.held_out, n_old

    def pre(self, old, new):
        return [f"\nPre-Training accuracy on the {self.n} classes: {old:.3f}\n",
                f"\nPre-Training accuracy on the removed class {self.c}: {new:.3f}\n"]

    def epoch(self, e, loss, old, new):
        return [f"\nEpoch {e}: Post-Latent accuracy: {old:.3f} {new:.3f}\n"]

    def end(self, total):
        return []


class Naive(Format):
    csv = "naive_class_incremental_csv.csv"

    @property
    def txt(self):
        return f"class_{self.c}_naive_class_inc_train.txt"

    def end(self, total):
        return [f"\nPost-Incremental Training Test accuracy: {total:.3f}\n"]

    def rows(self, e, old, new):
        return ["%d, %f, %i, %.3f, %.3f\n" % (self.c, self.cfg.lr, e, old, new)]


class Rehearsal(Format):
    csv = "reharsal_class_incremental_subsampled_10_csv.csv"

    @property
    def txt(self):
        return f"class_{self.c}_reharsal_class_inc_train.txt"

    def rows(self, e, old, new):
        return ["%d, %d, %f, %i, %.3f, %.3f\n" % (self.c, self.cfg.memory_batches * self.n, self.cfg.lr, e, old, new)]


class Latent(Format):
    csv = "latent_class_incremental_csv.csv"

    @property
    def txt(self):
        return f"latent_class_{self.c}_depth_{self.cfg.depth}.txt"

    def rows(self, e, old, new):  # the literal 38 of the original (Q29)
        return ["%d, %d, 38, %f, %i, %.3f, %.3f\n" % (self.c, self.cfg.depth, self.cfg.lr, e, old, new)]


class LatentSubsample(Format):
    csv = "latent_class_incremental_subsampled_csv.csv"

    @property
    def txt(self):
        return f"latent_class_subsampled_{self.c}_depth_{self.cfg.depth}.txt"

    def rows(self, e, old, new):
        c = self.cfg
        return ["%d, %d, %d, %f, %i, %.3f, %.3f\n" % (self.c, c.depth, c.memory_batches * self.n, c.lr, e, old, new)]


FORMATS = {"naive": Naive, "rehearsal": Rehearsal, "latent_replay": Latent,
           "latent_replay_subsample": LatentSubsample}


def memory_spec(cfg: ContinualConfig) -> MemorySpec | None:
    if cfg.script == "naive":
        return None
    if cfg.script == "rehearsal":  # the original's class "rehearsal": sum-compressed raw input
        return MemorySpec("raw", None, cfg.n_frames, "sum", "first")
    pooling, decomp = replay_scheme("new", cfg.depth)
    return MemorySpec("latent", cfg.depth, cfg.n_frames, pooling, decomp)


def per_class_batches(cfg: ContinualConfig) -> int:
    """Memory batches per old class: class latent_replay.py always keeps 1 (its
    --latent_batches is ignored, Q29)."""
    return 1 if cfg.script == "latent_replay" else cfg.memory_batches


def reinit_column(model, c: int, generator: torch.Generator) -> None:
    """Re-initialise output column c of w_out with N(0.003, 0.003) (Q19), without autograd."""
    w = model.weights["w_out"]
    fresh = torch.empty(w.shape[0]).normal_(0.003, 0.003, generator=generator)
    with torch.no_grad():
        w[:, c] = fresh.to(w.device, w.dtype)


def faithful_memory(folder: Path, classes, k: int) -> tuple[list, list]:
    """First k batches of every other class's removed file, class-major; with their sample ids."""
    batches, ids = [], []
    for cl in classes:
        hint = artifacts.made_by("class", cl)
        names = artifacts.artifact_names(artifacts.class_tag(cl), class_style=True)
        pairs = artifacts.load_pair(folder, names, "removed", hint=hint)
        if k > len(pairs):
            raise ConfigError(f"--latent_batches / --reharsal_size = {k} but class {cl} has only "
                              f"{len(pairs)} batches in {folder}: choose at most {len(pairs)}")
        batches += pairs[:k]
        id_file = folder / names["ids"]
        if id_file.exists():
            ids += artifacts.load(id_file)["removed"][:k]
    return batches, ids


def regroup_by_class(pairs, pair_ids, classes, k: int, batch_size: int) -> tuple[list, list]:
    """The first k*B samples of each class in ``classes`` from ``pairs`` (in batch order),
    regrouped into k single-class dense batches per class, class-major."""
    xs = torch.cat([x.to_dense() if x.is_sparse else x for x, _ in pairs])
    ys = torch.cat([y for _, y in pairs])
    ids = torch.cat(pair_ids) if pair_ids else torch.full_like(ys, -1)
    batches, out_ids = [], []
    for cl in classes:
        rows = torch.nonzero(ys == cl).flatten()
        if len(rows) < k * batch_size:
            raise ConfigError(f"class {cl} has only {len(rows)} samples in the pretrain train split, "
                              f"fewer than --latent_batches x --batch_size = {k * batch_size}: "
                              f"lower --latent_batches")
        for j in range(k):
            sel = rows[j * batch_size:(j + 1) * batch_size]
            batches.append((xs[sel], ys[sel]))
            out_ids.append(ids[sel])
    return batches, out_ids


def load_class_run(cfg: ContinualConfig, folder: Path):
    hint = artifacts.made_by("class", cfg.held_out)
    names = artifacts.artifact_names(artifacts.class_tag(cfg.held_out), class_style=True)
    sd = artifacts.load_state_dict(folder / names["state_dict"], made_by=hint)
    pre_train = artifacts.load_pair(folder, names, "pretrain", hint=hint)
    old_test = artifacts.load_pair(folder, names, "pretrain_test", hint=hint)
    removed = artifacts.load_pair(folder, names, "removed", hint=hint)
    meta = artifacts.load_json(folder / names["meta"])
    ids = artifacts.load(folder / names["ids"], made_by=hint) if (folder / names["ids"]).exists() else None
    return sd, pre_train, old_test, removed, meta, ids


def build_memory(cfg: ContinualConfig, folder: Path, pre_train, ids, old_classes, batch_size: int):
    """(batches, sample ids) of the replay memory under the run's protocol."""
    k = per_class_batches(cfg)
    if cfg.protocol == "faithful":
        return faithful_memory(folder, old_classes, k)
    if ids is None:
        raise ArtifactError(f"--protocol clean needs ids_class_{cfg.held_out}.pt in {folder}: rerun "
                            f"`{artifacts.made_by('class', cfg.held_out)}`")
    return regroup_by_class(pre_train, ids["pretrain"], old_classes, k, batch_size)


def run(cfg: ContinualConfig, statedict_dir: Path, out_dir: Path, device, *, dataset: str | None = None,
        log=print) -> list[dict]:
    """One class-incremental run; writes TXT / CSV / records into ``out_dir``; returns the records."""
    from sccl.model import SpikingNet
    from sccl.results import RunLog
    from sccl.runtime import seeded
    from sccl.training import encode_items

    cfg.validate()
    folder = Path(statedict_dir)
    sd, pre_train, old_test, removed, meta, ids = load_class_run(cfg, folder)
    n_classes = int(meta.get("n_labels", cfg.net.nb_outputs))
    if cfg.held_out >= n_classes:
        raise ConfigError(f"--removed_class {cfg.held_out} is not in the data (classes 0..{n_classes - 1})")
    old_classes = [cl for cl in range(n_classes) if cl != cfg.held_out]
    _, gen = seeded(cfg.seed)

    new_train, new_test = split_new(removed, cfg.protocol)
    model = SpikingNet.from_state_dict(cfg.net, sd, device)
    reinit_column(model, cfg.held_out, gen)
    spec = memory_spec(cfg)
    buffer = None
    if spec is not None:
        mem_batches, _ = build_memory(cfg, folder, pre_train, ids, old_classes, cfg.batch_size)
        buffer = make_buffer(model, mem_batches, spec, cfg.net.nb_steps, device)

    to_dev = lambda bs: [(x.to(device), y.to(device)) for x, y in bs]  # noqa: E731
    depth = cfg.depth if cfg.script.startswith("latent") else None
    new_items = encode_items(model, to_dev(new_train), depth)
    old_eval = encode_items(model, to_dev(old_test), depth)
    new_eval = encode_items(model, to_dev(new_test), depth)

    fmt = FORMATS[cfg.script](cfg, len(old_classes))
    header = run_header(cfg, "class", buffer, dataset or meta.get("dataset", "unknown"),
                         (meta or {}).get("data_origin"))
    out = RunLog(out_dir, cfg.run_id, txt_name=fmt.txt, csv_name=fmt.csv, header=header, echo=log)
    train_and_log(cfg, model, depth, new_items, old_eval, new_eval, buffer, spec.level if spec else None,
                  fmt, out, device, desc=f"class {cfg.held_out} {cfg.script}")
    return out.records
