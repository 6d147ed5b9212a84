"""Sample-incremental learning: a pretrained model learns a held-out speaker (reference-spec
s3.3-s3.8). One run function; the five original scripts differ only in their memory, their
trainable set, their learning rate / epochs and their output lines (``FORMATS``).
"""
from __future__ import annotations

from pathlib import Path

from sccl import artifacts
from sccl.experiments.continual import ContinualConfig, check_memory, run_header, split_new, train_and_log
from sccl.replay import replay_scheme
from sccl.strategies import MemorySpec, make_buffer, replay_items

OLD = "the {n} speakers"


class Format:
    """The original's TXT / CSV lines of one script (s8.3). Accuracies are fractions, %.3f."""

    txt = csv = ""
    txt_mode = "w"
    epoch_word = "Post-Latent"

    def __init__(self, cfg: ContinualConfig, n_old: int):
        self.cfg, self.s, self.n = cfg, cfg.held_out, n_old

    def pre(self, old, new):
        return [f"\nPre-Training accuracy on the {self.n} speakers: {old:.3f}\n",
                f"\nPre-Training accuracy on the removed speaker {self.s}: {new:.3f}\n"]

    def epoch(self, e, loss, old, new):
        w = self.epoch_word
        return [f"\nEpoch {e}: {w} accuracy on the {self.n} speakers: {old:.3f}\n",
                f"\nEpoch {e}: {w} accuracy on the removed speaker {self.s}: {new:.3f}\n"]

    def end(self, total):
        return []

    def rows(self, e, old, new):
        return []


class Naive(Format):
    csv = "naive_incremental_csv.csv"

    @property
    def txt(self):
        return f"speaker_{self.s}_naive_sample_inc_train.txt"

    def pre(self, old, new):
        return [f"\nPre-Training accuracy on the {self.n} speakers: {old:.3f}\n",
                f"\nPre-Training Test accuracy on speaker {self.s}: {new:.3f}\n"]

    def epoch(self, e, loss, old, new):
        return [f"\nEpoch {e}: loss={loss:.5f}\n",
                f"\nEpoch {e}: Pretrain test set accuracy on the {self.n} speakers: {old:.3f}\n",
                f"\nEpoch {e}: Test accuracy: {new:.3f}\n"]

    def end(self, total):
        return [f"\nPost-Incremental Training Test accuracy: {total:.3f}\n"]

    def rows(self, e, old, new):
        return ["%d, %i, %.3f, %.3f\n" % (self.s, e, old, new)]


class Rehearsal(Format):
    csv = "rehearsal_64_csv.csv"
    epoch_word = "Post-Reharsal"

    @property
    def txt(self):
        return f"reharsal_speaker_{self.s}_batches_{self.cfg.memory_batches}.txt"

    def rows(self, e, old, new):  # two rows per epoch (Q23)
        k = self.cfg.memory_batches
        return ["%d, %d, %i, %.3f\n" % (self.s, k, e, old), "%d, %d, %i, %.3f\n" % (self.s, k, e, new)]


class RehearsalSubsample(Format):
    csv = "reharsal_csv.csv"

    @property
    def txt(self):
        return f"reharsal_speaker_{self.s}.txt"

    def rows(self, e, old, new):
        return ["%d, %d, %i, %.3f, %.3f\n" % (self.s, self.cfg.memory_batches, e, old, new)]


class Latent(Format):
    csv = "latent_csv.csv"

    @property
    def txt(self):
        return f"latent_speaker_{self.s}_depth_{self.cfg.depth}.txt"

    def rows(self, e, old, new):  # two rows per epoch (Q23)
        c = self.cfg
        return ["%d, %d, %d, %i, %.3f\n" % (self.s, c.depth, c.memory_batches, e, old),
                "%d, %d, %d, %i, %.3f\n" % (self.s, c.depth, c.memory_batches, e, new)]


class LatentSubsample(Format):
    @property
    def sums(self):
        return self.cfg.pooling == "sum"

    @property
    def txt(self):
        mid = "subsampled_sums" if self.sums else "subsampled"
        return f"latent_speaker_{mid}_{self.s}_depth_{self.cfg.depth}.txt"

    @property
    def csv(self):
        return "latent_csv_subsample_sums_singlesubsample.csv" if self.sums else "latent_csv_subsample.csv"

    def rows(self, e, old, new):
        c = self.cfg
        return ["%d, %d, %d, %i, %.3f, %.3f\n" % (self.s, c.depth, c.memory_batches, e, old, new)]


FORMATS = {"naive": Naive, "rehearsal": Rehearsal, "rehearsal_subsample": RehearsalSubsample,
           "latent_replay": Latent, "latent_replay_subsample": LatentSubsample}


def memory_spec(cfg: ContinualConfig) -> MemorySpec | None:
    if cfg.script == "naive":
        return None
    if cfg.script in ("rehearsal", "rehearsal_subsample"):
        return MemorySpec("raw", None, cfg.n_frames, "sum", "first")
    pooling, decomp = replay_scheme("sums" if cfg.n_frames and cfg.pooling == "sum" else "new", cfg.depth)
    return MemorySpec("latent", cfg.depth, cfg.n_frames, pooling, decomp)


def run(cfg: ContinualConfig, statedict_dir: Path, out_dir: Path, device, *, dataset: str | None = None,
        log=print) -> list[dict]:
    """One sample-incremental run; writes TXT / CSV / records into ``out_dir``; returns the records."""
    from sccl.model import SpikingNet
    from sccl.results import RunLog
    from sccl.runtime import seeded
    from sccl.training import encode_items, score

    cfg.validate()
    hint = artifacts.made_by("speaker", cfg.held_out)
    names = artifacts.artifact_names(artifacts.speaker_tag(cfg.held_out))
    folder = Path(statedict_dir)
    sd = artifacts.load_state_dict(folder / names["state_dict"], made_by=hint)
    pre_train = artifacts.load_pair(folder, names, "pretrain", hint=hint)
    old_test = artifacts.load_pair(folder, names, "pretrain_test", hint=hint)
    removed = artifacts.load_pair(folder, names, "removed", hint=hint)
    meta = artifacts.load_json(folder / names["meta"])
    seeded(cfg.seed)  # validates; sample-incremental runs draw nothing random after pretraining

    spec = memory_spec(cfg)
    if spec is not None:
        check_memory(cfg.memory_batches, len(pre_train), f"pretrain batches in {folder}")
    new_train, new_test = split_new(removed, cfg.protocol)
    model = SpikingNet.from_state_dict(cfg.net, sd, device)
    to_dev = lambda bs: [(x.to(device), y.to(device)) for x, y in bs]  # noqa: E731

    buffer = make_buffer(model, pre_train[:cfg.memory_batches], spec, cfg.net.nb_steps, device) if spec else None
    depth = cfg.depth if cfg.script.startswith("latent") else None
    new_items = encode_items(model, to_dev(new_train), depth)
    old_eval = encode_items(model, to_dev(old_test), depth)
    new_eval = encode_items(model, to_dev(new_test), depth)

    n_old = int(meta.get("n_speakers", 12)) - 1 if meta else 11
    fmt = FORMATS[cfg.script](cfg, n_old)
    header = run_header(cfg, "speaker", buffer, dataset or meta.get("dataset", "unknown"),
                         (meta or {}).get("data_origin"))
    out = RunLog(out_dir, cfg.run_id, txt_name=fmt.txt, csv_name=fmt.csv, header=header, echo=log)
    if cfg.script == "latent_replay_subsample":
        mem_acc = score(model, replay_items(buffer, spec.level, device))
        out.txt(f"\nAccuracy on the subsampled batches: {mem_acc.value:.3f}\n")
    train_and_log(cfg, model, depth, new_items, old_eval, new_eval, buffer, spec.level if spec else None,
                  fmt, out, device, desc=f"speaker {cfg.held_out} {cfg.script}")
    return out.records

