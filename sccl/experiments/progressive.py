"""Progressive class learning, English -> German (reference-spec s3.13, s3.14).

A model pretrained on the ten English digits (``heidelberg_statedict_generator_10classes.py``)
learns the ten German digits one at a time, c = 10..19, replaying the latents of what it has
learned so far. Each step: re-initialise output column c, train a fresh Adamax for
``nb_epochs`` epochs (the class's train batches, then every memory entry), evaluate on the
previous classes, the new class and the global test set, then add one batch of class c to the
memory and its test batches to the previous-classes test set.

``--protocol faithful`` keeps the original's data flow, leaks included:
* the global test set is batch ``L+1`` of each English class's ``removed_x_class_<c>.pt`` (from
  the single-class generator: mostly *training* samples of the 10-class model, Q30) plus batch
  0 of each German class;
* the old memory is ten identical copies of the first L English train batches (Q31);
* the uncompressed script adds each German class's batch 0, its *test* batch, to the memory
  (Q33); the compressed script uses the first train batch.
``--protocol clean``: global test = the English test split + each German class's test split;
old memory = L single-class batches per English class from the English train split; every
German memory batch is the class's first train batch. Nothing outside the 10-class generator's
artifacts is read.
"""
from __future__ import annotations

from pathlib import Path

from sccl import artifacts
from sccl.errors import ConfigError
from sccl.experiments.continual import (ContinualConfig, Protocol, Session, acc_fields, load_pretraining,
                                        regroup_by_class, reinit_column, run_header, split_new)

GERMAN = range(10, 20)


class Format:
    """TXT (append mode, shared by both scripts, Q35) and CSV lines (s3.13 step 5-6)."""

    txt_mode = "a"

    def __init__(self, cfg: ContinualConfig):
        self.cfg = cfg
        self.txt = f"latent_10classes_depth{cfg.depth}_batches{cfg.memory_batches}.txt"
        suffix = "subsampled" if cfg.n_frames is not None else "fixed_2"
        self.csv = f"latent_10classes_incremental_csv_depth{cfg.depth}_batches{cfg.memory_batches}_{suffix}.csv"

    def epoch(self, e, c, prev, new, glob):
        return [f"\nEpoch {e} for class {c}: Post-Latent accuracies: {prev:.3f} {new:.3f} {glob:.3f}\n"]

    def row(self, e, c, prev, new, glob):  # second column: latent_batches * c (Q32)
        d, L = self.cfg.depth, self.cfg.memory_batches
        return "%d, %d, %d, %i, %.3f, %.3f, %.3f\n" % (d, L * c, c, e, prev, new, glob)

    def after(self, c, prev, new, glob):
        return [f"\nPost-Training accuracy on the 10 classes: {prev:.3f}\n",
                f"\nPost-Training accuracy on ALL the classes: {glob:.3f}\n",
                f"\nPost-Training accuracy on removed class {c}: {new:.3f}\n"]


def _removed(folder: Path, c: int, hint: str):
    names = artifacts.artifact_names(artifacts.class_tag(c), class_style=True)
    return artifacts.load_pair(folder, names, "removed", hint=hint)


def global_and_memory(cfg: ContinualConfig, pre, german: dict) -> tuple[list, list]:
    """(global test set, old memory batches) under the run's protocol."""
    L = cfg.memory_batches
    protocol = Protocol.parse(cfg.protocol)
    if protocol is Protocol.FAITHFUL:
        english = {c: _removed(pre.folder, c, artifacts.made_by("class", c)) for c in range(10)}
        for c, bs in english.items():
            if len(bs) <= L + 1:
                raise ConfigError(f"{L} memory batches: class {c} has only {len(bs)} batches, the "
                                  f"faithful global test set needs batch {L + 1}", setting="memory_batches", value=L)
        global_set = [english[c][L + 1] for c in range(10)] + [german[c][0] for c in GERMAN]
        return global_set, [b for _ in range(10) for b in pre.pretrain[:L]]  # ten identical copies (Q31)
    if protocol is Protocol.CLEAN:
        global_set = list(pre.pretrain_test) + [b for c in GERMAN for b in split_new(german[c], "clean")[1]]
        ids = pre.ids(required=True)
        return global_set, regroup_by_class(pre.pretrain, ids["pretrain"], range(10), L, cfg.batch_size)[0]
    raise AssertionError(protocol)  # pragma: no cover - the enum is exhaustive


def per_class(score) -> dict:
    """Record fields of a per-class accuracy: the row of the accuracy matrix."""
    return {"class_correct": {str(k): v.correct for k, v in sorted(score.items())},
            "class_total": {str(k): v.total for k, v in sorted(score.items())}}


def run(cfg: ContinualConfig, statedict_dir: Path, out_dir: Path, device, *, dataset: str | None = None,
        log=print) -> list[dict]:
    """The whole progressive run: the continual-run skeleton once per German class (10 steps)."""
    from sccl.runtime import seeded
    from sccl.training import score, score_by_class

    cfg.validate()
    if cfg.depth is None:
        raise ConfigError("the progressive experiment needs a latent depth 0..3", setting="depth")
    L = cfg.memory_batches
    if L < 1:
        raise ConfigError(f"the memory batches must be >= 1, got {L}", setting="memory_batches")
    ten = artifacts.made_by("10classes")
    pre = load_pretraining(statedict_dir, artifacts.TEN_CLASSES_TAG, ten, removed=False)
    keys = pre.meta.get("keys") or []
    german = {c: _removed(pre.folder, c, ten) for c in GERMAN}
    _, gen = seeded(cfg.seed)
    if L > len(pre.pretrain):
        raise ConfigError(f"{L} memory batches but the English train split has {len(pre.pretrain)} batches",
                          setting="memory_batches", value=L)

    s = Session.open(cfg, pre.state_dict, device)
    global_set, old_mem = global_and_memory(cfg, pre, german)
    s.remember(old_mem)  # the memory grows by one batch per learned class
    global_items, prev_items = s.items(global_set), s.items(pre.pretrain_test)
    log(f"Pre-Training accuracy on the 10 classes: {score(s.model, prev_items).value:.3f}")
    log(f"Pre-Training accuracy on ALL the classes: {score(s.model, global_items).value:.3f}")

    fmt = Format(cfg)
    s.open_log(fmt, out_dir, run_header(cfg, None, s.first_buffer, dataset or pre.dataset,
                                             (pre.meta or {}).get("data_origin"), device), log)
    out = s.out
    prev0, per0 = score_by_class(s.model, prev_items)
    out.record(step=0, step_class=None, epoch=0, loss=None, memory_bytes=s.memory_bytes,
               memory_samples=s.memory_samples, **acc_fields("previous", prev0),
               **acc_fields("global", score(s.model, global_items)), wall_s=s.clock(), **per_class(per0))

    for step, c in enumerate(GERMAN, start=1):
        reinit_column(s.model, c, gen)
        train, test = split_new(german[c], cfg.protocol)
        new_items, new_eval = s.items(train), s.items(test)
        word = keys[c] if c < len(keys) else None

        def after_epoch(epoch, loss, c=c, step=step, new_eval=new_eval, word=word):
            (prev, per_prev), (new, per_new) = score_by_class(s.model, prev_items), score_by_class(s.model, new_eval)
            glob = score(s.model, global_items)
            for line in fmt.epoch(epoch + 1, c, prev.value, new.value, glob.value):
                out.txt(line)
            out.csv(fmt.row(epoch + 1, c, prev.value, new.value, glob.value))
            out.record(step=step, step_class=c, class_word=word, epoch=epoch + 1, loss=loss,
                       memory_bytes=s.memory_bytes, memory_samples=s.memory_samples,
                       **acc_fields("previous", prev), **acc_fields("new", new),
                       **acc_fields("global", glob), wall_s=s.clock(), **per_class({**per_prev, **per_new}))

        s.train(new_items, after_epoch, desc=f"class {c} ({step}/10)")  # a fresh Adamax per class (Q55)
        prev, new, glob = score(s.model, prev_items), score(s.model, new_eval), score(s.model, global_items)
        for line in fmt.after(c, prev.value, new.value, glob.value):
            out.txt(line)
        # the class's memory batch: its full list's batch 0 (= its test batch, Q33) in the faithful
        # uncompressed script; its first train batch in the compressed script and in clean mode
        leak = cfg.protocol == Protocol.FAITHFUL and cfg.n_frames is None
        s.remember([german[c][0] if leak else train[0]])
        prev_items = prev_items + new_eval
    return s.finish()
