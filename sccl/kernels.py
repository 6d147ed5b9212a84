"""Which implementation runs the LIF time loops: PyTorch, or sccl's compiled kernel (sccl/native).

Choices (``--kernel`` on every script, or the environment variable ``SCCL_KERNEL``; the flag wins):

* ``torch``  -- the PyTorch path of :mod:`sccl.model` (per-step ATen ops, dense products);
* ``exact``  -- the compiled time loop (one fused pass per step, forward and backward) with every
  matrix product through the same ATen/BLAS calls as the PyTorch path, so losses, spikes,
  gradients and whole training runs are bit-identical to ``torch`` (tested);
* ``native`` -- the compiled time loop with spike-driven products: the recurrent and feed-forward
  drives and the weight gradients gather the weight rows of the active units (~10 % of them)
  instead of dense matmuls, and the input projection runs over the events. Spikes, predictions
  and losses equal the PyTorch path's (the gathers sum in the BLAS's own K blocks, measured at
  first use); weight gradients are summed in another order and agree to the float32 floor, so a
  training run drifts from ``torch`` in the last bits like any two float32 implementations;
* ``auto`` (default) -- ``exact`` when the kernel is available, else ``torch``.

The kernel is CPU-only: CUDA tensors always take the PyTorch path. It is compiled with
``torch.utils.cpp_extension`` (g++ and ninja) by ``make install``, or on first use, into
``build/native/`` of the checkout (``~/.cache/sccl/native`` for an installed package;
``SCCL_NATIVE_DIR`` overrides), keyed by the source, the compiler flags, torch, python and the CPU.
When it cannot be built or loaded, the PyTorch path runs and one line on stderr says why.
``python -m sccl.kernels`` builds it and prints what it found.
"""
from __future__ import annotations

import hashlib
import os
import platform
import sys
from pathlib import Path
from typing import NamedTuple

import torch
from torch import Tensor

from sccl.errors import ConfigError

KERNELS = ("auto", "torch", "exact", "native")
ENV_VAR = "SCCL_KERNEL"
SOURCE = Path(__file__).resolve().parent / "native" / "lif_kernel.cpp"
# No -ffast-math, no FMA contraction: the kernel rounds where the PyTorch path rounds (see the source).
CFLAGS = ("-O3", "-march=native", "-ffp-contract=off", "-fno-fast-math", "-std=c++17")
LIB_NAME = "sccl_native"

_choice: str | None = None        # set_kernel(); None -> the environment variable, else "auto"
_ops = None                       # torch.ops.sccl_native once loaded
_load_error: str | None = None    # why the kernel is unavailable (after a failed attempt)
_block_sizes: dict = {}


def _validate(name: str, what: str) -> str:
    if name not in KERNELS:
        raise ConfigError(f"{what} {name!r} is not a kernel choice; use one of {', '.join(KERNELS)}")
    return name


def set_kernel(name: str | None) -> str:
    """Select the kernel for this process (None: the ``SCCL_KERNEL`` variable, else auto); returns it."""
    global _choice
    _choice = None if name is None else _validate(name, "--kernel")
    return choice()


def choice() -> str:
    """The requested kernel: ``set_kernel``'s, else ``$SCCL_KERNEL``, else ``auto``."""
    if _choice is not None:
        return _choice
    env = os.environ.get(ENV_VAR, "").strip()
    return _validate(env, f"{ENV_VAR}=") if env else "auto"


# ------------------------------------------------------------------------------ build and load

def cache_dir() -> Path:
    """Folder of the compiled kernels: $SCCL_NATIVE_DIR, else build/native in a writable checkout,
    else the user cache (~/.cache/sccl/native)."""
    env = os.environ.get("SCCL_NATIVE_DIR")
    if env:
        return Path(env).expanduser()
    root = SOURCE.parents[2]
    if (root / "pyproject.toml").is_file() and os.access(root, os.W_OK):
        return root / "build" / "native"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "sccl" / "native"


def _cpu_id() -> str:
    """The CPU model and its feature flags (-march=native code must not run on another CPU)."""
    try:
        with open("/proc/cpuinfo") as f:
            lines = [l for l in f if l.startswith(("model name", "flags", "Features", "CPU part"))]
        return "".join(sorted(set(lines)))
    except OSError:
        return platform.processor() + platform.machine()


def build_tag() -> str:
    h = hashlib.sha256()
    for part in (SOURCE.read_bytes(), " ".join(CFLAGS).encode(), torch.__version__.encode(),
                 sys.version.encode(), _cpu_id().encode()):
        h.update(part)
        h.update(b"\0")
    return h.hexdigest()[:16]


def _build_and_load(verbose: bool = False, retry: bool = False):
    build = cache_dir() / f"{LIB_NAME}_{build_tag()}"
    so = build / f"{LIB_NAME}.so"
    failed = build / "FAILED"       # a failed build is not retried by every process (make install retries)
    if not so.is_file() and failed.is_file() and not retry:
        raise RuntimeError(f"{failed.read_text().strip()} (earlier build; `python -m sccl.kernels` retries)")
    if not so.is_file():
        build.mkdir(parents=True, exist_ok=True)
        # ninja from PyPI lives next to the interpreter; put it on PATH for cpp_extension
        extra = [str(Path(sys.executable).parent)]
        try:
            import ninja  # noqa: F401
            extra.insert(0, ninja.BIN_DIR)
        except (ImportError, AttributeError):
            pass
        os.environ["PATH"] = os.pathsep.join([*extra, os.environ.get("PATH", "")])
        from torch.utils.cpp_extension import load

        try:
            load(name=LIB_NAME, sources=[str(SOURCE)], extra_cflags=list(CFLAGS), build_directory=str(build),
                 is_python_module=False, verbose=verbose)
        except Exception as e:
            try:
                failed.write_text(" ".join(f"{type(e).__name__}: {e}".split())[:300] + "\n")
            except OSError:
                pass
            raise
        failed.unlink(missing_ok=True)
    else:
        torch.ops.load_library(str(so))
    return torch.ops.sccl_native


def ops(build: bool = True, retry: bool = False):
    """The loaded kernel (``torch.ops.sccl_native``), building it if needed; None if unavailable.

    A build that failed before (same source, flags, torch, CPU) is not retried unless ``retry``."""
    global _ops, _load_error
    if _ops is not None or _load_error is not None or not build:
        return _ops
    try:
        _ops = _build_and_load(retry=retry)
    except Exception as e:   # any failure (no compiler, no ninja, bad flags): PyTorch path
        _load_error = " ".join(f"{type(e).__name__}: {e}".split())[:300]
        print(f"sccl: the native kernel is unavailable ({_load_error}); using the PyTorch path",
              file=sys.stderr, flush=True)
    return _ops


def load_error() -> str | None:
    return _load_error


def mode(t: Tensor) -> str | None:
    """What runs a layer on tensors like ``t``: None (the PyTorch path), ``"exact"`` or ``"native"``."""
    c = choice()
    if c == "torch" or t.device.type != "cpu" or t.dtype not in (torch.float32, torch.float64):
        return None
    if ops() is None:
        return None
    return "native" if c == "native" else "exact"


def in_force(device: str = "cpu") -> str:
    """The implementation that runs float32 layers on ``device``: ``torch``, ``exact`` or ``native``
    (what result records carry as ``env.kernel``)."""
    return mode(torch.empty(0, device=device)) or "torch"


# ------------------------------------------------------------------------------ BLAS block sizes

def block_size(K: int, N: int, M: int, dtype: torch.dtype) -> int:
    """The K-block size in which this BLAS sums a ``[M, K] @ [K, N]`` product with binary left factor.

    Measured once per shape class (and thread count) on a random 0/1 matrix: the first candidate
    block size whose spike-driven block sums equal ``torch.mm`` bit for bit. None found: K (plain
    sequential order; the native forward then differs from the PyTorch path in the last bits).
    """
    M = min(M, 64)
    key = (K, N, M, dtype, torch.get_num_threads())
    if key not in _block_sizes:
        gen = torch.Generator().manual_seed(12345)
        S = (torch.rand(M, K, generator=gen) < 0.3).to(dtype)
        W = torch.randn(K, N, generator=gen).to(dtype)
        ref = torch.mm(S, W)
        candidates = [K, (K + 1) // 2, K // 2] + list(range(K - 1, 0, -1))
        found = K
        seen = set()
        for kb in candidates:
            if kb < 1 or kb in seen:
                continue
            seen.add(kb)
            if torch.equal(ops().spike_matmul(S, W, kb), ref):
                found = kb
                break
        else:
            found = -K    # no match: remember it (negative), use sequential order
        _block_sizes[key] = found
    return abs(_block_sizes[key])


def blas_matched() -> dict:
    """Block sizes measured so far: {(K, N, M, dtype, threads): kb (negative: no exact match)}."""
    return dict(_block_sizes)


# ------------------------------------------------------------------------------ autograd functions

class LayerParams(NamedTuple):
    alpha: float
    beta: float
    threshold: float
    scale: float


class NativeLayerFunction(torch.autograd.Function):
    """One recurrent LIF layer on the compiled kernel.

    ``forward(x, w, v, p, exact, kb_rec, kb_in)``: ``x`` is the drive ``[T, B, H]`` (``w`` None)
    or the lower layer's spikes ``[T, B, H_in]`` (then the drive is ``x @ w``, computed inside).
    Returns the spikes ``[T, B, H]``. The backward is the PyTorch path's BPTT (docs/model.md).
    """

    @staticmethod
    def forward(ctx, x, w, v, p, exact, kb_rec, kb_in):
        if w is None:
            spk, mem = ops().lif_forward(x, None, None, v, p.alpha, p.beta, p.threshold, True, exact, kb_rec, kb_in)
        else:
            spk, mem = ops().lif_forward(None, x, w, v, p.alpha, p.beta, p.threshold, True, exact, kb_rec, kb_in)
        ctx.save_for_backward(spk, mem, v, x if w is not None else None, w)
        ctx.p, ctx.exact = p, exact
        return spk[1:]

    @staticmethod
    def backward(ctx, g_spk):
        spk, mem, v, x, w = ctx.saved_tensors
        p = ctx.p
        need_x, need_w, need_v = ctx.needs_input_grad[:3]
        ga, gv = ops().lif_backward(g_spk, spk, mem, v, p.alpha, p.beta, p.threshold, p.scale, need_v, ctx.exact)
        g_x = g_w = None
        if w is None:
            g_x = ga if need_x else None
        else:
            T, B, H = ga.shape
            flat = ga.view(T * B, H)
            if need_x:       # dense: the gradient of the lower layer's spikes, as autograd of x @ w
                wt = w.t() if ctx.exact else w.t().contiguous()
                g_x = torch.mm(flat, wt).view(T, B, w.shape[0])
            if need_w:
                g_w = ops().spike_grad_weight(x.reshape(T * B, w.shape[0]), flat, ctx.exact)
        return g_x, g_w, (gv if need_v else None), None, None, None, None


def lif_layer(x: Tensor, w: Tensor | None, v: Tensor, p, kind: str) -> Tensor:
    """Spikes ``[T, B, H]`` of one layer on the kernel ``kind`` (``"exact"`` or ``"native"``).

    ``x``: the drive ``[T, B, H]`` when ``w`` is None, else the lower spikes ``[T, B, H_in]``.
    ``p``: :class:`sccl.model.LIFParams`. Autograd-aware like :func:`sccl.model.lif_layer`.
    """
    x = x.contiguous()
    exact = kind == "exact"
    H = v.shape[0]
    kb_rec = kb_in = 0
    if not exact:
        kb_rec = block_size(H, H, x.shape[1], x.dtype)
        if w is not None:
            kb_in = block_size(w.shape[0], H, x.shape[0] * x.shape[1], x.dtype)
    lp = LayerParams(float(p.alpha), float(p.beta), float(p.threshold), float(p.scale))
    grad = torch.is_grad_enabled() and (x.requires_grad or v.requires_grad or (w is not None and w.requires_grad))
    if grad:
        return NativeLayerFunction.apply(x, w, v, lp, exact, kb_rec, kb_in)
    spk, _ = ops().lif_forward(x if w is None else None, None if w is None else x, w, v, lp.alpha, lp.beta,
                               lp.threshold, False, exact, kb_rec, kb_in)
    return spk[1:]


class NativeInputFunction(torch.autograd.Function):
    """Layer-1 currents ``X @ w1`` from the input's events, time-major ``[T, B, H1]`` (native kernel)."""

    @staticmethod
    def forward(ctx, w1, ev):
        ctx.ev = ev
        ctx.n_inputs = w1.shape[0]
        B, T, _ = ev.shape
        # the row sums of torch's embedding_bag, rounded as it rounds them (tested), written time-major
        return ops().events_forward(ev.cols, ev.vals, ev.offsets, w1, B, T)

    @staticmethod
    def backward(ctx, g):
        ev = ctx.ev
        return ops().events_backward(ev.rows, ev.cols, ev.vals, g, ctx.n_inputs), None


class NativeEventLayerFunction(torch.autograd.Function):
    """Layer 1 driven by the input's events, the input projection fused into its time loop (native).

    ``forward(w1, v, ev, p, kb_rec)`` returns the spikes ``[T, B, H1]``: the same as
    ``lif_layer(input_currents_time_major(ev, w1), None, v1, p, "native")`` without the ``[T, B, H1]``
    currents in memory. The backward is that of both: the layer's BPTT, then ``X^T ga`` for w1.
    """

    @staticmethod
    def forward(ctx, w1, v, ev, p, kb_rec):
        B, T, _ = ev.shape
        spk, mem = ops().lif_forward_events(ev.cols, ev.vals, ev.offsets, w1, B, T, v, p.alpha, p.beta,
                                            p.threshold, True, kb_rec)
        ctx.save_for_backward(spk, mem, v)
        ctx.p, ctx.ev, ctx.n_inputs = p, ev, w1.shape[0]
        return spk[1:]

    @staticmethod
    def backward(ctx, g_spk):
        spk, mem, v = ctx.saved_tensors
        p, ev = ctx.p, ctx.ev
        need_w1, need_v = ctx.needs_input_grad[:2]
        ga, gv = ops().lif_backward(g_spk, spk, mem, v, p.alpha, p.beta, p.threshold, p.scale, need_v, False)
        g_w1 = ops().events_backward(ev.rows, ev.cols, ev.vals, ga, ctx.n_inputs) if need_w1 else None
        return g_w1, (gv if need_v else None), None, None, None


def layer1_from_events(ev, w1: Tensor, v: Tensor, p) -> Tensor:
    """Spikes ``[T, B, H1]`` of layer 1 from an :class:`sccl.model.InputEvents` on the native kernel,
    the input projection fused into the time loop (autograd-aware in w1 and v1)."""
    lp = LayerParams(float(p.alpha), float(p.beta), float(p.threshold), float(p.scale))
    B, T, _ = ev.shape
    kb_rec = block_size(v.shape[0], v.shape[0], B, w1.dtype)
    if torch.is_grad_enabled() and (w1.requires_grad or v.requires_grad):
        return NativeEventLayerFunction.apply(w1, v, ev, lp, kb_rec)
    spk, _ = ops().lif_forward_events(ev.cols, ev.vals, ev.offsets, w1, B, T, v, lp.alpha, lp.beta, lp.threshold,
                                      False, kb_rec)
    return spk[1:]


def input_currents_time_major(ev, w1: Tensor) -> Tensor:
    """``X @ w1`` as ``[T, B, H1]`` from an :class:`sccl.model.InputEvents` (native kernel)."""
    return NativeInputFunction.apply(w1, ev)


def describe() -> str:
    """One line: the choice, what runs on the CPU, and where the kernel lives."""
    c = choice()
    if c == "torch":
        return "kernel: torch (PyTorch path)"
    o = ops()
    if o is None:
        return f"kernel: {c} -> torch (native kernel unavailable: {_load_error})"
    return f"kernel: {c} -> {'native' if c == 'native' else 'exact'} (compiled in {cache_dir()})"


def main(argv=None) -> int:
    """``python -m sccl.kernels``: build (or find) the kernel and print one line; status 0 either way
    unless ``--strict`` (then 1 when it cannot be built)."""
    import argparse

    ap = argparse.ArgumentParser(description="build the sccl native kernel and say what runs")
    ap.add_argument("--strict", action="store_true", help="exit 1 when the kernel cannot be built")
    args = ap.parse_args(argv)
    set_kernel("native")
    o = ops(retry=True)
    print("sccl native kernel: " + (f"ready in {cache_dir()}" if o is not None else f"unavailable ({_load_error}); "
                                    "the PyTorch path will run"))
    return 1 if (o is None and args.strict) else 0


if __name__ == "__main__":
    sys.exit(main())
