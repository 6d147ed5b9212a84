"""`sccl demo --quick`: the whole pipeline (every script as a subprocess, then the report) on a
tiny synthetic set; checks that it ends with the tables and figures made from its own records."""
from __future__ import annotations

import os
import subprocess
import sys

from conftest import ROOT


def test_quick_demo_runs_the_whole_pipeline(tmp_path):
    env = {**os.environ, "SCCL_NO_PROGRESS": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "sccl", "demo", "--quick", f"--out_dir={tmp_path}", "--threads=1"],
                          cwd=ROOT, capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Demo finished in" in proc.stdout and str(tmp_path / "tables.md") in proc.stdout
    tables = (tmp_path / "tables.md").read_text()
    assert "synthetic" in tables
    for section in ("Sample-incremental", "Class-incremental", "Progressive"):
        assert section in tables
    records = list(tmp_path.rglob("records/*.jsonl"))
    assert len(records) == 9 + 5 + 2  # sample, class and progressive runs of the plan
    figures = {p.name for p in (tmp_path / "figure").glob("*.png")}
    assert {"fig5a_total_vs_epoch.png", "fig6_progressive_global.png", "accuracy_vs_memory.png",
            "compression.png"} <= figures
