"""benchmarks/bench_grid.py: the command behind the paper grid's run-time table (docs/sweeps.md).

The pure parts (kinds against the real paper grid, epoch lines, extrapolation, totals) on literal
inputs; then one real --quick run of two kinds as a subprocess, and the bad-input exits."""
from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "bench_grid.py"


def _load():
    spec = importlib.util.spec_from_file_location("bench_grid", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_grid"] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


bg = _load()


# ----------------------------------------------------------------------------- kinds vs the grid

def test_kinds_cover_the_paper_grid_once():
    from sccl.suite.grids import build_grid

    runs = build_grid(bg.paper_options()).runs
    by_kind = bg.assign(runs)
    counts = {k: len(v) for k, v in by_kind.items()}
    assert counts == {
        "data": 1, "pretrain_speaker": 12, "pretrain_class": 20, "pretrain_10classes": 1, "lists": 10,
        "sample_naive": 12, "sample_rehearsal": 60, "sample_lr_d1": 12, "sample_lr_d2": 12, "sample_lr_d3": 12,
        "sample_compressed_d0": 12, "sample_sums_d0": 12, "sample_sums_d1": 12, "sample_sums_d2": 12,
        "sample_sums_d3": 12, "class_naive": 20, "class_rehearsal": 20, "class_lr_d2": 20,
        "class_compressed_d0": 20, "class_compressed_d1": 20, "class_compressed_d2": 20, "class_compressed_d3": 20,
        "progressive_d0": 8, "progressive_d1": 8, "progressive_d2": 8, "progressive_d3": 8}
    assert sum(counts.values()) == len(runs) == 384
    # the grid's epochs, as each script's parser decides them (docs/sweeps.md "epochs" column)
    epochs = {k.key: bg.grid_epochs(bg.representative(k, by_kind[k.key])) for k in bg.KINDS}
    want = {"data": None, "lists": None, "class_naive": 10, "class_lr_d2": 100}
    for k in bg.KINDS:
        if k.key.startswith("pretrain_"):
            want[k.key] = 200
        elif k.key.startswith("progressive_"):
            want[k.key] = 20
        else:
            want.setdefault(k.key, 50)
    assert epochs == want
    assert [bg.loops_per_run(bg.BY_KEY[k]) for k in ("progressive_d1", "class_lr_d2", "pretrain_class")] == [10, 1, 1]
    rep = bg.representative(bg.BY_KEY["progressive_d2"], by_kind["progressive_d2"])
    assert list(rep.argv[:4]) == ["latent_replay_subsample.py", "--latent_depth=2", "--latent_batches=4",
                                  "--latent_subsample=50"]


def test_a_run_no_kind_matches_is_an_error():
    from sccl.suite.spec import RunSpec

    stray = RunSpec("sample_incremental", ["rehearsal_subsample.py", "--speaker=0"], kind="continual", label="x")
    with pytest.raises(AssertionError, match="matches 0 kinds"):
        bg.assign([stray])


def test_select_and_plan():
    assert [k.key for k in bg.select("sample_lr")] == ["sample_lr_d1", "sample_lr_d2", "sample_lr_d3"]
    assert len(bg.select("all")) == len(bg.KINDS)
    with pytest.raises(bg.UsageError, match="unknown kind nope"):
        bg.select("sample_naive,nope")
    steps = [(k.key, reported) for k, reported in bg.plan(bg.select("progressive_d3,sample_naive"))]
    assert steps == [("data", False), ("pretrain_speaker", False), ("pretrain_10classes", False),
                     ("sample_naive", True), ("progressive_d3", True)]
    steps = [(k.key, reported) for k, reported in bg.plan(bg.select("data,pretrain_class,class_naive"))]
    assert steps == [("data", True), ("pretrain_class", True), ("class_naive", True)]


# ----------------------------------------------------------------------------- parsing, arithmetic

def test_epoch_marks_continual_lines():
    lines = [(1.0, "[dataset: synthetic] ..."), (2.5, "Pre-Training accuracy on the 11 speakers: 0.071"),
             (2.6, ""), (3.0, "Pre-Training Test accuracy on speaker 0: 0.000"),
             (7.0, "Epoch 1: loss=53.14995"), (7.01, "Epoch 1: Pretrain test set accuracy on the 11 speakers: 0.071"),
             (7.02, "Epoch 1: Test accuracy: 0.000"), (9.0, "Epoch 2: loss=52.96464"),
             (9.01, "Epoch 2: Test accuracy: 0.000"), (12.0, "Epoch 3: loss=52.1"),
             (12.5, "Post-Incremental Training Test accuracy: 0.068")]
    marks = bg.epoch_marks(lines)
    assert [(m.t, m.loop, m.epoch) for m in marks] == [(7.0, None, 1), (9.0, None, 2), (12.0, None, 3)]
    assert marks[0].t_before == 3.0
    assert bg.per_epoch(marks) == (2.5, True)  # (2 + 3) / 2: the first epoch's own time is not used


def test_epoch_marks_progressive_loops():
    lines = []
    t = 10.0
    for c in (10, 11, 12):
        t += 5  # the class's set-up
        for e in (1, 2):
            t += 1.5 if e == 1 else 1.0
            lines.append((t, f"Epoch {e} for class {c}: Post-Latent accuracies: 0.5 0.1 0.4"))
        lines.append((t + 0.1, f"Post-Latent accuracy on class {c}: 0.2"))
    marks = bg.epoch_marks(lines)
    assert [(m.loop, m.epoch) for m in marks] == [("10", 1), ("10", 2), ("11", 1), ("11", 2), ("12", 1), ("12", 2)]
    pe, clean = bg.per_epoch(marks)
    assert clean and pe == pytest.approx(1.0)  # only epoch 1 -> 2 of the same class


def test_per_epoch_with_one_epoch_is_flagged():
    marks = bg.epoch_marks([(2.0, "Pre-Training Test accuracy on speaker 0: 0.000"), (5.5, "Epoch 1: loss=3.0"),
                            (5.6, "Post-Incremental Training Test accuracy: 0.068")])
    assert bg.per_epoch(marks) == (3.5, False)
    assert bg.per_epoch([]) == (None, True)


def test_extrapolate_and_totals():
    est = bg.extrapolate(30.0, 4.0, 2, 200)
    assert est == {"fixed_s": 22.0, "per_run_s": 822.0}
    est = bg.extrapolate(43.0, 1.5, 20, 200)  # progressive: 10 loops x 2 epochs measured, 10 x 20 in the grid
    assert est["fixed_s"] == pytest.approx(13.0) and est["per_run_s"] == pytest.approx(313.0)
    assert bg.extrapolate(7.0, None, 0, 0) == {"fixed_s": 7.0, "per_run_s": 7.0}
    rows = [{"category": "pretrainings", "count": 12, "total_s": 100.0},
            {"category": "continual runs", "count": 60, "total_s": 50.0},
            {"category": "continual runs", "count": 8, "total_s": 30.0},
            {"category": "data and batch lists", "count": 1, "total_s": 4.0}]
    t = bg.totals(rows)
    assert t["pretrainings"] == {"runs": 12, "seconds": 100.0}
    assert t["continual runs"] == {"runs": 68, "seconds": 80.0}
    assert t["all"] == {"runs": 81, "seconds": 184.0}
    assert t["all, --jobs 2"]["seconds"] == 92.0


@pytest.mark.parametrize("seconds,text", [(7.04, "7.0 s"), (99.94, "99.9 s"), (110.0, "1.8 min"),
                                          (2167.0, "36.1 min"), (25920.0, "7.2 h")])
def test_duration(seconds, text):
    assert bg.duration(seconds) == text
    assert bg.parse_duration(text) == pytest.approx(seconds, rel=0.03)


# ----------------------------------------------------------------------------- running a child

def test_run_timed_stamps_lines_as_they_arrive_and_counts_cpu():
    code = ("import time\nprint('first', flush=True)\ntime.sleep(0.6)\nt = time.process_time()\n"
            "while time.process_time() - t < 0.3: pass\nprint('second')")
    timed = bg.run_timed([sys.executable, "-c", code], ROOT, bg.child_env())
    assert timed.status == 0 and [text for _, text in timed.lines] == ["first", "second"]
    (t1, _), (t2, _) = timed.lines
    assert t2 - t1 >= 0.8 and timed.wall >= t2  # stamped when read, not when the child ended
    assert 0.3 <= timed.cpu < timed.wall        # the child's own CPU time (wait4), not the sleep


def _fake(kind_key, code, *flags):
    from sccl.suite.spec import RunSpec

    kind = bg.BY_KEY[kind_key]
    spec = RunSpec("", ["-c", code, *flags], kind="pretrain" if flags else "data", threads_flag=False)
    return kind, spec


def test_a_failed_run_and_missing_epoch_lines_stop_the_benchmark(tmp_path):
    (tmp_path / "logs").mkdir()
    kind, spec = _fake("data", "import sys; print('boom'); sys.exit(3)")
    with pytest.raises(bg.RunFailed, match=r"data failed with exit status 3(.|\n)*boom"):
        bg.run_kind(kind, spec, spec, 1, tmp_path, bg.child_env(), "native")
    # a pretraining of 2 epochs that prints one epoch line: the parse would be wrong, so it is an error
    kind, spec = _fake("pretrain_speaker", "print('Epoch 1: loss=1.0')", "--nb_epochs=2")
    with pytest.raises(bg.RunFailed, match="1 epoch blocks .* expected 2"):
        bg.run_kind(kind, spec, spec, 12, tmp_path, bg.child_env(), "native")
    kind, spec = _fake("pretrain_speaker", "print('Epoch 1: loss=1.0')\nprint('Epoch 2: loss=0.5')", "--nb_epochs=2")
    row = bg.run_kind(kind, spec, spec, 12, tmp_path, bg.child_env(), "torch")
    assert row["epochs_measured"] == 2 and row["grid_epochs"] == 2 and row["count"] == 12
    assert "--kernel=torch" in row["command"] and row["kernel"] is None  # no records: nothing recorded


# ----------------------------------------------------------------------------- the real thing

def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _half(cell: str) -> float:
    """Half a unit of the last digit of a duration cell, in seconds ("7.2 h" -> 180)."""
    return bg.parse_duration(cell.replace(cell.split()[0], "0.05"))


def _tree(folders):
    return {str(p.relative_to(ROOT)): p.stat().st_mtime_ns for f in folders for p in (ROOT / f).rglob("*")
            if "__pycache__" not in p.parts}


def test_quick_run_of_two_kinds(tmp_path):
    from sccl import kernels

    folders = ["statedicts_64_elements", "sample_incremental", "statedicts_class_incremental"]
    before = _tree(folders)
    out = tmp_path / "grid.md"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--kinds", "pretrain_speaker,sample_naive",
                           "--out", str(out)], capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert _tree(folders) == before  # nothing written into the repository's folders

    # progress: one line per run, the data run first as a prerequisite, an ETA on each
    progress = [ln for ln in proc.stdout.splitlines() if re.match(r"\[ ?\d+/\d+\]", ln)]
    assert len(progress) == 3 and "data (prerequisite)" in progress[0]
    assert all(re.search(r"ETA \d+:\d\d$", ln) for ln in progress)

    res = json.loads(out.with_suffix(".json").read_text())
    assert [r["key"] for r in res["rows"]] == ["pretrain_speaker", "sample_naive"]
    assert [r["key"] for r in res["prerequisites"]] == ["data"]
    want = "native" if kernels.ops() is not None else "torch"  # native, or the PyTorch path without a compiler
    assert res["kernel_requested"] == "native" and res["kernel_in_force"] == want
    assert all(r["kernel"] == want and r["threads"] == 1 for r in res["rows"])
    assert res["threads_recorded"] == [1]
    for r, count, grid_epochs in zip(res["rows"], (12, 12), (200, 50)):
        assert r["count"] == count and r["grid_epochs"] == grid_epochs and r["epochs_measured"] == 2
        assert r["per_epoch_clean"] and r["per_epoch_s"] > 0 and r["cpu_s"] > 0
        assert r["fixed_s"] + 2 * r["per_epoch_s"] == pytest.approx(r["wall_s"])
        assert r["per_run_s"] == pytest.approx(r["fixed_s"] + grid_epochs * r["per_epoch_s"])
        assert r["total_s"] == pytest.approx(count * r["per_run_s"])
        assert "--threads=1" in r["command"] and "--kernel=native" in r["command"] and "$TMP" in r["command"]
    assert "--override_epochs=2" in res["rows"][1]["command"] and "--nb_epochs=2" in res["rows"][0]["command"]
    t = res["totals"]
    assert t["all"]["seconds"] == pytest.approx(sum(r["total_s"] for r in res["rows"]))
    assert t["all"]["runs"] == 24 and t["all, --jobs 2"]["seconds"] == pytest.approx(t["all"]["seconds"] / 2)

    # the markdown: on stdout and in --out, the docs' columns + CPU, rows consistent within rounding
    md = out.read_text()
    assert md in proc.stdout
    lines = md.splitlines()
    head = lines.index("| " + " | ".join(bg.COLUMNS) + " |")
    assert bg.COLUMNS[:7] == ["run", "in the grid", "fixed", "per epoch", "epochs", "per run", "all of them"]
    table = [_cells(ln) for ln in lines[head + 2:head + 4]]
    assert [c[0] for c in table] == ["speaker pretraining", "sample naive"]
    total = 0.0
    for c in table:
        count, fixed, pe, epochs = int(c[1]), bg.parse_duration(c[2]), bg.parse_duration(c[3]), int(c[4])
        per_run, all_of_them = bg.parse_duration(c[5]), bg.parse_duration(c[6])
        # each cell is rounded to half a unit of its last digit
        assert per_run == pytest.approx(fixed + epochs * pe, abs=0.05 + epochs * 0.005 + _half(c[5]))
        assert all_of_them == pytest.approx(count * per_run, abs=count * _half(c[5]) + _half(c[6]))
        total += all_of_them
    assert f"in force **{want}**" in md
    all_row = next(_cells(ln) for ln in lines if ln.startswith("| all |"))
    assert all_row[1] == "24"
    assert bg.parse_duration(all_row[2]) == pytest.approx(total, abs=sum(_half(c[6]) for c in table) + _half(all_row[2]))


@pytest.mark.parametrize("args,message", [(["--kinds", "sample_naive,nope"], "--kinds: unknown kind nope"),
                                          (["--kernel", "fast"], "--kernel: 'fast' is not one of"),
                                          (["--epochs", "0"], "--epochs must be >= 1")])
def test_bad_input_is_one_line_and_status_2(args, message):
    proc = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stdout == "" and "Traceback" not in proc.stderr
    assert len(proc.stderr.splitlines()) == 1 and proc.stderr.startswith("error: ") and message in proc.stderr
