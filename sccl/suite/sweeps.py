"""The sweep lists of the original testsuite drivers (reference-spec s4), in one place.

Each experiment's sweep is a list of :class:`Option` (flag name, type, default = the original
driver's literal list) and a function that turns parsed values into script invocations
(``[script, flag, flag, ...]``, relative to the experiment's folder). The ``testsuite.py``
drivers add the options unprefixed (``--depths``); the grid command adds them prefixed
(``--sample_depths``, ``--class_depths``, ``--progressive_depths``).
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Callable


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


SAMPLE_STRATEGIES = ("naive", "rehearsal", "lr", "subsample", "sums")
CLASS_STRATEGIES = ("naive", "rehearsal", "lr", "subsample")
PROGRESSIVE_VARIANTS = ("plain", "subsample")

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
                  latent_batches=[1], latent_subsample=[10], nb_epochs=1),
    "progressive": dict(depths=[1], latent_batches=[1], latent_subsample=[10]),
}


def defaults(options, **over) -> SimpleNamespace:
    return SimpleNamespace(**{o.name: o.default for o in options}, **over)


def sample_commands(a, speakers, strategies) -> list[list[str]]:
    """Sample-incremental runs, speaker-major, in the original drivers' order."""
    out = []
    for s in speakers:
        sp = f"--speaker={s}"
        if "naive" in strategies:
            out.append(["naive.py", sp])
        if "rehearsal" in strategies:
            out += [["rehearsal.py", sp, f"--reharsal_size={k}"] for k in a.reharsal_sizes]
        for d in a.depths if "lr" in strategies else []:
            out += [["latent_replay.py", sp, f"--latent_depth={d}", f"--latent_batches={b}",
                     f"--nb_epochs={a.nb_epochs}"] for b in a.latent_batches]
        for d in a.subsample_depths if "subsample" in strategies else []:
            out += [["latent_replay_subsample.py", sp, f"--latent_depth={d}", f"--nb_epochs={a.nb_epochs}",
                     f"--latent_batches={b}", f"--latent_subsample={t}"]
                    for b in a.latent_batches for t in a.latent_subsample]
        for d in a.sums_depths if "sums" in strategies else []:
            out += [["latent_replay_subsample.py", sp, f"--latent_depth={d}", f"--nb_epochs={a.nb_epochs}",
                     f"--latent_batches={b}", f"--latent_subsample={t}", "--pooling=sum"]
                    for b in a.latent_batches for t in a.sums_subsample]
    return out


def class_commands(a, classes, strategies) -> list[list[str]]:
    """Class-incremental runs, class-major, in the original drivers' order."""
    out = []
    for c in classes:
        rc = f"--removed_class={c}"
        if "naive" in strategies:
            out.append(["naive.py", rc, f"--nb_epochs={a.naive_epochs}"])
        if "rehearsal" in strategies:
            out += [["rehearsal.py", rc, f"--reharsal_size={k}"] for k in a.reharsal_sizes]
        if "lr" in strategies:
            out.append(["latent_replay.py", rc, f"--latent_depth={a.lr_depth}", "--latent_batches=10",
                        f"--nb_epochs={a.lr_epochs}", f"--lr={a.lr_rate}"])
        for d in a.depths if "subsample" in strategies else []:
            out += [["latent_replay_subsample.py", rc, f"--latent_depth={d}", f"--nb_epochs={a.nb_epochs}",
                     f"--latent_subsample={t}", f"--latent_batches={b}"]
                    for b in a.latent_batches for t in a.latent_subsample]
    return out


def progressive_commands(a) -> list[list[str]]:
    """Progressive runs: depths x latent batches x variants, in the original drivers' order."""
    out = []
    for d in a.depths:
        for b in a.latent_batches:
            if "plain" in a.variants:
                out.append(["latent_replay.py", f"--latent_depth={d}", f"--latent_batches={b}"])
            if "subsample" in a.variants:
                out += [["latent_replay_subsample.py", f"--latent_depth={d}", f"--latent_batches={b}",
                         f"--latent_subsample={t}"] for t in a.latent_subsample]
    return out


def check_choice(values, allowed, what: str) -> None:
    bad = sorted(set(values) - set(allowed))
    if bad:
        raise argparse.ArgumentTypeError(f"unknown {what} {bad}; choose from {','.join(allowed)}")
