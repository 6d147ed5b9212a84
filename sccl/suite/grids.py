"""Grids of runs with their dependencies: the paper's grid, any sub-grid, a tiny one.

Layout of a grid folder (``--out_dir``; ``{out}`` below):

    {out}/data/                          synthetic SHD-format set (with --synthetic and no --data_dir)
    {out}/statedicts_64_elements/        speaker pretrainings (sample-incremental runs read them)
    {out}/statedicts_class_incremental/  class pretrainings + batch lists of the other classes
    {out}/statedicts_10classes/          the 10-class (English) pretraining + class 0..9 batch lists
    {out}/sample_incremental/            TXT / CSV / records of the continual runs
    {out}/class_incremental/
    {out}/class_incremental_multiclasses/
    {out}/grid/                          lock, done markers, logs, runs.json, summary.json

Dependencies (docs/protocols.md "Where faithful runs depend on other runs"):

* every generator run needs the dataset (one ``data`` run prepares / merges / generates it);
* a sample-incremental run needs its speaker's pretraining;
* a class-incremental run needs its class's pretraining and, when it replays (faithful
  protocol), the ``removed_x_class_<cl>.pt`` of every other class: classes of the grid are
  pretrained in full, the others get ``--removed_only`` runs (kind ``lists``) that write the same
  batch lists without training;
* a progressive run needs the 10-class pretraining and, faithful, the batch lists of classes
  0..9 (``lists`` runs in the 10-class folder); the progressive runs of one depth and memory
  size (plain, compressed) append to one TXT file, so each waits for the previous one to end:
  the file's contents do not depend on ``--jobs``.

The 10-class pretraining lives in its own folder because it rewrites
``removed_{x,y}_class_10..19.pt`` (reference-spec Q14): in one folder the class-incremental
runs would read whichever version was written last, so results would depend on timing. In a
grid, every artifact has exactly one writer (checked).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

from sccl import registry
from sccl.errors import ConfigError
from sccl.registry import EXPERIMENTS, Protocol
from sccl.suite import sweeps
from sccl.suite.spec import OUT, Grid, RunSpec

N_CLASSES = 20
ENGLISH = range(10)
SD_SPEAKER = f"{OUT}/statedicts_64_elements"
SD_CLASS = f"{OUT}/statedicts_class_incremental"
SD_PROGRESSIVE = f"{OUT}/statedicts_10classes"
RESULTS = {"sample": f"{OUT}/sample_incremental", "class": f"{OUT}/class_incremental",
           "progressive": f"{OUT}/class_incremental_multiclasses"}
FOLDERS = {"sample": "sample_incremental", "class": "class_incremental",
           "progressive": "class_incremental_multiclasses"}
# flags of the continual scripts only (the generators reject them)
CONTINUAL_ONLY = ("--override_epochs", "--protocol", "--order", "--lr", "--statedict_dir")


@dataclass
class GridOptions:
    speakers: list[int] = field(default_factory=list)
    classes: list[int] = field(default_factory=list)
    progressive: bool = False
    strategies: list[str] = field(default_factory=lambda: ["all"])
    sample: SimpleNamespace = field(default_factory=lambda: sweeps.defaults(sweeps.SAMPLE_OPTIONS))
    klass: SimpleNamespace = field(default_factory=lambda: sweeps.defaults(sweeps.CLASS_OPTIONS))
    prog: SimpleNamespace = field(default_factory=lambda: sweeps.defaults(sweeps.PROGRESSIVE_OPTIONS))
    protocol: str = "faithful"
    pretrain_epochs: int = 200
    override_epochs: int | None = None
    common: list[str] = field(default_factory=list)          # to every script (network, seed, device)
    pretrain_args: list[str] = field(default_factory=list)   # to the generators only
    continual_args: list[str] = field(default_factory=list)  # to the continual scripts only
    data_dir: str | None = None
    synthetic: bool = False
    synthetic_reps: int | None = None

    def strategies_for(self, default, choices) -> list[str]:
        """The strategies of one experiment: ``all`` = the paper's (``default``), or the named ones."""
        if "all" in self.strategies:
            return list(default)
        return [s for s in self.strategies if s in choices]


def split_common(extra: list[str]) -> tuple[list[str], list[str]]:
    """Pass-through flags -> (to every script, to the continual scripts only). A token that does
    not start with ``--`` is the value of the flag before it."""
    common, continual = [], []
    dest = common
    for a in extra:
        if a.startswith("--"):
            name = "--" + a[2:].split("=", 1)[0].replace("-", "_")
            dest = continual if name in CONTINUAL_ONLY else common
        dest.append(a)
    return common, continual


def _flag_value(args: list[str], name: str) -> str | None:
    for i, a in enumerate(args):
        if a == name and i + 1 < len(args):
            return args[i + 1]
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return None


def build_grid(o: GridOptions) -> Grid:
    """The grid of ``o``: data, pretrainings, batch lists and continual runs, with dependencies."""
    for s in o.strategies:
        if s != "all" and s not in sweeps.SAMPLE_CHOICES + sweeps.CLASS_CHOICES:
            raise ConfigError(f"unknown strategy {s!r}; choose from "
                              f"{','.join(sorted(set(sweeps.SAMPLE_CHOICES + sweeps.CLASS_CHOICES)))} or all")
    sweeps.check_choice(o.prog.variants, sweeps.PROGRESSIVE_VARIANTS, "progressive variant")
    protocol = Protocol.parse(o.protocol)
    if not (o.speakers or o.classes or o.progressive):
        raise ConfigError("nothing to run: give --speakers, --classes and/or --progressive (or --paper)")
    for c in o.classes:
        if not 0 <= c < N_CLASSES:
            raise ConfigError(f"--classes: class {c} is not one of 0..{N_CLASSES - 1}")
    grid = Grid()

    # the dataset
    if o.data_dir:
        data = str(Path(o.data_dir).expanduser().resolve())
    elif o.synthetic:
        data = f"{OUT}/data"
    else:
        data = None  # the scripts' default folder, ~/data/hdspikes
    data_flags = ([f"--data_dir={data}"] if data else []) + (["--synthetic"] if o.synthetic else []) + \
        ([f"--synthetic_reps={o.synthetic_reps}"] if o.synthetic and o.synthetic_reps else [])
    prep = ["-m", "sccl.suite.prepare", *data_flags]
    nb_inputs = _flag_value(o.common, "--nb_inputs")
    if nb_inputs:
        prep.append(f"--nb_inputs={nb_inputs}")
    data_id = grid.add(RunSpec("", prep, kind="data", label="data", writes=("data",), threads_flag=False))

    def generator(script: str, folder_out: str, held: list[str], epochs: int | None, kind: str, label: str,
                  writes: tuple) -> str:
        """A pretraining (``epochs``) or, with ``epochs=None``, a batch-list run (--removed_only)."""
        folder = "statedicts_64_elements" if folder_out == SD_SPEAKER else "statedicts_class_incremental"
        how = ["--removed_only"] if epochs is None else [f"--nb_epochs={epochs}"]
        argv = [script, *held, *how, *data_flags, *o.common, *o.pretrain_args, f"--out_dir={folder_out}"]
        return grid.add(RunSpec(folder, argv, kind=kind, label=label, deps=(data_id,), writes=writes))

    def continual(exp: str, cmd: list[str], sd: str, deps, after=()) -> str:
        argv = [*cmd, *o.common, *o.continual_args]
        if o.override_epochs is not None:
            argv.append(f"--override_epochs={o.override_epochs}")
        if protocol is not Protocol.FAITHFUL:
            argv.append(f"--protocol={o.protocol}")
        argv += [f"--statedict_dir={sd}", f"--out_dir={RESULTS[exp]}", "--skip_done"]
        label = f"{exp} {cmd[0].removesuffix('.py')} " + " ".join(a.lstrip("-") for a in cmd[1:])
        return grid.add(RunSpec(FOLDERS[exp], argv, kind="continual", label=label,
                                deps=tuple(dict.fromkeys(deps)), after=tuple(after)))

    # sample-incremental
    if o.speakers:
        gen = "heidelberg_statedict_generator.py"
        pre = {s: generator(gen, SD_SPEAKER, [f"--speaker={s}"], o.pretrain_epochs, "pretrain",
                            f"pretrain speaker {s}", (f"{SD_SPEAKER}:speaker_{s}",)) for s in o.speakers}
        strategies = o.strategies_for(sweeps.SAMPLE_STRATEGIES, sweeps.SAMPLE_CHOICES)
        for s in o.speakers:
            for cmd in sweeps.sample_commands(o.sample, [s], strategies):
                continual("sample", cmd, SD_SPEAKER, [pre[s]])

    # class-incremental
    if o.classes:
        strategies = o.strategies_for(sweeps.CLASS_STRATEGIES, sweeps.CLASS_CHOICES)
        reads = EXPERIMENTS["class"].memory_reads
        replaying = any("class_lists" in reads(protocol, st) for st in registry.by_sweep(strategies))
        gen = "heidelberg_statedict_generator.py"
        cls = {}
        for c in range(N_CLASSES):
            if c in o.classes:
                cls[c] = generator(gen, SD_CLASS, [f"--removed_class={c}"], o.pretrain_epochs, "pretrain",
                                   f"pretrain class {c}", (f"{SD_CLASS}:class_{c}",))
            elif replaying:
                cls[c] = generator(gen, SD_CLASS, [f"--removed_class={c}"], None, "lists",
                                   f"batch lists class {c}", (f"{SD_CLASS}:class_{c}",))
        for c in o.classes:
            for name, cmd in sweeps.class_runs(o.klass, [c], strategies):
                memory = "class_lists" in reads(protocol, registry.get(name))
                continual("class", cmd, SD_CLASS, [cls[c], *(cls.values() if memory else [])])

    # progressive
    if o.progressive:
        runs = sweeps.progressive_runs(o.prog)
        if runs:
            ten = grid.add(RunSpec(
                "statedicts_class_incremental",
                ["heidelberg_statedict_generator_10classes.py", f"--nb_epochs={o.pretrain_epochs}", *data_flags,
                 *o.common, *o.pretrain_args, f"--out_dir={SD_PROGRESSIVE}"],
                kind="pretrain", label="pretrain 10classes", deps=(data_id,),
                writes=(f"{SD_PROGRESSIVE}:10classes",
                        *(f"{SD_PROGRESSIVE}:class_{c}" for c in range(10, N_CLASSES)))))
            english = []
            if any("english_lists" in EXPERIMENTS["progressive"].memory_reads(protocol, registry.get(name))
                   for name, _ in runs):
                english = [generator("heidelberg_statedict_generator.py", SD_PROGRESSIVE, [f"--removed_class={c}"],
                                     None, "lists", f"batch lists class {c} (progressive)",
                                     (f"{SD_PROGRESSIVE}:class_{c}",)) for c in ENGLISH]
            last = {}  # the runs of one depth and memory size append to one TXT: keep their order
            for _, cmd in runs:
                key = tuple(a for a in cmd if a.startswith(("--latent_depth=", "--latent_batches=")))
                prev = last.get(key)
                last[key] = continual("progressive", cmd, SD_PROGRESSIVE, [ten, *english],
                                      after=[prev] if prev else [])
    return grid.validate()
