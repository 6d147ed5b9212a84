"""The sweep lists of the original testsuite drivers (reference-spec s4), in one place.

Each experiment's sweep is a list of :class:`Option` (flag name, type, default = the original
driver's literal list) and a function that turns parsed values into script invocations
(``[script, flag, flag, ...]``, relative to the experiment's folder). The ``testsuite.py``
drivers add the options unprefixed (``--depths``); the grid command adds them prefixed
(``--sample_depths``, ``--class_depths``, ``--progressive_depths``).

The runs of each strategy come from one builder per strategy (``SAMPLE_SWEEP``, ``CLASS_SWEEP``,
``PROGRESSIVE_SWEEP``, keyed by :mod:`sccl.registry` name); a strategy's name in the
``--strategies`` lists is its registry record's ``sweep`` label.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Callable

from sccl import registry


def int_list(text: str) -> list[int]:
    """'0..11' or '0,3,5' or '4' -> list of ints."""
    try:
        if ".." in text:
            lo, hi = text.split("..")
            return list(range(int(lo), int(hi) + 1))
        return [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a list like 0..11 or 0,3,5, got {text!r}") from None


def str_list(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


@dataclass(frozen=True)
class Option:
    name: str
    type: Callable
    default: object
    help: str = ""

    def add(self, parser, prefix: str = "", default=None) -> None:
        d = self.default if default is None else default
        shown = ",".join(map(str, d)) if isinstance(d, list) else d
        parser.add_argument(f"--{prefix}{self.name}", type=self.type, default=d,
                            help=f"{self.help} (default {shown})".strip())


# progressive --variants values -> strategies
PROGRESSIVE_VARIANT = {"plain": "latent_replay", "subsample": "latent_replay_subsample"}
PROGRESSIVE_VARIANTS = tuple(PROGRESSIVE_VARIANT)

SAMPLE_OPTIONS = [
    Option("reharsal_sizes", int_list, [1, 2, 3, 4, 5], "rehearsal: batches kept"),
    Option("depths", int_list, [1, 2, 3], "lr: latent depths"),
    Option("latent_batches", int_list, [40], "lr / subsample / sums: stored batches"),
    Option("subsample_depths", int_list, [0], "subsample ('new'): depths"),
    Option("latent_subsample", int_list, [10], "subsample ('new'): stored frames"),
    Option("sums_depths", int_list, [0, 1, 2, 3], "sums: depths"),
    Option("sums_subsample", int_list, [1], "sums: stored frames"),
    Option("nb_epochs", int, 50, "lr / subsample / sums: epochs"),
]
CLASS_OPTIONS = [
    Option("naive_epochs", int, 10, "naive: epochs"),
    Option("reharsal_sizes", int_list, [2], "rehearsal: batches kept per class"),
    Option("lr_depth", int, 2, "lr: latent depth"),
    Option("lr_epochs", int, 100, "lr: epochs"),
    Option("lr_rate", float, 0.001, "lr: learning rate"),
    Option("depths", int_list, [0, 1, 2, 3], "subsample: depths"),
    Option("latent_batches", int_list, [2], "subsample: batches per class"),
    Option("latent_subsample", int_list, [10], "subsample: stored frames"),
    Option("nb_epochs", int, 50, "subsample: epochs"),
    Option("reduced_depths", int_list, [1, 2, 3], "reduced (not in the paper): depths"),
    Option("reduced_subsample", int_list, [20], "reduced: stored frames = replayed steps"),
]
PROGRESSIVE_OPTIONS = [
    Option("depths", int_list, [0, 1, 2, 3], "latent depths"),
    Option("latent_batches", int_list, [1, 2, 3, 4], "English batches in the old memory"),
    Option("variants", str_list, list(PROGRESSIVE_VARIANTS), "plain and/or subsample"),
    Option("latent_subsample", int_list, [50], "subsample: stored frames (50 = the paper's 1:2)"),
]

# A small grid that still runs every strategy once (tests, smoke runs; pair it with a small network).
TINY = {
    "sample": dict(reharsal_sizes=[1], depths=[2], latent_batches=[1], subsample_depths=[0],
                   latent_subsample=[10], sums_depths=[1], sums_subsample=[1], nb_epochs=1),
    "class": dict(naive_epochs=1, reharsal_sizes=[1], lr_depth=2, lr_epochs=1, depths=[2],
                  latent_batches=[1], latent_subsample=[10], nb_epochs=1, reduced_depths=[2], reduced_subsample=[10]),
    "progressive": dict(depths=[1], latent_batches=[1], latent_subsample=[10]),
}


def defaults(options, **over) -> SimpleNamespace:
    return SimpleNamespace(**{o.name: o.default for o in options}, **over)


def _script(name: str) -> str:
    return registry.get(name).script + ".py"


def _latent(name: str, held: str, depths, a, extra) -> list[list[str]]:
    """Latent-replay runs of one strategy: depths x ``extra(depth)`` flag lists."""
    return [[_script(name), held, f"--latent_depth={d}", *flags] for d in depths for flags in extra(d)]


SAMPLE_SWEEP: dict[str, Callable] = {
    "naive": lambda a, sp: [[_script("naive"), sp]],
    "rehearsal": lambda a, sp: [[_script("rehearsal"), sp, f"--reharsal_size={k}"] for k in a.reharsal_sizes],
    "latent_replay": lambda a, sp: _latent("latent_replay", sp, a.depths, a, lambda d: [
        [f"--latent_batches={b}", f"--nb_epochs={a.nb_epochs}"] for b in a.latent_batches]),
    "latent_replay_subsample": lambda a, sp: _latent("latent_replay_subsample", sp, a.subsample_depths, a, lambda d: [
        [f"--nb_epochs={a.nb_epochs}", f"--latent_batches={b}", f"--latent_subsample={t}"]
        for b in a.latent_batches for t in a.latent_subsample]),
    "latent_replay_sums": lambda a, sp: _latent("latent_replay_sums", sp, a.sums_depths, a, lambda d: [
        [f"--nb_epochs={a.nb_epochs}", f"--latent_batches={b}", f"--latent_subsample={t}", "--pooling=sum"]
        for b in a.latent_batches for t in a.sums_subsample]),
}
CLASS_SWEEP: dict[str, Callable] = {
    "naive": lambda a, rc: [[_script("naive"), rc, f"--nb_epochs={a.naive_epochs}"]],
    "rehearsal": lambda a, rc: [[_script("rehearsal"), rc, f"--reharsal_size={k}"] for k in a.reharsal_sizes],
    "latent_replay": lambda a, rc: _latent("latent_replay", rc, [a.lr_depth], a, lambda d: [
        ["--latent_batches=10", f"--nb_epochs={a.lr_epochs}", f"--lr={a.lr_rate}"]]),
    "latent_replay_subsample": lambda a, rc: _latent("latent_replay_subsample", rc, a.depths, a, lambda d: [
        [f"--nb_epochs={a.nb_epochs}", f"--latent_subsample={t}", f"--latent_batches={b}"]
        for b in a.latent_batches for t in a.latent_subsample]),
    "latent_replay_reduced": lambda a, rc: _latent("latent_replay_reduced", rc, a.reduced_depths, a, lambda d: [
        [f"--nb_epochs={a.nb_epochs}", f"--latent_subsample={t}", f"--latent_batches={b}"]
        for b in a.latent_batches for t in a.reduced_subsample]),
}
PROGRESSIVE_SWEEP: dict[str, Callable] = {
    "latent_replay": lambda a, d, b: [[_script("latent_replay"), f"--latent_depth={d}", f"--latent_batches={b}"]],
    "latent_replay_subsample": lambda a, d, b: [
        [_script("latent_replay_subsample"), f"--latent_depth={d}", f"--latent_batches={b}", f"--latent_subsample={t}"]
        for t in a.latent_subsample],
}


def _labels(sweep: dict, paper_only: bool) -> tuple[str, ...]:
    return tuple(registry.get(n).sweep for n in sweep if registry.get(n).paper or not paper_only)


# the original drivers' strategies (the default lists, --paper), and every strategy with sweep entries
SAMPLE_STRATEGIES, SAMPLE_CHOICES = _labels(SAMPLE_SWEEP, True), _labels(SAMPLE_SWEEP, False)
CLASS_STRATEGIES, CLASS_CHOICES = _labels(CLASS_SWEEP, True), _labels(CLASS_SWEEP, False)


def _runs(sweep: dict, a, held: list[str], strategies) -> list[tuple[str, list[str]]]:
    """(strategy name, command) of every run, held-out-major, strategies in the drivers' order."""
    return [(name, cmd) for h in held for name, build in sweep.items()
            if registry.get(name).sweep in strategies for cmd in build(a, h)]


def sample_runs(a, speakers, strategies) -> list[tuple[str, list[str]]]:
    return _runs(SAMPLE_SWEEP, a, [f"--speaker={s}" for s in speakers], strategies)


def class_runs(a, classes, strategies) -> list[tuple[str, list[str]]]:
    return _runs(CLASS_SWEEP, a, [f"--removed_class={c}" for c in classes], strategies)


def progressive_runs(a) -> list[tuple[str, list[str]]]:
    """Progressive runs: depths x latent batches x variants, in the original drivers' order."""
    names = [PROGRESSIVE_VARIANT[v] for v in PROGRESSIVE_VARIANTS if v in a.variants]
    return [(name, cmd) for d in a.depths for b in a.latent_batches for name in names
            for cmd in PROGRESSIVE_SWEEP[name](a, d, b)]


def sample_commands(a, speakers, strategies) -> list[list[str]]:
    """Sample-incremental runs, speaker-major, in the original drivers' order."""
    return [cmd for _, cmd in sample_runs(a, speakers, strategies)]


def class_commands(a, classes, strategies) -> list[list[str]]:
    """Class-incremental runs, class-major, in the original drivers' order."""
    return [cmd for _, cmd in class_runs(a, classes, strategies)]


def progressive_commands(a) -> list[list[str]]:
    return [cmd for _, cmd in progressive_runs(a)]


def check_choice(values, allowed, what: str) -> None:
    bad = sorted(set(values) - set(allowed))
    if bad:
        raise argparse.ArgumentTypeError(f"unknown {what} {bad}; choose from {','.join(allowed)}")
