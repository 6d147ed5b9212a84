"""Run-time environment: device, threads, seeds, progress bars.

Nothing here sets ``CUDA_VISIBLE_DEVICES``: the environment decides which GPUs are visible,
``--device`` picks one of them.
"""
from __future__ import annotations

import os
import platform
import sys

import numpy as np
import torch

from sccl.errors import ConfigError


def select_device(name: str | None) -> torch.device:
    """``None`` -> cuda when available, else cpu; otherwise the named device (validated)."""
    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"{name!r} is not a torch device (use cpu, cuda or cuda:N)", setting="device") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name} asks for CUDA but torch sees no GPU here (torch {torch.__version__}); "
                          f"use the cpu", setting="device", value=name)
    return dev


def set_threads(n: int | None) -> int:
    """Set torch intra-op threads when ``n`` is given; return the count in force."""
    if n is not None:
        if n < 1:
            raise ConfigError(f"the thread count must be >= 1, got {n}", setting="threads")
        torch.set_num_threads(n)
    return torch.get_num_threads()


def seeded(seed: int) -> tuple[np.random.Generator, torch.Generator]:
    """The two random streams of a run: numpy (shuffles) and torch CPU (weight draws)."""
    if seed < 0:
        raise ConfigError(f"the seed must be >= 0, got {seed}", setting="seed")
    gen = torch.Generator()
    gen.manual_seed(seed)
    return np.random.default_rng(seed), gen


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo), else what ``platform`` knows: a label for benchmarks."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "?"


def environment(device: str = "cpu") -> dict:
    """What a result record says about the machine it came from and what ran the time loops
    (``kernel``: torch / exact / native, sccl.kernels)."""
    from sccl import kernels

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "kernel": kernels.in_force(str(torch.device(device).type)),
        "machine": platform.machine(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def progress(iterable=None, **kw):
    """A tqdm bar on stderr, quiet when SCCL_NO_PROGRESS is set or stderr is not a terminal
    and SCCL_PROGRESS is not set (keeps CI logs and captured test output short)."""
    from tqdm import tqdm

    show = os.environ.get("SCCL_PROGRESS") == "1" or (
        sys.stderr.isatty() and not os.environ.get("SCCL_NO_PROGRESS"))
    return tqdm(iterable, disable=not show, file=sys.stderr, dynamic_ncols=True, leave=False, **kw)
