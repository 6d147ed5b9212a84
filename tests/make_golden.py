#!/usr/bin/env python
"""Regenerate tests/golden/ after a DELIBERATE change of what a script writes (``make golden``).

Builds the same tiny synthetic set and pretraining artifacts as tests/conftest.py, runs every
script of tests/scenarios.py once, and writes its TXT / CSV bytes (continual scripts) or its
printed lines (generators, analysis scripts) to tests/golden/<run>/. Review ``git diff
tests/golden`` before committing: every changed line is a changed number or format.

Usage: python tests/make_golden.py [--work DIR] [--check]
  --work DIR  keep the scratch folder (default: a temporary one, removed afterwards)
  --check     compare instead of writing; exit 1 listing the files that differ
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
GOLDEN = HERE / "golden"


def build_artifacts(work: Path) -> tuple[Path, Path, Path, Path]:
    """(synth_dir, speaker_dir, class_dir, hard_dir) exactly as the session fixtures of conftest.py."""
    import conftest
    from sccl.data.shd import merge_shd
    from sccl.data.synthetic import make_synthetic_shd

    synth, spk, cls, hard = work / "synth", work / "sd64", work / "sdclass", work / "sdhard"
    for d in (synth, spk, cls, hard):
        d.mkdir(parents=True, exist_ok=True)
    train, test = make_synthetic_shd(synth, n_rep=4, seed=0)
    merge_shd(train, test, synth / "shd_merged.h5")
    conftest.build_speaker_artifacts(synth, spk)
    conftest.build_class_artifacts(synth, cls)
    conftest.build_hard_artifacts(synth, hard)
    return synth, spk, cls, hard


def collect(work: Path, speaker_dir: Path, class_dir: Path, synth_dir: Path, hard_dir: Path) -> dict[str, dict[str, bytes]]:
    import scenarios

    runs = work / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    specs = scenarios.plan(runs, speaker_dir, class_dir, synth_dir, hard_dir, trace=False, refused=False)
    status = scenarios.execute(specs, runs)
    bad = {k: v for k, v in status.items() if v != 0}
    if bad:
        raise SystemExit(f"error: these runs failed: {bad} (see {runs})")
    return {s["name"]: scenarios.outputs(s) for s in specs}


def compare(got: dict[str, dict[str, bytes]], golden: Path = GOLDEN) -> list[str]:
    """Names of the golden files that differ from ``got`` (missing or extra files included)."""
    diffs = []
    want_runs = sorted(p.name for p in golden.iterdir() if p.is_dir()) if golden.exists() else []
    for run in sorted(set(want_runs) | set(got)):
        want = {f.name: f.read_bytes() for f in sorted((golden / run).glob("*"))} if (golden / run).exists() else {}
        have = got.get(run, {})
        for name in sorted(set(want) | set(have)):
            if want.get(name) != have.get(name):
                diffs.append(f"{run}/{name}")
    return diffs


def _quiet_build(work: Path):
    import contextlib
    import io

    with contextlib.redirect_stderr(io.StringIO()):  # the "[dataset: synthetic]" notes
        return build_artifacts(work)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("SCCL_NO_PROGRESS", "1")
    os.environ["SCCL_KERNEL"] = "torch"  # the pretraining artifacts too (the runs get it from scenarios)
    import torch

    torch.set_num_threads(1)
    work = args.work or Path(tempfile.mkdtemp(prefix="sccl-golden-"))
    try:
        synth, spk, cls, hard = _quiet_build(work)
        got = collect(work, spk, cls, synth, hard)
        if args.check:
            diffs = compare(got)
            for d in diffs:
                print(f"differs: tests/golden/{d}")
            return 1 if diffs else 0
        if GOLDEN.exists():
            shutil.rmtree(GOLDEN)
        for run, files in got.items():
            (GOLDEN / run).mkdir(parents=True)
            for name, data in files.items():
                (GOLDEN / run / name).write_bytes(data)
        print(f"wrote {sum(len(f) for f in got.values())} files of {len(got)} runs to {GOLDEN.relative_to(HERE.parent)}")
        return 0
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
