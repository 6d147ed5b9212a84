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

from sccl import artifacts
from sccl.errors import ArtifactError, ConfigError
from sccl.experiments.continual import (ContinualConfig, Protocol, Task, load_pretraining, regroup_by_class,
                                        reinit_column, run_incremental, split_new)


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


class Generic(Format):
    """Output of a strategy the original does not have: files named by its registry ``files`` stem."""

    @property
    def txt(self):
        return f"{self.cfg.strategy.files}_class_{self.c}_depth_{self.cfg.depth}.txt"

    @property
    def csv(self):
        return f"{self.cfg.strategy.files}_class_incremental_csv.csv"

    def rows(self, e, old, new):
        c = self.cfg
        return ["%d, %s, %d, %f, %i, %.3f, %.3f\n" % (self.c, c.depth, c.memory_batches * self.n, c.lr, e, old, new)]


# the original scripts' formats, by strategy (sccl.registry); other strategies write Generic
FORMATS = {"naive": Naive, "rehearsal": Rehearsal, "latent_replay": Latent,
           "latent_replay_subsample": LatentSubsample}


def faithful_memory(folder: Path, classes, k: int) -> tuple[list, list]:
    """First k batches of every other class's removed file, class-major; with their sample ids."""
    batches, ids = [], []
    for cl in classes:
        hint = artifacts.made_by("class", cl)
        names = artifacts.artifact_names(artifacts.class_tag(cl), class_style=True)
        pairs = artifacts.load_pair(folder, names, "removed", hint=hint)
        if k > len(pairs):
            raise ConfigError(f"{k} memory batches per class wanted but class {cl} has only "
                              f"{len(pairs)} batches in {folder}: choose at most {len(pairs)}",
                              setting="memory_batches", value=k)
        batches += pairs[:k]
        id_file = folder / names["ids"]
        if id_file.exists():
            ids += artifacts.load(id_file)["removed"][:k]
    return batches, ids


def load(cfg: ContinualConfig, folder: Path):
    """The pretraining of the model without class ``cfg.held_out``."""
    return load_pretraining(folder, artifacts.class_tag(cfg.held_out), artifacts.made_by("class", cfg.held_out),
                            class_style=True)


def build_memory(cfg: ContinualConfig, pre, old_classes) -> tuple[list, list]:
    """(batches, sample ids) of the replay memory under the run's protocol."""
    k = cfg.memory_batches  # per old class (a strategy's fixed count is applied by ContinualConfig)
    protocol = Protocol.parse(cfg.protocol)
    if protocol is Protocol.FAITHFUL:
        return faithful_memory(pre.folder, old_classes, k)
    if protocol is Protocol.CLEAN:
        ids = pre.ids(required=False)
        if ids is None:
            raise ArtifactError(f"--protocol clean needs ids_class_{cfg.held_out}.pt in {pre.folder}: rerun "
                                f"`{artifacts.made_by('class', cfg.held_out)}`")
        return regroup_by_class(pre.pretrain, ids["pretrain"], old_classes, k, cfg.batch_size)
    raise AssertionError(protocol)  # pragma: no cover - the enum is exhaustive


def run(cfg: ContinualConfig, statedict_dir: Path, out_dir: Path, device, *, dataset: str | None = None,
        log=print) -> list[dict]:
    """One class-incremental run; writes TXT / CSV / records into ``out_dir``; returns the records."""
    from sccl.runtime import seeded

    cfg.validate()
    pre = load(cfg, statedict_dir)
    n_classes = int(pre.meta.get("n_labels", cfg.net.nb_outputs))
    if cfg.held_out >= n_classes:
        raise ConfigError(f"class {cfg.held_out} is not in the data (classes 0..{n_classes - 1})",
                          setting="removed_class", value=cfg.held_out)
    old_classes = [cl for cl in range(n_classes) if cl != cfg.held_out]
    _, gen = seeded(cfg.seed)
    new_train, new_test = split_new(pre.removed, cfg.protocol)
    memory = build_memory(cfg, pre, old_classes)[0] if cfg.strategy.replays else []
    fmt = FORMATS.get(cfg.strategy.name, Generic)(cfg, len(old_classes))
    task = Task(pre, new_train, new_test, memory, fmt, "class",
                adapt=lambda model: reinit_column(model, cfg.held_out, gen))
    return run_incremental(cfg, task, out_dir, device, dataset=dataset, log=log)
