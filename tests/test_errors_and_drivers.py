"""Bad input: one line, exit status 2, no traceback, nothing half-written. Drivers: resume,
stop on failure, parallel runs without duplicated or lost rows."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT, TINY_FLAGS, run_script


def assert_clean_error(proc, *needles):
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    err = [ln for ln in lines if ln.startswith("error: ")]
    assert len(err) == 1 and lines[-1] == err[0], proc.stderr  # one error line, the last word
    assert "Traceback" not in proc.stderr + proc.stdout
    for n in needles:
        assert n in err[0], (n, err[0])


def test_generator_missing_data_folder(tmp_path):
    proc = run_script("statedicts_64_elements/heidelberg_statedict_generator.py", f"--data_dir={tmp_path / 'nope'}",
                      f"--out_dir={tmp_path / 'out'}", check=False)
    assert_clean_error(proc, "nope", "--synthetic")
    assert not (tmp_path / "out").exists()


def test_generator_corrupt_hdf5(tmp_path):
    (tmp_path / "shd_merged.h5").write_bytes(b"not an hdf5 file at all")
    proc = run_script("statedicts_64_elements/heidelberg_statedict_generator.py", f"--data_dir={tmp_path}",
                      f"--out_dir={tmp_path / 'out'}", check=False)
    assert_clean_error(proc, "shd_merged.h5")
    assert not (tmp_path / "out").exists()


def test_generator_speaker_not_in_data(synth_dir, tmp_path):
    proc = run_script("statedicts_64_elements/heidelberg_statedict_generator.py", "--speaker=15",
                      f"--data_dir={synth_dir}", f"--out_dir={tmp_path}", *TINY_FLAGS, check=False)
    assert_clean_error(proc, "--speaker", "15")
    assert not list(tmp_path.iterdir())


def test_class_not_in_data(synth_dir, tmp_path):
    proc = run_script("statedicts_class_incremental/heidelberg_statedict_generator.py", "--removed_class=25",
                      f"--data_dir={synth_dir}", f"--out_dir={tmp_path}", *TINY_FLAGS, check=False)
    assert_clean_error(proc, "--removed_class", "25")


@pytest.mark.parametrize("args,needles", [
    (["--latent_depth=4"], ["--latent_depth", "4"]),
    (["--latent_depth=1", "--latent_subsample=7"], ["--latent_subsample=7", "divide"]),
    (["--latent_depth=1", "--latent_batches=500"], ["500"]),
])
def test_sample_script_bad_flags(speaker_dir, tmp_path, args, needles):
    proc = run_script("sample_incremental/latent_replay_subsample.py", "--speaker=0", f"--statedict_dir={speaker_dir}",
                      f"--out_dir={tmp_path}", *TINY_FLAGS, "--override_epochs=1", *args, check=False)
    assert_clean_error(proc, *needles)
    assert not list(tmp_path.glob("*.csv")) and not (tmp_path / "records").exists()


def test_missing_artifact_names_the_generator_command(tmp_path):
    proc = run_script("sample_incremental/naive.py", "--speaker=4", f"--statedict_dir={tmp_path}", check=False)
    assert_clean_error(proc, "state_dict_speaker_4.pt", "heidelberg_statedict_generator.py --speaker=4")


def test_faithful_class_memory_needs_other_classes(class_dir, tmp_path):
    # a folder with only class 3's artifacts: the faithful memory cannot be built
    for f in class_dir.glob("*_class_3.*"):
        (tmp_path / f.name).write_bytes(f.read_bytes())
    proc = run_script("class_incremental/latent_replay.py", "--removed_class=3", f"--statedict_dir={tmp_path}",
                      f"--out_dir={tmp_path}", *TINY_FLAGS, "--override_epochs=1", check=False)
    assert_clean_error(proc, "removed_x_class_0.pt", "--removed_class=0")
    # the clean protocol does not need them
    run_script("class_incremental/latent_replay.py", "--removed_class=3", f"--statedict_dir={tmp_path}",
               f"--out_dir={tmp_path}", *TINY_FLAGS, "--override_epochs=1", "--protocol=clean")


def test_unknown_flag_is_argparse_exit_2(tmp_path):
    proc = run_script("sample_incremental/naive.py", "--no_such_flag", check=False)
    assert proc.returncode == 2 and "unrecognized arguments" in proc.stderr


# ------------------------------------------------------------------------ drivers

SWEEP = ["--speakers", "0", "--strategies", "naive,lr", "--depths", "2,3", "--latent_batches", "1",
         "--nb_epochs", "1"]


def _driver_args(speaker_dir, out):
    return [*SWEEP, *TINY_FLAGS[:-1], "--override_epochs=1", f"--statedict_dir={speaker_dir}", f"--out_dir={out}"]


def _rows(out):
    return sorted((out / "latent_csv.csv").read_text().splitlines()) + \
        sorted((out / "naive_incremental_csv.csv").read_text().splitlines())


def test_sample_testsuite_resumes_after_kill(speaker_dir, tmp_path):
    ref, out = tmp_path / "ref", tmp_path / "out"
    run_script("sample_incremental/testsuite.py", *_driver_args(speaker_dir, ref), f"--conf={tmp_path / 'ref.conf'}")
    assert (tmp_path / "ref.conf").read_text().strip() == "3"
    # start the same sweep, kill it while the second run is going, then rerun it
    conf = tmp_path / "t.conf"
    env = {**os.environ, "SCCL_NO_PROGRESS": "1"}
    proc = subprocess.Popen([sys.executable, str(ROOT / "sample_incremental/testsuite.py"),
                             *_driver_args(speaker_dir, out), f"--conf={conf}"], cwd=ROOT / "sample_incremental",
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True, env=env)
    deadline = time.time() + 120
    while time.time() < deadline and not (conf.exists() and conf.read_text().strip() == "1"):
        time.sleep(0.1)
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert conf.read_text().strip() in ("1", "2")
    run_script("sample_incremental/testsuite.py", *_driver_args(speaker_dir, out), f"--conf={conf}")
    assert conf.read_text().strip() == "3"
    strip = lambda rows: [r.rsplit(", ", 2)[0] for r in rows]  # noqa: E731  (same runs, same epochs)
    assert strip(_rows(out)) == strip(_rows(ref))
    assert _rows(out) == _rows(ref)  # deterministic: identical accuracies
    assert sorted(p.name for p in (out / "records").iterdir()) == sorted(p.name for p in (ref / "records").iterdir())


def test_testsuite_parallel_jobs_and_skip_done(speaker_dir, tmp_path):
    out = tmp_path / "out"
    proc = run_script("sample_incremental/testsuite.py", *_driver_args(speaker_dir, out), "--jobs=2",
                      f"--conf={tmp_path / 'p.conf'}")
    assert "3 runs done" in proc.stdout
    rows = _rows(out)
    assert len(rows) == 2 * 2 + 1  # latent_csv: two rows per epoch per depth; naive: one row
    (tmp_path / "p.conf").write_text("0\n")  # forget the progress: completed runs are skipped
    proc = run_script("sample_incremental/testsuite.py", *_driver_args(speaker_dir, out), f"--conf={tmp_path / 'p.conf'}")
    assert proc.stdout.count("already done") == 3 and _rows(out) == rows


def test_testsuite_stops_on_a_failing_run(tmp_path):
    conf = tmp_path / "f.conf"
    proc = run_script("sample_incremental/testsuite.py", "--speakers", "0,1", "--strategies", "naive",
                      f"--statedict_dir={tmp_path}", f"--conf={conf}", check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    child, driver = proc.stderr.strip().splitlines()[-2:]
    assert child.startswith("error: missing artifact") and "state_dict_speaker_0.pt" in child
    assert driver.startswith("error: run 1 of 2 failed") and "naive.py --speaker=0" in driver
    assert conf.read_text().strip() == "0"
    assert "--speaker=1" not in proc.stdout
