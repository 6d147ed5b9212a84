"""A report built from a tiny real run: records written by the experiment code, read by
``sccl report`` as a subprocess (tables and figures)."""
from __future__ import annotations

import os
import subprocess
import sys

import torch

from sccl.config import NetConfig
from sccl.experiments import progressive, sample_incremental
from sccl.experiments.continual import ContinualConfig
from conftest import ROOT, TINY_NET

NET = NetConfig(**TINY_NET)
CPU = torch.device("cpu")


def test_report_from_tiny_runs(speaker_dir, class_dir, tmp_path):
    out = tmp_path / "results"
    base = dict(experiment="sample", held_out=0, net=NET, batch_size=8, nb_epochs=2)
    for kw in (dict(script="naive", lr=2e-4),
               dict(script="latent_replay", depth=2, memory_batches=2, lr=2e-4),
               dict(script="latent_replay_subsample", depth=1, memory_batches=2, n_frames=10, lr=1e-3)):
        cfg = ContinualConfig(**base, **kw).validate()
        sample_incremental.run(cfg, speaker_dir, out / "sample_incremental", CPU, log=lambda m: None)
    cfg = ContinualConfig(experiment="progressive", script="latent_replay_subsample", held_out=None, net=NET,
                          batch_size=8, nb_epochs=1, depth=1, memory_batches=1, n_frames=10).validate()
    progressive.run(cfg, class_dir, out / "class_incremental_multiclasses", CPU, log=lambda m: None)

    env = {**os.environ, "SCCL_NO_PROGRESS": "1", "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", "sccl", "compression", f"--statedict_dir={speaker_dir}",
                    f"--out={out / 'compression_example.json'}"], cwd=ROOT, check=True, env=env, timeout=300)
    proc = subprocess.run([sys.executable, "-m", "sccl", "report", f"--results={out}", f"--out={out}",
                           f"--statedict_dir={speaker_dir}"], cwd=ROOT, capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    tables = (out / "tables.md").read_text()
    assert "Synthetic data" in tables and "not comparable with the paper" in tables
    # the compressed headline row reports our run: depth 1, 16 samples, 1:2, its memory in KB
    row = next(ln for ln in tables.splitlines() if ln.startswith("| Sample-incremental, compressed"))
    assert "(n=1)" in row and "depth 1" in row and "1:2" in row and "0.32 KB" in row
    assert "| Class-incremental, best total accuracy | 92.05 % | not run" in tables
    row = next(ln for ln in tables.splitlines() if ln.startswith("| Progressive, final global accuracy (1:2)"))
    assert "(n=1)" in row and "1:2" in row  # 10 of 20 steps
    for name in ("fig5a_total_vs_epoch.png", "accuracy_vs_memory.png", "compression.png"):
        data = (out / "figure" / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, name
