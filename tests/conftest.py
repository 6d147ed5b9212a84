"""Shared fixtures: a tiny synthetic SHD set and pretraining artifacts made once per session.

Sizes follow synthetic-data.md: batch size shrinks with n_rep so that every split has batches
(n_rep 4, batch 8: 80 samples = 10 batches per speaker, 48 samples = 6 batches per class).
The network is shrunk too (H1 = 16, 20 time steps) to keep the suite fast on 2 cores.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
TINY_NET = dict(nb_hidden=16, nb_steps=20, weight_scale=1.0)  # a livelier init: every layer spikes
TINY_FLAGS = ["--batch_size=8", "--nb_hidden=16", "--nb_steps=20", "--weight_scale=1.0", "--threads=1"]

os.environ.setdefault("SCCL_NO_PROGRESS", "1")
torch.set_num_threads(1)
# `make mutants` builds the fixture artifacts once with the unmutated code and points here, so that
# each mutant's test run starts from copies instead of pretraining again (folders synth, sd64,
# sdclass, sdhard as written by tests/make_golden.py build_artifacts).
ARTIFACT_CACHE = os.environ.get("SCCL_TEST_ARTIFACTS")


def _fixture_dir(tmp_path_factory, name: str, build) -> Path:
    d = tmp_path_factory.mktemp(name)
    src = Path(ARTIFACT_CACHE) / name if ARTIFACT_CACHE else None
    if src is not None and src.is_dir():
        shutil.copytree(src, d, dirs_exist_ok=True)
        return d
    build(d)
    return d


def run_script(script: str | Path, *args, cwd: Path | None = None, check: bool = True, timeout: int = 300):
    """Run a repository script (path relative to the repo root) as a real subprocess."""
    script = ROOT / script
    env = {**os.environ, "SCCL_NO_PROGRESS": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(script), *map(str, args)], cwd=cwd or script.parent,
                          capture_output=True, text=True, env=env, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{script.name} {' '.join(map(str, args))} failed ({proc.returncode}):\n"
                             f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory) -> Path:
    from sccl.data.shd import merge_shd
    from sccl.data.synthetic import make_synthetic_shd

    def build(d):
        train, test = make_synthetic_shd(d, n_rep=4, seed=0)
        merge_shd(train, test, d / "shd_merged.h5")

    return _fixture_dir(tmp_path_factory, "synth", build)


def _pretrain(mode, held_out, data_dir, out_dir, nb_epochs, seed=0, removed_only=False, net=TINY_NET, batch_size=8):
    from sccl.config import NetConfig
    from sccl.data.source import open_merged
    from sccl.experiments.pretrain import PretrainConfig, run_pretrain

    cfg = PretrainConfig(mode=mode, held_out=held_out, net=NetConfig(**net), batch_size=batch_size,
                         nb_epochs=nb_epochs, lr=2e-3, seed=seed, removed_only=removed_only)
    source = open_merged(data_dir, log=lambda m: None)
    return run_pretrain(cfg, source, out_dir, torch.device("cpu"), log=lambda m: None)


def build_speaker_artifacts(synth_dir: Path, d: Path) -> Path:
    """Artifacts of a pretraining with speaker 0 held out (2 epochs)."""
    _pretrain("speaker", 0, synth_dir, d, nb_epochs=2)
    return d


def build_class_artifacts(synth_dir: Path, d: Path) -> Path:
    """Class 3 pretrained (2 epochs); every other class's batch lists (--removed_only, what the
    faithful class-incremental memory reads); the 10-class English model (2 epochs)."""
    for c in range(20):
        _pretrain("class", c, synth_dir, d, nb_epochs=2, removed_only=c != 3)
    _pretrain("10classes", None, synth_dir, d, nb_epochs=2)
    return d


# The tiniest network and few, larger batches: the runs at a script's hard-coded epoch count.
HARD_NET = dict(nb_hidden=8, nb_steps=10, weight_scale=2.0)
HARD_BATCH = 16


def build_hard_artifacts(synth_dir: Path, d: Path) -> Path:
    """Untrained (0-epoch) speaker-0 and class-3 artifacts of a tinier network in batches of 16:
    50 epochs of naive / rehearsal in seconds. (Class 3 only: its hard-coded run uses --protocol
    clean, whose memory needs no other class's files.)"""
    kw = dict(nb_epochs=0, net=HARD_NET, batch_size=HARD_BATCH)
    _pretrain("speaker", 0, synth_dir, d, **kw)
    _pretrain("class", 3, synth_dir, d, **kw)
    # speaker 1 in batches of 80: its 80 samples make ONE new batch (the clean-protocol refusal)
    _pretrain("speaker", 1, synth_dir, d, nb_epochs=0, net=HARD_NET, batch_size=80)
    return d


@pytest.fixture(scope="session")
def speaker_dir(synth_dir, tmp_path_factory) -> Path:
    """Artifacts of a pretraining with speaker 0 held out (2 epochs); tests/golden/ depends on them."""
    return _fixture_dir(tmp_path_factory, "sd64", lambda d: build_speaker_artifacts(synth_dir, d))


@pytest.fixture(scope="session")
def class_dir(synth_dir, tmp_path_factory) -> Path:
    """See :func:`build_class_artifacts`; tests/golden/ depends on them."""
    return _fixture_dir(tmp_path_factory, "sdclass", lambda d: build_class_artifacts(synth_dir, d))


class ScriptRuns:
    """Every script of tests/scenarios.py, run once (one interpreter) with SCCL_TRACE set."""

    def __init__(self, work: Path, specs: list[dict], status: dict):
        self.work, self.specs, self.status = work, {s["name"]: s for s in specs}, status

    def trace(self, name: str) -> Path:
        return Path(self.specs[name]["trace"])


@pytest.fixture(scope="session")
def hard_dir(synth_dir, tmp_path_factory) -> Path:
    return _fixture_dir(tmp_path_factory, "sdhard", lambda d: build_hard_artifacts(synth_dir, d))


def pytest_collection_finish(session):
    """Remember which script runs the selected tests use (their ``name`` parameter), so that
    ``-k`` narrows the plan of :func:`script_runs` too."""
    names = set()
    for item in session.items:
        cs = getattr(item, "callspec", None)
        if cs is not None and "script_runs" in getattr(item, "fixturenames", ()) and "name" in cs.params:
            names.add(cs.params["name"])
    session.config.sccl_script_runs = names


@pytest.fixture(scope="session")
def script_runs(request, synth_dir, speaker_dir, class_dir, hard_dir, tmp_path_factory) -> ScriptRuns:
    import scenarios

    work = tmp_path_factory.mktemp("script_runs")
    specs = scenarios.plan(work, speaker_dir, class_dir, synth_dir, hard_dir, trace=True)
    wanted = getattr(request.config, "sccl_script_runs", None)
    if wanted:
        specs = [s for s in specs if s["name"] in wanted]
    return ScriptRuns(work, specs, scenarios.execute(specs, work))
