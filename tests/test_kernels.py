"""The compiled LIF kernel (sccl/kernels.py, sccl/native/lif_kernel.cpp) against the PyTorch path and
the literal oracle.

* ``exact`` must be bit-identical to ``torch``: logits, spikes, loss, every gradient, and weights
  after several Adamax steps (a training trajectory), float32 and float64, full network and replay;
* ``native`` must give identical spikes, logits and loss (its spike-driven sums follow the BLAS's
  blocks) and gradients to the float32 floor (1e-5 here), 1e-12 in float64; against the oracle
  like the PyTorch path (float64, 1e-10);
* when the kernel cannot be built, the PyTorch path runs after one line on stderr.

Every native test is skipped, with the build error as the reason, only when the kernel genuinely
cannot be built here. (The rest of the suite runs the PyTorch path: tests/conftest.py sets
SCCL_KERNEL=torch unless the environment says otherwise.)
"""
from __future__ import annotations

import pytest
import torch

from sccl import kernels
from sccl.config import NetConfig
from sccl.errors import ConfigError
from sccl.model import SpikingNet, evaluate, init_weights, lif_layer, lif_params

try:
    from tests.conftest import run_script
    from tests.oracle import oracle_forward, oracle_loss
except ImportError:
    from conftest import run_script
    from oracle import oracle_forward, oracle_loss

SMALL = NetConfig(nb_inputs=12, nb_hidden=8, nb_outputs=4, nb_steps=20)
# H1 = 200 like the paper: the BLAS splits K = 200 into two blocks, which the native sums must follow
WIDE = NetConfig(nb_inputs=64, nb_hidden=200, nb_outputs=6, nb_steps=16)


@pytest.fixture(scope="module")
def native_ops():
    ops = kernels.ops()
    if ops is None:
        pytest.skip(f"the native kernel cannot be built here: {kernels.load_error()}")
    return ops


@pytest.fixture(autouse=True)
def _restore_choice():
    yield
    kernels.set_kernel(None)


def rel_err(a, b):
    scale = b.abs().max().item()
    diff = (a - b).abs().max().item()
    return diff if scale == 0 else diff / scale


def weights(net, seed=0, gain=6.0, dtype=torch.float32):
    w = init_weights(net, torch.Generator().manual_seed(seed))
    return {k: (t * (0.3 if k == "w_out" else gain)).to(dtype) for k, t in w.items()}


def batch(net, B=6, seed=0, rate=0.3, dtype=torch.float32):
    g = torch.Generator().manual_seed(100 + seed)
    x = torch.poisson(torch.full((B, net.nb_steps, net.nb_inputs), rate), generator=g).to(dtype)
    y = torch.randint(0, net.nb_outputs, (B,), generator=g)
    return x.to_sparse(), y


def step(kind, net, w, x, y, depth=None, latent=None):
    """(logits, spikes of layers 1-3, loss, gradients) of one forward + backward with ``kind``."""
    kernels.set_kernel(kind)
    model = SpikingNet(net, {k: t.clone() for k, t in w.items()})
    model.set_trainable(depth)
    out = model.run(x) if depth is None else model.run_from(latent, depth)
    loss = model.loss(out.logits, y, out.spk3)
    loss.backward()
    spikes = [model.encode(x, d) for d in (1, 2, 3)]
    grads = {k: t.grad for k, t in model.weights.items() if t.grad is not None}
    return out.logits.detach(), spikes, loss.detach(), grads


def assert_spiking(spikes):
    rates = [s.mean().item() for s in spikes]
    assert all(0 < r < 1 for r in rates), f"every layer must spike for the test to mean anything: {rates}"


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("net", [SMALL, WIDE], ids=["small", "wide"])
def test_exact_is_bit_identical_to_torch(native_ops, net, dtype):
    w = weights(net, gain=6.0 if net is SMALL else 3.0, dtype=dtype)
    x, y = batch(net, dtype=dtype)
    ref = step("torch", net, w, x, y)
    got = step("exact", net, w, x, y)
    assert_spiking(ref[1])
    assert torch.equal(got[0], ref[0]) and torch.equal(got[2], ref[2])
    assert all(torch.equal(a, b) for a, b in zip(got[1], ref[1]))
    assert ref[3].keys() == got[3].keys() and all(torch.equal(got[3][k], ref[3][k]) for k in ref[3])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("net", [SMALL, WIDE], ids=["small", "wide"])
def test_native_spikes_identical_gradients_to_the_floor(native_ops, net, dtype):
    w = weights(net, gain=6.0 if net is SMALL else 3.0, dtype=dtype)
    x, y = batch(net, dtype=dtype)
    ref = step("torch", net, w, x, y)
    got = step("native", net, w, x, y)
    assert_spiking(ref[1])
    assert all(torch.equal(a, b) for a, b in zip(got[1], ref[1])), "spikes differ"
    assert torch.equal(got[0], ref[0]) and torch.equal(got[2], ref[2])
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    assert ref[3].keys() == got[3].keys()
    for k in ref[3]:
        assert rel_err(got[3][k], ref[3][k]) < tol, k
    if net is WIDE:   # the spike-driven sums follow the BLAS's blocks of K = 200 (bit-identical forward)
        kb = kernels.block_size(200, 200, 6, dtype)
        assert 1 <= kb <= 200


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_native_backward_blas_call_equals_atens(native_ops, dtype, monkeypatch):
    """The backward's per-step products ga_{t+1} v^T go to the BLAS's gemm directly (no ATen dispatch);
    SCCL_NATIVE_BLAS=aten makes ATen's addmm_out call instead: the same routine and arguments, so the
    same bits, at every layer width (T = 20 > 3 steps, so the product runs)."""
    net = NetConfig(nb_inputs=64, nb_hidden=200, nb_outputs=6, nb_steps=20)
    w = weights(net, gain=3.0, dtype=dtype)
    x, y = batch(net, dtype=dtype)
    direct = step("native", net, w, x, y)
    monkeypatch.setenv("SCCL_NATIVE_BLAS", "aten")
    via_aten = step("native", net, w, x, y)
    assert_spiking(direct[1])
    assert direct[3].keys() == via_aten[3].keys() == set(w)
    for k in direct[3]:
        assert torch.equal(direct[3][k], via_aten[3][k]), k
    # and both are the PyTorch path's gradients to the floor
    ref = step("torch", net, w, x, y)
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    assert all(rel_err(direct[3][k], ref[3][k]) < tol for k in ref[3])


@pytest.mark.parametrize("kind", ["exact", "native"])
def test_kernel_matches_the_literal_oracle_in_float64(native_ops, kind):
    w = weights(SMALL, seed=3, dtype=torch.float64)
    x, y = batch(SMALL, seed=3, dtype=torch.float64)
    wo = {k: t.clone().requires_grad_(True) for k, t in w.items()}
    logits_o, spk_o, = oracle_forward(wo, x, SMALL.alpha, SMALL.beta)
    oracle_loss(logits_o, y, spk_o[2]).backward()
    logits, spikes, loss, grads = step(kind, SMALL, w, x, y)
    assert_spiking(spikes)
    assert all(torch.equal(a, b) for a, b in zip(spikes, spk_o))
    assert rel_err(logits, logits_o.detach()) < 1e-12
    for k in grads:
        assert rel_err(grads[k], wo[k].grad) < 1e-10, k


@pytest.mark.parametrize("depth", [0, 1, 2, 3])
def test_replay_from_latents(native_ops, depth):
    net = WIDE
    w = weights(net, gain=3.0)
    x, y = batch(net)
    kernels.set_kernel("torch")
    latent = SpikingNet(net, w).encode(x, depth)
    ref = step("torch", net, w, x, y, depth, latent)
    ex = step("exact", net, w, x, y, depth, latent)
    na = step("native", net, w, x, y, depth, latent)
    assert torch.equal(ex[2], ref[2]) and all(torch.equal(ex[3][k], ref[3][k]) for k in ref[3])
    assert torch.equal(na[0], ref[0]) and torch.equal(na[2], ref[2])
    assert all(rel_err(na[3][k], ref[3][k]) < 1e-5 for k in ref[3])
    if depth >= 1:   # spike-count latents (the "sums" replay): not 0/1, still the same maths
        counts = latent * torch.randint(1, 4, latent.shape, generator=torch.Generator().manual_seed(1))
        ref = step("torch", net, w, x, y, depth, counts)
        na = step("native", net, w, x, y, depth, counts)
        assert rel_err(na[0], ref[0]) < 1e-5
        assert all(rel_err(na[3][k], ref[3][k]) < 1e-4 for k in ref[3])


@pytest.mark.parametrize("T", [1, 2, 3, 4])
def test_short_sequences(native_ops, T):
    p = lif_params(SMALL)
    g = torch.Generator().manual_seed(T)
    drive = (3 * torch.randn(T, 3, 5, generator=g)).requires_grad_(True)
    v = torch.randn(5, 5, generator=g).requires_grad_(True)
    outs = {}
    for kind in ("torch", "exact", "native"):
        kernels.set_kernel(kind)
        s = lif_layer(drive, v, p)
        (s * torch.arange(s.numel()).view_as(s)).sum().backward()
        outs[kind] = (s.detach(), drive.grad.clone(), v.grad.clone())
        drive.grad = v.grad = None
    for kind in ("exact", "native"):
        assert all(torch.allclose(a, b, rtol=0, atol=1e-6) for a, b in zip(outs[kind], outs["torch"]))


def test_exact_training_trajectory_and_evaluation_equal_torch(native_ops):
    net = WIDE
    w = weights(net, gain=3.0)
    data = [batch(net, seed=s) for s in range(3)]
    finals = {}
    for kind in ("torch", "exact", "native"):
        kernels.set_kernel(kind)
        model = SpikingNet(net, {k: t.clone() for k, t in w.items()})
        opt = torch.optim.Adamax(model.set_trainable(None), lr=2e-3)
        for x, y in data * 2:
            opt.zero_grad()
            out = model.run(x)
            model.loss(out.logits, y, out.spk3).backward()
            opt.step()
        finals[kind] = (model.state_dict(), evaluate(model, data))
    assert all(torch.equal(finals["exact"][0][k], finals["torch"][0][k]) for k in finals["torch"][0])
    assert finals["exact"][1] == finals["torch"][1]
    # native: a float32 trajectory of its own (Adamax amplifies last-bit gradient differences), but
    # the same training: close weights
    assert all(rel_err(finals["native"][0][k], finals["torch"][0][k]) < 0.05 for k in finals["torch"][0])


def test_bad_kernel_choice_is_one_clear_error(monkeypatch):
    with pytest.raises(ConfigError, match="--kernel 'fast'"):
        kernels.set_kernel("fast")
    monkeypatch.setenv("SCCL_KERNEL", "gpu")
    with pytest.raises(ConfigError, match="SCCL_KERNEL"):
        kernels.choice()
    monkeypatch.setenv("SCCL_KERNEL", "torch")
    assert kernels.choice() == "torch" and kernels.mode(torch.zeros(1)) is None


def test_build_failure_falls_back_to_torch_with_one_line(monkeypatch, capsys):
    def broken(*a, **k):
        raise RuntimeError("no compiler\nhere")

    monkeypatch.setattr(kernels, "_ops", None)
    monkeypatch.setattr(kernels, "_load_error", None)
    monkeypatch.setattr(kernels, "_build_and_load", broken)
    net = SMALL
    w = weights(net)
    x, y = batch(net)
    kernels.set_kernel("native")
    got = SpikingNet(net, w).run(x).logits
    SpikingNet(net, w).run(x)                      # the notice is printed once
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no compiler here" in err[0] and "PyTorch path" in err[0]
    kernels.set_kernel("torch")
    assert torch.equal(got, SpikingNet(net, w).run(x).logits)


def test_cuda_tensors_take_the_pytorch_path():
    kernels.set_kernel("native")
    assert kernels.mode(torch.zeros(1, dtype=torch.float16)) is None
    if torch.cuda.is_available():
        assert kernels.mode(torch.zeros(1, device="cuda")) is None


def test_pretraining_with_auto_writes_the_bytes_of_torch(native_ops, synth_dir, tmp_path):
    """A real (tiny) pretraining run: the default kernel (auto = exact) and torch write identical files."""
    try:
        from tests.conftest import _pretrain
    except ImportError:
        from conftest import _pretrain
    outs = {}
    for kind in ("torch", "auto"):
        kernels.set_kernel(kind)
        out = tmp_path / str(kind)
        _pretrain("speaker", 0, synth_dir, out, nb_epochs=1)
        outs[kind] = {p.name: p.read_bytes() for p in sorted(out.glob("state_dict*.pt"))}
    assert outs["torch"] and outs["torch"] == outs["auto"]


def test_kernel_flag_is_parsed_by_the_scripts():
    proc = run_script("statedicts_64_elements/heidelberg_statedict_generator.py", "--kernel=fast", check=False)
    assert proc.returncode == 2 and "--kernel" in proc.stderr and "invalid choice" in proc.stderr


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_event_projection_kernels_equal_torch(native_ops, dtype):
    from sccl.model import InputProjectionFunction, input_events

    x, _ = batch(WIDE, B=5, rate=0.5, dtype=dtype)
    w1 = weights(WIDE, dtype=dtype)["w1"].requires_grad_(True)
    ev = input_events(x)
    B, T, _ = ev.shape
    ref = InputProjectionFunction.apply(w1, ev)
    g = torch.randn_like(ref)
    (g_ref,) = torch.autograd.grad(ref, w1, g)
    got = native_ops.events_forward(ev.cols, ev.vals, ev.offsets, w1.detach(), B, T)
    g_tm = g.view(B, T, -1).transpose(0, 1).contiguous()
    g_got = native_ops.events_backward(ev.rows, ev.cols, ev.vals, g_tm, w1.shape[0])
    # the forward rounds like embedding_bag (float32: fused multiply-adds; float64: products, then sums)
    assert torch.equal(got, ref.detach().view(B, T, -1).transpose(0, 1))
    assert rel_err(g_got, g_ref) <= (1e-6 if dtype == torch.float32 else 1e-14)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("B,T,H,rate", [(1, 7, 5, 0.5), (40, 16, 200, 0.4), (3, 300, 37, 0.05), (4, 9, 33, 0.0),
                                        (2, 5, 1, 2.0)])
def test_event_projection_kernels_shapes_and_empty_rows(native_ops, dtype, B, T, H, rate):
    """Many row tiles (the backward groups the events of 256 rows at a time), empty rows (rate 0.05),
    no events at all (rate 0), B = 1, widths that are not a multiple of the vector length."""
    from sccl.model import InputProjectionFunction, input_events

    g = torch.Generator().manual_seed(B * 1000 + T)
    x = torch.poisson(torch.full((B, T, 23), rate), generator=g).to(dtype).to_sparse()
    w1 = torch.randn(23, H, generator=g, dtype=dtype).requires_grad_(True)
    ev = input_events(x)
    ref = InputProjectionFunction.apply(w1, ev)
    gr = torch.randn(ref.shape, generator=g, dtype=dtype)
    (g_ref,) = torch.autograd.grad(ref, w1, gr)
    got = native_ops.events_forward(ev.cols, ev.vals, ev.offsets, w1.detach(), B, T)
    assert torch.equal(got, ref.detach().view(B, T, H).transpose(0, 1))
    g_got = native_ops.events_backward(ev.rows, ev.cols, ev.vals, gr.view(B, T, H).transpose(0, 1).contiguous(), 23)
    assert g_got.shape == (23, H)
    assert rel_err(g_got, g_ref) <= (1e-6 if dtype == torch.float32 else 1e-14)
    if rate == 0:
        assert ev.cols.numel() == 0 and not got.any() and not g_got.any()
    # the native event index (one pass in the kernel) gives the same integers as the torch ops
    nat = input_events(x, native=True)
    assert torch.equal(nat.rows, ev.rows) and torch.equal(nat.offsets, ev.offsets)
    assert torch.equal(nat.cols, ev.cols) and torch.equal(nat.vals, ev.vals) and nat.shape == ev.shape


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("B,T,rate", [(1, 12, 0.5), (5, 16, 0.5), (3, 3, 0.5), (2, 1, 0.5), (4, 10, 0.0)])
def test_layer1_from_events_equals_the_two_step_path(native_ops, dtype, B, T, rate):
    """The input projection fused into layer 1's loop: the same spikes as lif_layer on the
    events_forward currents (bit for bit), the same gradients of w1 and v1 to rounding."""
    from sccl.model import input_events

    p = lif_params(WIDE)
    g = torch.Generator().manual_seed(7 * B + T)
    x = torch.poisson(torch.full((B, T, 30), rate), generator=g).to(dtype).to_sparse()
    w1 = (torch.randn(30, 200, generator=g, dtype=dtype) * 0.8).requires_grad_(True)
    v1 = (torch.randn(200, 200, generator=g, dtype=dtype) * 0.1).requires_grad_(True)
    ev = input_events(x, native=True)
    kernels.set_kernel("native")
    got = kernels.layer1_from_events(ev, w1, v1, p)
    ref = kernels.lif_layer(kernels.input_currents_time_major(ev, w1), None, v1, p, "native")
    assert torch.equal(got, ref)
    if rate and T > 3:
        assert 0 < ref.mean() < 1
    gs = torch.randn(got.shape, generator=g, dtype=dtype)
    g_got = torch.autograd.grad(got, (w1, v1), gs, allow_unused=True)
    g_ref = torch.autograd.grad(ref, (w1, v1), gs, allow_unused=True)
    for a, b in zip(g_got, g_ref):
        assert rel_err(a, b) <= (1e-6 if dtype == torch.float32 else 1e-14)
    with torch.no_grad():
        assert torch.equal(kernels.layer1_from_events(ev, w1, v1, p), ref)


def test_event_index_rejects_unsorted_events(native_ops):
    idx = torch.tensor([[0, 0], [3, 1], [0, 0]])
    with pytest.raises(RuntimeError, match="coalesced"):
        native_ops.events_index(idx, 1, 5)


def test_kernel_flag_selects_the_kernel_when_parsed():
    import argparse

    from sccl.config import add_run_args

    p = argparse.ArgumentParser()
    add_run_args(p)
    assert p.parse_args(["--kernel", "torch"]).kernel == "torch" and kernels.choice() == "torch"
    assert p.parse_args(["--kernel=native"]).kernel == "native" and kernels.choice() == "native"
    kernels.set_kernel(None)
    assert p.parse_args([]).kernel is None and kernels.choice() == kernels.set_kernel(None)


def test_a_failed_build_is_remembered_not_retried(monkeypatch, tmp_path, capsys):
    """A machine without a compiler pays for one failed build, not one per process."""
    calls = []

    def no_compiler(**kw):
        calls.append(kw)
        raise RuntimeError("g++ not found")

    import torch.utils.cpp_extension as cpp

    monkeypatch.setenv("SCCL_NATIVE_DIR", str(tmp_path))
    monkeypatch.setattr(cpp, "load", no_compiler)
    for retry in (False, False, True):
        monkeypatch.setattr(kernels, "_ops", None)
        monkeypatch.setattr(kernels, "_load_error", None)
        assert kernels.ops(retry=retry) is None
    assert len(calls) == 2                                  # the first attempt and the explicit retry
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all("g++ not found" in line for line in err)
    assert "earlier build" in err[1]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("R,K,N,rate", [(700, 200, 200, 0.1), (600, 100, 50, 0.1), (1, 200, 37, 0.5), (300, 200, 200, 0.0),
                                        (513, 120, 130, 0.3), (50, 37, 9, 0.4), (260, 203, 64, 0.2)])
def test_spike_grad_weight_equals_the_matmul(native_ops, dtype, R, K, N, rate):
    """S^T G: the tiled grouping (large gradients, several 256-row tiles) and the row scatter (small
    ones), 0/1 and count-valued S, rows without spikes, widths that are not a multiple of the vector."""
    g = torch.Generator().manual_seed(R + K + N)
    S = (torch.rand(R, K, generator=g) < rate).to(dtype)
    G = torch.randn(R, N, generator=g, dtype=dtype)
    for s in (S, S * torch.randint(1, 4, S.shape, generator=g).to(dtype)):
        got = native_ops.spike_grad_weight(s, G, False)
        ref = torch.mm(s.t(), G)
        assert got.shape == (K, N)
        assert rel_err(got, ref) <= (1e-6 if dtype == torch.float32 else 1e-14)
        assert torch.equal(native_ops.spike_grad_weight(s, G, True), ref)
