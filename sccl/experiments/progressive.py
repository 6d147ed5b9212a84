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

import torch

from sccl import artifacts
from sccl.errors import ConfigError
from sccl.experiments.class_incremental import regroup_by_class, reinit_column
from sccl.experiments.continual import Clock, ContinualConfig, acc_fields, run_header, split_new
from sccl.replay import replay_scheme
from sccl.strategies import MemorySpec, make_buffer

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


def _pairs(folder: Path, names: dict, which: str, hint: str):
    return artifacts.load_pair(folder, names, which, hint=hint)


def _removed(folder: Path, c: int, hint: str):
    names = artifacts.artifact_names(artifacts.class_tag(c), class_style=True)
    return _pairs(folder, names, "removed", hint)


def run(cfg: ContinualConfig, statedict_dir: Path, out_dir: Path, device, *, dataset: str | None = None,
        log=print) -> list[dict]:
    """The whole progressive run (10 steps); returns its records."""
    from sccl.model import SpikingNet, trainable_names
    from sccl.results import RunLog
    from sccl.runtime import seeded
    from sccl.strategies import replay_items
    from sccl.training import adamax, encode_items, score, score_by_class, train_epochs

    cfg.validate()
    if cfg.depth is None:
        raise ConfigError("the progressive experiment needs --latent_depth 0..3")
    folder = Path(statedict_dir)
    L = cfg.memory_batches
    if L < 1:
        raise ConfigError(f"--latent_batches must be >= 1, got {L}")
    ten = artifacts.made_by("10classes")
    names = artifacts.artifact_names(artifacts.TEN_CLASSES_TAG)
    sd = artifacts.load_state_dict(folder / names["state_dict"], made_by=ten)
    en_train = _pairs(folder, names, "pretrain", ten)
    en_test = _pairs(folder, names, "pretrain_test", ten)
    meta = artifacts.load_json(folder / names["meta"])
    keys = meta.get("keys") or []
    german = {c: _removed(folder, c, ten) for c in GERMAN}
    _, gen = seeded(cfg.seed)
    if L > len(en_train):
        raise ConfigError(f"--latent_batches {L} but the English train split has {len(en_train)} batches")

    model = SpikingNet.from_state_dict(cfg.net, sd, device)
    d = cfg.depth
    to_items = lambda bs: encode_items(model, [(x.to(device), y.to(device)) for x, y in bs], d)  # noqa: E731

    # global test set and old memory
    if cfg.protocol == "faithful":
        english = {c: _removed(folder, c, artifacts.made_by("class", c)) for c in range(10)}
        for c, bs in english.items():
            if len(bs) <= L + 1:
                raise ConfigError(f"--latent_batches {L}: class {c} has only {len(bs)} batches, the "
                                  f"faithful global test set needs batch {L + 1}")
        global_set = [english[c][L + 1] for c in range(10)] + [german[c][0] for c in GERMAN]
        old_mem = [b for _ in range(10) for b in en_train[:L]]  # ten identical copies (Q31)
    else:
        global_set = list(en_test) + [b for c in GERMAN for b in split_new(german[c], "clean")[1]]
        ids = artifacts.load(folder / names["ids"], made_by=ten)
        old_mem, _ = regroup_by_class(en_train, ids["pretrain"], range(10), L, cfg.batch_size)

    pooling, mode = replay_scheme("new", d)
    spec = MemorySpec("latent", d, cfg.n_frames, pooling, mode)
    buffers = [make_buffer(model, old_mem, spec, cfg.net.nb_steps, device)]  # grows by one per class
    mem_bytes = lambda: sum(b.nbytes for b in buffers)  # noqa: E731
    mem_samples = lambda: sum(b.n_samples for b in buffers)  # noqa: E731
    replay = lambda: [it for b in buffers for it in replay_items(b, d, device)]  # noqa: E731
    global_items = to_items(global_set)
    prev_items = to_items(en_test)
    log(f"Pre-Training accuracy on the 10 classes: {score(model, prev_items).value:.3f}")
    log(f"Pre-Training accuracy on ALL the classes: {score(model, global_items).value:.3f}")

    fmt = Format(cfg)
    header = run_header(cfg, None, buffers[0], dataset or meta.get("dataset", "unknown"),
                         (meta or {}).get("data_origin"))
    out = RunLog(out_dir, cfg.run_id, txt_name=fmt.txt, csv_name=fmt.csv, txt_mode="a", header=header, echo=log)
    clock = Clock()
    prev0, per0 = score_by_class(model, prev_items)
    out.record(step=0, step_class=None, epoch=0, loss=None, memory_bytes=mem_bytes(),
               memory_samples=mem_samples(), **acc_fields("previous", prev0),
               **acc_fields("global", score(model, global_items)), wall_s=clock(),
               class_correct={str(k): v.correct for k, v in sorted(per0.items())},
               class_total={str(k): v.total for k, v in sorted(per0.items())})

    for step, c in enumerate(GERMAN, start=1):
        reinit_column(model, c, gen)
        train, test = split_new(german[c], cfg.protocol)
        new_items, new_eval = to_items(train), to_items(test)
        word = keys[c] if c < len(keys) else None

        def after_epoch(epoch, loss, c=c, step=step, new_eval=new_eval, word=word):
            (prev, per_prev), (new, per_new) = score_by_class(model, prev_items), score_by_class(model, new_eval)
            glob = score(model, global_items)
            per = {**per_prev, **per_new}  # every class seen so far: the row of the accuracy matrix
            for line in fmt.epoch(epoch + 1, c, prev.value, new.value, glob.value):
                out.txt(line)
            out.csv(fmt.row(epoch + 1, c, prev.value, new.value, glob.value))
            out.record(step=step, step_class=c, class_word=word, epoch=epoch + 1, loss=loss,
                       memory_bytes=mem_bytes(), memory_samples=mem_samples(),
                       **acc_fields("previous", prev), **acc_fields("new", new),
                       **acc_fields("global", glob), wall_s=clock(),
                       class_correct={str(k): v.correct for k, v in sorted(per.items())},
                       class_total={str(k): v.total for k, v in sorted(per.items())})

        trainable = trainable_names(d)
        train_epochs(model, trainable,
                     lambda new_items=new_items: [*new_items, *replay()],
                     lr=cfg.lr, nb_epochs=cfg.nb_epochs, after_epoch=after_epoch,
                     desc=f"class {c} ({step}/10)",
                     optimizer=adamax([model.weights[n] for n in trainable], cfg.lr))  # fresh per class (Q55)
        prev, new, glob = score(model, prev_items), score(model, new_eval), score(model, global_items)
        for line in fmt.after(c, prev.value, new.value, glob.value):
            out.txt(line)
        # the class's memory batch: its full list's batch 0 (= its test batch, Q33) in the faithful
        # uncompressed script; its first train batch in the compressed script and in clean mode
        leak = cfg.protocol == "faithful" and cfg.n_frames is None
        mem_batch = german[c][0] if leak else train[0]
        buffers.append(make_buffer(model, [mem_batch], spec, cfg.net.nb_steps, device))
        prev_items = prev_items + new_eval
    out.txt(f"\nReplay memory: {mem_bytes()} bytes ({mem_samples()} samples, ratio {cfg.ratio})\n")
    out.commit()
    return out.records
