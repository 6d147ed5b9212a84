"""Timestep-reduced latent replay (the strategy added through the registry, docs/reduced_replay.md):
the stored frames are replayed as they are, at T' steps, through the model's own weights."""
from __future__ import annotations

import math
import runpy

import pytest
import torch

from sccl import registry
from sccl.config import NetConfig
from sccl.model import SpikingNet, init_weights, trainable_names
from sccl.strategies import ReducedTime, make_buffer, memory_spec, reduced_view, replay_items, threshold_scale
from sccl.training import train_epochs

from conftest import ROOT, TINY_FLAGS

NET = NetConfig(nb_inputs=40, nb_hidden=24, nb_steps=30, weight_scale=1.0)
STRATEGY = registry.get("latent_replay_reduced")


def _model(seed=0):
    return SpikingNet(NET, init_weights(NET, torch.Generator().manual_seed(seed)))


def _batches(n=2, B=6):
    g = torch.Generator().manual_seed(1)
    return [((torch.rand(B, NET.nb_steps, NET.nb_inputs, generator=g) < 0.1).float(),
             torch.randint(0, NET.nb_outputs, (B,), generator=g)) for _ in range(n)]


def test_factor_one_view_is_the_model():
    model = _model()
    assert threshold_scale(NET, 1) == 1.0
    lat = model.encode(_batches()[0][0], 1)
    a, b = model.run_from(lat, 1), reduced_view(model, 1).run_from(lat, 1)
    assert torch.equal(a.logits, b.logits) and torch.equal(a.spk3, b.spk3)


@pytest.mark.parametrize("factor", [2, 5])
def test_reduced_view_constants(factor):
    view = reduced_view(_model(), factor)
    assert view.net.nb_steps == NET.nb_steps // factor
    assert math.isclose(view.params.alpha, NET.alpha ** factor) and math.isclose(view.params.beta, NET.beta ** factor)
    assert 0 < view.params.threshold < 1.0  # fewer, coarser steps: one spike charges the membrane less


def test_replayed_frames_are_not_decompressed_and_train_the_model():
    model = _model()
    depth, n_frames = 2, 6
    spec = memory_spec(STRATEGY, depth, n_frames)
    assert spec.level == ReducedTime(depth)
    buffer = make_buffer(model, _batches(), spec, NET.nb_steps, "cpu")
    items = replay_items(buffer, spec.level, "cpu")
    assert [tuple(x.shape) for _, x, _ in items] == [(6, n_frames, NET.hidden[1])] * 2
    out = ReducedTime(depth).run(model, items[0][1])
    assert out.spk3.shape[1] == n_frames  # the layers above run T' steps
    before = {k: v.clone() for k, v in model.weights.items()}
    train_epochs(model, trainable_names(depth), lambda: items, lr=1e-2, nb_epochs=1)
    changed = {k for k, v in model.weights.items() if not torch.equal(v.detach(), before[k])}
    assert changed and changed <= set(trainable_names(depth))  # gradients reached the model's own weights


def test_script_runs_with_generic_outputs(class_dir, tmp_path, capsys):
    main = runpy.run_path(str(ROOT / "class_incremental" / "latent_replay_reduced.py"), run_name="t")["main"]
    assert main(["--removed_class=3", "--latent_depth=1", "--latent_subsample=5", *TINY_FLAGS,
                 "--override_epochs=1", f"--statedict_dir={class_dir}", f"--out_dir={tmp_path}"]) == 0
    rows = (tmp_path / "latent_reduced_class_incremental_csv.csv").read_text().splitlines()
    assert len(rows) == 1 and rows[0].startswith("3, 1, 19, 0.000200, 1, ")
    txt = (tmp_path / "latent_reduced_class_3_depth_1.txt").read_text()
    assert "ratio 1:4" in txt
    from sccl.results import read_records

    recs = read_records(tmp_path)
    assert {r["script"] for r in recs} == {"latent_replay_reduced"}
    assert registry.resolve("latent_replay_reduced").label == "Reduced-time LR"
