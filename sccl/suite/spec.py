"""Run specifications: what one run executes, what it needs, and its stable id.

A run is a pure function of its configuration: the script (folder + file, or ``-m module``)
and its arguments. The id is derived from exactly that, with the grid's output folder written
as the placeholder ``{out}`` (so a grid folder can be moved) and the flags that only change
how a run executes (``--threads``, ``--skip_done``) left out.
"""
from __future__ import annotations

import hashlib
import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from sccl.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent.parent   # the repository (scripts' folders)
OUT = "{out}"                                            # placeholder for the grid's output folder
EXEC_ONLY = ("--threads", "--skip_done", "--skip-done")  # flags that do not change the result
KINDS = ("data", "pretrain", "lists", "continual", "command")


def _result_args(argv: Sequence[str]) -> list[str]:
    return [a for a in argv if a.split("=", 1)[0] not in EXEC_ONLY]


def _slug(text: str, limit: int = 60) -> str:
    return re.sub(r"[^A-Za-z0-9_.]+", "-", text).strip("-")[:limit].strip("-") or "run"


@dataclass(frozen=True)
class RunSpec:
    """One run. ``argv`` starts with a script file (run in ``ROOT/folder``) or ``-m module``."""

    folder: str                        # repository-relative folder the run starts in ("" = root)
    argv: tuple[str, ...]              # may contain "{out}"
    kind: str = "command"              # data | pretrain | lists | continual | command
    label: str = ""                    # short human description (progress lines)
    deps: tuple[str, ...] = ()         # ids of runs that must finish first (and succeed)
    after: tuple[str, ...] = ()        # ids of runs that must have ended first, whatever their outcome
    writes: tuple[str, ...] = ()       # artifact keys this run writes (two runs may not share one)
    threads_flag: bool = True          # append --threads=N when launched

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ConfigError(f"unknown run kind {self.kind!r}")
        object.__setattr__(self, "argv", tuple(str(a) for a in self.argv))
        object.__setattr__(self, "deps", tuple(self.deps))
        object.__setattr__(self, "after", tuple(self.after))
        object.__setattr__(self, "writes", tuple(self.writes))
        if not self.label:
            object.__setattr__(self, "label", " ".join([self.folder, *_result_args(self.argv)[:4]]).strip())

    @property
    def config(self) -> dict:
        """Everything that determines the result (what the id hashes)."""
        return {"folder": self.folder, "argv": _result_args(self.argv)}

    @property
    def id(self) -> str:
        digest = hashlib.sha1(json.dumps(self.config, sort_keys=True).encode()).hexdigest()[:10]
        return f"{_slug(self.label)}-{digest}"

    def command(self, python: str, out: Path, threads: int | None) -> tuple[list[str], Path]:
        """(argv to execute, working directory) with ``{out}`` filled in."""
        args = [a.replace(OUT, str(out)) for a in self.argv]
        if threads is not None and self.threads_flag:
            args.append(f"--threads={threads}")
        return [python, *args], ROOT / self.folder

    def shown(self, out: Path | None = None) -> str:
        args = [a.replace(OUT, str(out)) if out else a for a in self.argv]
        return (f"(cd {self.folder} && " if self.folder else "(") + shlex.join(["python", *args]) + ")"

    def to_dict(self) -> dict:
        return {"id": self.id, "kind": self.kind, "label": self.label, "folder": self.folder,
                "argv": list(self.argv), "deps": list(self.deps), "after": list(self.after),
                "writes": list(self.writes)}


@dataclass
class Grid:
    """Runs with dependencies, checked: ids unique, every dependency known, no cycle, no two
    runs writing the same artifact. ``order`` is a topological order that keeps the order the
    runs were added in wherever the dependencies allow it. ``after`` only orders two runs (the
    second waits for the first to end, successful or not): runs that append to the same file
    do so in the same order whatever the parallelism."""

    runs: list[RunSpec] = field(default_factory=list)

    def add(self, spec: RunSpec) -> str:
        self.runs.append(spec)
        return spec.id

    def extend(self, specs: Iterable[RunSpec]) -> list[str]:
        return [self.add(s) for s in specs]

    def by_id(self) -> dict[str, RunSpec]:
        return {s.id: s for s in self.runs}

    def validate(self) -> "Grid":
        seen: dict[str, RunSpec] = {}
        for s in self.runs:
            if s.id in seen:
                raise ConfigError(f"the grid holds the same run twice: {s.label} ({s.id})")
            seen[s.id] = s
        writers: dict[str, RunSpec] = {}
        for s in self.runs:
            for d in (*s.deps, *s.after):
                if d not in seen:
                    raise ConfigError(f"run {s.label} depends on {d}, which is not in the grid")
            for w in s.writes:
                if w in writers:
                    raise ConfigError(f"two runs of the grid write the same artifact {w}: "
                                      f"{writers[w].label} and {s.label}; results would depend on "
                                      f"which finishes last")
                writers[w] = s
        self.order()
        return self

    def order(self) -> list[RunSpec]:
        specs = self.by_id()
        position = {s.id: i for i, s in enumerate(self.runs)}
        state: dict[str, int] = {}
        out: list[RunSpec] = []

        def visit(i: str, path: tuple):
            if state.get(i) == 2:
                return
            if state.get(i) == 1:
                cycle = " -> ".join(specs[j].label for j in (*path, i))
                raise ConfigError(f"the grid's dependencies form a cycle: {cycle}")
            state[i] = 1
            for d in sorted({*specs[i].deps, *specs[i].after}, key=position.get):
                visit(d, (*path, i))
            state[i] = 2
            out.append(specs[i])

        for s in self.runs:
            visit(s.id, ())
        return out

    def dependants(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {s.id: [] for s in self.runs}
        for s in self.runs:
            for d in s.deps:
                out[d].append(s.id)
        return out
