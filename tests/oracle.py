"""A deliberately literal, slow restatement of reference-spec s2 (the baseline for tests and benchmarks).

Written independently of ``sccl.model`` and on purpose in the original's style: the three layers
interleaved inside ONE time loop, autograd through every step, the readout as the T + 1 step loop
with the leading zero, the reset detached by hand and the surrogate as its own autograd function.
Nothing here is optimised; do not import it from the library.

Weights are a dict with the original names (w1, w2, w3, v1, v2, v3, w_out), inputs dense
``[B, T, I]`` (a sparse tensor is densified, like the original's ``to_dense()``).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


class OracleSpikeFn(torch.autograd.Function):
    """Heaviside forward, ``grad / (100 |x| + 1)^2`` backward, written the way SpyTorch does."""

    scale = 100.0

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        out = torch.zeros_like(x)
        out[x > 0] = 1.0
        return out

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output.clone() / (OracleSpikeFn.scale * torch.abs(x) + 1.0) ** 2


def _run(w, alpha, beta, B, T, h1=None, inject=None, inject_depth=None, record_depth=None):
    """The original's ``run_snn`` loop.

    ``h1``: layer-1 input currents ``[B, T, H1]`` (from the input, or injected at depth 0).
    ``inject``: stored spikes ``[B, T, H_d]`` that replace S_d at every step (depth d >= 1).
    Returns (logits, spike records of the computed layers, the latent at ``record_depth``).
    """
    sizes = [w["v1"].shape[0], w["v2"].shape[0], w["v3"].shape[0]]
    dev, dt = w["w1"].device, w["w1"].dtype
    syn = [torch.zeros(B, n, device=dev, dtype=dt) for n in sizes]
    mem = [torch.zeros(B, n, device=dev, dtype=dt) for n in sizes]
    prev = [torch.zeros(B, n, device=dev, dtype=dt) for n in sizes]   # spikes of the previous step
    ff_w = [None, w["w2"], w["w3"]]
    rec_w = [w["v1"], w["v2"], w["v3"]]
    first = 0 if inject_depth is None else inject_depth   # index of the first computed layer (0-based)
    spk_rec = [[], [], []]
    for t in range(T):
        below = None                                 # spikes of the layer below at this step
        if inject_depth is not None and inject_depth >= 1:
            below = inject[:, t]
            spk_rec[inject_depth - 1].append(below)
        for l in range(first, 3):
            mthr = mem[l] - 1.0
            out = OracleSpikeFn.apply(mthr)
            rst = out.detach()                       # no gradient through the reset
            if l == 0:
                h = h1[:, t] + torch.mm(prev[l], rec_w[l])
            else:
                h = torch.mm(below, ff_w[l]) + torch.mm(prev[l], rec_w[l])
            new_syn = alpha * syn[l] + h
            new_mem = (beta * mem[l] + syn[l]) * (1.0 - rst)
            syn[l] = new_syn
            mem[l] = new_mem
            prev[l] = out
            below = out
            spk_rec[l].append(out)
    spk_rec = [torch.stack(r, dim=1) if r else None for r in spk_rec]
    spk3 = spk_rec[2]

    # readout: leaky integrator without reset; the trace starts with an all-zero entry
    h2 = torch.einsum("abc,cd->abd", (spk3, w["w_out"]))
    C = w["w_out"].shape[1]
    flt = torch.zeros(B, C, device=dev, dtype=dt)
    out = torch.zeros(B, C, device=dev, dtype=dt)
    out_rec = [out]
    for t in range(T):
        new_flt = alpha * flt + h2[:, t]
        new_out = beta * out + flt
        flt = new_flt
        out = new_out
        out_rec.append(out)
    out_rec = torch.stack(out_rec, dim=1)
    logits, _ = torch.max(out_rec, 1)

    latent = None
    if record_depth is not None:
        latent = h1 if record_depth == 0 else spk_rec[record_depth - 1]
    return logits, spk_rec, latent


def _dense(x):
    return x.to_dense() if x.is_sparse else x


def oracle_forward(w, x, alpha, beta):
    """Full forward: (logits [B, C], [S1, S2, S3] each [B, T, H_l])."""
    x = _dense(x)
    B, T, _ = x.shape
    h1 = torch.einsum("abc,cd->abd", (x, w["w1"]))
    logits, spk, _ = _run(w, alpha, beta, B, T, h1=h1)
    return logits, spk


def oracle_latent(w, x, depth, alpha, beta):
    """The depth-d latent recorded during a full forward under no_grad (d = 0: X @ w1)."""
    with torch.no_grad():
        x = _dense(x)
        B, T, _ = x.shape
        h1 = torch.einsum("abc,cd->abd", (x, w["w1"]))
        _, _, latent = _run(w, alpha, beta, B, T, h1=h1, record_depth=depth)
    return latent


def oracle_forward_from(w, latent, depth, alpha, beta):
    """Replay forward: (logits, spike records) with the latent injected at ``depth``."""
    B, T, _ = latent.shape
    if depth == 0:
        return _run(w, alpha, beta, B, T, h1=latent, inject_depth=0)[:2]
    return _run(w, alpha, beta, B, T, inject=latent, inject_depth=depth)[:2]


def oracle_loss(logits, y, spk3, reg_1=0.0, reg_2=0.0):
    """NLL of log-softmax plus the layer-3 regulariser, written out as in the original."""
    log_p_y = F.log_softmax(logits, dim=1)
    reg_loss = reg_1 * torch.sum(spk3)
    reg_loss = reg_loss + reg_2 * torch.mean(torch.sum(torch.sum(spk3, dim=0), dim=0) ** 2)
    return F.nll_loss(log_p_y, y) + reg_loss
