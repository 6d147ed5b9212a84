"""Every experiment script as a real subprocess on the tiny synthetic set: printed lines,
TXT / CSV lines in the original's exact formats (reference-spec s3, s8.3), records, artifacts."""
from __future__ import annotations

import json
import re

import pytest
import torch

from conftest import TINY_FLAGS, run_script

F = r"\d\.\d{3}"  # %.3f of a fraction
CL = [*TINY_FLAGS, "--override_epochs=2"]


def lines_of(path):
    """TXT files hold "\\n<line>\\n" blocks: the non-empty lines in order."""
    text = path.read_text()
    return [ln for ln in text.split("\n") if ln]


def records(out_dir, script=""):
    """The records of the one run in ``out_dir`` whose run id contains ``-<script>-``."""
    files = [f for f in sorted((out_dir / "records").glob("*.jsonl")) if f"-{script}-" in f.name or not script]
    assert len(files) == 1, f"expected one records file for {script!r} in {out_dir}, found {files}"
    return [json.loads(ln) for ln in files[0].read_text().splitlines()]


# ------------------------------------------------------------------------ pretraining

def test_speaker_generator_script(synth_dir, tmp_path):
    proc = run_script("statedicts_64_elements/heidelberg_statedict_generator.py", "--speaker=2",
                      f"--data_dir={synth_dir}", "--nb_epochs=1", f"--out_dir={tmp_path}", *TINY_FLAGS)
    assert re.search(rf"^Pre-Training accuracy on the 11 speakers: {F}$", proc.stdout, re.M), proc.stdout
    assert re.search(r"^Epoch 1: loss=\d+\.\d{5}$", proc.stdout, re.M)
    assert "[dataset: synthetic]" in proc.stderr
    names = ["state_dict", "pretrain_x", "pretrain_y", "pretrain_test_x", "pretrain_test_y", "removed_x", "removed_y"]
    for n in names:
        assert (tmp_path / f"{n}_speaker_2.pt").exists(), n
    sd = torch.load(tmp_path / "state_dict_speaker_2.pt", weights_only=True)
    assert sorted(sd) == sorted(["w1", "w2", "w3", "w_out", "v1", "v2", "v3"])
    assert sd["w1"].shape == (700, 16) and sd["w1"].dtype == torch.float32 and sd["w1"].device.type == "cpu"
    xs = torch.load(tmp_path / "removed_x_speaker_2.pt", weights_only=True)
    ys = torch.load(tmp_path / "removed_y_speaker_2.pt", weights_only=True)
    assert len(xs) == len(ys) == 10  # 80 samples of speaker 2, batches of 8
    assert xs[0].is_sparse and xs[0].shape == (8, 20, 700) and ys[0].dtype == torch.int64
    meta = json.loads((tmp_path / "meta_speaker_2.json").read_text())
    assert meta["dataset"] == "synthetic" and meta["held_out"] == 2
    assert not list(tmp_path.glob("*.tmp"))


def test_class_and_10classes_generators(synth_dir, tmp_path):
    proc = run_script("statedicts_class_incremental/heidelberg_statedict_generator.py", "--removed-class=5",
                      f"--data-dir={synth_dir}", "--nb_epochs=0", f"--out_dir={tmp_path}", *TINY_FLAGS)
    assert re.search(rf"^Pre-Training accuracy on the 19 classes: {F}$", proc.stdout, re.M)
    assert (tmp_path / "pretrain_class_x_class_5.pt").exists()  # the original's odd test-split name
    proc = run_script("statedicts_class_incremental/heidelberg_statedict_generator_10classes.py",
                      f"--data_dir={synth_dir}", "--nb_epochs=0", f"--out_dir={tmp_path}", *TINY_FLAGS)
    assert re.search(rf"^Pre-Training accuracy on the 10 English classes: {F}$", proc.stdout, re.M)
    for c in range(10, 20):
        assert (tmp_path / f"removed_x_class_{c}.pt").exists()
    y = torch.load(tmp_path / "pretrain_y_10classes.pt", weights_only=True)
    assert int(torch.cat(y).max()) < 10


def test_analysis_scripts(speaker_dir, class_dir, tmp_path):
    proc = run_script("statedicts_64_elements/test_spike_activity.py", "--speaker=0", f"--out_dir={speaker_dir}",
                      *TINY_FLAGS)
    assert re.search(rf"^Layer 3 spike sparsity: {F}$", proc.stdout, re.M)
    assert re.search(rf"^Input sparsity: \d+\.\d{{3}}$", proc.stdout, re.M)
    proc = run_script("statedicts_class_incremental/test_statedict.py", "--removed_class=3", f"--out_dir={class_dir}",
                      *TINY_FLAGS)
    assert re.search(rf"^Pre-Training accuracy on the 19 classes for statedict class 3: {F}$", proc.stdout, re.M)
    last = (class_dir / "pretrain_classes_accuracy.txt").read_text().splitlines()[-1]
    assert re.fullmatch(rf"3 {F} {F}", last)


# ------------------------------------------------------------------------ sample-incremental

def _sample(script, tmp_path, speaker_dir, *extra):
    return run_script(f"sample_incremental/{script}", "--speaker=0", f"--statedict_dir={speaker_dir}",
                      f"--out_dir={tmp_path}", *CL, *extra)


def test_sample_naive(speaker_dir, tmp_path):
    _sample("naive.py", tmp_path, speaker_dir)
    got = lines_of(tmp_path / "speaker_0_naive_sample_inc_train.txt")
    pat = [rf"Pre-Training accuracy on the 11 speakers: {F}", rf"Pre-Training Test accuracy on speaker 0: {F}"]
    for e in (1, 2):
        pat += [rf"Epoch {e}: loss=\d+\.\d{{5}}", rf"Epoch {e}: Pretrain test set accuracy on the 11 speakers: {F}",
                rf"Epoch {e}: Test accuracy: {F}"]
    pat.append(rf"Post-Incremental Training Test accuracy: {F}")
    assert len(got) == len(pat) and all(re.fullmatch(p, g) for p, g in zip(pat, got)), got
    text = (tmp_path / "speaker_0_naive_sample_inc_train.txt").read_text()
    assert text.startswith("\nPre-Training") and text.endswith("\n") and "\n\n\n" not in text
    rows = (tmp_path / "naive_incremental_csv.csv").read_text().splitlines()
    assert [r[:5] for r in rows] == ["0, 1,", "0, 2,"] and all(re.fullmatch(rf"0, \d, {F}, {F}", r) for r in rows)
    recs = records(tmp_path)
    assert [r["epoch"] for r in recs] == [0, 1, 2]
    r = recs[-1]
    assert r["dataset"] == "synthetic" and r["memory_bytes"] == 0 and r["script"] == "naive"
    assert r["total_correct"] == r["old_correct"] + r["new_correct"]
    assert r["total_total"] == r["old_total"] + r["new_total"] and r["new_total"] == 8
    assert r["env"]["kernel"] == "torch" and r["env"]["threads"] >= 1  # SCCL_KERNEL=torch (conftest)


def test_sample_rehearsal_two_rows_per_epoch(speaker_dir, tmp_path):
    _sample("rehearsal.py", tmp_path, speaker_dir, "--reharsal_size=2")
    got = lines_of(tmp_path / "reharsal_speaker_0_batches_2.txt")
    assert re.fullmatch(rf"Pre-Training accuracy on the removed speaker 0: {F}", got[1])
    assert re.fullmatch(rf"Epoch 2: Post-Reharsal accuracy on the 11 speakers: {F}", got[-3])
    assert re.fullmatch(rf"Epoch 2: Post-Reharsal accuracy on the removed speaker 0: {F}", got[-2])
    assert re.fullmatch(r"Replay memory: \d+ bytes \(16 samples, ratio 1:1\)", got[-1])
    rows = (tmp_path / "rehearsal_64_csv.csv").read_text().splitlines()
    assert len(rows) == 4 and all(re.fullmatch(rf"0, 2, [12], {F}", r) for r in rows)
    assert records(tmp_path)[-1]["memory_samples"] == 16


def test_sample_latent_replay(speaker_dir, tmp_path):
    from sccl import kernels

    _sample("latent_replay.py", tmp_path, speaker_dir, "--latent_depth=3", "--latent_batches=3", "--kernel=exact",
            "--threads=1")
    got = lines_of(tmp_path / "latent_speaker_0_depth_3.txt")
    assert re.fullmatch(rf"Epoch 1: Post-Latent accuracy on the 11 speakers: {F}", got[2])
    # 24 samples x 20 steps x 4 neurons (H3 = 16 // 4) x 1 bit = 240 bytes
    assert got[-1] == "Replay memory: 240 bytes (24 samples, ratio 1:1)"
    rows = (tmp_path / "latent_csv.csv").read_text().splitlines()
    assert len(rows) == 4 and all(re.fullmatch(rf"0, 3, 3, [12], {F}", r) for r in rows)
    rec = records(tmp_path)[-1]
    assert rec["memory_bytes"] == 240
    # the record says what ran the time loops: the flag's kernel, or torch where it cannot be built
    assert rec["env"]["kernel"] == ("exact" if kernels.ops() is not None else "torch")
    assert rec["env"]["threads"] == 1


@pytest.mark.parametrize("pooling,txt,csv", [
    ("or", "latent_speaker_subsampled_0_depth_1.txt", "latent_csv_subsample.csv"),
    ("sum", "latent_speaker_subsampled_sums_0_depth_1.txt", "latent_csv_subsample_sums_singlesubsample.csv")])
def test_sample_compressed(speaker_dir, tmp_path, pooling, txt, csv):
    _sample("latent_replay_subsample.py", tmp_path, speaker_dir, "--latent_depth=1", "--latent_batches=2",
            "--latent_subsample=10", f"--pooling={pooling}")
    got = lines_of(tmp_path / txt)
    assert re.fullmatch(rf"Accuracy on the subsampled batches: {F}", got[0])
    assert re.fullmatch(rf"Pre-Training accuracy on the 11 speakers: {F}", got[1])
    # 16 samples x 10 frames x 16 neurons: 1 bit (OR) or 2 bits (counts 0..2) per element
    nbytes = 320 if pooling == "or" else 640
    assert got[-1] == f"Replay memory: {nbytes} bytes (16 samples, ratio 1:2)"
    rows = (tmp_path / csv).read_text().splitlines()
    assert len(rows) == 2 and all(re.fullmatch(rf"0, 1, 2, [12], {F}, {F}", r) for r in rows)


def test_sample_rehearsal_subsample(speaker_dir, tmp_path):
    _sample("rehearsal_subsample.py", tmp_path, speaker_dir, "--latent_batches=1", "--latent_subsample=5")
    got = lines_of(tmp_path / "reharsal_speaker_0.txt")
    assert re.fullmatch(rf"Epoch 2: Post-Latent accuracy on the removed speaker 0: {F}", got[-2])
    rows = (tmp_path / "reharsal_csv.csv").read_text().splitlines()
    assert all(re.fullmatch(rf"0, 1, [12], {F}, {F}", r) for r in rows)


# ------------------------------------------------------------------------ class-incremental

def _class(script, tmp_path, class_dir, *extra):
    return run_script(f"class_incremental/{script}", "--removed_class=3", f"--statedict_dir={class_dir}",
                      f"--out_dir={tmp_path}", *CL, *extra)


def test_class_scripts_formats(class_dir, tmp_path):
    _class("naive.py", tmp_path, class_dir)
    got = lines_of(tmp_path / "class_3_naive_class_inc_train.txt")
    assert re.fullmatch(rf"Pre-Training accuracy on the 19 classes: {F}", got[0])
    assert re.fullmatch(rf"Pre-Training accuracy on the removed class 3: {F}", got[1])
    assert re.fullmatch(rf"Epoch 2: Post-Latent accuracy: {F} {F}", got[3])
    assert re.fullmatch(rf"Post-Incremental Training Test accuracy: {F}", got[4])
    assert all(re.fullmatch(rf"3, 0\.000200, [12], {F}, {F}", r)
               for r in (tmp_path / "naive_class_incremental_csv.csv").read_text().splitlines())

    _class("latent_replay.py", tmp_path, class_dir, "--latent_depth=2", "--latent_batches=7")
    rows = (tmp_path / "latent_class_incremental_csv.csv").read_text().splitlines()
    assert all(re.fullmatch(rf"3, 2, 38, 0\.000200, [12], {F}, {F}", r) for r in rows)  # literal 38
    assert records(tmp_path, "latent_replay")[-1]["memory_samples"] == 19 * 8  # one batch per other class, flag ignored

    _class("latent_replay_subsample.py", tmp_path, class_dir, "--latent_depth=1", "--latent_batches=3",
           "--latent_subsample=4", "--lr=0.001")
    rows = (tmp_path / "latent_class_incremental_subsampled_csv.csv").read_text().splitlines()
    assert all(re.fullmatch(rf"3, 1, 57, 0\.001000, [12], {F}, {F}", r) for r in rows)
    assert (tmp_path / "latent_class_subsampled_3_depth_1.txt").exists()

    _class("rehearsal.py", tmp_path, class_dir, "--reharsal_size=1", "--latent_subsample=2")
    rows = (tmp_path / "reharsal_class_incremental_subsampled_10_csv.csv").read_text().splitlines()
    assert all(re.fullmatch(rf"3, 19, 0\.000200, [12], {F}, {F}", r) for r in rows)


# ------------------------------------------------------------------------ progressive

@pytest.mark.parametrize("protocol", ["faithful", "clean"])
def test_progressive_compressed(class_dir, tmp_path, protocol):
    run_script("class_incremental_multiclasses/latent_replay_subsample.py", f"--statedict_dir={class_dir}",
               f"--out_dir={tmp_path}", *TINY_FLAGS, "--nb_epochs=1", "--latent_depth=1", "--latent_batches=1",
               "--latent_subsample=10", f"--protocol={protocol}")
    got = lines_of(tmp_path / "latent_10classes_depth1_batches1.txt")
    assert len(got) == 10 * 4 + 1
    assert re.fullmatch(rf"Epoch 1 for class 10: Post-Latent accuracies: {F} {F} {F}", got[0])
    assert re.fullmatch(rf"Post-Training accuracy on the 10 classes: {F}", got[1])
    assert re.fullmatch(rf"Post-Training accuracy on ALL the classes: {F}", got[2])
    assert re.fullmatch(rf"Post-Training accuracy on removed class 19: {F}", got[-2])
    rows = (tmp_path / "latent_10classes_incremental_csv_depth1_batches1_subsampled.csv").read_text().splitlines()
    assert [r.split(", ")[:4] for r in rows] == [["1", str(c), str(c), "1"] for c in range(10, 20)]
    recs = records(tmp_path)
    steps = [r for r in recs if r["step"] > 0]
    # step k evaluates the previous classes (10 English + k-1 German) and the new class
    assert [r["step_class"] for r in steps] == list(range(10, 20))
    assert all(r["new_total"] == 8 for r in steps)
    # stored samples are the same in both protocols (10 copies of L = 1 mixed batch, or one single-
    # class batch per English class: 80 either way); WHICH samples is tests/test_settings.py's job
    assert steps[0]["memory_samples"] == 10 * 1 * 8
    assert steps[-1]["memory_samples"] == steps[0]["memory_samples"] + 9 * 8
    # the global test set tells the protocols apart: 20 batches (faithful, Q30) or the English
    # test split + each German class's test batch (clean)
    en_test = sum(len(y) for y in torch.load(class_dir / "pretrain_test_y_10classes.pt", weights_only=True))
    assert en_test != 10 * 8
    assert all(r["global_total"] == (20 * 8 if protocol == "faithful" else en_test + 10 * 8) for r in steps)
