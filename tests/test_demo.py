"""`sccl demo`: the plan (seeds, dependencies, data preset), the claims check of the report, the
`sccl data` help, and `sccl demo --quick`: the whole pipeline (every script as a subprocess,
then the report) on a tiny synthetic set."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import defaultdict

import h5py
import pytest

from conftest import ROOT
from sccl import demo


def _continual_configs(st):
    """{(folder, argv without --seed): [seeds]} of the continual steps."""
    out = defaultdict(list)
    for s in st:
        if s.kind != "continual":
            continue
        seed = [a for a in s.argv if a.startswith("--seed=")]
        assert len(seed) == 1, s.argv
        rest = tuple(a for a in s.argv if not a.startswith(("--seed=", "--statedict_dir=")))
        out[(s.folder, rest)].append(int(seed[0].split("=")[1]))
    return out


def test_full_plan_runs_every_continual_configuration_with_three_seeds(tmp_path):
    st = demo.steps(demo.FULL, tmp_path)
    configs = _continual_configs(st)
    assert len(configs) >= 15
    for key, seeds in configs.items():
        assert sorted(seeds) == [0, 1, 2], key
    # every step only needs steps planned before it; the report needs them all
    seen = set()
    for s in st:
        assert set(s.needs) <= seen, s.key
        seen.add(s.key)
    assert set(st[-1].needs) == seen - {"report"}
    # the sample-incremental runs of a seed read that seed's own pretraining
    for s in st:
        if s.folder == "sample_incremental":
            seed = next(a for a in s.argv if a.startswith("--seed=")).split("=")[1]
            assert f"--statedict_dir={tmp_path / 'statedicts_64_elements' / f'seed{seed}'}" in s.argv
            assert s.needs == (f"pre-speaker-s{seed}",)
    # the data is the demo preset
    assert "--preset=demo" in st[0].argv


def test_every_training_step_names_its_kernel(tmp_path, capsys):
    """The demo's steps run the native kernel (shown in each command, recorded as env.kernel);
    `--kernel` swaps it in every step."""
    assert demo.main(["--dry_run", f"--out_dir={tmp_path}"]) == 0
    lines = capsys.readouterr().out.splitlines()
    trains = [ln for ln in lines if "python -m" not in ln and "unite_datasets" not in ln]   # the scripts
    assert len(trains) > 50 and all("--kernel=native" in ln for ln in trains)
    assert demo.main(["--dry_run", f"--out_dir={tmp_path}", "--kernel", "torch"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert sum("--kernel=torch" in ln for ln in lines) == len(trains) and "--kernel=native" not in "".join(lines)


def test_critical_path_starts_the_long_chains_first(tmp_path):
    st = demo.steps(demo.FULL, tmp_path)
    rank = demo.critical_path(st)
    assert rank["data"] == max(rank.values())
    # a pretraining before the runs that read it, those before the report; the long pretrainings
    # before the cheap batch lists
    assert rank["pre-class"] > rank["class-naive-s0"] > rank["report"] > 0
    assert rank["pre-speaker-s0"] > rank["sample-naive-s0"] > rank["report"]
    assert min(rank["pre-class"], rank["pre-speaker-s2"]) > max(rank["removed-0"], rank["removed-en-0"])


def test_demo_preset_is_recorded_and_default_files_have_no_preset(tmp_path):
    from sccl.data.source import data_origin
    from sccl.data.synthetic import make_synthetic_shd, synthetic_info

    d_train, _ = make_synthetic_shd(tmp_path / "d", n_rep=1, n_speakers=6)
    p_train, _ = make_synthetic_shd(tmp_path / "p", n_rep=1, n_speakers=6, preset="demo")
    assert "preset" not in synthetic_info(d_train)
    info = synthetic_info(p_train)
    assert (info["preset"], info["var"], info["accent"]) == ("demo", 0.5, 0.06)
    with h5py.File(d_train) as a, h5py.File(p_train) as b:
        ta, tb = a["spikes/times"][0], b["spikes/times"][0]
        assert ta.size != tb.size or (ta != tb).any()  # less jitter: other events
    o = data_origin(p_train, "synthetic")
    assert o["preset"] == "demo" and o["generator_version"] and o["n_rep"] == 1
    assert data_origin(d_train, "synthetic")["preset"] == "default"
    from sccl.errors import ConfigError
    with pytest.raises(ConfigError, match="--preset"):
        make_synthetic_shd(tmp_path / "x", n_rep=1, preset="nope")


def _section(runs):
    """A report Section from ``{run_id: (head fields, [(epoch, old, new, total), ...])}``."""
    from sccl.report.runs import Run, Section, group_configs

    rs = []
    for rid, (head, rows) in runs.items():
        rs.append(Run(rid, [{**head, "epoch": e, "old_acc": o, "new_acc": n, "total_acc": t} for e, o, n, t in rows]))
    return Section("synthetic", "faithful", group_configs(rs))


def _head(script, seed, **kw):
    return {"experiment": "class", "script": script, "protocol": "faithful", "dataset": "synthetic", "seed": seed,
            "nb_epochs": 2, "lr": 1e-3, "class": 3, "memory_batches": kw.get("m", 0), "depth": kw.get("depth"),
            "ratio": kw.get("ratio", "1:1"), "memory_bytes": kw.get("nbytes", 0), "memory_samples": kw.get("n", 0)}


def test_claims_follow_the_data():
    from sccl.report.claims import compression_cost, replay_vs_naive

    runs = {}
    for s in range(3):
        runs[f"naive{s}"] = (_head("naive", s), [(0, .9, 0, .85), (2, .05 + .01 * s, 1, .1)])
        runs[f"lr{s}"] = (_head("latent_replay_subsample", s, m=1, depth=2, n=304, nbytes=38000),
                          [(0, .9, 0, .85), (2, .80 + .01 * s, .7, .79)])
        runs[f"clr{s}"] = (_head("latent_replay_subsample", s, m=1, depth=2, n=304, nbytes=19000, ratio="1:2"),
                           [(0, .9, 0, .85), (2, .7, .7, .70 + .01 * s)])
    sec = _section(runs)
    v = replay_vs_naive(sec)
    assert v.holds is True and any("difference +75.0 points" in e for e in v.evidence)
    assert any("(n=3)" in e for e in v.evidence)
    c = compression_cost(sec)  # 79 -> 71 %: 8 points, more than "a few"
    assert c.holds is False and any("drop 8.0 points" in e for e in c.evidence)
    assert replay_vs_naive(_section({k: r for k, r in runs.items() if k.startswith("naive")})).holds is None


def test_sccl_data_help_names_itself(capsys):
    from sccl.cli import _dispatch

    assert _dispatch(["data", "--help"]) == 0
    assert "sccl data synth" in capsys.readouterr().out
    for sub in ("synth", "merge"):
        with pytest.raises(SystemExit) as e:
            _dispatch(["data", sub, "--help"])
        assert e.value.code == 0
        out = capsys.readouterr().out
        assert out.startswith(f"usage: sccl data {sub}")
        assert out.count("(default") >= 1
    assert _dispatch(["data", "nope"]) == 2


@pytest.mark.skipif(not os.environ.get("SCCL_DEMO_TEST"),
                    reason="the whole demo pipeline (32 subprocesses, minutes): run `make test-demo` (CI does)")
def test_quick_demo_runs_the_whole_pipeline(tmp_path):
    env = {**os.environ, "SCCL_NO_PROGRESS": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "sccl", "demo", "--quick", f"--out_dir={tmp_path}", "--threads=1"],
                          cwd=ROOT, capture_output=True, text=True, env=env, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Demo finished in" in proc.stdout and str(tmp_path / "tables.md") in proc.stdout
    assert re.search(r"sccl demo: 4 pretrainings, 28 continual runs, .* min wall", proc.stdout)
    tables = (tmp_path / "tables.md").read_text()
    assert "synthetic" in tables and "preset demo" in tables
    for section in ("Claims of the paper", "Sample-incremental", "Class-incremental", "Progressive"):
        assert section in tables
    records = list(tmp_path.rglob("records/*.jsonl"))
    assert len(records) == 2 * (8 + 5 + 1)  # sample, class and progressive runs of the plan, 2 seeds
    assert '"preset": "demo"' in records[0].read_text()
    from sccl import kernels
    want = "native" if kernels.ops() is not None else "torch"   # what ran: the flag's kernel, else torch
    assert all(f'"kernel": "{want}"' in r.read_text() for r in records)
    assert len(list((tmp_path / "logs").glob("*.log"))) == len(demo.steps(demo.QUICK, tmp_path))
    figures = {p.name for p in (tmp_path / "figure").glob("*.png")}
    assert {"fig5a_total_vs_epoch.png", "fig6_progressive_global.png", "accuracy_vs_memory.png",
            "compression.png"} <= figures
