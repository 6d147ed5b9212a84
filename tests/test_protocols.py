"""Faithful and clean protocols on sample identities; column re-initialisation; progressive
evaluation sets; frozen tensors after a run."""
from __future__ import annotations

import json

import pytest
import torch

from sccl import artifacts
from sccl.config import NetConfig
from sccl.experiments import class_incremental as ci
from sccl.experiments.continual import ContinualConfig, Session, split_new
from conftest import TINY_NET

NET = NetConfig(**TINY_NET)


def _ids(folder, tag, which, class_style=True):
    names = artifacts.artifact_names(tag, class_style=class_style)
    return artifacts.load(folder / names["ids"])[which]


def _cfg(**kw):
    base = dict(experiment="class", script="latent_replay_subsample", held_out=3, net=NET, batch_size=8,
                nb_epochs=1, depth=1, memory_batches=2, n_frames=10)
    return ContinualConfig(**{**base, **kw}).validate()


def test_faithful_class_memory_is_the_originals_selection(class_dir):
    cfg = _cfg(protocol="faithful")
    pre = ci.load(cfg, class_dir)
    old = [c for c in range(20) if c != 3]
    batches, mem_ids = ci.build_memory(cfg, pre, old)
    want = [i for c in old for i in _ids(class_dir, f"class_{c}", "removed")[:2]]
    assert len(mem_ids) == len(want) == 38
    assert all(torch.equal(a, b) for a, b in zip(mem_ids, want))
    # single-class batches, class-sorted (Q28)
    assert [int(y.unique()) for _, y in batches] == [c for c in old for _ in range(2)]


def test_faithful_class_memory_overlaps_the_old_test_split(class_dir):
    """The leak the clean protocol removes: faithful memory samples sit in the old test split."""
    cfg = _cfg(protocol="faithful", memory_batches=6)
    pre = ci.load(cfg, class_dir)
    ids = pre.ids(required=True)
    _, mem_ids = ci.build_memory(cfg, pre, [c for c in range(20) if c != 3])
    test_ids = set(torch.cat(ids["pretrain_test"]).tolist())
    assert set(torch.cat(mem_ids).tolist()) & test_ids


def test_clean_class_memory_is_disjoint_from_every_test_set(class_dir):
    cfg = _cfg(protocol="clean")
    pre = ci.load(cfg, class_dir)
    pre_train, ids = pre.pretrain, pre.ids(required=True)
    old = [c for c in range(20) if c != 3]
    batches, mem_ids = ci.build_memory(cfg, pre, old)
    mem = set(torch.cat(mem_ids).tolist())
    assert len(mem) == 19 * 2 * 8  # distinct samples
    assert not mem & set(torch.cat(ids["pretrain_test"]).tolist())
    assert not mem & set(torch.cat(ids["removed"]).tolist())
    assert mem <= set(torch.cat(ids["pretrain"]).tolist())
    assert [int(y.unique()) for _, y in batches] == [c for c in old for _ in range(2)]
    # the regrouped rows are the same inputs as in the pretrain batches
    flat_x = torch.cat([x.to_dense() for x, _ in pre_train])
    flat_id = torch.cat(ids["pretrain"])
    row = {int(i): k for k, i in enumerate(flat_id)}
    x0, _ = batches[0]
    assert torch.equal(x0, flat_x[[row[int(i)] for i in mem_ids[0]]])


@pytest.mark.parametrize("n", [2, 3, 4])
def test_clean_split_never_trains_on_its_test_batch(n):
    batches = [object() for _ in range(n)]
    f_train, f_test = split_new(batches, "faithful")
    c_train, c_test = split_new(batches, "clean")
    assert f_test == c_test == [batches[0]]
    assert batches[0] in f_train  # the original's leak (Q12)
    assert batches[0] not in c_train and len(c_train) == n - 1


def test_column_reinit_touches_only_that_column():
    from sccl.model import SpikingNet, init_weights

    g = torch.Generator().manual_seed(0)
    model = SpikingNet(NET, init_weights(NET, g))
    before = {k: v.clone() for k, v in model.weights.items()}
    ci.reinit_column(model, 7, torch.Generator().manual_seed(1))
    for k, v in model.weights.items():
        if k != "w_out":
            assert torch.equal(v, before[k])
    changed = (model.weights["w_out"] != before["w_out"]).any(dim=0)
    assert changed.tolist() == [c == 7 for c in range(20)]
    col = model.weights["w_out"][:, 7]
    assert abs(float(col.mean()) - 0.003) < 0.003 and float(col.std()) < 0.01


def test_latent_run_leaves_frozen_tensors_bit_identical(speaker_dir, tmp_path):
    from sccl.experiments import sample_incremental as si

    cfg = ContinualConfig(experiment="sample", script="latent_replay", held_out=0, net=NET, batch_size=8,
                          nb_epochs=2, depth=1, memory_batches=2).validate()
    sd = artifacts.load_state_dict(speaker_dir / "state_dict_speaker_0.pt")
    captured = {}
    orig = Session.__dict__["open"]

    def spy(cls, *a, **k):
        captured["session"] = orig.__func__(cls, *a, **k)
        return captured["session"]

    Session.open = classmethod(spy)
    try:
        si.run(cfg, speaker_dir, tmp_path, torch.device("cpu"), log=lambda m: None)
    finally:
        Session.open = orig
    w = captured["session"].model.weights
    for name in ("w1", "v1"):  # frozen at depth 1
        assert torch.equal(w[name].detach(), sd[name]), name
    assert any(not torch.equal(w[n].detach(), sd[n]) for n in ("w2", "w3", "w_out", "v2", "v3"))  # trained


def test_progressive_evaluates_k_plus_10_classes(class_dir, tmp_path):
    from sccl.experiments import progressive

    cfg = ContinualConfig(experiment="progressive", script="latent_replay_subsample", held_out=None, net=NET,
                          batch_size=8, nb_epochs=1, depth=2, memory_batches=1, n_frames=10,
                          protocol="clean").validate()
    recs = progressive.run(cfg, class_dir, tmp_path, torch.device("cpu"), log=lambda m: None)
    en_test = sum(len(y) for y in artifacts.load(class_dir / "pretrain_test_y_10classes.pt"))
    steps = [r for r in recs if r["step"] > 0]
    for r in steps:
        k = r["step"]
        # previous = 10 English classes + (k - 1) German classes learned before, plus the new one
        assert r["previous_total"] == en_test + (k - 1) * 8
        assert r["new_total"] == 8 and r["step_class"] == 9 + k
    # clean global set = English test split + one test batch per German class
    assert steps[-1]["global_total"] == en_test + 10 * 8
    line = json.loads((tmp_path / "records" / f"{cfg.run_id}.jsonl").read_text().splitlines()[-1])
    assert line["protocol"] == "clean" and line["dataset"] == "synthetic"


def test_progressive_honours_order_interleave(class_dir, tmp_path, monkeypatch):
    """--order interleave reaches the progressive runs (they train on the shared feed)."""
    import sccl.training
    from sccl.experiments import progressive

    seen = []
    orig = sccl.training.train_epochs

    def spy(model, trainable, feed, **kw):
        seen.append([int(y[0]) if bool((y == y[0]).all()) else -1 for _, _, y in feed()])
        return orig(model, trainable, feed, **kw)

    monkeypatch.setattr(sccl.training, "train_epochs", spy)
    cfg = ContinualConfig(experiment="progressive", script="latent_replay_subsample", held_out=None, net=NET,
                          batch_size=8, nb_epochs=1, depth=2, memory_batches=1, n_frames=10,
                          protocol="clean", order="interleave").validate()
    progressive.run(cfg, class_dir, tmp_path, torch.device("cpu"), log=lambda m: None)
    first = seen[0]  # class 10: its train batches alternate with the memory's (old classes first)
    n_new = first.count(10)
    assert n_new >= 2 and first[0] == 10 and first[1] != 10 and first[2] == 10
    assert [i for i, c in enumerate(first) if c == 10][:n_new] == list(range(0, 2 * n_new, 2))
