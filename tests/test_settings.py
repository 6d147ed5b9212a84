"""Every continual script's EFFECTIVE settings, observed on a real run (issue 10, item 1).

Each script of tests/scenarios.py runs once per protocol as ``python <script> ...`` (in the
one-interpreter runner) with ``SCCL_TRACE`` set; the trace (sccl/trace.py) says what the run
did: the optimiser's class, lr, betas, eps and weight decay, the tensors it updated, the epochs
it trained, every item it fed in order (new batches, replay batches, copies), every set it
evaluated and the output column it re-initialised. Items are tied to the raw samples they came
from by content fingerprints, and samples to their ids through the ``ids_<tag>.pt`` artifacts.

``SETTINGS`` below is the whole table, one row per script; docs/protocols.md mirrors it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

import scenarios
from sccl import artifacts, trace

ALL7 = ("w1", "w2", "w3", "w_out", "v1", "v2", "v3")
ABOVE = {0: ("w2", "w3", "w_out", "v1", "v2", "v3"), 1: ("w2", "w3", "w_out", "v2", "v3"),
         2: ("w3", "w_out", "v3"), 3: ("w_out",)}
ADAMAX = {"optimizer": "Adamax", "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0}
FLAG = "--nb_epochs"
REINIT = (0.003, 0.003)  # a new class's output column ~ N(mean, std), drawn from the run's seeded CPU generator (Q19)


def reinit_columns(n_rows: int, count: int, seed: int = 0) -> list[str]:
    """Digests of the first ``count`` re-initialised columns a run with ``--seed`` draws."""
    g = torch.Generator().manual_seed(seed)
    return [trace.digest(torch.empty(n_rows).normal_(*REINIT, generator=g)) for _ in range(count)]


@dataclass(frozen=True)
class Row:
    """One script's settings. ``memory``: (kind, pooling, decompression) of the stored batches
    (T' from --latent_subsample, else uncompressed); memory / test rules are named below."""

    lr: float
    epochs: int | str                 # hard-coded count, or FLAG (--nb_epochs, per class in progressive)
    trains: str                       # "all" or "above depth"
    memory: tuple | None              # (kind, pooling, decompression) or None
    faithful: str | None = None       # memory rule, --protocol faithful
    clean: str | None = None          # memory rule, --protocol clean
    reinit: bool = False              # output column of the new class re-initialised
    extra_eval: str | None = None     # an evaluation set besides old / new test


# Memory rules (k = --reharsal_size / --latent_batches, B = --batch_size, L = --latent_batches):
#   "pretrain[:k]"        first k batches of the model's own pretrain-train list
#   "others.removed[:k]"  for every other class in increasing order, the first k batches of its
#                         removed_x_class_<cl>.pt (written by that class's generator run) (Q28)
#   "others.removed[:1]"  the same with k = 1 whatever --latent_batches says (Q29)
#   "others.regroup(k)"   first k*B samples of every other class from the own pretrain-train
#                         split, in batch order, regrouped into k single-class batches per class
# Progressive (old memory + one batch per German class learned, in class order):
#   "10x en_train[:L] + de[0]"   ten identical copies of the first L English train batches (Q31);
#                                the German class's batch 0 = its TEST batch (Q33)
#   "10x en_train[:L] + de_train[0]"  the same, German memory = its first train batch
#   "en.regroup(L) + de_train[0]"     L single-class batches per English class, first train batch
SETTINGS = {
    ("sample", "naive"): Row(2e-4, 50, "all", None),
    ("sample", "rehearsal"): Row(2e-4, 50, "all", ("raw", "sum", "first"), "pretrain[:k]", "pretrain[:k]"),
    ("sample", "rehearsal_subsample"): Row(1e-3, FLAG, "all", ("raw", "sum", "first"),
                                           "pretrain[:k]", "pretrain[:k]"),
    ("sample", "latent_replay"): Row(2e-4, FLAG, "above depth", ("latent", "or", "first"),
                                     "pretrain[:k]", "pretrain[:k]"),
    ("sample", "latent_replay_subsample"): Row(1e-3, FLAG, "above depth", ("latent", "or", "first"),
                                               "pretrain[:k]", "pretrain[:k]", extra_eval="memory"),
    ("sample", "latent_replay_subsample_sums"): Row(1e-3, FLAG, "above depth", ("latent", "sum", "burst"),
                                                    "pretrain[:k]", "pretrain[:k]", extra_eval="memory"),
    ("class", "naive"): Row(2e-4, FLAG, "all", None, reinit=True),
    ("class", "rehearsal"): Row(2e-4, 50, "all", ("raw", "sum", "first"), "others.removed[:k]",
                                "others.regroup(k)", reinit=True),
    ("class", "latent_replay"): Row(2e-4, FLAG, "above depth", ("latent", "or", "first"), "others.removed[:1]",
                                    "others.regroup(1)", reinit=True),
    ("class", "latent_replay_subsample"): Row(2e-4, FLAG, "above depth", ("latent", "or", "first"),
                                              "others.removed[:k]", "others.regroup(k)", reinit=True),
    ("progressive", "latent_replay"): Row(2e-4, FLAG, "above depth", ("latent", "or", "first"),
                                          "10x en_train[:L] + de[0]", "en.regroup(L) + de_train[0]", reinit=True),
    ("progressive", "latent_replay_subsample"): Row(2e-4, FLAG, "above depth", ("latent", "or", "first"),
                                                    "10x en_train[:L] + de_train[0]",
                                                    "en.regroup(L) + de_train[0]", reinit=True),
}
# Evaluation sets, both protocols (new sets have >= 5 batches here, so Q12 does not apply):
#   sample / class: old = the pretrain TEST split; new test = batch 0 of the removed list, new
#   train = the rest after the 1/5 rule (speaker: batches 2.., batch 1 unused; class: 1..).
#   progressive "global": faithful = batch L+1 of removed_x_class_<c> for c < 10 (single-class
#   generator files, Q30) + batch 0 of each German class; clean = English test split + each
#   German class's test batch. "previous" = English test + test batches of the German classes
#   learned before.


def _records(script_runs, name: str) -> list[dict]:
    files = sorted((Path(script_runs.specs[name]["out"]) / "records").glob("*.jsonl"))
    assert len(files) == 1, files
    return [json.loads(ln) for ln in files[0].read_text().splitlines()]


def _flag(argv, name, default=None):
    for a in argv:
        if a.startswith(f"--{name}="):
            return int(a.split("=", 1)[1])
    return default


# ------------------------------------------------------------------------ sample identities

class Samples:
    """Sample ids of raw inputs, by content fingerprint, from the artifacts' ids files."""

    def __init__(self, speaker_dir: Path, class_dir: Path):
        self.fp2id: dict[str, int] = {}
        self.label: dict[int, int] = {}
        self.dirs = {"speaker": speaker_dir, "class": class_dir}
        spk = artifacts.artifact_names(artifacts.speaker_tag(0))
        c3 = artifacts.artifact_names(artifacts.class_tag(3), class_style=True)
        ten = artifacts.artifact_names(artifacts.TEN_CLASSES_TAG)
        pairs = [(speaker_dir, spk, k, k) for k in ("pretrain", "pretrain_test", "removed")]
        pairs += [(class_dir, c3, k, k) for k in ("pretrain", "pretrain_test", "removed")]
        if (class_dir / ten["ids"]).exists():
            pairs += [(class_dir, ten, k, k) for k in ("pretrain", "pretrain_test")]
        for c in range(20):
            if c == 3:
                continue
            cn = artifacts.artifact_names(artifacts.class_tag(c), class_style=True)
            # the 10-class generator rewrote removed_x_class_10..19 with its own shuffles (Q14)
            ten_made = (class_dir / ten["ids"]).exists()
            pairs.append((class_dir, cn, "removed", "removed") if c < 10 or not ten_made else
                         (class_dir, {**cn, "ids": ten["ids"]}, "removed", f"removed_class_{c}"))
        for folder, names, which, key in pairs:
            if not (folder / names[f"{which}_x"]).exists():  # the hard-coded-epoch folder has fewer
                continue
            xs = artifacts.load(folder / names[f"{which}_x"])
            ys = artifacts.load(folder / names[f"{which}_y"])
            ids = artifacts.load(folder / names["ids"])[key]
            for x, y, i in zip(xs, ys, ids):
                for fp, sid, lab in zip(trace.sample_fingerprints(x), i.tolist(), y.tolist()):
                    assert self.fp2id.setdefault(fp, sid) == sid, "two samples with the same input"
                    self.label[sid] = lab

    def ids(self, fps) -> tuple[int, ...]:
        return tuple(self.fp2id[f] for f in fps)

    def file(self, exp: str, tag: str, which: str) -> list[tuple[int, ...]]:
        """Per-batch sample ids of one artifact batch list."""
        folder = self.dirs["speaker" if exp == "sample" else "class"]
        names = artifacts.artifact_names(tag, class_style=tag.startswith("class_"))
        return [self.ids(trace.sample_fingerprints(x)) for x in artifacts.load(folder / names[f"{which}_x"])]

    def regroup(self, batches, classes, k: int, b: int) -> list[tuple[int, ...]]:
        flat = [i for bt in batches for i in bt]
        out = []
        for c in classes:
            rows = [i for i in flat if self.label[i] == c]
            out += [tuple(rows[j * b:(j + 1) * b]) for j in range(k)]
        return out


class Trace:
    """One run's trace. Latents of different batches may coincide (a layer that did not spike),
    so items are compared by digest: ``enc`` / ``mem`` give the digest of a batch (its sample
    ids) as encoded for training / evaluation and as replayed from the memory."""

    def __init__(self, path: Path, samples: Samples):
        self.events = [json.loads(ln) for ln in Path(path).read_text().splitlines()]
        self._enc: dict[tuple, str] = {}
        self._mem: dict[tuple, str] = {}
        for e in self.events:
            if e["event"] in ("encode", "memory"):
                where = self._enc if e["event"] == "encode" else self._mem
                for b in e["batches"]:
                    ids = samples.ids(b["samples"])
                    assert where.setdefault(ids, b["digest"]) == b["digest"], "one batch, two contents"
        self.trains = self.of("train")
        self.memories = self.of("memory")
        self.evals = {tuple(sorted(e["items"])) for e in self.of("eval")}

    def of(self, kind):
        return [e for e in self.events if e["event"] == kind]

    @staticmethod
    def _look(where: dict, batches, what: str) -> list[str]:
        missing = [b for b in batches if b not in where]
        assert not missing, f"{len(missing)} expected batch(es) were never {what} in this run (first: {missing[0]})"
        return [where[b] for b in batches]

    def enc(self, batches) -> list[str]:
        return self._look(self._enc, batches, "encoded")

    def mem(self, batches) -> list[str]:
        return self._look(self._mem, batches, "stored in a replay memory")

    def eval_of(self, batches, where="enc") -> tuple[str, ...]:
        return tuple(sorted(self.enc(batches) if where == "enc" else self.mem(batches)))

    @staticmethod
    def fed(train: dict, epoch: int = 0) -> list[str]:
        return [d for _, d in train["epochs"][epoch]]


@pytest.fixture(scope="session")
def samples(speaker_dir, class_dir) -> Samples:
    return Samples(speaker_dir, class_dir)


@pytest.fixture(scope="session")
def hard_samples(hard_dir) -> Samples:
    return Samples(hard_dir, hard_dir)


def split(batches, protocol):
    """The 1/5 rule (reference-spec s1.6) restated: d = n // 5; d > 1: test [0, d-1), batch d-1
    unused, train [d, n); d == 1: test [0], train [1, n); d == 0: test [0], train = all (Q12,
    faithful) or [1, n) (clean)."""
    n = len(batches)
    d = n // 5
    if d > 1:
        return batches[d:], batches[:d - 1]
    if d == 1 or protocol == "clean":
        return batches[1:], batches[:1]
    return list(batches), batches[:1]


RUNS = {name: (exp, strategy, protocol, argv) for name, exp, strategy, protocol, argv in scenarios.continual_runs()}


def _row(exp, strategy):
    return SETTINGS[(exp, strategy)]


def _check_optimiser(t: dict, row: Row, depth, lr_default=True):
    assert {k: t[k] for k in ADAMAX} == ADAMAX, "the optimiser is Adamax(betas=(0.9, 0.999), eps=1e-8)"
    assert t["lr"] == pytest.approx(row.lr, rel=1e-12), f"lr {t['lr']} != {row.lr}"
    want = ALL7 if row.trains == "all" else ABOVE[depth]
    assert t["params"] == list(want), "the optimiser updates exactly the trainable tensors, in order"
    assert sorted(t["requires_grad"]) == sorted(want), "only the trainable tensors get gradients"
    frozen = [n for n in ALL7 if n not in want]
    assert all(t["start"]["tensors"][n] == t["end"]["tensors"][n] for n in frozen), "a frozen tensor changed"
    assert any(t["start"]["tensors"][n] != t["end"]["tensors"][n] for n in want), "nothing was trained"


def _expected_epochs(row: Row, name: str, argv) -> int:
    if name.endswith("-hard"):
        assert isinstance(row.epochs, int)
        return row.epochs
    if isinstance(row.epochs, int):  # hard-coded script: the matrix run passes --override_epochs
        return _flag(argv, "override_epochs")
    return _flag(argv, "nb_epochs")


def _columns_changed(before: list[str], after: list[str]) -> list[int]:
    return [c for c, (a, b) in enumerate(zip(before, after)) if a != b]


def _memory_batches(rule: str, exp: str, argv, samples: Samples) -> list[tuple[int, ...]]:
    b = _flag(argv, "batch_size")
    if exp == "sample":
        k = _flag(argv, "reharsal_size", _flag(argv, "latent_batches"))
        assert rule == "pretrain[:k]"
        return samples.file("sample", "speaker_0", "pretrain")[:k]
    k = _flag(argv, "reharsal_size", _flag(argv, "latent_batches"))
    others = [c for c in range(20) if c != 3]
    if rule == "others.removed[:1]":
        k = 1
    if rule.startswith("others.removed"):
        return [bt for c in others for bt in samples.file("class", f"class_{c}", "removed")[:k]]
    if rule == "others.regroup(1)":
        k = 1
    assert rule.startswith("others.regroup")
    return samples.regroup(samples.file("class", "class_3", "pretrain"), others, k, b)


@pytest.mark.parametrize("name", [n for n, r in RUNS.items() if r[0] in ("sample", "class")])
def test_sample_and_class_settings(name, script_runs, request):
    exp, strategy, protocol, argv = RUNS[name]
    hard = name.endswith("-hard")
    samples = request.getfixturevalue("hard_samples" if hard else "samples")
    folder = request.getfixturevalue("hard_dir" if hard else "speaker_dir" if exp == "sample" else "class_dir")
    row = _row(exp, strategy)
    assert script_runs.status[name] == 0, f"{name} failed"
    tr = Trace(script_runs.trace(name), samples)
    depth = _flag(argv, "latent_depth")
    assert len(tr.trains) == 1
    t = tr.trains[0]
    _check_optimiser(t, row, depth)
    assert len(t["epochs"]) == t["nb_epochs"] == _expected_epochs(row, name, argv), "epochs trained"

    tag = "speaker_0" if exp == "sample" else "class_3"
    new_train, new_test = split(samples.file(exp, tag, "removed"), protocol)
    old_test = samples.file(exp, tag, "pretrain_test")
    memory = []
    if row.memory is None:
        assert not tr.memories
    else:
        assert len(tr.memories) == 1
        m = tr.memories[0]
        kind, pooling, decomp = row.memory
        n_frames = _flag(argv, "latent_subsample")
        if kind == "latent" and depth == 0:
            pooling, decomp = "sum", "first"   # depth-0 currents: summed, injected at the window start
        assert (m["kind"], m["pooling"], m["decompression"]) == (kind, pooling, decomp)
        assert m["n_frames"] == n_frames and m["depth"] == (depth if kind == "latent" else None)
        memory = _memory_batches(getattr(row, protocol), exp, argv, samples)
        assert [samples.ids(b["samples"]) for b in m["batches"]] == memory, "the replay memory's samples"
    # what the records (and so the report) say the memory was
    head = _records(script_runs, name)[0]
    assert head["memory_samples"] == sum(len(b) for b in memory)
    assert head["memory_batches"] == (len(memory) if exp == "sample" else len(memory) // 19)
    # every epoch: the new train batches in stored order, then the replay batches, no reshuffle
    want = [*tr.enc(new_train), *tr.mem(memory)]
    for e in range(len(t["epochs"])):
        assert tr.fed(t, e) == want, f"epoch {e + 1}: fed batches / order"
    evals = {tr.eval_of(old_test), tr.eval_of(new_test)}
    if row.extra_eval == "memory":
        evals.add(tr.eval_of(memory, "mem"))
    assert tr.evals == evals, "the evaluated sets"
    sd = artifacts.load(folder / f"state_dict_{tag}.pt")
    pretrained = [trace.digest(sd["w_out"][:, c]) for c in range(sd["w_out"].shape[1])]
    assert _columns_changed(pretrained, t["start"]["w_out_columns"]) == ([3] if row.reinit else [])
    if row.reinit:
        assert t["start"]["w_out_columns"][3] == reinit_columns(sd["w_out"].shape[0], 1)[0], \
            "column 3 holds N(0.003, 0.003) draws of the seeded generator"


@pytest.mark.parametrize("name", [n for n, r in RUNS.items() if r[0] == "progressive"])
def test_progressive_settings(name, script_runs, samples, class_dir):
    exp, strategy, protocol, argv = RUNS[name]
    row = _row(exp, strategy)
    assert script_runs.status[name] == 0, f"{name} failed"
    tr = Trace(script_runs.trace(name), samples)
    depth, L, b = _flag(argv, "latent_depth"), _flag(argv, "latent_batches"), _flag(argv, "batch_size")
    en_train = samples.file("class", "10classes", "pretrain")
    en_test = samples.file("class", "10classes", "pretrain_test")
    de = {c: samples.file("class", f"class_{c}", "removed") for c in range(10, 20)}
    de_train = {c: split(de[c], protocol)[0] for c in de}
    rule = getattr(row, protocol)
    old = [bt for _ in range(10) for bt in en_train[:L]] if rule.startswith("10x") else \
        samples.regroup(en_train, range(10), L, b)
    de_mem = {c: de[c][0] if rule.endswith("de[0]") else de_train[c][0] for c in de}
    if protocol == "faithful":
        glob = [samples.file("class", f"class_{c}", "removed")[L + 1] for c in range(10)] + [de[c][0] for c in de]
    else:
        glob = [*en_test, *(de[c][0] for c in de)]

    assert len(tr.trains) == 10, "one training per German class"
    sd = artifacts.load(class_dir / "state_dict_10classes.pt")
    cols = [trace.digest(sd["w_out"][:, c]) for c in range(sd["w_out"].shape[1])]
    kind, pooling, decomp = row.memory
    if depth == 0:
        pooling, decomp = "sum", "first"   # depth-0 currents: summed, injected at the window start
    for m in tr.memories:
        assert (m["kind"], m["depth"], m["pooling"], m["decompression"]) == (kind, depth, pooling, decomp)
        assert m["n_frames"] == _flag(argv, "latent_subsample")
    assert [samples.ids(bt["samples"]) for bt in tr.memories[0]["batches"]] == old, "old memory"
    head = _records(script_runs, name)[0]
    assert (head["memory_batches"], head["memory_samples"]) == (L, sum(len(bt) for bt in old))
    fresh = reinit_columns(sd["w_out"].shape[0], 10)
    for k, (c, t) in enumerate(zip(range(10, 20), tr.trains)):
        _check_optimiser(t, row, depth)
        assert t["fresh"], "a fresh Adamax per class (Q55)"
        assert len(t["epochs"]) == _flag(argv, "nb_epochs")
        want = [*tr.enc(de_train[c]), *tr.mem(old), *tr.mem([de_mem[p] for p in range(10, c)])]
        for e in range(len(t["epochs"])):
            assert tr.fed(t, e) == want, f"class {c}, epoch {e + 1}: fed batches / order"
        assert _columns_changed(cols, t["start"]["w_out_columns"]) == [c], f"re-initialised column at class {c}"
        assert t["start"]["w_out_columns"][c] == fresh[k], f"column {c}: the k-th N(0.003, 0.003) draw"
        cols = t["end"]["w_out_columns"]
    assert [[samples.ids(bt["samples"]) for bt in m["batches"]] for m in tr.memories[1:]] == \
        [[de_mem[c]] for c in range(10, 20)], "one memory batch per German class"
    previous = [tr.eval_of([*en_test, *(de[p][0] for p in range(10, c))]) for c in range(10, 20)]
    assert tr.evals == {tr.eval_of(glob), *previous, *(tr.eval_of([de[c][0]]) for c in de)}, "the evaluated sets"


@pytest.mark.parametrize("name", sorted(scenarios.REFUSED))
def test_clean_refuses_a_single_new_batch(name, script_runs):
    """--protocol clean with one new batch: nothing but the test batch to train on. The run is
    refused (one line, exit 2, nothing written) instead of training on its test batch (Q12)."""
    spec = script_runs.specs[name]
    assert script_runs.status[name] == scenarios.REFUSED[name][2]
    err = Path(spec["stderr"]).read_text().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --protocol=clean: the new set has only 1 batch"), err
    assert not any(Path(spec["out"]).iterdir()), "a refused run wrote files"


def test_split_new_single_batch():
    from sccl.experiments.continual import split_new
    from sccl.errors import ConfigError

    only = object()
    assert split_new([only], "faithful") == ([only], [only])  # the original trains on its test batch (Q12)
    with pytest.raises(ConfigError, match="only 1 batch") as e:  # library terms; the CLI names --protocol
        split_new([only], "clean")
    assert (e.value.setting, e.value.value) == ("protocol", "clean")
