"""Recurrent LIF spiking network (700-200-100-50-20) with surrogate gradients and a fast BPTT.

This is the network of Dequino et al. 2024 (reference-spec s2), itself the Zenke & Vogels
(SpyTorch) formulation. Everything below is float32, has no biases and keeps the original
parameter names and orientation (``x @ w``).

Equations, exactly as implemented (per hidden layer l = 1, 2, 3; states zero at t = 0)::

    S_t     = Theta(U_t - 1)                 fire: strict ">", from the membrane BEFORE the update
    r_t     = detach(S_t)                    reset mask: no gradient through the reset
    a_t     = ff_t + S_{t-1} @ v_l           drive: feed-forward + own spikes of the previous step
    I_{t+1} = alpha * I_t + a_t              charge the synaptic current
    U_{t+1} = (beta * U_t + I_t) * (1 - r_t) charge the membrane with the OLD current, then reset

with ``ff_t = (X @ w1)[:, t]`` for layer 1 and ``ff_t = S^{l-1}_t @ w_l`` (lower layer, SAME step)
for l > 1. Hence a drive at step t first moves S at t + 2: an input spike at t reaches S1 at t+2,
S2 at t+4, S3 at t+6 and the readout trace at t+8 (reference-spec s2.2).

Readout (no threshold, no reset; s2.4)::

    R = S3 @ w_out;  F_0 = O_0 = 0;  F_{t+1} = alpha F_t + R_t;  O_{t+1} = beta O_t + F_t
    logits = max over the T + 1 entries O_0 .. O_T          (>= 0 because O_0 = 0, [Q44])

Loss = NLL(log_softmax(logits), y) + reg_1 * sum(S3) + reg_2 * mean_k (sum_{b,t} S3[b,t,k])^2.
Surrogate gradient (s2.3): dS/dU = 1 / (scale * |U - 1| + 1)^2 with scale = 100.

Implementation (see docs/model.md for the derivation and docs/performance.md for timings):

* the network is computed layer by layer rather than interleaved per step (the same maths: layer l
  at step t only reads layer l - 1 at step t and its own past). Each layer is one custom autograd
  Function (:class:`LIFLayerFunction`) that loops over time without autograd and has a
  hand-written backward through time storing only the spikes and the pre-update membranes;
* the feed-forward drive of every layer is one big matmul over all steps;
* the input projection ``X @ w1`` treats the input as a list of events (``embedding_bag`` with the
  spike counts as weights), because SHD inputs are ~8 % dense;
* the readout's leaky integrator is linear, so the T + 1 trace entries are one matmul with a
  precomputed [T + 1, T] kernel.

On the CPU the layers (and, for ``--kernel native``, the input projection) can instead run in
sccl's compiled kernel (:mod:`sccl.kernels`; ``auto`` = bit-identical to this module's PyTorch path).

Internally tensors are time-major ``[T, B, N]``; every public function takes and returns the
batch-major ``[B, T, N]`` layout of the original and of ``sccl.data``.
:func:`lif_step` is the pure, autograd-differentiable one-step reference used by the tests.
"""
from __future__ import annotations

import functools
from typing import Iterable, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from sccl import kernels
from sccl.config import NetConfig, check_depth
from sccl.errors import ArtifactError

# The original pickles its weights in this order (reference-spec s1.8).
PARAM_NAMES = ("w1", "w2", "w3", "w_out", "v1", "v2", "v3")
# ... but draws them from the RNG in this order (s2.1).
INIT_ORDER = ("w1", "w2", "w3", "v1", "v2", "v3", "w_out")
THRESHOLD = 1.0          # firing threshold of the membrane (the "- 1" in Theta(U - 1))
SURROGATE_SCALE = 100.0  # steepness of the fast-sigmoid surrogate (s2.3)

# Trainable tensors per latent depth, in the optimiser order of the original (s2.7).
_TRAINABLE = {
    None: ("w1", "w2", "w3", "w_out", "v1", "v2", "v3"),
    0: ("w2", "w3", "w_out", "v1", "v2", "v3"),
    1: ("w2", "w3", "w_out", "v2", "v3"),
    2: ("w3", "w_out", "v3"),
    3: ("w_out",),
}


# ------------------------------------------------------------------------------ parameters

def param_shapes(net: NetConfig) -> dict[str, tuple[int, int]]:
    """Shapes of the seven weight matrices, keyed by name, in :data:`PARAM_NAMES` order."""
    h1, h2, h3 = net.hidden
    shapes = {"w1": (net.nb_inputs, h1), "w2": (h1, h2), "w3": (h2, h3), "w_out": (h3, net.nb_outputs),
              "v1": (h1, h1), "v2": (h2, h2), "v3": (h3, h3)}
    return {name: shapes[name] for name in PARAM_NAMES}


def init_weights(net: NetConfig, generator: torch.Generator | None = None,
                 device: str | torch.device = "cpu") -> dict[str, Tensor]:
    """Random float32 weights, each ``normal(0, weight_scale / sqrt(fan_in))`` (reference-spec s2.1).

    fan_in is the number of rows. The draws happen in the original order w1, w2, w3, v1, v2, v3,
    w_out, on the CPU from ``generator`` (torch's global RNG when None), so a seeded generator
    gives the same weights on every device. Returns a dict in :data:`PARAM_NAMES` order.
    """
    shapes = param_shapes(net)
    drawn = {}
    for name in INIT_ORDER:
        rows, cols = shapes[name]
        std = net.weight_scale / rows ** 0.5
        drawn[name] = torch.empty(rows, cols).normal_(0.0, std, generator=generator)
    return {name: drawn[name].to(device) for name in PARAM_NAMES}


def trainable_names(depth: int | None) -> tuple[str, ...]:
    """Names of the trained tensors, in optimiser order, for a latent ``depth`` (None = all seven)."""
    if depth is not None:
        check_depth(depth)
    return _TRAINABLE[depth]


# ------------------------------------------------------------------------------ surrogate spike

def surrogate_grad(x: Tensor, scale: float = SURROGATE_SCALE) -> Tensor:
    """Derivative of the surrogate, ``1 / (scale * |x| + 1)^2`` (x = U - threshold); a new tensor."""
    return x.abs().mul_(scale).add_(1.0).pow_(-2)


class SurrogateSpike(torch.autograd.Function):
    """Heaviside step with the fast-sigmoid surrogate gradient (Zenke & Ganguli 2018, SuperSpike).

    Forward: ``Theta(x) = 1 if x > 0 else 0`` (strictly greater). Backward:
    ``grad / (scale * |x| + 1)^2`` (reference-spec s2.3; scale = 100 in the original).
    """

    @staticmethod
    def forward(ctx, x: Tensor, scale: float) -> Tensor:
        ctx.save_for_backward(x)
        ctx.scale = scale
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        (x,) = ctx.saved_tensors
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_x = grad_out / (ctx.scale * x.abs() + 1.0) ** 2
        return grad_x, None


def surrogate_spike(x: Tensor, scale: float = SURROGATE_SCALE) -> Tensor:
    """Spikes ``Theta(x)`` whose backward is the fast-sigmoid surrogate (see :class:`SurrogateSpike`)."""
    return SurrogateSpike.apply(x, scale)


# ------------------------------------------------------------------------------ one LIF step (reference)

class LIFParams(NamedTuple):
    """Constants of a LIF layer (dimensionless: the model's time unit is one simulation step)."""

    alpha: float                          # synaptic decay per step, exp(-dt / tau_syn)
    beta: float                           # membrane decay per step, exp(-dt / tau_mem)
    threshold: float = THRESHOLD          # membrane threshold
    scale: float = SURROGATE_SCALE        # surrogate steepness


class LIFState(NamedTuple):
    """State of a LIF layer at the start of step t, each ``[B, H]``."""

    syn: Tensor   # synaptic current I_t
    mem: Tensor   # membrane potential U_t
    spk: Tensor   # spikes S_{t-1} of the previous step (feed the recurrence)


def lif_params(net: NetConfig) -> LIFParams:
    """The layer constants of a network configuration (threshold 1, surrogate scale 100)."""
    return LIFParams(alpha=net.alpha, beta=net.beta)


def init_state(batch_size: int, n_hidden: int, *, device=None, dtype=torch.float32) -> LIFState:
    """All-zero state, the start of every forward pass."""
    zeros = functools.partial(torch.zeros, batch_size, n_hidden, device=device, dtype=dtype)
    return LIFState(syn=zeros(), mem=zeros(), spk=zeros())


def lif_step(ff: Tensor, state: LIFState, v: Tensor, p: LIFParams) -> tuple[Tensor, LIFState]:
    """One step of one recurrent LIF layer, differentiable with autograd (the reference for tests).

    Args:
        ff: feed-forward drive of this step ``[B, H]`` (layer 1: ``(X @ w1)[:, t]``; layer l > 1:
            this step's spikes of layer l - 1 times ``w_l``).
        state: ``LIFState(I_t, U_t, S_{t-1})``, each ``[B, H]``.
        v: recurrent weights ``[H, H]``.
    Returns:
        ``(S_t, LIFState(I_{t+1}, U_{t+1}, S_t))``.
    """
    if state.mem.shape != ff.shape:
        raise ValueError(f"state shape {tuple(state.mem.shape)} does not match input shape {tuple(ff.shape)}")
    # fire: from the membrane before this step's update
    spk = surrogate_spike(state.mem - p.threshold, p.scale)
    # reset mask: "we do not want to backprop through the reset" (Zenke's SpyTorch tutorials);
    # the gradient still flows through the spikes into the next layer and the recurrence.
    rst = spk.detach()
    # charge: the current integrates this step's drive; the membrane integrates the OLD current
    drive = ff + state.spk @ v
    syn = p.alpha * state.syn + drive
    # reset: the membrane of a neuron that fired is zeroed, losing this step's current
    mem = (p.beta * state.mem + state.syn) * (1.0 - rst)
    return spk, LIFState(syn=syn, mem=mem, spk=spk)


# ------------------------------------------------------------------------------ fast LIF layer

def _lif_loop(drive: Tensor, v: Tensor, p: LIFParams, keep_mem: bool) -> tuple[Tensor, Tensor | None]:
    """Run one layer over all steps without autograd.

    Args:
        drive: feed-forward drive ``[T, B, H]`` (time-major, contiguous).
        v: recurrent weights ``[H, H]``.
        keep_mem: store every pre-update membrane (needed by the backward).
    Returns:
        ``spk [T + 1, B, H]`` with ``spk[t + 1] = S_t`` and ``spk[0] = 0`` (= S_{-1}), and
        ``mem [T, B, H]`` with ``mem[t] = U_t`` (or None when not kept).
    """
    T, B, H = drive.shape
    spk = drive.new_zeros(T + 1, B, H)
    if keep_mem:
        mem = drive.new_zeros(T, B, H)
        mem_t = mem.unbind(0)
    else:
        mem = None
        pair = drive.new_zeros(2, B, H).unbind(0)   # ping-pong buffers: U_t and U_{t+1}
        mem_t = [pair[t % 2] for t in range(T)]
    spk_t = spk.unbind(0)
    drive_t = drive.unbind(0)
    alpha, beta, thr = p.alpha, p.beta, p.threshold
    # The arithmetic is written in the reference order, (beta * U) + I and (alpha * I) + (ff + S v),
    # each rounded separately like the literal form (no fused multiply-add): the surrogate is steep
    # (|d sigma' / dU| / sigma' up to 2 * scale = 200), so a one-ulp difference in U would already
    # move gradients by ~1e-5 relative.
    syn = None   # I_t; I_0 = 0
    for t in range(T):
        u = mem_t[t]
        s = spk_t[t + 1]
        torch.gt(u, thr, out=s)                                   # S_t = Theta(U_t - thr), as 0/1 float
        if t + 1 < T:                                             # U_T is never read
            u_next = torch.mul(u, beta, out=mem_t[t + 1])         # beta U_t
            if syn is not None:                                   # (I_0 = 0)
                u_next.add_(syn)                                  # + I_t (the OLD current)
            u_next.addcmul_(u_next, s, value=-1.0)                # * (1 - S_t): exactly 0 or unchanged
        if t + 2 < T:                                             # I_{t+1} first matters for U_{t+2}
            if t == 0:
                syn = drive_t[0]                                  # I_1 = a_0 = ff_0 (I_0 = S_{-1} = 0)
            else:                                                 # I_{t+1} = alpha I_t + (ff_t + S_{t-1} v)
                syn = torch.mul(syn, alpha).add_(torch.mm(spk_t[t], v).add_(drive_t[t]))
    return spk, mem


class LIFLayerFunction(torch.autograd.Function):
    """One recurrent LIF layer over all T steps with a hand-written backward through time.

    ``forward(drive [T, B, H], v [H, H], params) -> spikes [T, B, H]`` (time-major). Only the
    spikes and the pre-update membranes are stored. The backward (docs/model.md) runs
    t = T-1 .. 0 with ``gS_t = dL/dS_t (external) + ga_{t+1} v^T``::

        ga_t = gI_{t+1}                                            (grad of the drive)
        gU_t = beta (1 - r_t) gU_{t+1} + sigma'(U_t - thr) gS_t
        gI_t = alpha gI_{t+1} + (1 - r_t) gU_{t+1}                 (gI_T = gU_T = 0)
        gv   = sum_t S_{t-1}^T ga_t                                (one matmul after the loop)
    """

    @staticmethod
    def forward(ctx, drive: Tensor, v: Tensor, p: LIFParams) -> Tensor:
        spk, mem = _lif_loop(drive, v, p, keep_mem=True)
        ctx.save_for_backward(spk, mem, v)
        ctx.params = p
        return spk[1:]

    @staticmethod
    def backward(ctx, g_spk: Tensor):
        spk, mem, v = ctx.saved_tensors
        p = ctx.params
        T, B, H = mem.shape
        alpha, beta = p.alpha, p.beta
        keep = torch.rsub(spk[1:], 1.0)                         # 1 - r_t, all steps in one pass
        sig = surrogate_grad(mem - p.threshold, p.scale)        # sigma'(U_t - thr), all steps in one pass
        ga = mem.new_empty(T, B, H)                             # ga[t] = dL/da_t = gI_{t+1}
        ga[max(T - 2, 0):].zero_()                              # a_{T-2}, a_{T-1} reach no spike
        ga_t, keep_t, sig_t, g_t = ga.unbind(0), keep.unbind(0), sig.unbind(0), g_spk.unbind(0)
        v_tr = v.t()
        g_mem = None                                            # gU_{t+1}; gU_T = 0
        for t in range(T - 1, 0, -1):
            if g_mem is not None:
                # gI_t = alpha gI_{t+1} + (1 - r_t) gU_{t+1}, stored as ga[t-1]
                torch.mul(ga_t[t], alpha, out=ga_t[t - 1]).addcmul_(keep_t[t], g_mem)
            if t == 1:                                          # gU_1 would only feed the constants U_0, I_0
                break
            # gU_t = sigma'_t (dL/dS_t external + ga_{t+1} v^T) + beta (1 - r_t) gU_{t+1}
            if t + 3 < T:                                       # (ga[T-2] = ga[T-1] = 0)
                g_new = torch.addmm(g_t[t], ga_t[t + 1], v_tr).mul_(sig_t[t])
            else:
                g_new = g_t[t] * sig_t[t]
            if g_mem is not None:
                g_new.addcmul_(keep_t[t], g_mem, value=beta)
            g_mem = g_new
        g_drive = ga if ctx.needs_input_grad[0] else None
        g_v = None
        if ctx.needs_input_grad[1]:
            # sum_t S_{t-1}^T ga_t with S_{-1} = 0
            g_v = torch.mm(spk[:T].reshape(T * B, H).t(), ga.reshape(T * B, H))
        return g_drive, g_v, None


def lif_layer(drive: Tensor, v: Tensor, p: LIFParams) -> Tensor:
    """Spikes ``[T, B, H]`` of one recurrent LIF layer driven by ``drive [T, B, H]`` (time-major).

    Differentiable (fast BPTT) when autograd is on and ``drive`` or ``v`` requires grad; otherwise
    runs the loop alone and keeps no membrane record.
    """
    if drive.dim() != 3 or v.shape != (drive.shape[2], drive.shape[2]):
        raise ValueError(f"drive must be [T, B, H] and v [H, H], got {tuple(drive.shape)} and {tuple(v.shape)}")
    kind = kernels.mode(drive)                       # the compiled loop (sccl/kernels.py), if selected
    if kind:
        return kernels.lif_layer(drive, None, v, p, kind)
    drive = drive.contiguous()
    if torch.is_grad_enabled() and (drive.requires_grad or v.requires_grad):
        return LIFLayerFunction.apply(drive, v, p)
    spk, _ = _lif_loop(drive, v, p, keep_mem=False)
    return spk[1:]


# ------------------------------------------------------------------------------ input projection

class InputEvents(NamedTuple):
    """An input batch ``[B, T, I]`` as a list of events (non-zero spike counts), batch-major rows."""

    rows: Tensor      # [n] row b * T + t of each event, sorted
    cols: Tensor      # [n] input channel i
    vals: Tensor      # [n] spike count (float)
    offsets: Tensor   # [B * T] index of the first event of each row
    shape: tuple[int, int, int]   # (B, T, I)


def input_events(x: Tensor, native: bool = False) -> InputEvents:
    """Events of a dense or sparse COO input ``[B, T, I]`` (duplicate COO entries are summed).

    Dense and sparse inputs give identical event lists, hence bit-identical network outputs.
    ``native``: the row numbers and offsets come from the compiled kernel in one pass (the same
    integers; for ``--kernel native``).
    """
    if x.dim() != 3:
        raise ValueError(f"input must be [B, T, I], got shape {tuple(x.shape)}")
    B, T, I = x.shape
    xs = x.coalesce() if x.is_sparse else x.to_sparse()
    indices = xs.indices()
    i = indices[2]
    if native:
        rows, offsets = kernels.ops().events_index(indices, B, T)
    else:
        b, t = indices[0], indices[1]
        rows = b * T + t                      # coalesced COO is sorted by (b, t, i), so rows are sorted
        offsets = torch.searchsorted(rows, torch.arange(B * T, device=rows.device))
    return InputEvents(rows, i, xs.values(), offsets, (B, T, I))


class InputProjectionFunction(torch.autograd.Function):
    """``X @ w1`` for an event list: ``[B * T, H1]`` (batch-major rows), differentiable in w1.

    Forward sums, for every row, the w1 rows of its events weighted by their counts
    (``embedding_bag``; at SHD densities, ~7 %, several times cheaper than the dense matmul). The
    backward ``X^T @ gA`` does the same with the events regrouped by input channel.
    """

    @staticmethod
    def forward(ctx, w1: Tensor, ev: InputEvents) -> Tensor:
        ctx.ev = ev
        ctx.n_inputs = w1.shape[0]
        return F.embedding_bag(ev.cols, w1, ev.offsets, mode="sum", per_sample_weights=ev.vals.to(w1.dtype))

    @staticmethod
    def backward(ctx, g: Tensor):
        ev = ctx.ev
        # Regroup the events by input channel. Stable: within a channel the events keep their row
        # order, so the sums are deterministic. (int16 keys sort ~1.6x faster than int32 on CPU.)
        key_dtype = torch.int16 if ctx.n_inputs <= torch.iinfo(torch.int16).max else torch.int32
        cols, order = torch.sort(ev.cols.to(key_dtype), stable=True)
        offsets = torch.searchsorted(cols, torch.arange(ctx.n_inputs, device=cols.device, dtype=key_dtype))
        g_w1 = F.embedding_bag(ev.rows.index_select(0, order), g.contiguous(), offsets.long(), mode="sum",
                               per_sample_weights=ev.vals.index_select(0, order).to(g.dtype))
        return g_w1, None


def checked_events(x: Tensor, w1: Tensor, native: bool = False) -> InputEvents:
    """:func:`input_events` of ``x``, checked against the input width of ``w1``."""
    ev = input_events(x, native)
    if ev.shape[2] != w1.shape[0]:
        raise ValueError(f"input has {ev.shape[2]} channels but w1 expects {w1.shape[0]}")
    return ev


def input_currents(x: Tensor, w1: Tensor) -> Tensor:
    """Layer-1 feed-forward currents ``X @ w1``, batch-major ``[B, T, H1]`` (the depth-0 latent)."""
    native = kernels.mode(w1) == "native" and x.device.type == "cpu"
    ev = checked_events(x, w1, native)
    B, T, _ = ev.shape
    if native:                                       # computed time-major by the kernel
        return kernels.input_currents_time_major(ev, w1).transpose(0, 1)
    return InputProjectionFunction.apply(w1, ev).view(B, T, w1.shape[1])


# ------------------------------------------------------------------------------ readout

@functools.lru_cache(maxsize=8)
def _readout_kernel_f64(T: int, alpha: float, beta: float) -> Tensor:
    """[T + 1, T] matrix K with O_k = sum_j K[k, j] R_j, built by running the filter on impulses."""
    K = torch.zeros(T + 1, T, dtype=torch.float64)
    flt = torch.zeros(T, dtype=torch.float64)   # F for an impulse at each step j (one column per j)
    out = torch.zeros(T, dtype=torch.float64)   # O
    for t in range(T):
        impulse = torch.zeros(T, dtype=torch.float64)
        impulse[t] = 1.0
        flt, out = alpha * flt + impulse, beta * out + flt   # F_{t+1}, O_{t+1} from the OLD F
        K[t + 1] = out
    return K


@functools.lru_cache(maxsize=16)
def _readout_kernel_cached(T: int, alpha: float, beta: float, device: torch.device, dtype: torch.dtype) -> Tensor:
    return _readout_kernel_f64(T, alpha, beta).to(device=device, dtype=dtype)


def readout_kernel(T: int, alpha: float, beta: float, device=None, dtype=torch.float32) -> Tensor:
    """Readout kernel ``[T + 1, T]``: trace O (row 0 = the leading zero) = K @ R (time-major).

    ``K[k, j] = sum_{m=j+1}^{k-1} beta^(k-1-m) alpha^(m-1-j)``, nonzero exactly for j <= k - 2
    (the readout's two-step lag). Built in float64 by running the filter on unit impulses, then
    cast; cached per (T, alpha, beta, device, dtype). Do not modify the returned tensor.
    """
    return _readout_kernel_cached(T, float(alpha), float(beta), torch.device(device or "cpu"), dtype)


def readout(spk3: Tensor, w_out: Tensor, alpha: float, beta: float) -> Tensor:
    """Logits ``[B, C]`` from layer-3 spikes ``spk3 [T, B, H3]`` (time-major).

    ``O = K @ (S3 @ w_out)`` gives the T + 1 trace entries O_0 = 0, O_1 .. O_T at once; logits are
    their max over time. ``torch.max`` (not ``amax``) routes the gradient to the first maximal
    entry, like the original, so an all-non-positive trace (max = the leading zero) gets none.
    """
    T, B, H = spk3.shape
    C = w_out.shape[1]
    r = (spk3.reshape(T * B, H) @ w_out).view(T, B * C)
    trace = readout_kernel(T, alpha, beta, device=r.device, dtype=r.dtype) @ r   # [T + 1, B * C]
    return trace.max(dim=0).values.view(B, C)


# ------------------------------------------------------------------------------ network

class NetOutput(NamedTuple):
    logits: Tensor   # [B, C], each >= 0
    spk3: Tensor     # [B, T, H3] layer-3 spikes (0/1 float), for the regulariser


class SpikingNet:
    """The 3-hidden-layer recurrent LIF network with the latent-replay API.

    ``weights`` is a dict of the seven leaf tensors (original names and orientation, see
    :func:`param_shapes`); their ``requires_grad`` flags say what is trained
    (:meth:`set_trainable`). Layers whose weights do not require grad are computed without
    autograd. Inputs ``x`` are ``[B, T, I]`` spike counts, dense or sparse COO. Works on any
    device: everything follows the device of the weights.
    """

    def __init__(self, net: NetConfig, weights: dict[str, Tensor]):
        shapes = param_shapes(net)
        missing = sorted(set(PARAM_NAMES) - set(weights))
        if missing:
            raise ValueError(f"weights lack {missing}")
        for name, shape in shapes.items():
            if tuple(weights[name].shape) != shape:
                raise ValueError(f"weight {name} has shape {tuple(weights[name].shape)}, expected {shape}")
        self.net = net
        self.params = lif_params(net)
        self.weights = {name: weights[name] for name in PARAM_NAMES}

    # -- state ---------------------------------------------------------------------------

    @property
    def device(self) -> torch.device:
        return self.weights["w1"].device

    def set_trainable(self, depth: int | None) -> list[Tensor]:
        """Make exactly ``trainable_names(depth)`` require grad; return them in optimiser order."""
        names = trainable_names(depth)
        for name, w in self.weights.items():
            w.requires_grad_(name in names)
        return [self.weights[name] for name in names]

    def state_dict(self) -> dict[str, Tensor]:
        """The seven weights as detached float32 CPU clones, in :data:`PARAM_NAMES` order."""
        return {name: w.detach().to("cpu", torch.float32).clone() for name, w in self.weights.items()}

    @classmethod
    def from_state_dict(cls, net: NetConfig, sd: dict[str, Tensor], device: str | torch.device = "cpu") -> "SpikingNet":
        """Network from a :meth:`state_dict`; raises ArtifactError on missing names or wrong shapes."""
        missing = sorted(set(PARAM_NAMES) - set(sd))
        if missing:
            raise ArtifactError(f"state dict lacks the weights {missing}")
        for name, shape in param_shapes(net).items():
            if tuple(sd[name].shape) != shape:
                raise ArtifactError(f"state dict weight {name} has shape {tuple(sd[name].shape)}, but the "
                                    f"network flags need {shape}")
        return cls(net, {name: sd[name].detach().to(device, torch.float32).clone() for name in PARAM_NAMES})

    def to(self, device: str | torch.device) -> "SpikingNet":
        """Move the weights (keeping requires_grad); create optimisers afterwards."""
        device = torch.device(device)
        if device != self.device:
            self.weights = {n: w.detach().to(device).requires_grad_(w.requires_grad) for n, w in self.weights.items()}
        return self

    # -- computation ---------------------------------------------------------------------

    def _layer(self, level: int, h: Tensor) -> Tensor:
        """Spikes ``[T, B, H_level]`` of hidden layer ``level`` from its input ``h`` (time-major).

        For level 1, ``h`` is the drive (layer-1 currents); otherwise the spikes of the layer below,
        projected for all steps with one matmul.
        """
        kind = kernels.mode(h)                       # the compiled loop computes h @ w itself
        if kind:
            return kernels.lif_layer(h, self.weights[f"w{level}"] if level > 1 else None,
                                     self.weights[f"v{level}"], self.params, kind)
        if level > 1:
            T, B, H = h.shape
            w = self.weights[f"w{level}"]
            h = (h.reshape(T * B, H) @ w).view(T, B, w.shape[1])
        return lif_layer(h, self.weights[f"v{level}"], self.params)

    def _finish(self, h: Tensor, depth: int) -> NetOutput:
        """Run the layers above ``depth`` on the time-major latent ``h`` and the readout."""
        for level in range(depth + 1, 4):
            h = self._layer(level, h)
        logits = readout(h, self.weights["w_out"], self.params.alpha, self.params.beta)
        return NetOutput(logits, h.transpose(0, 1))

    def _layer1_fused(self, x: Tensor) -> Tensor | None:
        """Layer-1 spikes ``[T, B, H1]`` with the input projection inside its time loop (the native
        kernel on the CPU: same spikes, no ``[T, B, H1]`` currents); None where that kernel does not run."""
        w1 = self.weights["w1"]
        if kernels.mode(w1) != "native" or x.device.type != "cpu":
            return None
        ev = checked_events(x, w1, native=True)
        return kernels.layer1_from_events(ev, w1, self.weights["v1"], self.params)

    def run(self, x: Tensor) -> NetOutput:
        """Full forward from the input ``x [B, T, I]``: ``NetOutput(logits [B, C], spk3 [B, T, H3])``."""
        s1 = self._layer1_fused(x)
        if s1 is not None:
            return self._finish(s1, 1)
        a1 = input_currents(x.to(self.device), self.weights["w1"])        # [B, T, H1]
        return self._finish(a1.transpose(0, 1), 0)

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``[B, C]`` from the input ``x [B, T, I]``."""
        return self.run(x).logits

    __call__ = forward

    def encode(self, x: Tensor, depth: int) -> Tensor:
        """Latent at ``depth`` under no_grad, batch-major: depth 0 the layer-1 currents ``X @ w1``
        ``[B, T, H1]`` (float), depth 1..3 the spikes of that layer ``[B, T, H_d]`` (0/1 float)."""
        check_depth(depth)
        with torch.no_grad():
            s1 = self._layer1_fused(x) if depth >= 1 else None
            if s1 is not None:
                h, first = s1, 2
            else:
                a1 = input_currents(x.to(self.device), self.weights["w1"])
                if depth == 0:
                    return a1.contiguous()
                h, first = a1.transpose(0, 1), 1
            for level in range(first, depth + 1):
                h = self._layer(level, h)
            return h.transpose(0, 1).contiguous()

    def run_from(self, latent: Tensor, depth: int) -> NetOutput:
        """Replay: only the layers above ``depth`` from a latent ``[B, T, H]`` (see :meth:`encode`)."""
        check_depth(depth)
        width = self.net.latent_size(depth)
        if latent.dim() != 3 or latent.shape[2] != width:
            raise ValueError(f"a depth-{depth} latent must be [B, T, {width}], got {tuple(latent.shape)}")
        h = latent.to(self.device, self.weights["w1"].dtype).transpose(0, 1)
        return self._finish(h.contiguous(), depth)

    def forward_from(self, latent: Tensor, depth: int) -> Tensor:
        """Logits ``[B, C]`` replayed from a latent at ``depth``."""
        return self.run_from(latent, depth).logits

    def loss(self, logits: Tensor, y: Tensor, spk3: Tensor) -> Tensor:
        """Mean NLL of log-softmax(logits) plus the layer-3 spike regulariser (s2.6).

        ``spk3`` is ``[B, T, H3]``; a zero coefficient skips its (exactly zero) term.
        """
        loss = F.nll_loss(F.log_softmax(logits, dim=1), y.to(logits.device))
        if self.net.reg_1:
            loss = loss + self.net.reg_1 * spk3.sum()
        if self.net.reg_2:
            loss = loss + self.net.reg_2 * spk3.sum(dim=(0, 1)).pow(2).mean()
        return loss

    def predict(self, x: Tensor) -> Tensor:
        """Predicted class per sample ``[B]`` (int64), argmax of the logits, under no_grad."""
        with torch.no_grad():
            return self.forward(x).argmax(dim=1)


# ------------------------------------------------------------------------------ evaluation

# Default number of samples merged into one evaluation forward, per device type. On the CPU the
# step is compute-bound and merging does not pay (docs/performance.md); on a GPU the time loop is
# launch-bound, so a bigger batch is almost free.
DEFAULT_EVAL_BATCH = {"cpu": 1, "cuda": 1024}


def _cat_inputs(xs: list[Tensor]) -> Tensor:
    """Concatenate ``[B_k, T, I]`` inputs along the batch; sparse if any of them is sparse."""
    if len(xs) == 1:
        return xs[0]
    if not any(x.is_sparse for x in xs):
        return torch.cat(xs, dim=0)
    # Stack the coalesced index lists with shifted batch indices: the result is sorted and
    # duplicate-free, so it is declared coalesced (torch.cat of sparse tensors is not, and
    # re-coalescing would sort every event again).
    parts = [(x if x.is_sparse else x.to_sparse()).coalesce() for x in xs]
    indices, values, offset = [], [], 0
    for x in parts:
        idx = x.indices().clone()
        idx[0] += offset
        indices.append(idx)
        values.append(x.values())
        offset += x.shape[0]
    return torch.sparse_coo_tensor(torch.cat(indices, 1), torch.cat(values), (offset, *parts[0].shape[1:]),
                                   is_coalesced=True, check_invariants=False)


def evaluate(net: SpikingNet, batches_x_y: Iterable[tuple[Tensor, Tensor]],
             eval_batch_size: int | None = None) -> tuple[int, int]:
    """Count correct predictions over ``(x [B, T, I], y [B])`` batches: ``(n_correct, n_total)``.

    Consecutive batches are concatenated into forwards of up to ``eval_batch_size`` samples
    (1 = one forward per batch; default :data:`DEFAULT_EVAL_BATCH` for the model's device type).
    The batch size is not part of the maths: every sample's computation is independent and
    summed in the same order (BLAS permitting, see docs/model.md), so predictions equal those of
    per-batch evaluation.
    """
    limit = DEFAULT_EVAL_BATCH.get(net.device.type, 1) if eval_batch_size is None else eval_batch_size
    if limit < 1:
        raise ValueError(f"eval_batch_size must be >= 1, got {limit}")
    n_correct = n_total = 0
    xs: list[Tensor] = []
    ys: list[Tensor] = []

    def flush():
        nonlocal n_correct, n_total
        if xs:
            pred = net.predict(_cat_inputs(xs))
            y = torch.cat(ys).to(pred.device)
            n_correct += int((pred == y).sum())
            n_total += int(y.numel())
            xs.clear()
            ys.clear()

    with torch.no_grad():
        for x, y in batches_x_y:
            if xs and (x.shape[1:] != xs[0].shape[1:] or sum(len(z) for z in ys) + len(y) > limit):
                flush()
            xs.append(x)
            ys.append(y)
        flush()
    return n_correct, n_total
