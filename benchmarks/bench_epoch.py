"""Benchmark: what a user of the continual-learning scripts waits for -- whole epochs, on the CPU.

``bench_model.py`` times single steps; this script times whole epochs the way the original's
scripts run them (reference-spec s3.0 step 8, s3.6) against the way sccl runs them, at the
paper's sizes: B = 64, T = 100, 700-200-100-50-20, lr 2e-4 (Adamax).

Data: the embedded synthetic SHD (``make_synthetic_shd(tmp, n_rep=18)``, train file, binned with
``sccl.data.binning.make_batches`` after one seeded shuffle, ~6000 events per sample). The
sample-incremental sizes of the paper: 11 new-train batches, 1 new-test batch, 10 replay
batches (``--latent_batches 10``), 28 old-test batches. Batches are cut from the shuffled set
without regard to speaker (a speaker's identity does not change the cost of a batch).
Weights: "trained-like" = the init weights with the six hidden tensors multiplied by ``--gain``
(3; w_out unchanged), so every layer fires at ~10 % like a trained net (rates are printed);
"init" = :func:`sccl.model.init_weights` as drawn.

Rows
1. One continual-learning epoch of a latent-replay run (``heidelberg_latent.py``) at depth
   d = 0..3, trained-like weights:
   * baseline (the original, written with the literal oracle ``tests/oracle.py``): every new
     batch is densified and goes through the whole network, the frozen layers recomputed each
     epoch with autograd on (the LR forward computes ``X @ w1`` with autograd off, switches it on
     globally at depth d inside the time loop (d = 0: before it) and never off again [Q17]; every
     tensor requires grad, so the frozen layers are recorded and back-propagated, their ``.grad``
     accumulating unused); then the 10 stored
     latents through the layers above d; then the evaluations: each test set is evaluated
     ``EVALS_PER_EPOCH`` = 3 times (s3.0 / Q20: the print, the TXT line and the CSV row each
     recompute the accuracy) by a full forward from the raw input per batch. Autograd during
     that evaluation: ``--eval_autograd spec`` (default) follows the spec: ``heidelberg_latent.py``
     evaluates through the same forward with depth 4, which never switches autograd back on, so
     it runs without a graph [Q17]; ``on`` records the graph as the naive / rehearsal scripts do
     [Q50]. (Simplification: the original switches autograd on at step 1 for d >= 1, this
     baseline from step 0; at step 0 all states are zero.) The once-per-run cost is the capture
     of the 10 replay latents (full forward under no_grad).
   * sccl: :func:`sccl.training.train_epochs` for one epoch on :func:`sccl.strategies.feed`
     (new items made by :func:`sccl.training.encode_items`, replay from
     :func:`sccl.strategies.make_buffer`), then one :func:`sccl.training.score` of each test set
     from its cached latents (what ``sccl.experiments.continual.train_and_log`` does per epoch).
     The once-per-run prefix (encoding 11 + 28 + 1 batches through the frozen layers and
     building the replay buffer) is timed separately.
2. One full-network epoch (all seven tensors trained) over the same 11 new + 10 replayed raw
   batches (the rehearsal script with 10 batches; naive training is the first 11 steps), with the
   same evaluations (autograd on, as the naive / rehearsal scripts [Q50]); sccl replays the raw
   batches from a bit-packed raw buffer.
3. One pretraining epoch (all seven trained, ``--pretrain_batches`` = 40, no evaluation: the
   generators only print the loss), at init and at trained-like weights.

Checks: the accuracies of the evaluation before training (baseline: the original's accuracy
function on the raw input; sccl: ``score`` on the cached latents) must be identical, as must
every prediction ("correct old a / b" = baseline / sccl). After one epoch: the relative
difference of the epoch's mean loss, the max relative difference of the trained weights (max
over tensors of ``max |w_sccl - w_base| / max |w_base|``) and the difference as a fraction of
the epoch's update (max over tensors of ``||w_sccl - w_base|| / ||w_base - w_start||``), and the
correct counts of the epoch's evaluation. float32 rounding differs between the two
(bench_model.py: gradients agree to ~2e-4) and Adamax's first steps move every weight with a
nonzero gradient by ~lr whatever the gradient's size, so a weight whose gradient is float noise
can move by 2 lr the other way: differences of the order of the update are expected, not a bug.
``--float64_check`` (default on, off with ``--quick``) trains the same epochs once more in
float64 both ways and reports the same differences, which then shrink by orders of magnitude.

Timing: wall clock, min (median) over ``--repeats`` rounds; within a round baseline and sccl
alternate (their order flips every round). Every round starts from fresh weights and a fresh
optimiser. One warm-up step of each kind runs first.

Run: ``.venv/bin/python benchmarks/bench_epoch.py [--threads 2] [--quick] [--seed 0]``
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("SCCL_NO_PROGRESS", "1")  # no tqdm bars inside timed epochs

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # run from a checkout without installing
from oracle import _run, oracle_forward, oracle_forward_from, oracle_latent, oracle_loss  # noqa: E402

from sccl.config import NetConfig  # noqa: E402
from sccl.data.binning import make_batches  # noqa: E402
from sccl.data.shd import load_shd  # noqa: E402
from sccl.data.synthetic import make_synthetic_shd  # noqa: E402
from sccl.model import SpikingNet, init_weights, trainable_names  # noqa: E402
from sccl.runtime import cpu_model  # noqa: E402
from sccl.strategies import MemorySpec, feed, make_buffer  # noqa: E402
from sccl.training import encode_items, score, step_output, train_epochs  # noqa: E402

B, T = 64, 100
LR = 2e-4
EVALS_PER_EPOCH = 3      # heidelberg_latent.py: print, TXT line, CSV row (reference-spec s3.0, Q20)
N_NEW, N_NEW_TEST, N_REPLAY, N_OLD_TEST = 11, 1, 10, 28


# ----------------------------------------------------------------------------- data

def load_data(seed: int, n_rep: int, n_needed: int):
    """Synthetic SHD train file -> shuffled full batches ``[(x sparse [B, T, I], y)]``."""
    net = NetConfig()
    with tempfile.TemporaryDirectory(prefix="sccl-bench-epoch-") as tmp:
        train_path, _ = make_synthetic_shd(tmp, n_rep=n_rep, seed=seed)
        data = load_shd(train_path, net.nb_inputs)
    batches, _ = make_batches(data, np.arange(len(data)), B, net.nb_steps, net.max_time, net.nb_inputs,
                              np.random.default_rng(seed))
    if len(batches) < n_needed:
        raise SystemExit(f"need {n_needed} batches, the synthetic set gave {len(batches)}: raise --n_rep")
    return [(b.x.coalesce(), b.y.to(torch.int64)) for b in batches]


# ----------------------------------------------------------------------------- the original, literally

class Original:
    """The original scripts' training state and loops, written with the literal oracle.

    ``depth`` None: naive / rehearsal / generators (plain SpyTorch forward, all seven trained);
    0..3: ``heidelberg_latent.py``. Every tensor requires grad, as in the original; only the
    trainable ones are in the optimiser, so ``zero_grad`` never clears the frozen ones [Q17].
    """

    def __init__(self, net: NetConfig, weights: dict, depth: int | None):
        self.net, self.depth = net, depth
        self.start = {k: t.detach().clone() for k, t in weights.items()}
        self.w = {k: t.detach().clone().requires_grad_(True) for k, t in weights.items()}
        self.trainable = trainable_names(depth)
        self.opt = torch.optim.Adamax([self.w[k] for k in self.trainable], lr=LR, betas=(0.9, 0.999))

    def _forward_input(self, x):
        """Training forward of a raw input batch (the original densifies every batch)."""
        a, b = self.net.alpha, self.net.beta
        x = x.to_dense()
        if self.depth is None:
            return oracle_forward(self.w, x, a, b)
        with torch.no_grad():                          # LR forward: X @ w1 with autograd off,
            h1 = torch.einsum("abc,cd->abd", (x, self.w["w1"]))
        logits, spk, _ = _run(self.w, a, b, x.shape[0], x.shape[1], h1=h1)   # then on for the loop
        return logits, spk

    def step(self, level, x, y) -> float:
        self.opt.zero_grad()
        if level is None:
            logits, spk = self._forward_input(x)
        else:
            logits, spk = oracle_forward_from(self.w, x, level, self.net.alpha, self.net.beta)
        loss = oracle_loss(logits, y, spk[2], self.net.reg_1, self.net.reg_2)
        loss.backward()
        self.opt.step()
        return loss.item()

    def train_epoch(self, new, replay, replay_level) -> float:
        """New batches from the input, then the replay batches (s3.0 step 8); mean loss."""
        losses = [self.step(None, x, y) for x, y in new]
        losses += [self.step(replay_level, x, y) for x, y in replay]
        return float(np.mean(losses))

    def accuracy(self, batches, grad: bool):
        """``compute_classification_accuracy``: full forward per batch, mean of per-batch
        fractions. Returns (accuracy, correct count, predictions)."""
        accs, correct, preds = [], 0, []
        with torch.set_grad_enabled(grad):
            for x, y in batches:
                logits, _ = oracle_forward(self.w, x.to_dense(), self.net.alpha, self.net.beta)
                am = logits.argmax(dim=1)
                hit = (y == am).detach().cpu().numpy()
                accs.append(np.mean(hit))
                correct += int(hit.sum())
                preds.append(am.detach())
        return float(np.mean(accs)), correct, torch.cat(preds)

    def evaluate_epoch(self, old_test, new_test, grad: bool):
        """The per-epoch evaluations: each set ``EVALS_PER_EPOCH`` times (Q20)."""
        for _ in range(EVALS_PER_EPOCH):
            old = self.accuracy(old_test, grad)
            new = self.accuracy(new_test, grad)
        return old, new


def replay_latents(net, weights, batches, depth):
    """The original's latent capture: full forward under no_grad, the depth-d record kept."""
    return [(oracle_latent(weights, x, depth, net.alpha, net.beta), y) for x, y in batches]


# ----------------------------------------------------------------------------- sccl

class ScclRun:
    """One sccl run: the once-per-run prefix (``prepare``), then epochs (``train``, ``evaluate``)."""

    def __init__(self, net: NetConfig, weights: dict, depth: int | None):
        self.net, self.depth = net, depth
        self.model = SpikingNet(net, {k: t.detach().clone() for k, t in weights.items()})

    def prepare(self, d):
        """encode_items for new-train / old-test / new-test, make_buffer for the replay memory."""
        self.new_items = encode_items(self.model, d["new"], self.depth)
        self.old_eval = encode_items(self.model, d["old_test"], self.depth)
        self.new_eval = encode_items(self.model, d["new_test"], self.depth)
        spec = MemorySpec("raw") if self.depth is None else MemorySpec("latent", self.depth)
        self.buffer = make_buffer(self.model, d["replay"], spec, self.net.nb_steps, "cpu")
        self.level = spec.level

    def train(self, items=None) -> float:
        make = (lambda: items) if items is not None else feed(self.new_items, self.buffer, self.level, "cpu")
        return train_epochs(self.model, trainable_names(self.depth), make, lr=LR, nb_epochs=1)[0]

    def evaluate(self):
        return score(self.model, self.old_eval), score(self.model, self.new_eval)

    def predictions(self, items):
        with torch.no_grad():
            return torch.cat([step_output(self.model, lvl, x)[0].argmax(dim=1) for lvl, x, _ in items])


# ----------------------------------------------------------------------------- helpers

def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def weight_diff(orig: Original, mine: ScclRun):
    """Over the trained tensors: max of ``max |w_s - w_b| / max |w_b|`` and max of
    ``||w_s - w_b|| / ||w_b - w_start||`` (the difference as a fraction of the epoch's update)."""
    by_w = by_upd = 0.0
    for k in orig.trainable:
        wb, ws = orig.w[k].detach().double(), mine.model.weights[k].detach().double()
        by_w = max(by_w, (ws - wb).abs().max().item() / wb.abs().max().item())
        upd = (wb - orig.start[k].double()).norm().item()
        by_upd = max(by_upd, (ws - wb).norm().item() / upd if upd else 0.0)
    return by_w, by_upd


def fmt_s(ts):
    return f"{min(ts):.2f} ({statistics.median(ts):.2f})"


def firing_rates(net, weights, x):
    m = SpikingNet(net, weights)
    return [m.encode(x, d).mean().item() for d in (1, 2, 3)]


def float64_check(net: NetConfig, weights: dict, d: dict, ops) -> list[str]:
    """The epoch's training steps of both implementations in float64 (no timing): with float32
    rounding gone the trained weights should agree to near float64 precision, which shows that
    the float32 differences of the main table are rounding amplified, not a divergence. The
    replay latents go to sccl as items (``encode_items``), not through ``make_buffer``, which
    stores depth-0 currents as float32 like the original."""
    w = {k: t.double() for k, t in weights.items()}
    new = [(x.double(), y) for x, y in d["new"]]
    rep = [(x.double(), y) for x, y in d["replay"]]
    lines = []
    for name, depth in ops:
        ob = Original(net, w, depth)
        replay = rep if depth is None else replay_latents(net, ob.w, rep, depth)
        loss_b = ob.train_epoch(new, replay, depth)
        sr = ScclRun(net, w, depth)
        loss_s = sr.train(encode_items(sr.model, new, depth) + encode_items(sr.model, rep, depth))
        by_w, by_upd = weight_diff(ob, sr)
        lines.append(f"{name}: loss rel {abs(loss_s - loss_b) / abs(loss_b):.0e}, weights max rel {by_w:.0e}, "
                     f"diff/update {by_upd:.0e}")
    return lines


# ----------------------------------------------------------------------------- main

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true",
                    help="1 round, 7 old-test batches, 10 pretraining batches (~1 min)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--kernel", choices=("torch", "exact", "native"), default="native",
                    help="sccl's kernel for the LIF loops (default native; sccl/kernels.py)")
    ap.add_argument("--repeats", type=int, default=3, help="timed rounds (default 3; --quick: 1)")
    ap.add_argument("--old_test", type=int, default=N_OLD_TEST, help="old-test batches (quick: 7)")
    ap.add_argument("--pretrain_batches", type=int, default=40, help="batches of the pretraining epoch (quick: 10)")
    ap.add_argument("--gain", type=float, default=3.0, help="hidden-weight multiplier of the trained-like set")
    ap.add_argument("--n_rep", type=int, default=18, help="synthetic SHD repetitions per speaker and word")
    ap.add_argument("--float64_check", action=argparse.BooleanOptionalAction, default=None,
                    help="also train one epoch of every row in float64 both ways and compare (default: on, "
                         "off with --quick; ~30 s)")
    ap.add_argument("--eval_autograd", choices=("spec", "on"), default="spec",
                    help="baseline evaluation of the LR epochs: 'spec' = no graph, as heidelberg_latent.py "
                         "[Q17]; 'on' = graph recorded, as the naive / rehearsal scripts [Q50]")
    args = ap.parse_args(argv)
    if args.quick:
        args.repeats, args.old_test, args.pretrain_batches = 1, min(args.old_test, 7), min(args.pretrain_batches, 10)
    if args.float64_check is None:
        args.float64_check = not args.quick
    torch.set_num_threads(args.threads)
    from sccl import kernels
    kernels.set_kernel(args.kernel)
    if args.kernel != "torch" and kernels.ops() is None:
        kernels.set_kernel("torch")
    torch.manual_seed(args.seed)
    net = NetConfig()
    t_start = time.perf_counter()
    cpu = cpu_model()
    load0 = os.getloadavg()
    print(f"# bench_epoch: sccl {kernels.describe()}", flush=True)
    print(f"# bench_epoch: torch {torch.__version__}, {torch.get_num_threads()} threads (set), {cpu}, "
          f"{os.cpu_count()} CPUs, load avg {' '.join(f'{v:.2f}' for v in load0)}", flush=True)

    n_cl = N_NEW_TEST + N_NEW + N_REPLAY + args.old_test
    batches = load_data(args.seed, args.n_rep, max(n_cl, args.pretrain_batches))
    d = {"new_test": batches[:N_NEW_TEST],
         "new": batches[N_NEW_TEST:N_NEW_TEST + N_NEW],
         "replay": batches[N_NEW_TEST + N_NEW:N_NEW_TEST + N_NEW + N_REPLAY],
         "old_test": batches[N_NEW_TEST + N_NEW + N_REPLAY:n_cl]}
    pretrain = batches[:args.pretrain_batches]
    nnz = [x.values().numel() for x, _ in batches]
    events = [x.values().sum().item() for x, _ in batches]
    print(f"data: synthetic SHD (n_rep={args.n_rep}, seed {args.seed}), {len(batches)} batches of {B}; "
          f"{np.mean(events) / B:.0f} events / {np.mean(nnz) / B:.0f} nonzero cells per sample "
          f"(density {np.mean(nnz) / (B * T * net.nb_inputs):.3f}); sizes: {N_NEW} new, {N_NEW_TEST} new-test, "
          f"{N_REPLAY} replay, {args.old_test} old-test, {args.pretrain_batches} pretraining batches; "
          f"{args.repeats} rounds; baseline LR eval autograd: "
          f"{'off (spec, Q17)' if args.eval_autograd == 'spec' else 'on'}", flush=True)

    base = init_weights(net, torch.Generator().manual_seed(args.seed + 1))
    trained = {k: t * (1.0 if k == "w_out" else args.gain) for k, t in base.items()}
    for name, w in (("init", base), ("trained-like", trained)):
        r = firing_rates(net, w, batches[0][0])
        print(f"firing rates L1/L2/L3 [{name}]: " + " / ".join(f"{v:.3f}" for v in r), flush=True)

    # warm-up: one step and one evaluation of every kind
    o = Original(net, trained, None)
    o.step(None, *batches[0])
    o.accuracy(batches[:1], False)
    o.accuracy(batches[:1], True)
    for depth in (0, 3):
        o = Original(net, trained, depth)
        o.step(None, *batches[0])
        o.step(depth, oracle_latent(o.w, batches[0][0], depth, net.alpha, net.beta), batches[0][1])
    s = ScclRun(net, trained, None)
    s.train([(None, *batches[0])])
    score(s.model, [(None, *batches[0])])
    for depth in (0, 3):
        s = ScclRun(net, trained, depth)
        s.train(encode_items(s.model, batches[:1], depth))

    print(f"setup (data, warm-up) {time.perf_counter() - t_start:.0f} s", flush=True)

    # the pre-training evaluation of the baseline does not depend on the depth (full forward)
    pre = Original(net, trained, None)
    pre_old, pre_new = pre.accuracy(d["old_test"], False), pre.accuracy(d["new_test"], False)

    ops = [("d=0", 0), ("d=1", 1), ("d=2", 2), ("d=3", 3), ("full", None)]
    times = {name: {k: [] for k in ("b_train", "b_eval", "b_once", "s_train", "s_eval", "s_once")}
             for name, _ in ops}
    checks = {}
    for rnd in range(args.repeats):
        for name, depth in ops:
            t = times[name]

            def run_baseline():
                ob = Original(net, trained, depth)
                if depth is None:
                    replay, lvl, dt_once = d["replay"], None, 0.0
                else:
                    dt_once, replay = timed(lambda: replay_latents(net, ob.w, d["replay"], depth))
                    lvl = depth
                dt_tr, loss = timed(lambda: ob.train_epoch(d["new"], replay, lvl))
                grad = depth is None or args.eval_autograd == "on"
                dt_ev, (old, new) = timed(lambda: ob.evaluate_epoch(d["old_test"], d["new_test"], grad))
                t["b_once"].append(dt_once)
                t["b_train"].append(dt_tr)
                t["b_eval"].append(dt_ev)
                return ob, loss, old, new

            def run_sccl():
                sr = ScclRun(net, trained, depth)
                dt_once, _ = timed(lambda: sr.prepare(d))
                first = (score(sr.model, sr.old_eval), score(sr.model, sr.new_eval),
                         sr.predictions(sr.old_eval), sr.predictions(sr.new_eval)) if rnd == 0 else None
                dt_tr, loss = timed(sr.train)
                dt_ev, (old, new) = timed(sr.evaluate)
                t["s_once"].append(dt_once)
                t["s_train"].append(dt_tr)
                t["s_eval"].append(dt_ev)
                return sr, loss, old, new, first

            if rnd % 2 == 0:
                res_b, res_s = run_baseline(), run_sccl()
            else:
                res_s, res_b = run_sccl(), run_baseline()
            if rnd == 0:
                ob, loss_b, old_b, new_b = res_b
                sr, loss_s, old_s, new_s, first = res_s
                s_old0, s_new0, p_old, p_new = first
                same = (s_old0.correct == pre_old[1] and s_new0.correct == pre_new[1]   # counts and the
                        and f"{s_old0.value:.3f}" == f"{pre_old[0]:.3f}"                # %.3f the files get
                        and f"{s_new0.value:.3f}" == f"{pre_new[0]:.3f}")
                pdiff = int((p_old != pre_old[2]).sum()) + int((p_new != pre_new[2]).sum())
                by_w, by_upd = weight_diff(ob, sr)
                checks[name] = (
                    f"start: correct old {pre_old[1]} / {s_old0.correct}, new {pre_new[1]} / {s_new0.correct}, "
                    f"{pdiff} pred diff ({'identical' if same and pdiff == 0 else 'DIFFERENT'}); after 1 epoch: "
                    f"loss rel {abs(loss_s - loss_b) / abs(loss_b):.0e}, weights max rel {by_w:.0e}, "
                    f"diff/update {by_upd:.0e}, correct old {old_b[1]} / {old_s.correct}, "
                    f"new {new_b[1]} / {new_s.correct}")
            print(f"  round {rnd + 1}/{args.repeats} {name}: baseline {t['b_train'][-1] + t['b_eval'][-1]:.1f} s, "
                  f"sccl {t['s_train'][-1] + t['s_eval'][-1]:.2f} s", flush=True)

    # pretraining epochs
    pre_times = {}
    for wname, w in (("init", base), ("trained-like", trained)):
        tb, ts = [], []
        items = [(None, x, y) for x, y in pretrain]
        for rnd in range(args.repeats):
            def run_b():
                ob = Original(net, w, None)
                dt, loss = timed(lambda: ob.train_epoch(pretrain, [], None))
                tb.append(dt)
                return ob, loss

            def run_s():
                sr = ScclRun(net, w, None)
                dt, loss = timed(lambda: sr.train(items))
                ts.append(dt)
                return sr, loss

            if rnd % 2 == 0:
                (ob, lb), (sr, ls) = run_b(), run_s()
            else:
                (sr, ls), (ob, lb) = run_s(), run_b()
            if rnd == 0:
                by_w, by_upd = weight_diff(ob, sr)
                chk = (f"after 1 epoch: loss rel {abs(ls - lb) / abs(lb):.0e}, weights max rel {by_w:.0e}, "
                       f"diff/update {by_upd:.0e}")
        pre_times[wname] = (tb, ts, chk)
        print(f"  pretraining epoch [{wname}]: baseline {min(tb):.1f} s, sccl {min(ts):.2f} s", flush=True)

    f64 = float64_check(net, trained, d, ops) if args.float64_check else []

    load1 = os.getloadavg()
    thr = torch.get_num_threads()
    print()
    print("| operation | threads | baseline s, min (median) | sccl s, min (median) | ratio (min) | check |")
    print("|---|---|---|---|---|---|")

    def row(op, tb, ts, chk=""):
        print(f"| {op} | {thr} | {fmt_s(tb)} | {fmt_s(ts)} | {min(tb) / min(ts):.1f}x | {chk} |")

    def add(a, b):
        return [x + y for x, y in zip(a, b)]

    n_eval = args.old_test + N_NEW_TEST
    for name, depth in ops:
        t = times[name]
        tb, ts = add(t["b_train"], t["b_eval"]), add(t["s_train"], t["s_eval"])
        if depth is None:
            label = (f"full-network epoch, all 7 trained ({N_NEW} new + {N_REPLAY} raw replay steps, "
                     f"eval {n_eval} batches)")
        else:
            label = f"CL epoch d={depth} ({N_NEW} new + {N_REPLAY} replay steps, eval {n_eval} batches)"
        row(label, tb, ts, checks[name])
        if depth is not None:
            row(f"  once per run d={depth} (baseline: capture {N_REPLAY} replay latents; sccl: encode "
                f"{N_NEW + n_eval} batches + buffer of {N_REPLAY})", t["b_once"], t["s_once"])
    for wname, (tb, ts, chk) in pre_times.items():
        row(f"pretraining epoch, {args.pretrain_batches} batches, all 7 trained [{wname}]", tb, ts, chk)
    print()
    ev_kind = "autograd off" if args.eval_autograd == "spec" else "autograd on"
    print(f"Breakdown, s min (median): train = the {N_NEW + N_REPLAY} optimiser steps; eval = baseline "
          f"{EVALS_PER_EPOCH} x ({args.old_test} + {N_NEW_TEST}) full forwards from the input ({ev_kind} for "
          f"d=0..3, autograd on for full), sccl 1 x ({args.old_test} + {N_NEW_TEST}) forwards from the cached latents.")
    print()
    print("| epoch | baseline train | baseline eval | sccl train | sccl eval | train ratio | eval ratio |")
    print("|---|---|---|---|---|---|---|")
    for name, _ in ops:
        t = times[name]
        print(f"| {name} | {fmt_s(t['b_train'])} | {fmt_s(t['b_eval'])} | {fmt_s(t['s_train'])} | "
              f"{fmt_s(t['s_eval'])} | {min(t['b_train']) / min(t['s_train']):.1f}x | "
              f"{min(t['b_eval']) / min(t['s_eval']):.1f}x |")
    print()
    full_b = min(add(times["full"]["b_train"], times["full"]["b_eval"]))
    full_s = min(add(times["full"]["s_train"], times["full"]["s_eval"]))
    for name, depth in ops[:4]:
        t = times[name]
        eb, es = min(add(t["b_train"], t["b_eval"])), min(add(t["s_train"], t["s_eval"]))
        print(f"* CL epoch {name} / full-network epoch: baseline {eb / full_b:.2f}, sccl {es / full_s:.2f}; "
              f"a 50-epoch run (the driver's --nb_epochs): baseline {min(t['b_once']) + 50 * eb:.0f} s, "
              f"sccl {min(t['s_once']) + 50 * es:.0f} s")
    ib, is_ = pre_times["init"][0], pre_times["init"][1]
    tb_, ts_ = pre_times["trained-like"][0], pre_times["trained-like"][1]
    for line in f64:
        print(f"* float64 check (one epoch's training both ways in float64, trained-like) {line}")
    print(f"* pretraining epoch trained-like / init: baseline {min(tb_) / min(ib):.2f}, sccl {min(ts_) / min(is_):.2f}")
    print(f"* load average before/after: {load0[0]:.2f} / {load1[0]:.2f} (1 min; other processes share the CPUs); "
          f"total {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
