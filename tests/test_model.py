"""Tests of sccl.model: golden traces, equivalence with the literal oracle, gradient contracts.

Sizes are tiny (I=12, H1=8, T=20, B=4) except one moderately larger case; the weights are scaled
up so that every layer spikes (asserted, otherwise equivalence would be vacuous) while the logits
stay moderate (softmax not saturated, so the gradients are well conditioned).

Why float32 agreement to 1e-5 is possible here: with I = 12 the event-sum input projection equals
the oracle's dense matmul bit for bit, and with B >= 4 MKL rounds every row of a batched matmul
like the oracle's per-step matmuls, so the forward is bit-identical and only the backward's
summation order differs (~3e-7). At the paper's size the projections differ in the last bit and
the steep surrogate amplifies that to ~1e-4 (docs/model.md, "Numerics").
"""
from __future__ import annotations

import math

import pytest
import torch

from sccl.config import NetConfig
from sccl.errors import ArtifactError, ConfigError
from sccl.model import (INIT_ORDER, PARAM_NAMES, LIFParams, NetOutput, SpikingNet, evaluate, init_state,
                        init_weights, input_currents, lif_layer, lif_step, param_shapes, readout_kernel,
                        surrogate_spike, trainable_names)
try:   # run from the repository root (python -m pytest) or with tests/ on sys.path (pytest's rootdir insertion)
    from tests.oracle import oracle_forward, oracle_forward_from, oracle_latent, oracle_loss
except ImportError:
    from oracle import oracle_forward, oracle_forward_from, oracle_latent, oracle_loss

SMALL = NetConfig(nb_inputs=12, nb_hidden=8, nb_outputs=4, nb_steps=20)
RTOL = 1e-5        # float32: max |a - b| / max |b| per tensor
RTOL64 = 1e-10     # float64: the two implementations compute the same maths


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a - b| / max |b| (0 when both are all zero)."""
    scale = b.abs().max().item()
    diff = (a - b).abs().max().item()
    return diff if scale == 0 else diff / scale


def make_weights(net: NetConfig, seed: int, gain: float = 6.0, out_gain: float = 0.3,
                 dtype=torch.float32) -> dict[str, torch.Tensor]:
    """Initial weights with the hidden layers scaled by ``gain`` (so they spike) and w_out by ``out_gain``."""
    w = init_weights(net, torch.Generator().manual_seed(seed))
    return {k: (t * (out_gain if k == "w_out" else gain)).to(dtype) for k, t in w.items()}


def make_input(net: NetConfig, batch: int, seed: int, rate: float = 0.3, steps: int | None = None):
    g = torch.Generator().manual_seed(1000 + seed)
    steps = steps or net.nb_steps
    x = torch.poisson(torch.full((batch, steps, net.nb_inputs), rate), generator=g)
    y = torch.randint(0, net.nb_outputs, (batch,), generator=g)
    return x, y


def fresh(w: dict[str, torch.Tensor], requires_grad: bool = True) -> dict[str, torch.Tensor]:
    return {k: t.detach().clone().requires_grad_(requires_grad) for k, t in w.items()}


def oracle_step(net, w, x, y):
    """Oracle loss and the gradients of all seven tensors."""
    wo = fresh(w)
    logits, spk = oracle_forward(wo, x, net.alpha, net.beta)
    loss = oracle_loss(logits, y, spk[2], net.reg_1, net.reg_2)
    loss.backward()
    return logits.detach(), spk, loss.detach(), {k: t.grad for k, t in wo.items()}


def sccl_step(net, w, x, y, depth=None):
    model = SpikingNet(net, fresh(w, False))
    model.set_trainable(depth)
    out = model.run(x)
    loss = model.loss(out.logits, y, out.spk3)
    loss.backward()
    return model, out, loss.detach(), {k: t.grad for k, t in model.weights.items()}


# ----------------------------------------------------------------------------- surrogate

def test_surrogate_forward_is_strict_heaviside_and_backward_is_closed_form():
    x = torch.tensor([-2.0, -0.01, 0.0, 1e-7, 0.5, 3.0], requires_grad=True)
    s = surrogate_spike(x)
    assert s.tolist() == [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]          # Theta(0) = 0: strictly greater
    g = torch.randn(6, generator=torch.Generator().manual_seed(0))
    s.backward(g)
    assert torch.equal(x.grad, g / (100.0 * x.detach().abs() + 1.0) ** 2)


def test_surrogate_scale_is_an_argument():
    x = torch.linspace(-1, 1, 11, dtype=torch.float64, requires_grad=True)
    surrogate_spike(x, 5.0).sum().backward()
    assert torch.allclose(x.grad, 1.0 / (5.0 * x.detach().abs() + 1.0) ** 2, rtol=0, atol=1e-15)


# ----------------------------------------------------------------------------- golden traces

P_HALF = LIFParams(alpha=0.5, beta=0.5)   # exact binary fractions: the trace below is exact

# Drive of one neuron without recurrence, and its trace worked out by hand from
#   S_t = [U_t > 1];  I_{t+1} = a I_t + ff_t;  U_{t+1} = (b U_t + I_t)(1 - S_t)    (a = b = 1/2)
GOLDEN_FF = [2.0, 0.0, 0.0, 0.0, 2.0, 2.0, 0.0, 0.0]
GOLDEN_I = [0.0, 2.0, 1.0, 0.5, 0.25, 2.125, 3.0625, 1.53125]   # I_t at the start of step t
GOLDEN_U = [0.0, 0.0, 2.0, 0.0, 0.5, 0.5, 2.375, 0.0]           # U_t (2.0: charged by the OLD I_1)
GOLDEN_S = [0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0]             # t=3: reset to 0 and I_2 = 1 is lost


def run_steps(ff, v, p=P_HALF):
    state = init_state(1, 1)
    trace = []
    for f in ff:
        trace.append((state.syn.item(), state.mem.item()))
        spk, state = lif_step(torch.tensor([[f]]), state, torch.tensor([[v]]), p)
        trace[-1] += (spk.item(),)
    return trace


def test_lif_step_golden_trace():
    trace = run_steps(GOLDEN_FF, 0.0)
    assert [t[0] for t in trace] == GOLDEN_I
    assert [t[1] for t in trace] == GOLDEN_U
    assert [t[2] for t in trace] == GOLDEN_S


def test_lif_layer_golden_trace():
    ff = torch.tensor(GOLDEN_FF).view(-1, 1, 1)
    spk = lif_layer(ff, torch.zeros(1, 1), P_HALF)
    assert spk.flatten().tolist() == GOLDEN_S


def test_threshold_is_strict_and_recurrence_lags_two_steps():
    # U reaches exactly 1.0 at t = 2 and 3: no spike (strictly greater)
    trace = run_steps([1.0] + [0.0] * 5, 0.0)
    assert [t[1] for t in trace][:4] == [0.0, 0.0, 1.0, 1.0]
    assert all(t[2] == 0.0 for t in trace)
    # the spike S_2 (GOLDEN) feeds back through v into a_3: I_4 is the first state to differ,
    # then U_5, so the spike's own drive can move spikes from t = 5 on (two steps after a_3)
    base, rec = run_steps(GOLDEN_FF, 0.0), run_steps(GOLDEN_FF, 0.25)
    assert base[:4] == rec[:4]
    assert rec[4][0] == base[4][0] + 0.25 and rec[4][1] == base[4][1]
    assert rec[5][1] == base[5][1] + 0.25


def test_lif_step_rejects_mismatched_state():
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        lif_step(torch.zeros(2, 3), init_state(2, 4), torch.zeros(3, 3), P_HALF)


def test_latency_two_steps_per_layer_and_readout():
    """One input spike at t0 first reaches S1 at t0+2, S2 at t0+4, S3 at t0+6, the trace at t0+8."""
    net = NetConfig(nb_inputs=3, nb_hidden=4, nb_outputs=2, nb_steps=30)
    w = {k: torch.full(s, 10.0) for k, s in param_shapes(net).items()}
    w.update(v1=torch.zeros(4, 4), v2=torch.zeros(2, 2), v3=torch.zeros(1, 1))
    model = SpikingNet(net, w)
    t0 = 5
    x = torch.zeros(1, 30, 3)
    x[0, t0, 1] = 1.0
    for depth in (1, 2, 3):
        spk = model.encode(x, depth)[0].sum(dim=1)
        assert spk.nonzero()[0].item() == t0 + 2 * depth
    assert model.forward(x[:, :t0 + 7]).abs().max().item() == 0.0   # S3 at t0+6 has not reached O
    assert model.forward(x[:, :t0 + 8]).min().item() > 0.0          # ... O_{t0+8} (T = t0+8) has it
    K = readout_kernel(12, 0.8, 0.9)
    assert K.shape == (13, 12)
    lags = torch.arange(13).view(-1, 1) - torch.arange(12).view(1, -1)
    assert torch.equal(K > 0, lags >= 2) and K[:2].abs().max().item() == 0.0


# ----------------------------------------------------------------------------- fast layer vs step loop

@pytest.mark.parametrize("T", [1, 2, 3, 4, 25])
def test_lif_layer_gradients_match_autograd_through_lif_step(T):
    g = torch.Generator().manual_seed(3)
    B, H = 3, 6
    p = LIFParams(alpha=0.8, beta=0.9)
    drive = (torch.rand(T, B, H, generator=g, dtype=torch.float64) * 1.5).requires_grad_(True)
    v = (torch.randn(H, H, generator=g, dtype=torch.float64) * 0.4).requires_grad_(True)
    ext = torch.randn(T, B, H, generator=g, dtype=torch.float64)
    spk = lif_layer(drive, v, p)
    (spk * ext).sum().backward()
    gd, gv = drive.grad.clone(), v.grad.clone()
    drive.grad = v.grad = None
    state, ref = init_state(B, H, dtype=torch.float64), []
    for t in range(T):
        s, state = lif_step(drive[t], state, v, p)
        ref.append(s)
    ref = torch.stack(ref)
    if T <= 2:                                    # S_0, S_1 only see the zero initial state
        assert not ref.requires_grad and gd.abs().max().item() == 0 and gv.abs().max().item() == 0
        drive.grad, v.grad = torch.zeros_like(gd), torch.zeros_like(gv)
    else:
        (ref * ext).sum().backward()
    assert spk.sum().item() < spk.numel() / 2 and (T < 25 or spk.sum().item() > 0)
    assert torch.equal(spk.detach(), ref.detach())
    with torch.no_grad():                         # the no-grad path (ping-pong membrane buffers)
        assert torch.equal(lif_layer(drive, v, p), spk.detach())
    assert rel_err(gd, drive.grad) < RTOL64 and rel_err(gv, v.grad) < RTOL64
    assert gd[-2:].abs().max().item() == 0.0     # the last two drives cannot move any spike


# ----------------------------------------------------------------------------- network vs oracle

def spike_counts(model, x):
    return [model.encode(x, d).sum().item() for d in (1, 2, 3)]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_forward_matches_oracle(seed):
    w = make_weights(SMALL, seed)
    x, _ = make_input(SMALL, 4, seed)
    model = SpikingNet(SMALL, fresh(w, False))
    with torch.no_grad():
        ref_logits, ref_spk = oracle_forward(w, x, SMALL.alpha, SMALL.beta)
    counts = spike_counts(model, x)
    assert all(0 < c for c in counts), counts
    for d in (1, 2, 3):
        assert torch.equal(model.encode(x, d), ref_spk[d - 1])
    out = model.run(x)
    assert isinstance(out, NetOutput) and torch.equal(out.spk3, ref_spk[2])
    assert rel_err(out.logits, ref_logits) < RTOL and ref_logits.max().item() > 0.1
    assert torch.equal(model.forward(x), out.logits) and (out.logits >= 0).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_loss_and_gradients_match_oracle(seed):
    w = make_weights(SMALL, seed)
    x, y = make_input(SMALL, 4, seed)
    _, ref_spk, ref_loss, ref_grads = oracle_step(SMALL, w, x, y)
    _, out, loss, grads = sccl_step(SMALL, w, x, y)
    assert torch.equal(out.spk3.detach(), ref_spk[2].detach())
    assert abs(loss.item() - ref_loss.item()) <= RTOL * abs(ref_loss.item())
    for name in PARAM_NAMES:
        assert ref_grads[name].abs().max().item() > 0, name
        assert rel_err(grads[name], ref_grads[name]) < RTOL, name


def test_gradients_match_oracle_in_float64():
    """In float64 both implementations agree to rounding: the BPTT is the same maths."""
    w = make_weights(SMALL, 4, dtype=torch.float64)
    x, y = make_input(SMALL, 4, 4)
    x = x.double()
    _, _, ref_loss, ref_grads = oracle_step(SMALL, w, x, y)
    _, _, loss, grads = sccl_step(SMALL, w, x, y)
    assert abs(loss.item() - ref_loss.item()) < 1e-12
    for name in PARAM_NAMES:
        assert rel_err(grads[name], ref_grads[name]) < RTOL64, name


def test_regulariser_matches_oracle():
    net = NetConfig(nb_inputs=12, nb_hidden=8, nb_outputs=4, nb_steps=20, reg_1=1e-3, reg_2=2e-4)
    w = make_weights(net, 5)
    x, y = make_input(net, 4, 5)
    _, spk, ref_loss, ref_grads = oracle_step(net, w, x, y)
    _, out, loss, grads = sccl_step(net, w, x, y)
    s3 = spk[2].detach()
    plain = oracle_loss(out.logits.detach(), y, s3)
    assert abs((loss - plain).item() - (1e-3 * s3.sum() + 2e-4 * (s3.sum((0, 1)) ** 2).mean()).item()) < 1e-5
    assert abs(loss.item() - ref_loss.item()) <= RTOL * abs(ref_loss.item())
    for name in PARAM_NAMES:
        assert rel_err(grads[name], ref_grads[name]) < RTOL, name


def test_moderately_larger_network_matches_oracle():
    net = NetConfig(nb_inputs=80, nb_hidden=40, nb_outputs=6, nb_steps=60)
    w = make_weights(net, 7, gain=4.0, out_gain=0.2)
    x, y = make_input(net, 8, 7, rate=0.08)
    _, spk, ref_loss, ref_grads = oracle_step(net, w, x, y)
    model, out, loss, grads = sccl_step(net, w, x, y)
    assert all(s.sum().item() > 0 for s in spk)
    assert torch.equal(out.spk3.detach(), spk[2].detach())
    assert abs(loss.item() - ref_loss.item()) <= RTOL * abs(ref_loss.item())
    for name in PARAM_NAMES:
        assert rel_err(grads[name], ref_grads[name]) < RTOL, name


def test_sparse_and_dense_inputs_give_identical_results():
    w = make_weights(SMALL, 8)
    x, y = make_input(SMALL, 4, 8)
    _, out_d, loss_d, grads_d = sccl_step(SMALL, w, x, y)
    # uncoalesced COO with the counts split into duplicate entries (the data layer may do this)
    idx = x.nonzero().t()
    vals = x[tuple(idx)]
    xs = torch.sparse_coo_tensor(torch.cat([idx, idx], 1), torch.cat([vals - 1, torch.ones_like(vals)]), x.shape,
                                 check_invariants=True)
    _, out_s, loss_s, grads_s = sccl_step(SMALL, w, xs, y)
    assert torch.equal(out_d.logits, out_s.logits) and torch.equal(loss_d, loss_s)
    for name in PARAM_NAMES:
        assert torch.equal(grads_d[name], grads_s[name]), name


def test_silent_input_gives_zero_logits_and_zero_gradients():
    w = make_weights(SMALL, 9)
    x = torch.zeros(2, 20, 12)
    _, out, loss, grads = sccl_step(SMALL, w, x, torch.tensor([0, 1]))
    assert out.logits.abs().max().item() == 0.0
    assert abs(loss.item() - math.log(4)) < 1e-6
    assert all(g.abs().max().item() == 0.0 for g in grads.values())


def test_bad_inputs_raise():
    model = SpikingNet(SMALL, init_weights(SMALL))
    with pytest.raises(ValueError, match="13 channels"):
        model.forward(torch.zeros(2, 20, 13))
    with pytest.raises(ValueError, match=r"\[B, T, 8\]"):
        model.forward_from(torch.zeros(2, 20, 5), 1)
    with pytest.raises(ConfigError):
        model.encode(torch.zeros(2, 20, 12), 4)
    with pytest.raises(ConfigError):
        trainable_names(-1)
    with pytest.raises(ValueError, match="w2"):
        SpikingNet(SMALL, {**init_weights(SMALL), "w2": torch.zeros(3, 3)})


# ----------------------------------------------------------------------------- latent API

def test_trainable_names_per_depth():
    assert trainable_names(None) == ("w1", "w2", "w3", "w_out", "v1", "v2", "v3")
    assert trainable_names(0) == ("w2", "w3", "w_out", "v1", "v2", "v3")
    assert trainable_names(1) == ("w2", "w3", "w_out", "v2", "v3")
    assert trainable_names(2) == ("w3", "w_out", "v3")
    assert trainable_names(3) == ("w_out",)
    model = SpikingNet(SMALL, init_weights(SMALL))
    params = model.set_trainable(2)
    assert [p is model.weights[n] for n, p in zip(trainable_names(2), params)] == [True] * 3
    assert {n for n, t in model.weights.items() if t.requires_grad} == {"w3", "w_out", "v3"}


@pytest.mark.parametrize("depth", [0, 1, 2, 3])
def test_encode_matches_oracle_latent(depth):
    w = make_weights(SMALL, 10)
    x, _ = make_input(SMALL, 4, 10)
    model = SpikingNet(SMALL, fresh(w, False))
    latent = model.encode(x, depth)
    assert latent.shape == (4, 20, SMALL.latent_size(depth)) and not latent.requires_grad
    ref = oracle_latent(w, x, depth, SMALL.alpha, SMALL.beta)
    if depth == 0:   # currents: event sums vs the oracle's dense matmul differ by rounding only
        assert rel_err(latent, ref) < 1e-6
        assert torch.equal(latent, input_currents(x, w["w1"]))
    else:
        assert torch.equal(latent, ref) and latent.sum().item() > 0


@pytest.mark.parametrize("depth", [0, 1, 2, 3])
def test_replay_is_lossless_and_matches_oracle(depth):
    w = make_weights(SMALL, 11)
    x, y = make_input(SMALL, 4, 11)
    # full forward from the input with the lower layers frozen
    model, out, loss, grads = sccl_step(SMALL, w, x, y, depth=depth)
    latent = model.encode(x, depth)
    # replay from the stored latent
    replay = SpikingNet(SMALL, fresh(w, False))
    replay.set_trainable(depth)
    rout = replay.run_from(latent, depth)
    rloss = replay.loss(rout.logits, y, rout.spk3)
    rloss.backward()
    assert torch.equal(rout.logits, out.logits) and torch.equal(rloss, loss)
    assert torch.equal(replay.forward_from(latent, depth), out.logits)
    # the oracle's replay forward on the same latent
    wo = fresh(w)
    ologits, ospk = oracle_forward_from(wo, latent, depth, SMALL.alpha, SMALL.beta)
    oloss = oracle_loss(ologits, y, ospk[2])
    oloss.backward()
    assert abs(rloss.item() - oloss.item()) <= RTOL * abs(oloss.item())
    trainable = trainable_names(depth)
    for name in PARAM_NAMES:
        if name in trainable:
            assert torch.equal(replay.weights[name].grad, grads[name]), name
            assert grads[name].abs().max().item() > 0, name
            assert rel_err(replay.weights[name].grad, wo[name].grad) < RTOL, name
        else:
            assert grads[name] is None and replay.weights[name].grad is None, name


def test_replay_accepts_boolean_spike_latents():
    w = make_weights(SMALL, 12)
    x, _ = make_input(SMALL, 4, 12)
    model = SpikingNet(SMALL, w)
    latent = model.encode(x, 2)
    assert torch.equal(model.forward_from(latent.bool(), 2), model.forward_from(latent, 2))


# ----------------------------------------------------------------------------- parameters and state

def test_init_shapes_order_and_std():
    net = NetConfig()
    w = init_weights(net, torch.Generator().manual_seed(5))
    assert list(w) == list(PARAM_NAMES)
    assert {k: tuple(t.shape) for k, t in w.items()} == {
        "w1": (700, 200), "w2": (200, 100), "w3": (100, 50), "w_out": (50, 20),
        "v1": (200, 200), "v2": (100, 100), "v3": (50, 50)}
    assert sum(t.numel() for t in w.values()) == 218_500
    # draw order: w1, w2, w3, v1, v2, v3, w_out from one generator
    g = torch.Generator().manual_seed(5)
    for name in INIT_ORDER:
        rows, cols = w[name].shape
        expected = torch.empty(rows, cols).normal_(0.0, 0.2 / math.sqrt(rows), generator=g)
        assert torch.equal(w[name], expected), name
    for name, t in w.items():
        assert t.dtype == torch.float32 and not t.requires_grad
        std = 0.2 / math.sqrt(t.shape[0])
        assert abs(t.std().item() / std - 1) < 0.1 and abs(t.mean().item()) < 0.1 * std, name


def test_state_dict_round_trip(tmp_path):
    w = make_weights(SMALL, 13)
    x, _ = make_input(SMALL, 4, 13)
    model = SpikingNet(SMALL, fresh(w))
    sd = model.state_dict()
    assert list(sd) == list(PARAM_NAMES)
    assert all(t.device.type == "cpu" and t.dtype == torch.float32 and not t.requires_grad for t in sd.values())
    sd["w1"].zero_()                                        # a clone: the model is untouched
    assert model.weights["w1"].abs().sum().item() > 0
    path = tmp_path / "weights.pt"
    torch.save(model.state_dict(), path)
    loaded = SpikingNet.from_state_dict(SMALL, torch.load(path, weights_only=True))
    assert torch.equal(loaded.forward(x), model.forward(x))
    with pytest.raises(ArtifactError, match="v3"):
        SpikingNet.from_state_dict(SMALL, {k: t for k, t in sd.items() if k != "v3"})
    with pytest.raises(ArtifactError, match="w_out"):
        SpikingNet.from_state_dict(SMALL, {**sd, "w_out": torch.zeros(4, 2)})


def test_to_device_keeps_flags():
    model = SpikingNet(SMALL, init_weights(SMALL))
    model.set_trainable(3)
    assert model.to("cpu") is model and model.device.type == "cpu"
    assert [n for n, t in model.weights.items() if t.requires_grad] == ["w_out"]


@pytest.mark.parametrize("depth", [None, 0, 1, 2, 3])
def test_one_adamax_step_changes_every_trainable_tensor_and_no_frozen_one(depth):
    w = make_weights(SMALL, 14)
    x, y = make_input(SMALL, 4, 14)
    model = SpikingNet(SMALL, fresh(w, False))
    opt = torch.optim.Adamax(model.set_trainable(depth), lr=2e-4, betas=(0.9, 0.999))
    before = {k: t.detach().clone() for k, t in model.weights.items()}
    opt.zero_grad()
    out = model.run(x)
    model.loss(out.logits, y, out.spk3).backward()
    opt.step()
    for name, t in model.weights.items():
        changed = not torch.equal(t.detach(), before[name])
        assert changed == (name in trainable_names(depth)), name


# ----------------------------------------------------------------------------- evaluation

def test_evaluate_merged_batches_give_identical_predictions():
    w = make_weights(SMALL, 15)
    model = SpikingNet(SMALL, w)
    batches = [make_input(SMALL, 6, s) for s in range(5)]
    batches[2] = (batches[2][0].to_sparse(), batches[2][1])      # mixed dense and sparse batches
    per_batch = torch.cat([model.predict(x) for x, _ in batches])
    merged = model.predict(torch.cat([x.to_dense() for x, _ in batches]))
    assert torch.equal(per_batch, merged)
    ys = torch.cat([y for _, y in batches])
    expected = (int((per_batch == ys).sum()), 30)
    for size in (None, 1, 12, 13, 1000):
        assert evaluate(model, batches, eval_batch_size=size) == expected
    assert evaluate(model, []) == (0, 0)
    with pytest.raises(ValueError):
        evaluate(model, batches, eval_batch_size=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    w = make_weights(SMALL, 16)
    x, y = make_input(SMALL, 4, 16)
    _, out, loss, grads = sccl_step(SMALL, w, x, y)
    model = SpikingNet(SMALL, fresh(w, False)).to("cuda")
    model.set_trainable(None)
    gout = model.run(x.to_sparse().cuda())
    gloss = model.loss(gout.logits, y.cuda(), gout.spk3)
    gloss.backward()
    assert torch.equal(gout.spk3.cpu(), out.spk3.detach())
    assert abs(gloss.item() - loss.item()) <= RTOL * abs(loss.item())
    for name in PARAM_NAMES:
        assert rel_err(model.weights[name].grad.cpu(), grads[name]) < 1e-4, name
    assert evaluate(model, [(x, y)]) == evaluate(SpikingNet(SMALL, w), [(x, y)])
