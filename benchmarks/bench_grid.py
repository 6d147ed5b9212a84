#!/usr/bin/env python
"""`make bench-grid`: one real run of each kind of the paper grid, timed, extrapolated to the grid.

The paper grid (``python -m sccl.suite --paper``: 384 runs) is built by ``sccl.suite.grids``; each
row of the table stands for a set of its runs (the data run, the pretrainings of one kind, the
continual runs of one script at one latent depth, ...) and one of them, the representative, is
run for real: the grid's own command (folder, script, flags) with ``{out}`` a temporary folder,
``--threads=1``, ``--kernel=K`` and the epochs cut to ``--epochs`` (``--nb_epochs`` for the
generators, ``--override_epochs`` for the continual scripts), each as a subprocess with
``OMP_NUM_THREADS=1``. Class and progressive runs get ``--protocol=clean``: its memories have the
faithful ones' sizes but read no other run's batch lists, so no class needs its lists first.

Every output line of a run is time-stamped as it arrives; the lines ``Epoch N: ...`` (progressive:
``Epoch N for class C: ...``) mark the end of an epoch and its evaluation. ``per epoch`` is the
mean time between the marks of consecutive epochs of one training loop (so the one-time costs of
the first epoch stay out of it), ``fixed`` is the run's wall time less its epochs, and a run of
the grid takes ``fixed + epochs x per epoch`` with the grid's epoch count, read from the script's
own parser on the grid's command (``sccl.scripting.effective_epochs``). The child's CPU time comes
from ``os.wait4``. A continual run reads a pretraining: the one measured in the same benchmark,
or, when that kind is not selected, one run first with the same epochs (a prerequisite, not in
the table).

    python benchmarks/bench_grid.py                       # every kind, --kernel native, 2 epochs
    python benchmarks/bench_grid.py --kernel torch --out results/bench_grid.md   # + .json
    python benchmarks/bench_grid.py --kinds pretrain_speaker,sample_lr    # a subset (keys or groups)
    python benchmarks/bench_grid.py --quick               # tiny set and network: checks the machinery

Two epochs, not one: the first epoch of a run carries one-time costs (the kernel's first use, the
optimiser's state; 1.7 s against 0.04 s for the second on the tiny set), and with one epoch there
is no interval between two epoch lines to take the epoch's time from; ``--epochs 1`` then falls
back to the time up to the first epoch line, flagged ``*`` in the table as an upper bound.

Nothing is written into the repository: every run writes under the temporary folder, which is
removed at the end (``--keep`` keeps it). Timings assume a quiet machine: on a busy one a
one-thread run waits for the CPU, its wall time grows and its CPU time does not (compare the two
columns).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import runpy
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:      # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT))

KERNEL_CHOICES = ("native", "torch", "exact", "auto")
SAMPLE, CLASS, PROG = "sample_incremental", "class_incremental", "class_incremental_multiclasses"
# --quick: the tests' tiny set and network (tests/conftest.py); 100 steps kept, so the grid's
# --latent_subsample values stay valid
QUICK_REPS = 4
QUICK_NET = ["--batch_size=8", "--nb_hidden=16", "--weight_scale=1.0"]


class UsageError(Exception):
    """Bad input: one line on stderr, exit status 2."""


# ----------------------------------------------------------------------------- kinds of runs

@dataclass(frozen=True)
class Kind:
    """One row: ``match`` (features every run of the set has; None = the flag is absent) selects
    its runs in the grid, ``pick`` the representative among them (the first in grid order).
    ``prior`` = (fixed s, s per epoch) of the PyTorch path in docs/sweeps.md, used only for the ETA."""

    key: str
    title: str
    match: dict
    pick: dict = field(default_factory=dict)
    note: str = ""                 # what the representative is, where the runs of the row differ
    prior: tuple[float, float] = (10.0, 2.0)

    @property
    def label(self) -> str:
        return f"{self.title} ({self.note})" if self.note else self.title

    @property
    def group(self) -> str:
        """The key without its depth (``sample_lr_d1`` -> ``sample_lr``): ``--kinds`` takes both."""
        return re.sub(r"_d\d$", "", self.key)

    @property
    def category(self) -> str:
        if self.key.startswith("pretrain_"):
            return "pretrainings"
        if self.key in ("data", "lists"):
            return "data and batch lists"
        return "continual runs"

    @property
    def experiment(self) -> str | None:
        """The continual experiment of the row (sample / class / progressive), None for the others."""
        folder = self.match.get("folder")
        return {SAMPLE: "sample", CLASS: "class", PROG: "progressive"}.get(folder)


def _depths(key, title, match, depths, pick, note, prior):
    return [Kind(f"{key}_d{d}", f"{title}, depth {d}", {**match, "latent_depth": str(d)}, pick, note, prior)
            for d in depths]


KINDS: list[Kind] = [
    Kind("data", "data", {"kind": "data"}, note="synthetic generation; real SHD: the merge", prior=(15, 0)),
    Kind("pretrain_speaker", "speaker pretraining", {"kind": "pretrain", "folder": "statedicts_64_elements"},
         {"speaker": "0"}, prior=(22, 10.7)),
    Kind("pretrain_class", "class pretraining",
         {"kind": "pretrain", "folder": "statedicts_class_incremental", "script": "heidelberg_statedict_generator.py"},
         {"removed_class": "0"}, prior=(20, 11.1)),
    Kind("pretrain_10classes", "10-class pretraining", {"kind": "pretrain",
         "script": "heidelberg_statedict_generator_10classes.py"}, prior=(20, 5.9)),
    Kind("lists", "batch lists", {"kind": "lists"}, {"removed_class": "0"}, "`--removed_only`", (7, 0)),
    Kind("sample_naive", "sample naive", {"folder": SAMPLE, "script": "naive.py"}, {"speaker": "0"},
         prior=(6.8, 2.06)),
    Kind("sample_rehearsal", "sample rehearsal", {"folder": SAMPLE, "script": "rehearsal.py"},
         {"speaker": "0", "reharsal_size": "3"}, "3 raw batches; the grid: 1..5", (7.4, 2.24)),
    *_depths("sample_lr", "sample latent replay", {"folder": SAMPLE, "script": "latent_replay.py"},
             (1, 2, 3), {"speaker": "0"}, "40 batches", (7.1, 1.96)),
    *_depths("sample_compressed", "sample compressed",
             {"folder": SAMPLE, "script": "latent_replay_subsample.py", "pooling": None}, (0,), {"speaker": "0"},
             "40 batches, 1:10", (6.5, 4.28)),
    *_depths("sample_sums", 'sample "sums"',
             {"folder": SAMPLE, "script": "latent_replay_subsample.py", "pooling": "sum"}, (0, 1, 2, 3),
             {"speaker": "0"}, "40 batches, 1 frame of counts", (7, 2.54)),
    Kind("class_naive", "class naive", {"folder": CLASS, "script": "naive.py"}, {"removed_class": "0"},
         prior=(5.8, 1.14)),
    Kind("class_rehearsal", "class rehearsal", {"folder": CLASS, "script": "rehearsal.py"},
         {"removed_class": "0"}, "2 batches per class, raw 1:10", (15.4, 4.64)),
    *_depths("class_lr", "class latent replay", {"folder": CLASS, "script": "latent_replay.py"}, (2,),
             {"removed_class": "0"}, "1 batch per class", (16.5, 0.49)),
    *_depths("class_compressed", "class compressed", {"folder": CLASS, "script": "latent_replay_subsample.py"},
             (0, 1, 2, 3), {"removed_class": "0"}, "2 batches per class, 1:10", (15.7, 1.09)),
    *_depths("progressive", "progressive", {"folder": PROG}, (0, 1, 2, 3),
             {"script": "latent_replay_subsample.py", "latent_batches": "4"},
             "4 batches, 1:2; the grid: 1..4 batches, plain and 1:2", (13.3, 3.68)),
]
BY_KEY = {k.key: k for k in KINDS}
# the pretraining a continual experiment reads
NEEDS = {"sample": "pretrain_speaker", "class": "pretrain_class", "progressive": "pretrain_10classes"}


def features(spec) -> dict:
    """What the kinds match on: the run's kind, folder, script and flags (``--a=b`` -> a: b)."""
    argv = list(spec.argv)
    script = " ".join(argv[:2]) if argv[0] == "-m" else argv[0]
    f = {"kind": spec.kind, "folder": spec.folder, "script": script}
    for a in argv[1:]:
        if a.startswith("--"):
            name, eq, value = a[2:].partition("=")
            f[name.replace("-", "_")] = value if eq else True
    return f


def matches(feat: dict, want: dict) -> bool:
    return all(feat.get(k) == v for k, v in want.items())


def assign(runs, kinds=KINDS) -> dict[str, list]:
    """Each run of the grid -> the one kind that matches it. A run that no kind or two kinds
    match is an error: the table must cover the grid exactly once."""
    out: dict[str, list] = {k.key: [] for k in kinds}
    for spec in runs:
        feat = features(spec)
        hits = [k.key for k in kinds if matches(feat, k.match)]
        if len(hits) != 1:
            raise AssertionError(f"grid run {spec.label!r} matches {len(hits)} kinds ({hits}); "
                                 f"the benchmark's kinds must cover the grid once")
        out[hits[0]].append(spec)
    return out


def representative(kind: Kind, specs):
    for spec in specs:
        if matches(features(spec), kind.pick):
            return spec
    raise AssertionError(f"no run of kind {kind.key} has {kind.pick}")


def paper_options(**over):
    """The grid of ``sccl.suite --paper --synthetic`` (the drivers' default lists)."""
    from sccl.suite.grids import N_CLASSES, GridOptions

    return GridOptions(speakers=list(range(12)), classes=list(range(N_CLASSES)), progressive=True,
                       synthetic=True, **over)


def loops_per_run(kind: Kind) -> int:
    """Training loops in one run: a progressive run learns the 10 German classes one by one."""
    if kind.experiment == "progressive":
        from sccl.suite.grids import ENGLISH, N_CLASSES

        return N_CLASSES - len(ENGLISH)
    return 1


def grid_epochs(spec) -> int | None:
    """Epochs per training loop of a grid run, as its script decides them: ``--nb_epochs`` of a
    generator; for a continual script, its parser on the grid's argv and
    ``sccl.scripting.effective_epochs`` (hard-coded epochs, ``--override_epochs``), read by
    running the script's ``main`` with ``continual_main`` replaced by a probe. None: no epochs."""
    if spec.kind in ("data", "lists"):
        return None
    if spec.kind == "pretrain":
        return int(features(spec)["nb_epochs"])
    from sccl.scripting import effective_epochs

    main = runpy.run_path(str(ROOT / spec.folder / spec.argv[0]), run_name="bench_grid_probe")["main"]
    seen = {}
    names = main.__globals__
    real = names["continual_main"]
    names["continual_main"] = lambda args, **kw: seen.setdefault("args", args)
    try:
        main(list(spec.argv[1:]))
    finally:
        names["continual_main"] = real
    return effective_epochs(seen["args"])


def select(text: str | None) -> list[Kind]:
    """``--kinds``: comma list of keys or groups (``sample_lr`` = its depths), or ``all``."""
    if not text or text.strip() == "all":
        return list(KINDS)
    wanted = [t.strip() for t in text.split(",") if t.strip()]
    known = {k.key for k in KINDS} | {k.group for k in KINDS}
    bad = [t for t in wanted if t not in known]
    if bad or not wanted:
        groups = sorted({k.group for k in KINDS if k.group != k.key})
        raise UsageError(f"--kinds: unknown kind {', '.join(bad) or repr(text)}; choose from "
                         f"{','.join(k.key for k in KINDS)} (or the groups {','.join(groups)}, or all)")
    return [k for k in KINDS if k.key in wanted or k.group in wanted]


def plan(selected: list[Kind]) -> list[tuple[Kind, bool]]:
    """(kind, reported) in run order: the data run and the pretraining each selected continual
    kind reads come first, as prerequisites when not selected themselves."""
    keys = {k.key for k in selected}
    needed = {"data"} | {NEEDS[k.experiment] for k in selected if k.experiment}
    return [(k, k.key in keys) for k in KINDS if k.key in keys or k.key in needed]


# ----------------------------------------------------------------------------- parsing, arithmetic

EPOCH_LINE = re.compile(r"^Epoch (\d+)(?: for class (\d+))?:")


@dataclass(frozen=True)
class Mark:
    """The first output line of an epoch's block: time, training loop (progressive: the class), epoch,
    and the time of the non-empty line before it."""

    t: float
    loop: str | None
    epoch: int
    t_before: float


def epoch_marks(lines: list[tuple[float, str]]) -> list[Mark]:
    """Time-stamped output lines -> one mark per epoch (an epoch prints several lines at once)."""
    marks, last, t_before = [], None, 0.0
    for t, text in lines:
        text = text.strip()
        m = EPOCH_LINE.match(text)
        if m:
            key = (m.group(2), int(m.group(1)))
            if key != last:
                marks.append(Mark(t, m.group(2), int(m.group(1)), t_before))
                last = key
        if text:
            t_before = t
    return marks


def per_epoch(marks: list[Mark]) -> tuple[float | None, bool]:
    """(seconds per epoch, clean). Clean: the mean interval between the marks of consecutive
    epochs of one loop. With one epoch per loop there is no such interval: then the mean time
    from the line before each loop's epoch to its mark, which also holds the loop's set-up and
    the first epoch's one-time costs (an upper bound; use 2 epochs or more)."""
    gaps = [b.t - a.t for a, b in zip(marks, marks[1:]) if b.loop == a.loop and b.epoch == a.epoch + 1]
    if gaps:
        return sum(gaps) / len(gaps), True
    if marks:
        return sum(m.t - m.t_before for m in marks) / len(marks), False
    return None, True


def extrapolate(wall: float, seconds_per_epoch: float | None, measured_epochs: int,
                grid_epochs_per_run: int) -> dict:
    """fixed = wall - measured epochs x per epoch; per run = fixed + the grid's epochs x per epoch."""
    if seconds_per_epoch is None:
        return {"fixed_s": wall, "per_run_s": wall}
    fixed = wall - measured_epochs * seconds_per_epoch
    return {"fixed_s": fixed, "per_run_s": fixed + grid_epochs_per_run * seconds_per_epoch}


def totals(rows: list[dict]) -> dict:
    """Sum of the rows' totals per category, all of them, and --jobs 2 (half: two runs at a time)."""
    out = {}
    for cat in ("pretrainings", "continual runs", "data and batch lists"):
        part = [r for r in rows if r["category"] == cat]
        if part:
            out[cat] = {"runs": sum(r["count"] for r in part), "seconds": sum(r["total_s"] for r in part)}
    out["all"] = {"runs": sum(r["count"] for r in rows), "seconds": sum(r["total_s"] for r in rows)}
    out["all, --jobs 2"] = {"runs": out["all"]["runs"], "seconds": out["all"]["seconds"] / 2}
    return out


def duration(s: float | None) -> str:
    """Seconds in the unit the docs use: s below 100 s, min below 100 min, else h (one decimal)."""
    if s is None:
        return ""
    if abs(s) < 100:
        return f"{s:.1f} s"
    if abs(s) < 6000:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def parse_duration(text: str) -> float:
    """Inverse of :func:`duration` (tests, and anyone reading the table back)."""
    value, unit = text.split()
    return float(value) * {"s": 1, "min": 60, "h": 3600}[unit]


# ----------------------------------------------------------------------------- running

@dataclass
class Timed:
    wall: float
    cpu: float
    status: int
    lines: list[tuple[float, str]]


def run_timed(cmd: list[str], cwd: Path, env: dict) -> Timed:
    """Run ``cmd``; time-stamp each line of its output (stderr merged) as it arrives; its CPU time
    (user + system, itself and the children it waited for) from ``os.wait4``."""
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, text=True, bufsize=1)
    lines = []
    try:
        for line in proc.stdout:
            lines.append((time.monotonic() - t0, line.rstrip("\n")))
        _, status, usage = os.wait4(proc.pid, 0)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    wall = time.monotonic() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stdout.close()
    return Timed(wall, usage.ru_utime + usage.ru_stime, proc.returncode, lines)


def child_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("SCCL_TRACE", "SCCL_KERNEL", "SCCL_PROGRESS")}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", SCCL_NO_PROGRESS="1", PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return env


def recorded_env(out_dir: Path, since: float) -> dict | None:
    """The ``env`` (kernel, threads, torch) a run recorded: its records file (continual) or its
    meta_*.json (pretraining), written at or after ``since``."""
    found = []
    for f in [*out_dir.glob("records/*.jsonl"), *out_dir.glob("meta_*.json")]:
        if f.stat().st_mtime >= since:
            found.append(f)
    for f in sorted(found, key=lambda f: f.stat().st_mtime, reverse=True):
        try:
            text = f.read_text().strip()
            doc = json.loads(text.splitlines()[-1] if f.suffix == ".jsonl" else text)
        except (OSError, ValueError, IndexError):
            continue
        if isinstance(doc.get("env"), dict):
            return doc["env"]
    return None


def out_dir_of(argv: list[str]) -> Path | None:
    for a in argv:
        if a.startswith("--out_dir="):
            return Path(a.split("=", 1)[1])
    return None


def machine() -> dict:
    from sccl.runtime import cpu_model

    cpu = cpu_model()
    try:
        from importlib.metadata import version
        torch_version = version("torch")
    except Exception:  # noqa: BLE001 - only a label
        torch_version = "?"
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True, timeout=10).stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError):
        commit = "?"
    return {"cpu": cpu, "nproc": os.cpu_count(), "usable_cores": len(os.sched_getaffinity(0)),
            "python": platform.python_version(), "torch": torch_version, "commit": commit}


def clock(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class RunFailed(Exception):
    """A run that exited non-zero or whose output has not the expected epoch lines."""


def run_kind(kind: Kind, spec, paper_spec, count: int, work: Path, env: dict, kernel: str) -> dict:
    """Run the kind's representative ``spec`` (the benchmark's copy of the grid run ``paper_spec``)
    and derive its row: the timings, the extrapolation to the grid, what the run recorded."""
    cmd, cwd = spec.command(sys.executable, work, threads=1)
    if kind.key != "data":              # sccl.suite.prepare has no kernel
        cmd.append(f"--kernel={kernel}")
    if kind.experiment in ("class", "progressive"):
        cmd.append("--protocol=clean")
    shown = f"(cd {spec.folder or '.'} && python {' '.join(cmd[1:])})".replace(str(work), "$TMP")
    since = time.time()
    timed = run_timed(cmd, cwd, env)
    log = work / "logs" / f"{kind.key}.log"
    log.write_text("".join(f"{t:9.3f} {text}\n" for t, text in timed.lines))
    if timed.status != 0:
        tail = "\n".join(text for _, text in timed.lines[-15:])
        raise RunFailed(f"{kind.key} failed with exit status {timed.status}: {shown}\n{tail}")
    loops, per_loop = loops_per_run(kind), grid_epochs(paper_spec)
    marks = epoch_marks(timed.lines)
    measured = loops * epochs_of(spec) if per_loop is not None else 0
    if len(marks) != measured:
        raise RunFailed(f"{kind.key}: {len(marks)} epoch blocks ('Epoch N: ...' lines) in its output, expected "
                        f"{measured} ({loops} loop(s) x its epochs); see {log}")
    pe, clean = per_epoch(marks)
    grid_total = None if per_loop is None else per_loop * loops
    est = extrapolate(timed.wall, pe, measured, grid_total or 0)
    recorded = (recorded_env(out_dir_of(cmd), since) or {}) if out_dir_of(cmd) else {}
    row = {"key": kind.key, "title": kind.label, "category": kind.category, "count": count,
           "command": shown, "grid_command": paper_spec.shown(), "wall_s": timed.wall, "cpu_s": timed.cpu,
           "loops": loops, "epochs_measured": measured, "epochs_per_loop": per_loop, "grid_epochs": grid_total,
           "per_epoch_s": pe, "per_epoch_clean": clean, **est,
           "kernel": recorded.get("kernel"), "threads": recorded.get("threads"), "torch": recorded.get("torch"),
           "marks": [[round(m.t, 3), m.loop, m.epoch] for m in marks]}
    row["total_s"] = row["per_run_s"] * count
    return row


def epochs_of(spec) -> int:
    """The epochs per loop a benchmark run trains (its --override_epochs / --nb_epochs)."""
    f = features(spec)
    return int(f.get("override_epochs") or f.get("nb_epochs") or 0)


def measure(args, say=print) -> dict:
    from sccl.suite.grids import build_grid

    steps = plan(select(args.kinds))
    paper = build_grid(paper_options())
    by_kind = assign(paper.runs)
    over = dict(pretrain_epochs=args.epochs, override_epochs=args.epochs)
    if args.quick:
        over.update(synthetic_reps=QUICK_REPS, pretrain_args=list(QUICK_NET))
    bench_by_kind = assign(build_grid(paper_options(**over)).runs)

    work = Path(tempfile.mkdtemp(prefix="sccl-bench-grid-"))
    (work / "logs").mkdir()
    env = child_env()
    load_before = os.getloadavg()
    t_start = time.monotonic()
    # for the ETA only: each step's expected share of the time (the docs' PyTorch-path numbers)
    weights = [k.prior[0] + args.epochs * loops_per_run(k) * k.prior[1] for k, _ in steps]
    rows, prereqs = [], []
    try:
        for i, (kind, reported) in enumerate(steps, start=1):
            row = run_kind(kind, representative(kind, bench_by_kind[kind.key]),
                           representative(kind, by_kind[kind.key]), len(by_kind[kind.key]), work, env,
                           args.kernel)
            row["reported"] = reported
            (rows if reported else prereqs).append(row)
            elapsed = time.monotonic() - t_start
            eta = elapsed * sum(weights[i:]) / sum(weights[:i])
            what = kind.key if reported else f"{kind.key} (prerequisite)"
            epoch = "" if row["per_epoch_s"] is None else f"  {row['per_epoch_s']:6.2f} s/epoch"
            say(f"[{i:2d}/{len(steps)}] {what:<32} {row['wall_s']:7.1f} s wall {row['cpu_s']:7.1f} s CPU{epoch}"
                f"   elapsed {clock(elapsed)}, ETA {clock(eta)}", flush=True)
    except BaseException:
        say(f"(the runs' folder and logs are kept: {work})", file=sys.stderr, flush=True)
        raise
    wall = time.monotonic() - t_start
    if args.keep:
        say(f"(the runs' folder and logs are kept: {work})", flush=True)
    else:
        shutil.rmtree(work, ignore_errors=True)
    done = rows + prereqs
    kernels = sorted({r["kernel"] for r in done if r["kernel"]})
    return {"rows": rows, "prerequisites": prereqs, "totals": totals(rows), "grid_runs": len(paper.runs),
            "kernel_requested": args.kernel, "kernel_in_force": ", ".join(kernels) or "?",
            "threads": 1, "threads_recorded": sorted({r["threads"] for r in done if r["threads"]}),
            "epochs": args.epochs, "quick": args.quick, "wall_s": wall, "machine": machine(),
            "load_before": list(load_before), "load_after": list(os.getloadavg()),
            "date": time.strftime("%Y-%m-%d %H:%M:%S %z")}


# ----------------------------------------------------------------------------- the report

COLUMNS = ["run", "in the grid", "fixed", "per epoch", "epochs", "per run", "all of them",
           "measured wall", "measured CPU"]


def epochs_cell(r: dict) -> str:
    if r["epochs_per_loop"] is None:
        return ""
    return f"{r['loops']} x {r['epochs_per_loop']}" if r["loops"] > 1 else str(r["epochs_per_loop"])


def table_row(r: dict) -> list[str]:
    pe = "" if r["per_epoch_s"] is None else f"{r['per_epoch_s']:.2f} s" + ("" if r["per_epoch_clean"] else " *")
    return [r["title"], str(r["count"]), f"{r['fixed_s']:.1f} s", pe, epochs_cell(r), duration(r["per_run_s"]),
            duration(r["total_s"]), f"{r['wall_s']:.1f} s", f"{r['cpu_s']:.1f} s"]


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def markdown(res: dict) -> str:
    m = res["machine"]
    kernel = res["kernel_in_force"]
    n_pre = len(res["prerequisites"])
    pre = f" + {plural(n_pre, 'prerequisite run')}" if n_pre else ""
    size = ("the tiny set and network of --quick (synthetic_reps 4, 700-16-8-4-20, batches of 8)" if res["quick"]
            else "the synthetic set at its default size (--synthetic, 40 repetitions), network 700-200-100-50-20, "
                 "100 steps, batches of 64")
    out = [f"## The paper grid from one run of each kind (`benchmarks/bench_grid.py`)", "",
           f"{m['cpu']}, {m['nproc']} cores ({m['usable_cores']} usable), load average "
           f"{' '.join(f'{x:.2f}' for x in res['load_before'])} before, "
           f"{' '.join(f'{x:.2f}' for x in res['load_after'])} after; python {m['python']}, torch {m['torch']}, "
           f"commit {m['commit']}, {res['date']}.",
           f"One thread per run (`--threads 1`, OMP_NUM_THREADS=1; the records: "
           f"{', '.join(map(str, res['threads_recorded'])) or '?'}); kernel requested `{res['kernel_requested']}`, "
           f"in force **{kernel}** (the runs' records); {plural(res['epochs'], 'epoch')} per run (per training loop) "
           f"on {size}; class and progressive runs under `--protocol clean`. {plural(len(res['rows']), 'kind')}{pre} "
           f"measured in "
           f"{duration(res['wall_s'])}.", "",
           "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    out += ["| " + " | ".join(table_row(r)) + " |" for r in res["rows"]]
    if any(r["per_epoch_s"] is not None and not r["per_epoch_clean"] for r in res["rows"]):
        out += ["", "\\* one epoch per loop: the time up to its first epoch line, set-up and one-time costs "
                    "included (an upper bound; measure 2 epochs or more)."]
    t = res["totals"]
    part = "" if t["all"]["runs"] == res["grid_runs"] else f" (the measured kinds: {t['all']['runs']} of " \
                                                          f"the grid's {res['grid_runs']} runs)"
    out += ["", f"Totals{part}, one thread per run:", "", "| | runs | run time |", "|---|---|---|"]
    out += [f"| {name} | {v['runs']} | {duration(v['seconds'])} |" for name, v in t.items()]
    out += ["", "Commands (`$TMP` = the benchmark's temporary folder; the .json also has each kind's command in the grid):", ""]
    for r in res["rows"] + res["prerequisites"]:
        out.append(f"* {r['key']}{'' if r['reported'] else ' (prerequisite)'}: `{r['command']}`")
    return "\n".join(out) + "\n"


# ----------------------------------------------------------------------------- command line

class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse's default prints the usage too)
        raise UsageError(message)


def parse(argv) -> argparse.Namespace:
    p = Parser(prog="bench_grid.py", description=__doc__.split("\n\n")[0],
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kernel", default="native",
                   help=f"--kernel of every run: {', '.join(KERNEL_CHOICES)} (default native)")
    p.add_argument("--kinds", default="all",
                   help="comma list of kinds (keys or groups: " + ",".join(dict.fromkeys(k.group for k in KINDS)) +
                        ") or all (default)")
    p.add_argument("--epochs", type=int, default=2, help="epochs per run (per training loop; default 2)")
    p.add_argument("--quick", action="store_true",
                   help="the tests' tiny synthetic set and network (4 repetitions, 700-16-8-4-20, batches of 8): "
                        "checks the machinery, its times say nothing about the paper's sizes")
    p.add_argument("--out", type=Path, default=None, help="also write the markdown to OUT and the raw numbers "
                                                          "to OUT with the suffix .json")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder of the runs")
    a = p.parse_args(argv)
    if a.kernel not in KERNEL_CHOICES:
        raise UsageError(f"--kernel: {a.kernel!r} is not one of {', '.join(KERNEL_CHOICES)}")
    if a.epochs < 1:
        raise UsageError(f"--epochs must be >= 1, got {a.epochs}")
    if a.out is not None and a.out.suffix == ".json":
        raise UsageError("--out: give the markdown file (the .json is written next to it)")
    select(a.kinds)
    return a


def main(argv=None) -> int:
    try:
        args = parse(sys.argv[1:] if argv is None else argv)
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        res = measure(args)
    except RunFailed as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr, flush=True)
        return 130
    text = markdown(res)
    print("\n" + text, end="", flush=True)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        args.out.with_suffix(".json").write_text(json.dumps(res, indent=1) + "\n")
        print(f"\nwritten: {args.out}, {args.out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
