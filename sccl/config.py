"""Configuration records and the shared argparse builders.

Library functions take these frozen dataclasses, never an ``argparse.Namespace``. Scripts build
their parser from the ``add_*_args`` helpers below, so every script accepts the original's 13
common flags with the original defaults, each also spelled with hyphens.
"""
from __future__ import annotations

import argparse
import math
from dataclasses import asdict, dataclass, fields

from sccl.errors import ConfigError

LATENT_DEPTHS = (0, 1, 2, 3)


@dataclass(frozen=True)
class NetConfig:
    """The network and input encoding (reference-spec s2.1, s1.4)."""

    nb_inputs: int = 700        # input channels (cochlea units)
    nb_hidden: int = 200        # H1; H2 = H1 // 2, H3 = H2 // 2
    nb_outputs: int = 20        # readout units (20 in every experiment)
    time_step: float = 1e-3     # s, used only for alpha/beta (one bin is really max_time/(nb_steps-1))
    nb_steps: int = 100         # time bins (and time-bin edges, see sccl.data.binning)
    max_time: float = 1.4       # s, last bin edge
    tau_mem: float = 10e-3      # s, membrane time constant
    tau_syn: float = 5e-3       # s, synaptic time constant
    weight_scale: float = 0.2   # init std = weight_scale / sqrt(fan_in)
    reg_1: float = 0.0          # coefficient of sum of layer-3 spikes
    reg_2: float = 0.0          # coefficient of mean squared per-neuron layer-3 spike count

    @property
    def hidden(self) -> tuple[int, int, int]:
        """(H1, H2, H3) = (nb_hidden, nb_hidden // 2, nb_hidden // 4)."""
        h2 = self.nb_hidden // 2
        return (self.nb_hidden, h2, h2 // 2)

    @property
    def alpha(self) -> float:
        """Synaptic decay per step, exp(-time_step / tau_syn)."""
        return math.exp(-self.time_step / self.tau_syn)

    @property
    def beta(self) -> float:
        """Membrane decay per step, exp(-time_step / tau_mem)."""
        return math.exp(-self.time_step / self.tau_mem)

    def latent_size(self, depth: int) -> int:
        """Width of the latent stored at ``depth`` (depth 0: layer-1 currents, H1 wide)."""
        check_depth(depth)
        return self.hidden[max(depth, 1) - 1]

    def validate(self) -> "NetConfig":
        for name in ("nb_inputs", "nb_hidden", "nb_outputs", "nb_steps"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be a positive integer, got {getattr(self, name)}",
                                  setting=name)
        if self.nb_hidden < 4:
            raise ConfigError(f"nb_hidden must be at least 4 (layers are H, H//2, H//4), got {self.nb_hidden}",
                              setting="nb_hidden")
        for name in ("time_step", "max_time", "tau_mem", "tau_syn", "weight_scale"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be > 0, got {getattr(self, name)}", setting=name)
        return self

    def to_dict(self) -> dict:
        return asdict(self)


def check_depth(depth: int) -> int:
    if depth not in LATENT_DEPTHS:
        raise ConfigError(f"the latent depth must be one of 0, 1, 2, 3, got {depth}", setting="depth", value=depth)
    return depth


def check_subsample(latent_subsample: int, nb_steps: int) -> int:
    """Number of stored steps T' must divide nb_steps (window w = nb_steps // T')."""
    if latent_subsample < 1 or latent_subsample > nb_steps or nb_steps % latent_subsample:
        divisors = [d for d in range(1, nb_steps + 1) if nb_steps % d == 0]
        raise ConfigError(
            f"the stored frames T'={latent_subsample} must divide the {nb_steps} time steps "
            f"(choose one of {divisors}; ratio 1:2 is {nb_steps // 2}, 1:10 is {nb_steps // 10})",
            setting="n_frames", value=latent_subsample)
    return latent_subsample


# --------------------------------------------------------------------------- argparse builders

#: one sentence per common flag, for ``--help``
FLAG_HELP = {
    "nb_inputs": "input channels (cochlea units; SHD has 700)",
    "nb_hidden": "neurons of hidden layer 1 (layers 2 and 3 have half and a quarter of it)",
    "nb_outputs": "readout units (20 classes in every experiment)",
    "time_step": "time step in seconds, used only for the decay factors alpha and beta",
    "nb_steps": "time bins per sample",
    "max_time": "seconds covered by the time bins",
    "batch_size": "samples per batch",
    "nb_epochs": "training epochs",
    "tau_mem": "membrane time constant in seconds",
    "tau_syn": "synaptic time constant in seconds",
    "weight_scale": "init std is weight_scale / sqrt(fan-in)",
    "reg_1": "coefficient of the sum of layer-3 spikes in the loss",
    "reg_2": "coefficient of the mean squared layer-3 spike count per neuron in the loss",
    "speaker": "the held-out (new) speaker",
    "removed_class": "the held-out (new) class",
}


def _with_default(name: str, kw: dict) -> dict:
    """``help`` gets the flag's one sentence (FLAG_HELP) and its default, unless it says it already."""
    kw = dict(kw)
    text = kw.get("help")
    if text == argparse.SUPPRESS:
        return kw
    text = text or FLAG_HELP.get(name, name.replace("_", " "))
    if "default" not in text and not kw.get("required"):
        if kw.get("action") == "store_true":
            text += " (default: off)"
        else:
            text += f" (default: {kw.get('default')})"
    kw["help"] = text
    return kw


def _add(parser_or_group, name: str, **kw):
    """Add ``--name`` and, when it contains underscores, the ``--na-me`` alias (same dest); the
    help names the default."""
    flags = [f"--{name}"]
    if "_" in name:
        flags.append("--" + name.replace("_", "-"))
    return parser_or_group.add_argument(*flags, dest=name, **_with_default(name, kw))


def add_common_args(parser: argparse.ArgumentParser, nb_epochs: int = 200) -> None:
    """The 13 flags every original script has, with the original defaults (s8.1)."""
    g = parser.add_argument_group("network and data (original flags)")
    d = NetConfig()
    _add(g, "nb_inputs", type=int, default=d.nb_inputs)
    _add(g, "nb_hidden", type=int, default=d.nb_hidden)
    _add(g, "nb_outputs", type=int, default=d.nb_outputs)
    _add(g, "time_step", type=float, default=d.time_step)
    _add(g, "nb_steps", type=int, default=d.nb_steps)
    _add(g, "max_time", type=float, default=d.max_time)
    _add(g, "batch_size", type=int, default=64)
    _add(g, "nb_epochs", type=int, default=nb_epochs)
    _add(g, "tau_mem", type=float, default=d.tau_mem)
    _add(g, "tau_syn", type=float, default=d.tau_syn)
    _add(g, "weight_scale", type=float, default=d.weight_scale)
    _add(g, "reg_1", type=float, default=d.reg_1)
    _add(g, "reg_2", type=float, default=d.reg_2)


class _KernelAction(argparse.Action):
    """``--kernel``: selects the LIF kernel for the process as it is parsed (sccl.kernels.set_kernel)."""

    def __call__(self, parser, namespace, values, option_string=None):
        from sccl import kernels

        kernels.set_kernel(values)
        setattr(namespace, self.dest, values)


def add_run_args(parser: argparse.ArgumentParser) -> None:
    """Flags sccl adds to every script: seed, device, threads."""
    g = parser.add_argument_group("sccl additions")
    _add(g, "seed", type=int, default=0, help="seed of every random draw (default 0)")
    _add(g, "device", default=None,
         help="torch device, e.g. cpu or cuda:0 (default: cuda when available, else cpu)")
    _add(g, "threads", type=int, default=None,
         help="torch intra-op threads (default: torch's choice; set 1 when running jobs in parallel)")
    _add(g, "kernel", choices=("auto", "torch", "exact", "native"), default=None, action=_KernelAction,
         help="what runs the LIF time loops on the CPU (default: $SCCL_KERNEL, else auto = exact when the "
              "compiled kernel is available, else torch; docs/performance.md)")


def add_flag(parser, name: str, **kw):
    """Public form of the alias-adding helper for script-specific flags."""
    return _add(parser, name, **kw)


def net_config_from_args(args: argparse.Namespace) -> NetConfig:
    names = {f.name for f in fields(NetConfig)}
    return NetConfig(**{k: v for k, v in vars(args).items() if k in names}).validate()


def check_batch_size(batch_size: int) -> int:
    if batch_size < 1:
        raise ConfigError(f"batch_size must be a positive integer, got {batch_size}", setting="batch_size")
    return batch_size


def check_epochs(nb_epochs: int) -> int:
    if nb_epochs < 0:
        raise ConfigError(f"the number of epochs must be >= 0, got {nb_epochs}", setting="nb_epochs")
    return nb_epochs
