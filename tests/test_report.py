"""sccl.report: metrics on hand-computed matrices, aggregation, headline selection, tables,
figures and the CLI, all on hand-made records (no training)."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sccl.report import metrics as M
from sccl.report import tables as T
from sccl.report.runs import group_runs, pretrain_levels, sections

ROOT = Path(__file__).resolve().parent.parent
NAN = float("nan")
PNG = b"\x89PNG\r\n\x1a\n"

# --------------------------------------------------------------------------- record factories


def cl_run(experiment="sample", script="latent_replay", held=0, *, depth=1, mb=10, n_frames=None, ratio="1:1",
           pooling="or", protocol="faithful", dataset="synthetic", seed=0, old=(90, 85, 88), new=(0, 6, 8),
           old_total=100, new_total=10, mem_bytes=160_000, mem_samples=640, nb_steps=100, lr=2e-4):
    """Records of one sample / class run: ``old[e]`` / ``new[e]`` correct answers at epoch e."""
    key = "speaker" if experiment == "sample" else "class"
    cfg = {"experiment": experiment, "script": script, "held_out": held, "depth": depth, "memory_batches": mb,
           "n_frames": n_frames, "pooling": pooling, "protocol": protocol, "seed": seed, "nb_epochs": len(old) - 1,
           "lr": lr, "batch_size": 64, "order": "new_then_replay", "ratio": ratio,
           "net": {"nb_steps": nb_steps, "nb_inputs": 700, "nb_hidden": 200}}
    rid = f"{experiment}-{script}-h{held}-d{depth}-m{mb}-t{n_frames}-{protocol}-{dataset}-seed{seed}"
    head = {"run_id": rid, "experiment": experiment, "script": script, key: held, "depth": depth,
            "memory_batches": mb, "n_frames": n_frames, "ratio": ratio, "pooling": pooling, "protocol": protocol,
            "seed": seed, "dataset": dataset, "nb_epochs": len(old) - 1, "lr": lr, "memory_bytes": mem_bytes,
            "memory_samples": mem_samples, "memory": {"nbytes": mem_bytes, "n_samples": mem_samples}, "config": cfg}
    out = []
    for e, (o, n) in enumerate(zip(old, new)):
        out.append({**head, "epoch": e, "loss": None if e == 0 else 1.0 / (e + 1),
                    "old_acc": o / old_total, "old_correct": o, "old_total": old_total,
                    "new_acc": n / new_total, "new_correct": n, "new_total": new_total,
                    "total_acc": (o + n) / (old_total + new_total), "total_correct": o + n,
                    "total_total": old_total + new_total, "wall_s": float(e)})
    return out


def prog_run(*, depth=2, L=1, n_frames=50, ratio="1:2", seed=0, steps=None, epochs=2, protocol="faithful",
             dataset="synthetic", per_class=None, mem0=10_000):
    """Records of one progressive run; ``steps[s] = (prev (c, t), new (c, t) or None, global (c, t))``
    after the last epoch of step s (earlier epochs get slightly worse values)."""
    steps = steps or PROG_STEPS
    cfg = {"experiment": "progressive", "script": "latent_replay_subsample", "held_out": None, "depth": depth,
           "memory_batches": L, "n_frames": n_frames, "pooling": "or", "protocol": protocol, "seed": seed,
           "nb_epochs": epochs, "lr": 2e-4, "ratio": ratio, "net": {"nb_steps": 100, "nb_inputs": 700}}
    rid = f"progressive-d{depth}-m{L}-t{n_frames}-{protocol}-{dataset}-seed{seed}"
    head = {"run_id": rid, "experiment": "progressive", "script": "latent_replay_subsample", "depth": depth,
            "memory_batches": L, "n_frames": n_frames, "ratio": ratio, "pooling": "or", "protocol": protocol,
            "seed": seed, "dataset": dataset, "nb_epochs": epochs, "lr": 2e-4, "config": cfg,
            "memory": {"nbytes": mem0, "n_samples": 640}}
    words = ["null", "eins", "zwei", "drei", "vier", "fuenf", "sechs", "sieben", "acht", "neun"]
    out = []
    for s, (prev, new, glob) in enumerate(steps):
        mem = {"memory_bytes": mem0 + 1000 * s, "memory_samples": 640 + 64 * s}
        acc = lambda pre, ct, d=0: {f"{pre}_acc": (ct[0] - d) / ct[1], f"{pre}_correct": ct[0] - d,  # noqa: E731
                                   f"{pre}_total": ct[1]}
        epochs_here = [0] if s == 0 else range(1, epochs + 1)
        for e in epochs_here:
            d = 0 if (s == 0 or e == epochs) else 1
            r = {**head, **mem, "step": s, "step_class": None if s == 0 else 9 + s,
                 "class_word": None if s == 0 else words[s - 1], "epoch": e, "loss": None,
                 **acc("previous", prev, d), **acc("global", glob, d), "wall_s": 0.0}
            if new is not None:
                r.update(acc("new", new, d))
            if per_class is not None and d == 0:
                r["class_correct"] = {str(k): v[0] for k, v in per_class[s].items()}
                r["class_total"] = {str(k): v[1] for k, v in per_class[s].items()}
            out.append(r)
    return out


# step 0: English 80/100, global 40/200; step 1: previous 78/100, class 10 9/10; step 2: previous
# (English + class 10) 84/110, class 11 8/10.
PROG_STEPS = [((80, 100), None, (40, 200)), ((78, 100), (9, 10), (50, 200)), ((84, 110), (8, 10), (60, 200))]
# the same run per class (English split in two halves of 50 samples)
PER_CLASS = [{0: (40, 50), 1: (40, 50)},
             {0: (39, 50), 1: (39, 50), 10: (9, 10)},
             {0: (38, 50), 1: (38, 50), 10: (8, 10), 11: (8, 10)}]


# --------------------------------------------------------------------------- matrix metrics

# acc[t, k]: task 0 peaks after task 1, so forgetting and -BWT differ
ACC = [[0.5, NAN, NAN],
       [0.8, 0.7, NAN],
       [0.6, 0.5, 0.4]]


def test_average_accuracy():
    assert M.average_accuracy(ACC) == pytest.approx(0.5)            # (0.6 + 0.5 + 0.4) / 3
    assert M.average_accuracy(ACC, t=1) == pytest.approx(0.75)      # (0.8 + 0.7) / 2
    assert M.average_accuracy(ACC, t=0) == pytest.approx(0.5)
    assert M.average_accuracy(ACC, weights=[2, 1, 1]) == pytest.approx((1.2 + 0.5 + 0.4) / 4)


def test_forgetting_uses_the_best_earlier_accuracy():
    np.testing.assert_allclose(M.forgetting_per_task(ACC), [0.8 - 0.6, 0.7 - 0.5])
    assert M.forgetting(ACC) == pytest.approx(0.2)
    assert M.forgetting(ACC, weights=[3, 1, 1]) == pytest.approx((0.2 * 3 + 0.2) / 4)


def test_backward_transfer():
    assert M.backward_transfer(ACC) == pytest.approx(((0.6 - 0.5) + (0.5 - 0.7)) / 2)   # -0.05
    assert M.backward_transfer(ACC, weights=[3, 1, 1]) == pytest.approx((0.1 * 3 - 0.2) / 4)
    # no forgetting at all: BWT 0, forgetting 0
    flat = [[0.9, NAN], [0.9, 0.8]]
    assert M.backward_transfer(flat) == 0 and M.forgetting(flat) == 0


def test_two_task_matrix_agrees_with_the_summary():
    a = M.two_task_matrix(0.9, 0.1, 0.85, 0.8)
    first = {"old_acc": 0.9, "new_acc": 0.1, "total_acc": 0.82}
    last = {"old_acc": 0.85, "new_acc": 0.8, "total_acc": 0.845}
    s = M.two_task_summary(first, last)
    assert s["old_drop"] == pytest.approx(0.05) == pytest.approx(M.forgetting(a))
    assert M.backward_transfer(a) == pytest.approx(-0.05)
    assert s["new_gain"] == pytest.approx(0.7) and s["total_gain"] == pytest.approx(0.025)
    assert (s["old"], s["new"], s["total"]) == (0.85, 0.8, 0.845)


@pytest.mark.parametrize("bad", [[[0.5, 0.5]], [[NAN, NAN], [0.5, 0.5]], [], [[1.0, NAN], [NAN, 1.0]]])
def test_matrix_validation(bad):
    with pytest.raises(ValueError):
        M.backward_transfer(bad)


def test_single_task_and_weight_errors():
    with pytest.raises(ValueError):
        M.forgetting([[0.5]])
    with pytest.raises(ValueError):
        M.forgetting(ACC, weights=[1, 1])
    with pytest.raises(ValueError):
        M.average_accuracy(ACC, t=3)


def test_accuracy_accumulator():
    acc = M.Accuracy()
    assert math.isnan(acc.result())
    acc.update([1, 2, 3], [1, 2, 0]).add(1, 1)
    assert (acc.correct, acc.total) == (3, 4) and acc.result() == 0.75
    with pytest.raises(ValueError):
        acc.update([1, 2], [1, 2, 3])
    with pytest.raises(ValueError):
        acc.add(5, 3)
    acc.reset()
    assert acc.total == 0


# --------------------------------------------------------------------------- aggregation and memory


def test_mean_std_and_format():
    s = M.mean_std([0.9, 0.8, 1.0, None, NAN])
    assert (s.mean, s.n) == (pytest.approx(0.9), 3) and s.std == pytest.approx(0.1)   # ddof 1
    assert s.fmt() == "90.00 ± 10.00 (n=3)"
    one = M.mean_std([0.5])
    assert one.std is None and one.fmt() == "50.00 (n=1)"
    assert M.mean_std([]) == M.Stat(None, None, 0) and M.mean_std([]).fmt() == "-"


def test_best_and_final():
    curve = M.mean_curve([{0: 0.5, 1: 0.7, 2: 0.9, 3: 0.8}, {0: 0.5, 1: 0.7, 2: 0.7, 3: 0.8}])
    assert curve[2].mean == pytest.approx(0.8)
    final, best = M.best_and_final(curve, [0.8, 0.8])
    assert final.mean == pytest.approx(0.8) and best == (pytest.approx(0.8), 2)  # earliest of the tie 2 / 3
    # epoch 0 only counts when there is nothing else
    assert M.best_and_final({0: M.Stat(0.9, None, 1), 1: M.Stat(0.1, None, 1)}, [0.1])[1] == (0.1, 1)


def test_memory_units():
    assert M.kb(160_000) == 160.0
    assert M.raw_ratio(160_000, 2560) == pytest.approx(140.0)      # reference-spec s5.3
    assert M.raw_ratio(0, 0) is None
    assert M.closest([152.0, 160.0, 160.0, 320.0], 160.0) == [1, 2]


def test_progressive_summary_by_hand():
    runs, _ = group_runs(prog_run())
    p = runs[0].progressive
    assert p["global0"] == pytest.approx(0.2) and p["global_final"] == pytest.approx(0.3)
    assert p["new_mean"] == pytest.approx((0.9 + 0.8) / 2)
    # step 1: 80/100 -> 78/100; step 2: (78 + 9)/110 -> 84/110
    assert p["old_losses"] == pytest.approx([0.02, 3 / 110])
    assert p["old_loss_mean"] == pytest.approx((0.02 + 3 / 110) / 2)
    assert p["seen_final"] == pytest.approx(92 / 120)
    assert p["bwt_w"] == pytest.approx((84 - 89) / 110)


def test_progressive_matrix_matches_the_pooled_metrics():
    runs, _ = group_runs(prog_run(per_class=PER_CLASS))
    acc, w = M.progressive_matrix(runs[0].steps)
    np.testing.assert_allclose(acc[np.tril_indices(3)], [0.8, 0.78, 0.9, 0.76, 0.8, 0.8])
    np.testing.assert_allclose(w, [100, 10, 10])
    assert M.backward_transfer(acc, w) == pytest.approx(runs[0].progressive["bwt_w"])
    assert M.average_accuracy(acc, weights=w) == pytest.approx(runs[0].progressive["seen_final"])
    assert M.forgetting(acc) == pytest.approx((0.04 + 0.1) / 2)
    assert M.progressive_matrix(group_runs(prog_run())[0][0].steps) is None


def test_runs_grouped_into_configurations_over_speakers():
    recs = [r for h, o in ((0, 90), (1, 80), (2, 100)) for r in cl_run(held=h, old=(90, 85, o), new=(0, 5, 10))]
    recs += cl_run(held=0, depth=2)                                   # another configuration
    recs += cl_run(held=0, old=(90, 85, 90), new=(0, 5, 10))[:1]      # duplicate epoch-0 record: ignored
    secs, notes = sections(recs)
    assert len(secs) == 1 and len(notes) == 1 and "duplicate" in notes[0]
    g = [g for g in secs[0].groups if g.depth == 1][0]
    assert g.n == 3
    assert g.final("total_acc").mean == pytest.approx(np.mean([100 / 110, 90 / 110, 110 / 110]))
    assert g.final("old_acc").fmt() == "90.00 ± 10.00 (n=3)"
    assert g.two_task("old_drop").mean == pytest.approx(0.0)           # 90 -> 90, 80, 100
    assert g.two_task("new_gain").mean == pytest.approx(1.0)
    assert g.memory_kb() == 160.0 and g.raw_ratio() == pytest.approx(35.0)   # 640 x 100 x 700 bits
    assert pretrain_levels(secs[0].groups).mean == pytest.approx(90 / 110)  # one value per speaker


def test_sections_split_by_dataset_and_protocol():
    recs = cl_run(dataset="shd", protocol="clean") + cl_run() + cl_run(dataset="shd")
    secs, _ = sections(recs)
    assert [(s.dataset, s.protocol) for s in secs] == [("shd", "faithful"), ("shd", "clean"),
                                                       ("synthetic", "faithful")]


# --------------------------------------------------------------------------- headline selection


def _claim(key):
    return next(c for c in T.CLAIMS if c.key == key)


def test_best_claim_prefers_complete_sweeps_then_final_accuracy():
    recs = []
    for h in range(3):
        recs += cl_run(held=h, mb=10, mem_samples=640, old=(90, 85, 85), new=(0, 5, 5))     # final 90/110
        recs += cl_run(held=h, mb=80, mem_samples=5120, old=(90, 95, 92), new=(0, 8, 8))     # final 100/110
    recs += cl_run(held=0, mb=40, mem_samples=2560, old=(90, 99, 99), new=(0, 10, 10))       # n = 1: ignored
    recs += cl_run(held=0, script="latent_replay_subsample", n_frames=10, ratio="1:10",
                   old=(90, 100, 100), new=(0, 10, 10))                                      # compressed: ignored
    g, rule = T.select(_claim("sample_best"), sections(recs)[0][0])
    assert g.get("memory_batches") == 80 and "most runs" in rule
    assert g.best("total_acc") == (pytest.approx(103 / 110), 1)


def test_compressed_claim_takes_the_memory_nearest_160kb_then_accuracy():
    recs = []
    for mb, nbytes, o in ((1, 152_000, 80), (10, 160_000, 70), (40, 160_000, 75), (80, 320_000, 99)):
        recs += cl_run(experiment="class", script="latent_replay_subsample", mb=mb, n_frames=10, ratio="1:10",
                       mem_bytes=nbytes, old=(90, o, o), new=(0, 5, 5))
    recs += cl_run(experiment="class", script="latent_replay", mem_bytes=160_000, old=(90, 100, 100))  # 1:1
    g, _ = T.select(_claim("class_compressed"), sections(recs)[0][0])
    assert g.get("memory_batches") == 40 and g.memory_kb() == 160.0


def test_missing_claims_say_not_run_with_a_command():
    sec = sections(prog_run(n_frames=20, ratio="1:5") + cl_run())[0][0]
    rows = {r.claim.key: r for r in T.headline(sec)}
    assert rows["sample_best"].group is not None
    assert rows["sample_compressed"].group is None and "testsuite.py" in rows["sample_compressed"].missing
    assert rows["class_best"].group is None and "class_incremental" in rows["class_best"].missing
    assert rows["progressive_global"].group is None
    assert "other ratios" in rows["progressive_global"].missing and "--latent_subsample 50" in \
        rows["progressive_global"].missing
    assert rows["class_best"].ours.mean is None          # never a number for a missing claim


def test_progressive_claims_use_one_configuration():
    recs = prog_run(seed=0) + prog_run(seed=1) + prog_run(n_frames=20, ratio="1:5")
    rows = {r.claim.key: r for r in T.headline(sections(recs)[0][0])}
    g = rows["progressive_global"].group
    assert g.ratio == "1:2" and g.n == 2 and rows["progressive_new"].group is g
    assert rows["progressive_global"].ours.mean == pytest.approx(0.3)
    assert rows["progressive_old"].ours.mean == pytest.approx((0.02 + 3 / 110) / 2)
    assert rows["progressive_pretrain"].ours.mean == pytest.approx(0.2)


# --------------------------------------------------------------------------- tables.md


def small_set():
    recs = []
    for h, o in ((0, 90), (1, 80)):
        recs += cl_run(held=h, old=(90, 85, o), new=(0, 5, 10))
        recs += cl_run(held=h, script="naive", depth=None, mb=0, mem_bytes=0, mem_samples=0, old=(90, 50, 40),
                       new=(0, 10, 10))
    recs += prog_run()
    return recs


def test_tables_md_content(tmp_path):
    secs, notes = sections(small_set())
    meta = {"kind": "pretrain", "mode": "speaker", "held_out": 0, "dataset": "synthetic", "test_accuracy": 0.875,
            "n_train_batches": 88, "n_test_batches": 21, "config": {"nb_epochs": 1, "seed": 0,
                                                                     "net": {"nb_hidden": 16, "nb_steps": 20}}}
    (tmp_path / "sd").mkdir()
    (tmp_path / "sd" / "meta_speaker_0.json").write_text(json.dumps(meta))
    (tmp_path / "sd" / "meta_other.json").write_text(json.dumps({"kind": "something else"}))
    md_path, csv_path = T.write(secs, T.find_meta([tmp_path]), tmp_path / "out", source="R", notes=notes)
    text = md_path.read_text()
    lines = text.splitlines()
    assert "Dataset(s): synthetic SHD. Protocol(s): faithful." in lines
    assert any("not comparable with the paper" in ln for ln in lines)
    # headline: LR (the only uncompressed LR config), final = (100/110 + 90/110) / 2, best at epoch 2
    assert ("| Sample-incremental, best total accuracy | 92.46 % | 86.36 ± 6.43 (n=2) | 86.36 (epoch 2) | "
            "LR, depth 1, 10 batches = 640 samples, 1:1, 2 epochs, lr 0.0002 | "
            "160.0 KB (35x smaller than raw) | faithful |") in lines
    assert ("| Progressive, final global accuracy (1:2) | 78.4 % | 30.00 (n=1) | - | Compressed LR, depth 2, "
            "10 copies of 1 mixed-class batch = 640 samples stored, 64 distinct, 1:2 (or), 2 epochs per class, "
            "lr 0.0002 | 12.0 KB (560x smaller than raw) at the end | faithful |") in lines
    assert any(ln.startswith("| Class-incremental, best total accuracy | 92.05 % | not run |") for ln in lines)
    # full sample table rows
    assert ("| Naive | - | 0 | 0 | 1:1 | - | 2 | 0.0002 | 0 | - | 40.00 ± 0.00 | 100.00 ± 0.00 | 45.45 ± 0.00 | "
            "54.55 (1) | 50.00 ± 0.00 | 100.00 ± 0.00 | 2 |") in lines
    assert ("| LR | 1 | 10 | 640 | 1:1 | - | 2 | 0.0002 | 160.0 | 35x | 85.00 ± 7.07 | 100.00 ± 0.00 | "
            "86.36 ± 6.43 | 86.36 (2) | 5.00 ± 7.07 | 100.00 ± 0.00 | 2 |") in lines
    # progressive step table and pretraining table
    assert "| 2 | 11 (eins) | 12 | 30.00 | 76.36 | 80.00 | 12.0 |" in lines
    assert "| speaker | 0 | synthetic SHD | 87.50 | 88 / 21 | 1 | 16 | 20 | 0 | sd |" in lines
    assert "duplicate" not in text
    csv_text = csv_path.read_text()
    assert csv_text.splitlines()[0].startswith("table,dataset,protocol,claim,paper,paper_value,mean,std,n")
    assert "progressive_steps" in csv_text and "pretrain" in csv_text


# --------------------------------------------------------------------------- figures


def tiny_statedict(folder: Path, nb_steps=20, nb_hidden=16):
    import torch

    from sccl.config import NetConfig
    from sccl.model import init_weights

    folder.mkdir(parents=True, exist_ok=True)
    net = NetConfig(nb_hidden=nb_hidden, nb_steps=nb_steps)
    w = init_weights(net, torch.Generator().manual_seed(0))
    w = {k: v * (8.0 if k == "w1" else 1.0) for k, v in w.items()}  # make layer 1 spike
    torch.save(w, folder / "state_dict_speaker_0.pt")
    g = torch.Generator().manual_seed(1)
    x = (torch.rand(4, nb_steps, 700, generator=g) < 0.05).float().to_sparse()
    torch.save([x], folder / "pretrain_x_speaker_0.pt")
    return folder


def _is_png(p: Path) -> bool:
    return p.exists() and p.stat().st_size > 1000 and p.read_bytes()[:8] == PNG


def test_figures_from_hand_made_records(tmp_path):
    from sccl.report import figures as F

    recs = small_set() + prog_run(depth=1, L=2, seed=0)
    recs += cl_run(experiment="class", script="latent_replay_subsample", n_frames=10, ratio="1:10",
                   mem_bytes=152_000, held=3)
    recs += cl_run(held=0, script="rehearsal", depth=None, mb=1, mem_bytes=560_000, mem_samples=64)
    secs, _ = sections(recs)
    paths = F.write_all(secs, tmp_path / "fig")
    names = sorted(p.name for p in paths)
    assert names == ["accuracy_vs_memory.png", "fig5a_total_vs_epoch.png", "fig5b_total_vs_depth.png",
                     "fig6_progressive_global.png"]
    assert all(_is_png(p) for p in paths)
    from sccl.experiments.analysis import compression_example

    example = compression_example(tiny_statedict(tmp_path / "sd"), depth=1)
    png, note = F.compression_figure(example, tmp_path / "fig" / "c.png")
    assert png is not None and _is_png(png) and "ratio 1:4" in note
    png, note = F.compression_figure(compression_example(tmp_path / "nothing"), tmp_path / "fig" / "d.png")
    assert png is None and "skipped" in note


def test_figures_skip_what_is_not_there(tmp_path):
    from sccl.report import figures as F

    sec = sections(prog_run())[0][0]
    assert F.fig5a(sec, tmp_path / "a.png") is None and F.memory_figure(sec, tmp_path / "m.png") is None
    assert not (tmp_path / "a.png").exists()


# --------------------------------------------------------------------------- CLI


def _cli(*args, cwd):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, "-m", "sccl.report", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, env=env, timeout=120)


def test_cli_writes_tables_and_figures(tmp_path):
    res = tmp_path / "results"
    (res / "runs" / "records").mkdir(parents=True)
    (res / "runs" / "records" / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in small_set()))
    sd = tiny_statedict(tmp_path / "sd")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", "sccl", "compression", f"--statedict_dir={sd}",
                    f"--out={sd / 'compression_example.json'}"], cwd=ROOT, check=True, env=env, timeout=120)
    proc = _cli("--results", res, "--statedict_dir", sd, "--threads", "1", cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert (res / "tables.md").exists() and (res / "tables.csv").exists()
    for name in ("fig5a_total_vs_epoch", "fig6_progressive_global", "accuracy_vs_memory", "compression"):
        assert _is_png(res / "figure" / f"{name}.png"), name
    assert "tables.md" in proc.stdout and "compression.png" in proc.stdout


def test_cli_without_records_is_one_error_line(tmp_path):
    proc = _cli("--results", tmp_path, cwd=ROOT)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: no result records")
    assert "Traceback" not in proc.stderr


def test_main_is_callable_and_raises_sccl_error(tmp_path):
    from sccl.errors import SCCLError
    from sccl.report import main

    with pytest.raises(SCCLError):
        main(["--results", str(tmp_path)])


def test_batch_list_runs_are_one_line_not_rows(tmp_path):
    """`--removed_only` metas (batch lists, no model) are counted under the pretraining table."""
    from sccl.report import tables as T

    def meta(held, removed_only, acc):
        return (Path(f"sd/meta_class_{held}.json"),
                {"kind": "pretrain", "mode": "class", "held_out": held, "dataset": "synthetic", "test_accuracy": acc,
                 "n_train_batches": 10, "n_test_batches": 2,
                 "config": {"removed_only": removed_only, "nb_epochs": 30, "seed": 0, "net": {"nb_hidden": 200}}})
    md, rows = T.pretrain_table([meta(3, False, 0.9), meta(0, True, None), meta(1, True, None)])
    assert [r["held_out"] for r in rows] == [3]
    assert md.count("\n| class |") == 1 and "| class | 3 | synthetic SHD | 90.00 |" in md
    assert md.endswith("Also 2 batch-list runs (`--removed_only`: the held-out data's batch lists, no model) "
                       "for held-out 0, 1 in sd.")
    md, rows = T.pretrain_table([meta(0, True, None)])
    assert rows == [] and md.startswith("No trained model") and "1 batch-list runs" in md
