"""The training loop's shortcuts are exact: replay through a (bit-packed, uncompressed) buffer
equals the full forward, and the once-per-run frozen prefix equals recomputing it every epoch."""
from __future__ import annotations

import pytest
import torch

from sccl.config import NetConfig
from sccl.model import SpikingNet, init_weights, trainable_names
from sccl.strategies import MemorySpec, make_buffer, replay_items
from sccl.training import encode_items, score, train_epochs

NET = NetConfig(nb_inputs=40, nb_hidden=24, nb_steps=30, weight_scale=1.0)


def _data(n_batches=3, B=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n_batches):
        x = (torch.rand(B, NET.nb_steps, NET.nb_inputs, generator=g) < 0.08).float()
        x[:, 0] = 0  # step 0 is always empty in SHD binning
        out.append((x.to_sparse(), torch.randint(0, NET.nb_outputs, (B,), generator=g)))
    return out


def _model(seed=0):
    return SpikingNet(NET, init_weights(NET, torch.Generator().manual_seed(seed)))


@pytest.mark.parametrize("depth", [0, 1, 2, 3])
def test_replay_from_uncompressed_buffer_equals_full_forward(depth):
    model = _model()
    model.set_trainable(depth)
    batches = _data()
    pooling = "sum" if depth == 0 else "or"
    buffer = make_buffer(model, batches, MemorySpec("latent", depth, None, pooling, "first"), NET.nb_steps, "cpu")
    assert all(s > 0 for s in (float(model.encode(batches[0][0], k).sum()) for k in (1, 2, 3)))
    for (x, y), (level, lat, y2) in zip(batches, replay_items(buffer, depth, "cpu")):
        assert torch.equal(y, y2)
        grads = []
        for run in (lambda: model.run(x), lambda: model.run_from(lat, level)):
            out = run()
            loss = model.loss(out.logits, y, out.spk3)
            names = trainable_names(depth)
            g = torch.autograd.grad(loss, [model.weights[n] for n in names])
            grads.append((loss.detach(), g))
        (l1, g1), (l2, g2) = grads
        assert torch.equal(l1, l2)
        for a, b in zip(g1, g2):
            assert torch.equal(a, b)


@pytest.mark.parametrize("depth", [1, 3])
def test_frozen_prefix_once_equals_recomputing_every_epoch(depth):
    batches = _data(4)
    a, b = _model(1), _model(1)
    names = trainable_names(depth)
    cached = encode_items(a, batches, depth)                  # sccl: frozen layers run once
    raw = [(None, x, y) for x, y in batches]                  # the original: full forward every time
    train_epochs(a, names, lambda: cached, lr=1e-2, nb_epochs=3)
    train_epochs(b, names, lambda: raw, lr=1e-2, nb_epochs=3)
    for n in a.weights:
        assert torch.equal(a.weights[n], b.weights[n]), n
    assert score(a, cached) == score(b, raw)
    before = _model(1)
    assert any(not torch.equal(a.weights[n], before.weights[n]) for n in names)  # it did train
    for n in set(a.weights) - set(names):
        assert torch.equal(a.weights[n], before.weights[n])  # frozen stay bit-identical


def test_interleave_order_alternates_new_and_replay():
    from sccl.strategies import feed

    model = _model()
    batches = _data(3)
    buffer = make_buffer(model, batches[:2], MemorySpec("latent", 2, None, "or", "first"), NET.nb_steps, "cpu")
    new = [("new", i, None) for i in range(3)]
    seq = feed(new, buffer, 2, "cpu", "interleave")()
    assert [s[0] for s in seq] == ["new", 2, "new", 2, "new"]
    seq = feed(new, buffer, 2, "cpu")()
    assert [s[0] for s in seq] == ["new", "new", "new", 2, 2]
