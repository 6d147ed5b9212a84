"""Benchmark: the literal oracle (tests/oracle.py) vs sccl.model at the paper's sizes, on the CPU.

Network 700-200-100-50-20, B = 64, T = 100. The input is a synthetic speech-like batch built
here (see :func:`speech_like_batch`): ~6000 events per sample in ~8 % of the (T, I) cells, counts
>= 1, as a sparse COO tensor like ``sccl.data`` produces. Both implementations receive the same
sparse batch (the oracle densifies it, as the original does).

Rows (each at two weight sets):
* ``init``: :func:`sccl.model.init_weights` (layer 3 is silent, so every gradient is zero);
* ``trained-like``: the init weights with w1, w2, w3, v1, v2, v3 multiplied by ``--gain``
  (default 3; w_out unchanged), which gives layer firing rates of ~10-15 %, the range of a
  trained network (the rates are printed). Not an actual training run: timing depends on the
  rates only through the sparse input projection, and equivalence only needs spiking layers.

1. training step (zero_grad, forward, loss, backward, Adamax step), full network;
2. evaluation of one batch under no_grad, and of ``--eval_batches`` batches (sccl merges them
   into one forward with :func:`sccl.model.evaluate`, to show what merging buys on the CPU);
3. latent-replay training step at depth 2 and 3 (oracle replay forward vs sccl ``run_from``),
   and the sccl replay step against the sccl full step.

Times are wall-clock, min (and median) over ``--repeats`` interleaved runs, after one warm-up.
Equivalence: relative loss difference, max over tensors of ``max |g - g_ref| / max |g_ref|``,
spike mismatches per layer, differing predictions. Because the surrogate is steep, float32
rounding differences in the membranes are amplified ~200x in the gradients; the "fp32 floor"
line shows how far the float32 oracle itself is from a float64 oracle.

FLOPs: dense-matmul FLOPs of each algorithm (2 per multiply-add; the sccl input projection counts
2 * events * H1), achieved GFLOP/s, and the peak of one large ``torch.mm`` measured in the same run.

Run: ``.venv/bin/python benchmarks/bench_model.py [--threads 2] [--quick]``
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # run from a checkout without installing
from oracle import oracle_forward, oracle_forward_from, oracle_loss  # noqa: E402

from sccl.config import NetConfig  # noqa: E402
from sccl.model import PARAM_NAMES, SpikingNet, evaluate, init_weights, trainable_names  # noqa: E402

B, T = 64, 100


# ----------------------------------------------------------------------------- input

def speech_like_batch(batch: int, net: NetConfig, events: float, gen: torch.Generator):
    """Sparse COO counts ``[B, T, I]`` and labels: each sample is a word-like burst.

    A smooth temporal envelope (onset 5-25 steps, duration 40-70 steps) times three drifting
    Gaussian "formant" bands (sigma 40 channels) plus a weak background, scaled to ``events``
    expected events, then Poisson counts.
    """
    steps, inputs = net.nb_steps, net.nb_inputs
    t = torch.arange(steps, dtype=torch.float32).view(1, steps, 1)
    ch = torch.arange(inputs, dtype=torch.float32).view(1, 1, inputs)
    onset = torch.randint(5, 26, (batch, 1, 1), generator=gen).float()
    dur = torch.randint(40, 71, (batch, 1, 1), generator=gen).float()
    phase = ((t - onset) / dur).clamp(0, 1)
    env = torch.sin(math.pi * phase) ** 2                                   # [B, T, 1]
    lam = torch.zeros(batch, steps, inputs)
    for _ in range(3):
        start = torch.rand(batch, 1, 1, generator=gen) * 600 + 50
        end = torch.rand(batch, 1, 1, generator=gen) * 600 + 50
        centre = start + (end - start) * phase
        amp = 0.5 + torch.rand(batch, 1, 1, generator=gen)
        lam += amp * torch.exp(-0.5 * ((ch - centre) / 40.0) ** 2)
    lam = lam * env + 0.002
    lam *= events / lam.sum(dim=(1, 2), keepdim=True)
    x = torch.poisson(lam, generator=gen)
    y = torch.randint(0, net.nb_outputs, (batch,), generator=gen)
    return x.to_sparse(), y


# ----------------------------------------------------------------------------- helpers

def peak_gflops(repeats: int) -> float:
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2 * 2048 ** 3 / best / 1e9


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def interleaved(fns: dict, repeats: int) -> dict[str, list[float]]:
    """Run every function once to warm up, then ``repeats`` rounds in turn; seconds per run."""
    for fn in fns.values():
        fn()
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            times[k].append(_timed(fn))
    return times


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    scale = b.abs().max().item()
    diff = (a.double() - b.double()).abs().max().item()
    return diff if scale == 0 else diff / scale


def flops(net: NetConfig, nnz: int | None, depth: int | None, train: bool) -> float:
    """Matmul FLOPs of one step. ``nnz`` = input events (sccl) or None (dense X @ w1, oracle)."""
    h = net.hidden
    C, I = net.nb_outputs, net.nb_inputs
    rows = B * T
    f_fwd = f_bwd = 0.0
    first = 1 if depth is None else depth + 1
    if depth is None:                                     # input projection (w1 only gets a gradient)
        proj = 2.0 * (nnz if nnz is not None else rows * I) * h[0]
        f_fwd += proj
        f_bwd += proj
    for level in range(first, 4):
        rec = 2.0 * rows * h[level - 1] ** 2
        f_fwd += rec
        f_bwd += 2 * rec                                  # grad of the input spikes + grad of v
        if level > 1:
            ff = 2.0 * rows * h[level - 2] * h[level - 1]
            f_fwd += ff
            f_bwd += ff * (2 if level > first else 1)     # no input grad below the first trained layer
    f_fwd += 2.0 * rows * h[2] * C
    f_bwd += 2 * 2.0 * rows * h[2] * C if depth != 3 else 2.0 * rows * h[2] * C
    return f_fwd + (f_bwd if train else 0.0)


# ----------------------------------------------------------------------------- the two implementations

class Oracle:
    def __init__(self, net, weights, depth):
        self.net, self.depth = net, depth
        names = trainable_names(depth)
        self.w = {k: t.detach().clone().requires_grad_(k in names) for k, t in weights.items()}
        self.opt = torch.optim.Adamax([self.w[k] for k in names], lr=2e-4, betas=(0.9, 0.999))

    def forward(self, x):
        a, b = self.net.alpha, self.net.beta
        if self.depth is None:
            return oracle_forward(self.w, x, a, b)
        return oracle_forward_from(self.w, x, self.depth, a, b)

    def train_step(self, x, y):
        self.opt.zero_grad()
        logits, spk = self.forward(x)
        loss = oracle_loss(logits, y, spk[2], self.net.reg_1, self.net.reg_2)
        loss.backward()
        self.opt.step()
        return loss.detach(), spk

    def grads(self, x, y):
        for t in self.w.values():
            t.grad = None
        logits, spk = self.forward(x)
        loss = oracle_loss(logits, y, spk[2], self.net.reg_1, self.net.reg_2)
        loss.backward()
        return loss.detach(), {k: t.grad for k, t in self.w.items() if t.grad is not None}, spk, logits.detach()

    def predict(self, x):
        with torch.no_grad():
            return self.forward(x)[0].argmax(dim=1)


class Sccl:
    def __init__(self, net, weights, depth):
        self.depth = depth
        self.model = SpikingNet(net, {k: t.detach().clone() for k, t in weights.items()})
        params = self.model.set_trainable(depth)
        self.opt = torch.optim.Adamax(params, lr=2e-4, betas=(0.9, 0.999))

    def run(self, x):
        return self.model.run(x) if self.depth is None else self.model.run_from(x, self.depth)

    def train_step(self, x, y):
        self.opt.zero_grad()
        out = self.run(x)
        loss = self.model.loss(out.logits, y, out.spk3)
        loss.backward()
        self.opt.step()
        return loss.detach()

    def grads(self, x, y):
        for t in self.model.weights.values():
            t.grad = None
        out = self.run(x)
        loss = self.model.loss(out.logits, y, out.spk3)
        loss.backward()
        return loss.detach(), {k: t.grad for k, t in self.model.weights.items() if t.grad is not None}, out

    def predict(self, x):
        return self.model.predict(x)


# ----------------------------------------------------------------------------- rows

def equivalence(net, weights, x, y, depth, latent=None):
    """(loss rel diff, max grad rel diff, spike mismatches per computed layer, differing predictions)."""
    o, s = Oracle(net, weights, depth), Sccl(net, weights, depth)
    inp = x if depth is None else latent
    lo, go, spk_o, logits_o = o.grads(inp, y)
    ls, gs, out = s.grads(inp, y)
    grad = max((rel(gs[k], go[k]) for k in go), default=0.0)
    mism = []
    for level in range(1 if depth is None else depth + 1, 4):
        mine = s.model.encode(x, level) if depth is None else None
        if mine is not None:
            mism.append(int((mine != spk_o[level - 1]).sum()))
    if depth is not None:
        mism.append(int((out.spk3.detach() != spk_o[2]).sum()))
    pred = int((out.logits.argmax(1) != logits_o.argmax(1)).sum())
    return abs(ls.item() - lo.item()) / abs(lo.item()), grad, mism, pred, (go, gs)


def fp32_floor(net, weights, x, y, grads32):
    """Max grad rel diff of the float32 oracle and of sccl against a float64 oracle."""
    w64 = {k: t.double() for k, t in weights.items()}
    o64 = Oracle(net, w64, None)
    _, g64, _, _ = o64.grads(x.double(), y)
    return [max(rel(g32[k], g64[k]) for k in g64 if k in g32) for g32 in grads32]


def phase_breakdown(net, weights, x, y, repeats: int, peak: float):
    """Time every phase of one sccl training step (forward stages, backward stages via gradient
    hooks, Adamax). Returns rows (phase, ms (min over repeats), matmul-FLOP floor at ``peak``)."""
    import torch.nn.functional as F
    from sccl.model import input_currents, lif_layer, readout

    model = SpikingNet(net, {k: t.detach().clone() for k, t in weights.items()})
    params = model.set_trainable(None)
    opt = torch.optim.Adamax(params, lr=2e-4, betas=(0.9, 0.999))
    W, p = model.weights, model.params
    h1, h2, h3 = net.hidden
    rows = B * T
    nnz = x.coalesce().values().numel()
    floor = {"input projection": 2 * nnz * h1, "layer 1": 2 * rows * h1 * h1, "ff 1->2": 2 * rows * h1 * h2,
             "layer 2": 2 * rows * h2 * h2, "ff 2->3": 2 * rows * h2 * h3, "layer 3": 2 * rows * h3 * h3,
             "readout + loss": 2 * rows * h3 * net.nb_outputs}
    bwd_factor = {"input projection": 1, "layer 1": 2, "ff 1->2": 2, "layer 2": 2, "ff 2->3": 2, "layer 3": 2,
                  "readout + loss": 2}
    marks = []

    def mark(name):
        marks.append((name, time.perf_counter()))

    def hook(name):
        return lambda g: mark(name)

    def step():
        marks.clear()
        opt.zero_grad()
        mark("start")
        a1 = input_currents(x, W["w1"]).transpose(0, 1)
        mark("input projection")
        s1 = lif_layer(a1, W["v1"], p)
        mark("layer 1")
        d2 = (s1.reshape(rows, h1) @ W["w2"]).view(T, B, h2)
        mark("ff 1->2")
        s2 = lif_layer(d2, W["v2"], p)
        mark("layer 2")
        d3 = (s2.reshape(rows, h2) @ W["w3"]).view(T, B, h3)
        mark("ff 2->3")
        s3 = lif_layer(d3, W["v3"], p)
        mark("layer 3")
        loss = F.nll_loss(F.log_softmax(readout(s3, W["w_out"], p.alpha, p.beta), 1), y)
        mark("readout + loss")
        for t, name in ((s3, "readout + loss"), (d3, "layer 3"), (s2, "ff 2->3"), (d2, "layer 2"),
                        (s1, "ff 1->2"), (a1, "layer 1")):
            t.register_hook(hook("bwd " + name))
        loss.backward()
        mark("bwd input projection")
        opt.step()
        mark("Adamax step")
        return [(marks[i][0], marks[i][1] - marks[i - 1][1]) for i in range(1, len(marks))]

    step()
    runs = [step() for _ in range(repeats)]
    out = []
    for i, (name, _) in enumerate(runs[0]):
        base = name[4:] if name.startswith("bwd ") else name
        fl = floor.get(base, 0) * (bwd_factor.get(base, 0) if name.startswith("bwd ") else 1)
        out.append((name, min(r[i][1] for r in runs) * 1e3, fl / peak / 1e6))
    return out


def fmt_ms(ts):
    return f"{min(ts) * 1e3:.1f} ({statistics.median(ts) * 1e3:.1f})"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="2 repeats, fewer eval batches, no float64 floor")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--eval_batches", type=int, default=8)
    ap.add_argument("--gain", type=float, default=3.0, help="hidden-weight multiplier of the trained-like set")
    ap.add_argument("--events", type=float, default=6000.0, help="expected input events per sample")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--phases", action=argparse.BooleanOptionalAction, default=True,
                    help="time the phases of one sccl training step")
    args = ap.parse_args(argv)
    if args.quick:
        args.repeats, args.eval_batches = 2, 2
    torch.set_num_threads(args.threads)
    net = NetConfig()
    gen = torch.Generator().manual_seed(args.seed)
    batches = [speech_like_batch(B, net, args.events, gen) for _ in range(max(args.eval_batches, 1))]
    x, y = batches[0]
    nnz = x.coalesce().values().numel()
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?") \
        if os.path.exists("/proc/cpuinfo") else platform.processor()
    load0 = os.getloadavg()
    peak = peak_gflops(5)
    print(f"# bench_model: torch {torch.__version__}, {torch.get_num_threads()} threads (set), {cpu}, "
          f"{os.cpu_count()} CPUs, load avg {load0[0]:.2f}")
    print(f"input: B={B} T={T} I={net.nb_inputs}, {nnz / B:.0f} events/sample (nonzero cells), "
          f"density {nnz / (B * T * net.nb_inputs):.3f}, mean count {x.coalesce().values().mean():.2f}; "
          f"measured matmul peak {peak:.0f} GFLOP/s")

    base = init_weights(net, torch.Generator().manual_seed(args.seed + 1))
    sets = {"init": base,
            "trained-like": {k: t * (1.0 if k == "w_out" else args.gain) for k, t in base.items()}}
    rows = []
    notes = []
    for set_name, w in sets.items():
        probe = SpikingNet(net, w)
        rates = [probe.encode(x, d).mean().item() for d in (1, 2, 3)]
        notes.append(f"{set_name}: firing rates L1/L2/L3 = " + "/".join(f"{r:.3f}" for r in rates))

        # 1. full training step
        o, s = Oracle(net, w, None), Sccl(net, w, None)
        ts = interleaved({"o": lambda: o.train_step(x, y), "s": lambda: s.train_step(x, y)}, args.repeats)
        dl, dg, mism, pred, grads32 = equivalence(net, w, x, y, None)
        if not args.quick:
            f_o32, f_s32 = fp32_floor(net, w, x, y, grads32)
            notes.append(f"{set_name}: max grad rel diff against a float64 oracle: oracle fp32 {f_o32:.1e}, "
                         f"sccl fp32 {f_s32:.1e} (the fp32 floor)")
        f_o, f_s = flops(net, None, None, True), flops(net, nnz, None, True)
        rows.append((f"train step, full net [{set_name}]", ts["o"], ts["s"],
                     f"loss {dl:.1e}, grad {dg:.1e}, spike mism {mism}, pred diff {pred}",
                     (f_o, f_s)))
        full_step = ts["s"]

        # 2. evaluation: one batch, then several (sccl merges them); fresh copies of the weights,
        # since a few Adamax steps amplify float32 noise in near-zero gradients to lr-sized steps
        o, s = Oracle(net, w, None), Sccl(net, w, None)
        ts = interleaved({"o": lambda: o.predict(x), "s": lambda: s.predict(x)}, args.repeats)
        same = int((o.predict(x) != s.predict(x)).sum())
        rows.append((f"eval 1 batch [{set_name}]", ts["o"], ts["s"], f"pred diff {same}",
                     (flops(net, None, None, False), flops(net, nnz, None, False))))
        if args.eval_batches > 1:
            n = len(batches)
            merged = n * B                                   # one forward for all batches
            ts = interleaved({"o": lambda: [o.predict(b[0]) for b in batches],
                              "s": lambda: evaluate(s.model, batches, merged)}, max(1, args.repeats // 2))
            counts_o = sum(int((o.predict(bx) == by).sum()) for bx, by in batches)
            counts_s = evaluate(s.model, batches, merged)[0]
            per_batch = sum(int((s.predict(bx) == by).sum()) for bx, by in batches)
            rows.append((f"eval {n} batches, merged [{set_name}]", ts["o"], ts["s"],
                         f"correct oracle {counts_o} / sccl merged {counts_s} / sccl per batch {per_batch}",
                         (n * flops(net, None, None, False), n * flops(net, nnz, None, False))))

        # 3. latent replay steps
        for depth in (2, 3):
            latent = probe.encode(x, depth)
            o, s = Oracle(net, w, depth), Sccl(net, w, depth)
            ts = interleaved({"o": lambda: o.train_step(latent, y), "s": lambda: s.train_step(latent, y)},
                             args.repeats)
            dl, dg, mism, pred, _ = equivalence(net, w, x, y, depth, latent)
            f = flops(net, None, depth, True)
            rows.append((f"replay step d={depth} [{set_name}]", ts["o"], ts["s"],
                         f"loss {dl:.1e}, grad {dg:.1e}, spike mism {mism}, pred diff {pred}", (f, f)))
            rows.append((f"  sccl full step vs sccl replay d={depth} [{set_name}]", full_step, ts["s"], "", None))

        if set_name == "trained-like" and args.phases:
            phases = phase_breakdown(net, w, x, y, args.repeats, peak)

    load1 = os.getloadavg()
    print()
    print("| row | baseline ms, min (median) | sccl ms, min (median) | speed-up (min) | "
          "GFLOP/s baseline / sccl | equivalence |")
    print("|---|---|---|---|---|---|")
    for name, tb, ts, eq, fl in rows:
        gf = "" if fl is None else f"{fl[0] / min(tb) / 1e9:.0f} / {fl[1] / min(ts) / 1e9:.0f}"
        print(f"| {name} | {fmt_ms(tb)} | {fmt_ms(ts)} | {min(tb) / min(ts):.1f}x | {gf} | {eq} |")
    print()
    for note in notes:
        print(f"* {note}")
    print(f"* matmul FLOPs per training step: oracle {flops(net, None, None, True) / 1e9:.2f} G, "
          f"sccl {flops(net, nnz, None, True) / 1e9:.2f} G (peak {peak:.0f} GFLOP/s => floors "
          f"{flops(net, None, None, True) / peak / 1e6:.1f} / {flops(net, nnz, None, True) / peak / 1e6:.1f} ms)")
    if args.phases:
        print()
        print("Phases of one sccl training step [trained-like] (min over repeats; the floor is the phase's "
              "matmul FLOPs at the measured peak):")
        print()
        print("| phase | ms | matmul floor ms |")
        print("|---|---|---|")
        for name, ms, fl in phases:
            print(f"| {name} | {ms:.2f} | {fl:.2f} |")
        print(f"| total | {sum(r[1] for r in phases):.1f} | {sum(r[2] for r in phases):.1f} |")
        print()
    print(f"* load average before/after: {load0[0]:.2f} / {load1[0]:.2f} (other processes share the CPUs)")


if __name__ == "__main__":
    main()
