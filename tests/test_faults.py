"""The fault suite (issue 12, docs/integrity.md): bad data, bad artifacts, bad flags, bad outputs,
kills at several points and concurrent copies. Every case asserts the exit status, a one-line
message without a traceback and no partial or duplicated file.

Cheap cases call the scripts' ``main`` in this process (:func:`call`); kills of whole processes
and concurrent copies use real subprocesses. The tiny pretraining artifacts are the session
fixtures of conftest.py, copied when a case damages them.
"""
from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import ROOT, TINY_FLAGS

GEN = "statedicts_64_elements/heidelberg_statedict_generator.py"
CGEN = "statedicts_class_incremental/heidelberg_statedict_generator.py"
NAIVE = "sample_incremental/naive.py"
LR = "sample_incremental/latent_replay.py"
LRS = "sample_incremental/latent_replay_subsample.py"
REH = "sample_incremental/rehearsal.py"
CLR = "class_incremental/latent_replay.py"
RUN1 = ["--speaker=0", "--override_epochs=1", "--threads=1"]      # no network flags: they come from the manifest
GEN_TINY = [*TINY_FLAGS, "--nb_epochs=0"]                          # a valid set without training


class Killed(BaseException):
    """Stands for SIGKILL at a chosen point of an in-process run."""


_MODULES: dict[str, object] = {}


def _module(script: str):
    if script not in _MODULES:
        path = ROOT / script
        spec = importlib.util.spec_from_file_location("faults_" + script.replace("/", "_")[:-3], path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        _MODULES[script] = mod
    return _MODULES[script]


class Result:
    def __init__(self, rc, out, err):
        self.returncode, self.stdout, self.stderr = rc, out, err


def call(script: str, *argv) -> Result:
    """Run a script's (or, for "sccl", the sccl command's) main in this process, as run_main does."""
    from sccl.cli_util import run_main

    out, err = io.StringIO(), io.StringIO()
    rc = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            if script == "sccl":
                from sccl.cli import main as sccl_main
                rc = sccl_main([str(a) for a in argv])
            else:
                run_main(_module(script).main, [str(a) for a in argv])
        except SystemExit as e:
            rc = e.code if isinstance(e.code, int) else 1
    return Result(rc, out.getvalue(), err.getvalue())


def one_line_error(res: Result, *needles) -> str:
    """Exit 2, exactly one ``error:`` line and it is the last one, no traceback; returns it."""
    assert res.returncode == 2, (res.returncode, res.stdout[-2000:], res.stderr[-2000:])
    lines = res.stderr.strip().splitlines()
    errs = [ln for ln in lines if ln.startswith("error: ") or ": error: " in ln]
    assert len(errs) == 1 and lines[-1] == errs[0], res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    for n in needles:
        assert n in errs[0], (n, errs[0])
    return errs[0]


def files_under(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(Path(d).rglob("*")) if p.is_file()} if d.exists() else {}


def csv_rows(d: Path) -> list[str]:
    return [ln for p in sorted(Path(d).glob("*.csv")) for ln in p.read_text().splitlines()]


def records_files(d: Path) -> list[str]:
    return sorted(p.name for p in (Path(d) / "records").glob("*.jsonl"))


@pytest.fixture
def sd(speaker_dir, tmp_path) -> Path:
    """A private copy of the speaker-0 pretraining (cases damage it)."""
    d = tmp_path / "sd"
    shutil.copytree(speaker_dir, d)
    return d


def run_ok(script, sd_dir, out, *extra) -> Result:
    res = call(script, *RUN1, f"--statedict_dir={sd_dir}", f"--out_dir={out}", *extra)
    assert res.returncode == 0, (res.stdout[-2000:], res.stderr[-2000:])
    return res


# ============================================================ bad data (generators)

def test_data_folder_missing(tmp_path):
    one_line_error(call(GEN, f"--data_dir={tmp_path / 'nope'}", f"--out_dir={tmp_path / 'out'}"), "nope", "--synthetic")
    assert not (tmp_path / "out").exists()


def test_data_corrupt_hdf5(tmp_path):
    (tmp_path / "shd_merged.h5").write_bytes(b"\x89HDF\r\n garbage")
    one_line_error(call(GEN, f"--data_dir={tmp_path}", f"--out_dir={tmp_path / 'out'}"), "shd_merged.h5")
    assert not (tmp_path / "out").exists()


def test_data_truncated_hdf5(synth_dir, tmp_path):
    data = (synth_dir / "shd_merged.h5").read_bytes()
    (tmp_path / "shd_merged.h5").write_bytes(data[: len(data) // 2])
    one_line_error(call(GEN, f"--data_dir={tmp_path}", f"--out_dir={tmp_path / 'out'}", *GEN_TINY), "shd_merged.h5")
    assert not (tmp_path / "out").exists()


def test_data_test_half_missing(synth_dir, tmp_path):
    shutil.copy(synth_dir / "shd_train.h5", tmp_path / "shd_train.h5")
    one_line_error(call(GEN, f"--data_dir={tmp_path}", f"--out_dir={tmp_path / 'out'}"), "shd_test.h5")
    assert not (tmp_path / "shd_merged.h5").exists() and not (tmp_path / "out").exists()


def test_data_speaker_absent(synth_dir, tmp_path):
    one_line_error(call(GEN, "--speaker=15", f"--data_dir={synth_dir}", f"--out_dir={tmp_path}", *GEN_TINY), "--speaker", "15")
    assert not list(tmp_path.iterdir())


def test_data_class_absent(synth_dir, tmp_path):
    one_line_error(call(CGEN, "--removed_class=25", f"--data_dir={synth_dir}", f"--out_dir={tmp_path}", *GEN_TINY),
                   "--removed_class", "25")
    assert not list(tmp_path.iterdir())


def test_data_batch_larger_than_held_out_set(synth_dir, tmp_path):
    one_line_error(call(GEN, f"--data_dir={synth_dir}", f"--out_dir={tmp_path}", "--batch_size=500", "--nb_hidden=16",
                        "--nb_steps=20", "--nb_epochs=0"), "--batch_size")
    assert not list(tmp_path.iterdir())


def test_data_labels_beyond_outputs(synth_dir, tmp_path):
    one_line_error(call(GEN, f"--data_dir={synth_dir}", f"--out_dir={tmp_path}", *GEN_TINY, "--nb_outputs=5"),
                   "--nb_outputs")
    assert not list(tmp_path.iterdir())


# ============================================================ bad artifacts

def test_artifact_set_missing(tmp_path):
    one_line_error(call(NAIVE, "--speaker=4", f"--statedict_dir={tmp_path}", f"--out_dir={tmp_path / 'o'}"),
                   "state_dict_speaker_4.pt", "heidelberg_statedict_generator.py --speaker=4")
    assert not (tmp_path / "o").exists()


def test_artifact_no_manifest(sd, tmp_path):
    (sd / "manifest_speaker_0.json").unlink()
    one_line_error(call(NAIVE, *RUN1, f"--statedict_dir={sd}", f"--out_dir={tmp_path / 'o'}"),
                   "manifest_speaker_0.json", "incomplete", "--speaker=0")
    assert not (tmp_path / "o").exists()


def test_artifact_mixed_weights(sd, tmp_path):
    w = torch.load(sd / "state_dict_speaker_0.pt", weights_only=True)
    torch.save({k: v * 1.01 for k, v in w.items()}, sd / "state_dict_speaker_0.pt")  # another run's weights
    one_line_error(call(NAIVE, *RUN1, f"--statedict_dir={sd}", f"--out_dir={tmp_path / 'o'}"),
                   "state_dict_speaker_0.pt", "rewritten", "--speaker=0")
    assert not (tmp_path / "o").exists()


def test_artifact_truncated_batches(sd, tmp_path):
    p = sd / "pretrain_x_speaker_0.pt"
    p.write_bytes(p.read_bytes()[:1000])
    one_line_error(call(LR, *RUN1, f"--statedict_dir={sd}", f"--out_dir={tmp_path / 'o'}"), "pretrain_x_speaker_0.pt")
    assert not (tmp_path / "o").exists()


def test_artifact_batches_file_missing(sd, tmp_path):
    (sd / "removed_y_speaker_0.pt").unlink()
    one_line_error(call(NAIVE, *RUN1, f"--statedict_dir={sd}", f"--out_dir={tmp_path / 'o'}"),
                   "removed_y_speaker_0.pt", "--speaker=0")


def test_artifact_manifest_corrupt(sd, tmp_path):
    (sd / "manifest_speaker_0.json").write_text("{ half a manifest")
    one_line_error(call(NAIVE, *RUN1, f"--statedict_dir={sd}", f"--out_dir={tmp_path / 'o'}"), "manifest_speaker_0.json")


def test_artifact_manifest_foreign_json(sd, tmp_path):
    (sd / "manifest_speaker_0.json").write_text('{"files": []}')
    one_line_error(call(NAIVE, *RUN1, f"--statedict_dir={sd}", f"--out_dir={tmp_path / 'o'}"),
                   "not an sccl pretraining manifest")


def test_artifact_unlisted_file_in_manifest_folder(sd, tmp_path):
    from sccl import artifacts
    from sccl.errors import ArtifactError

    torch.save([], sd / "pretrain_x_speaker_9.pt")  # left behind by a generator that never finished
    with pytest.raises(ArtifactError, match="not listed by any pretraining manifest"):
        artifacts.load(sd / "pretrain_x_speaker_9.pt")


def test_artifact_class_memory_from_other_dataset(class_dir, tmp_path):
    d = tmp_path / "sd"
    shutil.copytree(class_dir, d)
    m = d / "manifest_class_0.json"
    body = json.loads(m.read_text())
    body["dataset"]["fingerprint"] = "0" * 64  # class 0's lists come from other data
    m.write_text(json.dumps(body))
    one_line_error(call(CLR, "--removed_class=3", "--override_epochs=1", "--threads=1", f"--statedict_dir={d}",
                        f"--out_dir={tmp_path / 'o'}"), "removed_x_class_0.pt", "another dataset")
    assert csv_rows(tmp_path / "o") == []


def test_artifact_class_memory_rewritten(class_dir, tmp_path):
    d = tmp_path / "sd"
    shutil.copytree(class_dir, d)
    torch.save(torch.load(d / "removed_y_class_1.pt", weights_only=True)[:1], d / "removed_y_class_1.pt")
    one_line_error(call(CLR, "--removed_class=3", "--override_epochs=1", "--threads=1", f"--statedict_dir={d}",
                        f"--out_dir={tmp_path / 'o'}"), "removed_y_class_1.pt", "--removed_class=1")
    assert csv_rows(tmp_path / "o") == []


# ============================================================ bad flags

def test_flag_network_conflicts_with_pretraining(speaker_dir, tmp_path):
    err = one_line_error(call(LRS, *RUN1, "--nb_steps=100", f"--statedict_dir={speaker_dir}", f"--out_dir={tmp_path}"),
                         "--nb_steps 100", "--nb_steps 20", "manifest_speaker_0.json")
    assert "--nb_steps=100" in err  # the command that remakes the pretraining for 100 steps
    assert not list(tmp_path.iterdir())


def test_flag_batch_size_conflicts_with_pretraining(speaker_dir, tmp_path):
    one_line_error(call(NAIVE, *RUN1, "--batch_size=64", f"--statedict_dir={speaker_dir}", f"--out_dir={tmp_path}"),
                   "--batch_size 64", "--batch_size 8")
    assert not list(tmp_path.iterdir())


def test_flag_hidden_conflicts_with_pretraining(speaker_dir, tmp_path):
    one_line_error(call(LR, *RUN1, "--nb_hidden=200", f"--statedict_dir={speaker_dir}", f"--out_dir={tmp_path}"),
                   "--nb_hidden 200", "--nb_hidden 16")


def test_flag_network_not_repeated_takes_the_pretraining(speaker_dir, tmp_path):
    run_ok(LRS, speaker_dir, tmp_path, "--latent_subsample=10", "--latent_batches=2")
    rec = json.loads((tmp_path / "records" / records_files(tmp_path)[0]).read_text().splitlines()[0])
    assert rec["config"]["net"]["nb_steps"] == 20 and rec["config"]["net"]["nb_hidden"] == 16
    assert rec["config"]["batch_size"] == 8 and rec["ratio"] == "1:2"
    assert "-b8-" in rec["run_id"]
    # the same run with the flags repeated is the same run
    res = run_ok(LRS, speaker_dir, tmp_path, "--latent_subsample=10", "--latent_batches=2", *TINY_FLAGS, "--skip_done")
    assert res.stdout.startswith("already done")


def test_flag_zero_latent_batches(speaker_dir, tmp_path):
    one_line_error(call(LRS, *RUN1, "--latent_batches=0", f"--statedict_dir={speaker_dir}", f"--out_dir={tmp_path}"),
                   "--latent_batches 0", "naive.py")
    assert not list(tmp_path.iterdir())


def test_flag_zero_rehearsal_size(speaker_dir, tmp_path):
    one_line_error(call(REH, *RUN1, "--reharsal_size=0", f"--statedict_dir={speaker_dir}", f"--out_dir={tmp_path}"),
                   "--reharsal_size 0")
    assert not list(tmp_path.iterdir())


def test_flag_ignored_epochs_notice(speaker_dir, tmp_path, monkeypatch):
    from sccl.scripting import ignored_flag_notices

    mod, parsed = _module(NAIVE), []
    monkeypatch.setattr(mod, "continual_main", lambda a, **kw: parsed.append(a) or 0)  # parse only
    mod.main(["--nb_epochs=1"])
    mod.main([])
    said = []
    assert len(ignored_flag_notices(parsed[0], 0, say=said.append)) == 1
    assert said[0].startswith("notice: --nb_epochs 1 is ignored") and "50 epochs" in said[0]
    assert ignored_flag_notices(parsed[1], 0, say=said.append) == []  # not given: no notice


def test_flag_ignored_latent_batches_notice(class_dir, tmp_path):
    res = call(CLR, "--removed_class=3", "--latent_batches=3", "--override_epochs=1", "--threads=1",
               f"--statedict_dir={class_dir}", f"--out_dir={tmp_path}", "--protocol=clean")
    assert res.returncode == 0, res.stderr
    notes = [ln for ln in res.stderr.splitlines() if ln.startswith("notice:")]
    assert len(notes) == 1 and "--latent_batches 3 is ignored" in notes[0]
    assert "-m1-" in records_files(tmp_path)[0]  # recorded as what the run did


@pytest.mark.parametrize("flag,needle", [
    ("--latent_depth=4", "--latent_depth"),
    ("--latent_subsample=7", "--latent_subsample=7"),
    ("--latent_batches=500", "500"),
    ("--seed=-1", "--seed"),
    ("--lr=0", "--lr"),
    ("--override_epochs=-1", "--nb_epochs"),
])
def test_flag_out_of_range(speaker_dir, tmp_path, flag, needle):
    one_line_error(call(LRS, *RUN1, flag, f"--statedict_dir={speaker_dir}", f"--out_dir={tmp_path}"), needle)
    assert not list(tmp_path.iterdir())


def test_flag_negative_speaker(speaker_dir, tmp_path):
    one_line_error(call(NAIVE, "--speaker=-1", f"--statedict_dir={speaker_dir}", f"--out_dir={tmp_path}"), "-1")


def test_flag_unknown_protocol(tmp_path):
    one_line_error(call(NAIVE, "--protocol=bogus"), "--protocol")


# ============================================================ bad outputs

def test_output_continual_under_a_file(speaker_dir, tmp_path):
    (tmp_path / "f").write_text("x")
    t0 = time.time()
    one_line_error(call(LR, *RUN1, f"--statedict_dir={speaker_dir}", f"--out_dir={tmp_path / 'f' / 'o'}"),
                   "--out_dir", "is a file")
    assert time.time() - t0 < 5 and (tmp_path / "f").read_text() == "x"


def test_output_continual_is_a_file(speaker_dir, tmp_path):
    (tmp_path / "f").write_text("x")
    one_line_error(call(NAIVE, *RUN1, f"--statedict_dir={speaker_dir}", f"--out_dir={tmp_path / 'f'}"), "is a file")


def test_output_records_is_a_file(speaker_dir, tmp_path):
    (tmp_path / "records").write_text("x")
    one_line_error(call(NAIVE, *RUN1, f"--statedict_dir={speaker_dir}", f"--out_dir={tmp_path}"), "records")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["records"]


def test_output_generator_under_a_file(synth_dir, tmp_path):
    (tmp_path / "f").write_text("x")
    one_line_error(call(GEN, f"--data_dir={synth_dir}", f"--out_dir={tmp_path / 'f' / 'sd'}", *TINY_FLAGS,
                        "--nb_epochs=50"), "--out_dir", "is a file")  # 50 epochs would take minutes: refused first


def test_output_report_under_a_file(speaker_dir, tmp_path):
    run_ok(NAIVE, speaker_dir, tmp_path / "res")
    (tmp_path / "f").write_text("x")
    one_line_error(call("sccl", "report", "--results", tmp_path / "res", "--out", tmp_path / "f" / "rep"), "--out")
    one_line_error(call("sccl", "report", "--results", tmp_path / "res", "--figures", tmp_path / "f" / "fig"),
                   "--figures")
    assert not (tmp_path / "res" / "tables.md").exists()  # nothing rendered before the refusal


def test_output_grid_under_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    one_line_error(call("sccl", "grid", "--tiny", "--synthetic", "--speakers", "0", "--out_dir", tmp_path / "f" / "g"),
                   "--out_dir")


# ============================================================ kills at several points

def _gen_into(d: Path, synth_dir, *extra):
    return call(GEN, f"--data_dir={synth_dir}", f"--out_dir={d}", *TINY_FLAGS, *extra)


def test_kill_generator_during_training_keeps_the_old_set(sd, synth_dir, tmp_path, monkeypatch):
    import sccl.training

    def die(*a, **k):
        raise Killed()
    monkeypatch.setattr(sccl.training, "train_epochs", die)
    before = files_under(sd)
    with pytest.raises(Killed):
        _gen_into(sd, synth_dir, "--nb_epochs=1", "--seed=5")
    assert files_under(sd) == before
    monkeypatch.undo()
    run_ok(NAIVE, sd, tmp_path / "o")


@pytest.mark.parametrize("after", [1, 5])  # after the weights; after every batch list
def test_kill_generator_after_some_files_refuses_the_set(sd, synth_dir, tmp_path, monkeypatch, after):
    import sccl.artifacts

    real, n = sccl.artifacts.save, [0]

    def save(obj, path):
        if n[0] == after:
            raise Killed()
        n[0] += 1
        return real(obj, path)
    monkeypatch.setattr(sccl.artifacts, "save", save)
    with pytest.raises(Killed):
        _gen_into(sd, synth_dir, "--nb_epochs=0", "--seed=5")
    monkeypatch.undo()
    one_line_error(call(NAIVE, *RUN1, f"--statedict_dir={sd}", f"--out_dir={tmp_path / 'o'}"), "incomplete", "--speaker=0")
    assert not (tmp_path / "o").exists()


def test_kill_generator_before_manifest_refuses_the_set(sd, synth_dir, tmp_path, monkeypatch):
    import sccl.manifest

    def die(*a, **k):
        raise Killed()
    monkeypatch.setattr(sccl.manifest, "write", die)
    with pytest.raises(Killed):
        _gen_into(sd, synth_dir, "--nb_epochs=0", "--seed=5")
    monkeypatch.undo()
    one_line_error(call(LR, *RUN1, f"--statedict_dir={sd}", f"--out_dir={tmp_path / 'o'}"), "incomplete")


def test_kill_continual_before_commit_writes_nothing(speaker_dir, tmp_path, monkeypatch):
    import sccl.results

    def die(self):
        raise Killed()
    monkeypatch.setattr(sccl.results.RunLog, "commit", die)
    with pytest.raises(Killed):
        call(LR, *RUN1, f"--statedict_dir={speaker_dir}", f"--out_dir={tmp_path}")
    assert files_under(tmp_path) == {}


def test_kill_continual_between_rows_and_records(speaker_dir, tmp_path, monkeypatch):
    ref = tmp_path / "ref"
    run_ok(LR, speaker_dir, ref, "--latent_batches=2")
    import sccl.results

    real = sccl.results.save_text

    def save_text(text, path):
        if Path(path).suffix == ".jsonl":
            raise Killed()
        return real(text, path)
    out = tmp_path / "out"
    monkeypatch.setattr(sccl.results, "save_text", save_text)
    with pytest.raises(Killed):
        call(LR, *RUN1, "--latent_batches=2", f"--statedict_dir={speaker_dir}", f"--out_dir={out}")
    monkeypatch.undo()
    assert csv_rows(out) == csv_rows(ref) and records_files(out) == []  # rows written, run not done
    run_ok(LR, speaker_dir, out, "--latent_batches=2", "--skip_done")  # the rerun
    assert csv_rows(out) == csv_rows(ref) and records_files(out) == records_files(ref)


# ============================================================ identity: stale resume

def test_identity_same_pretraining_elsewhere_is_skipped(speaker_dir, tmp_path):
    run_ok(NAIVE, speaker_dir, tmp_path / "o", "--skip_done")
    copy = tmp_path / "copy"
    shutil.copytree(speaker_dir, copy)
    res = run_ok(NAIVE, copy, tmp_path / "o", "--skip_done")
    assert res.stdout.startswith("already done") and len(records_files(tmp_path / "o")) == 1


def test_identity_changed_pretraining_is_rerun(speaker_dir, synth_dir, tmp_path):
    out = tmp_path / "o"
    run_ok(NAIVE, speaker_dir, out, "--skip_done")
    other = tmp_path / "other"
    assert _gen_into(other, synth_dir, "--nb_epochs=0", "--seed=3").returncode == 0
    res = run_ok(NAIVE, other, out, "--skip_done")
    assert "already done" not in res.stdout
    a, b = records_files(out)
    assert a.split("-pt")[0] == b.split("-pt")[0] and a != b  # same dataset, other pretraining
    assert len(csv_rows(out)) == 2  # one epoch each


def test_identity_other_dataset_is_rerun(speaker_dir, tmp_path):
    from sccl.data.shd import merge_shd
    from sccl.data.synthetic import make_synthetic_shd

    data = tmp_path / "data"
    merge_shd(*make_synthetic_shd(data, n_rep=4, seed=1), data / "shd_merged.h5")
    other = tmp_path / "other"
    assert _gen_into(other, data, "--nb_epochs=0").returncode == 0
    out = tmp_path / "o"
    run_ok(NAIVE, speaker_dir, out, "--skip_done")
    run_ok(NAIVE, other, out, "--skip_done")
    a, b = records_files(out)
    assert a.split("-ds")[1][:8] != b.split("-ds")[1][:8]


# ============================================================ concurrent copies

def _popen(script, *args):
    env = {**os.environ, "SCCL_NO_PROGRESS": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, str(ROOT / script), *map(str, args)], cwd=ROOT / Path(script).parent,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)


def test_concurrent_copies_of_one_run_append_once(speaker_dir, tmp_path):
    ref, out = tmp_path / "ref", tmp_path / "out"
    run_ok(LR, speaker_dir, ref, "--latent_batches=2")
    args = [*RUN1, "--latent_batches=2", f"--statedict_dir={speaker_dir}", f"--out_dir={out}", "--skip_done"]
    a, b = _popen(LR, *args), _popen(LR, *args)  # as two drivers would start them
    (oa, ea), (ob, eb) = a.communicate(timeout=300), b.communicate(timeout=300)
    assert a.returncode == 0 and b.returncode == 0, (ea, eb)
    assert "Traceback" not in ea + eb
    assert csv_rows(out) == csv_rows(ref)
    assert records_files(out) == records_files(ref)
    assert not (out / "records" / ".ledger" / "claims").exists()


def test_overlapping_copies_share_one_append_key(speaker_dir, tmp_path):
    from sccl.runclaim import claim, current_key

    with claim(tmp_path, "r1"):  # the first copy's key, decided when it started
        first = current_key("r1")
    (tmp_path / "records").mkdir(exist_ok=True)
    (tmp_path / "records" / "r1.jsonl").write_text("{}\n")  # the first copy completed
    with claim(tmp_path, "r1"):
        assert current_key("r1") != first  # a copy started afterwards is a rerun


def test_sequential_rerun_appends_again_as_the_original(speaker_dir, tmp_path):
    run_ok(LR, speaker_dir, tmp_path, "--latent_batches=2")
    rows = csv_rows(tmp_path)
    run_ok(LR, speaker_dir, tmp_path, "--latent_batches=2")  # a deliberate rerun (no --skip_done)
    assert csv_rows(tmp_path) == rows + rows


def test_claim_waits_for_the_other_copy(speaker_dir, tmp_path):
    from sccl.runclaim import claim

    run_ok(NAIVE, speaker_dir, tmp_path / "probe")
    run_id = records_files(tmp_path / "probe")[0][:-len(".jsonl")]
    out = tmp_path / "out"
    with claim(out, run_id):  # another copy of the run holds it
        p = _popen(NAIVE, *RUN1, f"--statedict_dir={speaker_dir}", f"--out_dir={out}", "--skip_done")
        seen = ""
        while "waiting for it to end" not in seen:  # the notice comes when the copy blocks on the claim
            line = p.stderr.readline()
            assert line, seen
            seen += line
        assert p.poll() is None
        shutil.copytree(tmp_path / "probe" / "records", out / "records", dirs_exist_ok=True)  # the holder finished
    o, e = p.communicate(timeout=120)
    assert p.returncode == 0 and o.startswith("already done"), (o, e)
    assert csv_rows(out) == []  # the waiting copy appended nothing


def test_killed_run_releases_its_claim(speaker_dir, tmp_path):
    from sccl.runclaim import claim

    out = tmp_path / "out"
    p = _popen(NAIVE, "--speaker=0", "--override_epochs=300", "--threads=1", f"--statedict_dir={speaker_dir}",
               f"--out_dir={out}")
    deadline = time.time() + 120
    while time.time() < deadline and not list((out / "records" / ".ledger" / "claims").glob("*.lock")):
        time.sleep(0.1)
    lock = next((out / "records" / ".ledger" / "claims").glob("*.lock"))
    os.killpg(p.pid, signal.SIGKILL)
    p.communicate()
    assert csv_rows(out) == [] and records_files(out) == []
    with claim(out, lock.stem) as waited:  # the dead copy's claim does not block
        assert waited is False


def test_identity_report_groups_speakers_across_their_pretrainings():
    from sccl.report.runs import config_key

    head = {"experiment": "sample", "script": "naive", "dataset": "synthetic",
            "config": {"held_out": 0, "seed": 0, "dataset_fp": "a" * 64, "pretraining": "b" * 64}}
    other = {**head, "config": {**head["config"], "held_out": 1, "pretraining": "c" * 64}}
    assert config_key(head) == config_key(other)  # one configuration over speakers
    data = {**head, "config": {**head["config"], "dataset_fp": "d" * 64}}
    assert config_key(head) != config_key(data)  # another dataset is another configuration


# ============================================================ drivers: progress keyed by the sweep

def test_progress_is_keyed_by_the_sweeps_arguments(tmp_path):
    from sccl.suite import progress

    conf = tmp_path / "test.conf"
    a = [["naive.py", "--speaker=0"], ["naive.py", "--speaker=1"], ["naive.py", "--speaker=2"]]
    b = [["naive.py", "--speaker=0", "--nb_epochs=5"], ["naive.py", "--speaker=1", "--nb_epochs=5"]]
    said = []
    assert progress.read(conf, a, log=said.append) == 0
    progress.write(conf, a, 2)
    assert conf.read_text() == "2\n"  # the original's format
    assert progress.read(conf, [[*c, "--threads=2", "--skip_done"] for c in a]) == 2  # same sweep
    assert progress.read(conf, b, log=said.append) == 0  # another sweep does not skip runs silently
    assert len(said) == 1 and said[0].startswith("notice: test.conf holds the progress of another sweep")
    progress.write(conf, b, 1)
    assert progress.read(conf, a) == 2 and progress.read(conf, b) == 1  # each resumes where it was
    said.clear()
    conf.write_text("0\n")  # changed by hand: obeyed, as the original's
    assert progress.read(conf, a, log=said.append) == 0 and "changed" in said[0]
    progress.write(conf, a, 3)
    conf.unlink()  # deleting test.conf restarts every sweep
    assert progress.read(conf, a) == 0 and progress.read(conf, b) == 0


def test_progress_of_an_older_driver_is_trusted_with_a_notice(tmp_path):
    from sccl.suite import progress

    conf = tmp_path / "test.conf"
    conf.write_text("1\n")
    said = []
    assert progress.read(conf, [["a.py"], ["b.py"]], log=said.append) == 1
    assert len(said) == 1 and "resuming at run 2" in said[0]
    conf.write_text("x\n")
    from sccl.errors import ConfigError
    with pytest.raises(ConfigError, match="one integer"):
        progress.read(conf, [["a.py"]])


def test_output_demo_under_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    res = call("sccl", "demo", "--quick", "--out_dir", tmp_path / "f" / "demo")
    one_line_error(res, "--out_dir")
    assert "sccl demo:" not in res.stdout  # refused before the first step


# ============================================================ drivers: kills and concurrent drivers

SUITE = "sample_incremental/testsuite.py"
SWEEP = ["--speakers", "0", "--strategies", "naive,lr", "--depths", "3", "--latent_batches", "1", "--nb_epochs", "1",
         "--override_epochs=1"]
SWEEP_RUNS = [(NAIVE, ["--speaker=0", "--nb_epochs=1"]),
              (LR, ["--speaker=0", "--latent_depth=3", "--latent_batches=1", "--nb_epochs=1"])]


def _sweep_reference(speaker_dir, out):
    """What the uninterrupted sweep writes: its three runs, in order, in this process."""
    for script, args in SWEEP_RUNS:
        assert call(script, *args, "--override_epochs=1", "--threads=1", f"--statedict_dir={speaker_dir}",
                    f"--out_dir={out}").returncode == 0


def _driver(speaker_dir, out, conf):
    env = {**os.environ, "SCCL_NO_PROGRESS": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, str(ROOT / SUITE), *SWEEP, f"--statedict_dir={speaker_dir}",
                             f"--out_dir={out}", f"--conf={conf}"], cwd=ROOT / "sample_incremental",
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)


def _comparable(out: Path) -> dict:
    return {"csv": {p.name: p.read_text() for p in sorted(out.glob("*.csv"))},
            "txt": {p.name: p.read_text() for p in sorted(out.glob("*.txt"))},
            "records": records_files(out)}


def test_kill_driver_alone_then_immediate_rerun(speaker_dir, tmp_path):
    ref, out, conf = tmp_path / "ref", tmp_path / "out", tmp_path / "t.conf"
    _sweep_reference(speaker_dir, ref)
    d = _driver(speaker_dir, out, conf)
    deadline = time.time() + 180
    while time.time() < deadline and not records_files(out):  # the first run has finished
        time.sleep(0.05)
    time.sleep(0.5)
    os.kill(d.pid, signal.SIGKILL)  # the driver alone, in the middle of its second (last) run
    d.communicate()
    again = _driver(speaker_dir, out, conf)  # at once, while a child of the killed driver may still run
    o, e = again.communicate(timeout=300)
    assert again.returncode == 0, e[-3000:]
    assert "Traceback" not in o + e
    try:
        os.killpg(d.pid, 0)
        time.sleep(5)  # a surviving child would show up as a second set of rows below
    except ProcessLookupError:
        pass
    assert _comparable(out) == _comparable(ref)


def test_two_identical_drivers_second_refused_naming_the_holder(speaker_dir, tmp_path):
    out, conf = tmp_path / "out", tmp_path / "t.conf"
    first = _driver(speaker_dir, out, conf)
    lock = tmp_path / "t.conf.grid" / "lock"
    deadline = time.time() + 120
    while time.time() < deadline and not (lock.exists() and lock.read_text().strip()):
        time.sleep(0.05)
    try:
        res = call(SUITE, *SWEEP, f"--statedict_dir={speaker_dir}", f"--out_dir={out}", f"--conf={conf}")
        one_line_error(res, f"pid {first.pid}")
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.communicate()
    assert res.stdout.strip() == ""  # refused before it started any run
