"""Sample-incremental learning: a pretrained model learns a held-out speaker (reference-spec
s3.3-s3.8). One run function; the five original scripts differ only in their memory, their
trainable set, their learning rate / epochs and their output lines (``FORMATS``).
"""
from __future__ import annotations

from pathlib import Path

from sccl import artifacts
from sccl.experiments.continual import ContinualConfig, Task, check_memory, load_pretraining, run_incremental, split_new


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
    scores_memory = True  # the original prints the model's accuracy on the stored batches first

    def memory_line(self, acc):
        return f"\nAccuracy on the subsampled batches: {acc:.3f}\n"

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


class Generic(Format):
    """Output of a strategy the original does not have: files named by its registry ``files`` stem."""

    @property
    def txt(self):
        return f"{self.cfg.strategy.files}_speaker_{self.s}_depth_{self.cfg.depth}.txt"

    @property
    def csv(self):
        return f"{self.cfg.strategy.files}_csv.csv"

    def rows(self, e, old, new):
        c = self.cfg
        return ["%d, %s, %d, %i, %.3f, %.3f\n" % (self.s, c.depth, c.memory_batches, e, old, new)]


# the original scripts' formats, by strategy (sccl.registry); other strategies write Generic
FORMATS = {"naive": Naive, "rehearsal": Rehearsal, "rehearsal_subsample": RehearsalSubsample,
           "latent_replay": Latent, "latent_replay_subsample": LatentSubsample,
           "latent_replay_sums": LatentSubsample}


def run(cfg: ContinualConfig, statedict_dir: Path, out_dir: Path, device, *, dataset: str | None = None,
        log=print) -> list[dict]:
    """One sample-incremental run; writes TXT / CSV / records into ``out_dir``; returns the records."""
    from sccl.runtime import seeded

    cfg.validate()
    pre = load_pretraining(statedict_dir, artifacts.speaker_tag(cfg.held_out), artifacts.made_by("speaker", cfg.held_out))
    seeded(cfg.seed)  # validates; sample-incremental runs draw nothing random after pretraining
    if cfg.strategy.replays:
        check_memory(cfg.memory_batches, len(pre.pretrain), f"pretrain batches in {pre.folder}")
    new_train, new_test = split_new(pre.removed, cfg.protocol)
    n_old = int(pre.meta.get("n_speakers", 12)) - 1 if pre.meta else 11
    fmt = FORMATS.get(cfg.strategy.name, Generic)(cfg, n_old)
    task = Task(pre, new_train, new_test, pre.pretrain[:cfg.memory_batches], fmt, "speaker")
    return run_incremental(cfg, task, out_dir, device, dataset=dataset, log=log)
