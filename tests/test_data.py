"""Tests of sccl.data.shd, sccl.data.binning and heidelberg_unite_datasets.py.

Covers reference-spec s9.1 (binning), s9.2 (split rule), the SHD file validation, the merge
(s1.3), the merge script as a real subprocess and the download against a local HTTP server.
All files are small SHD-layout HDF5 files written here; no outside network is used.
"""
from __future__ import annotations

import gzip
import hashlib
import http.server
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from sccl.cli_util import run_main
from sccl.data import shd
from sccl.data.binning import (Batch, BinningStats, bin_events, bin_times, check_class,
                               check_speaker, dense, indices_where, make_batches, split_batches,
                               split_sizes, time_bins)
from sccl.data.shd import SHDData, download_shd, load_shd, merge_shd, resolve_data_dir
from sccl.errors import ConfigError, DataError

REPO = Path(__file__).resolve().parents[1]
KEYS = [f"word-{c}".encode() for c in range(20)]


# ----------------------------------------------------------------------------- helpers

def random_samples(n: int, seed: int, n_speakers: int = 4, max_spikes: int = 40,
                   max_t: float = 1.3):
    """n samples of random spikes: (times list, units list, labels, speakers)."""
    rng = np.random.default_rng(seed)
    times, units = [], []
    for _ in range(n):
        k = int(rng.integers(0, max_spikes))
        times.append(np.sort(rng.uniform(0, max_t, k)))
        units.append(rng.integers(0, 700, k))
    labels = rng.integers(0, 20, n)
    speakers = rng.integers(0, n_speakers, n)
    return times, units, labels, speakers


def write_shd(path: Path, times, units, labels, speakers, *, times_dtype=np.float32,
              units_dtype=np.uint16, labels_dtype=np.uint8, speaker_dtype=np.uint16,
              keys=True, meta=True, skip=()) -> Path:
    """Write an SHD-layout file (vlen times/units, labels, extra/speaker, keys, meta_info)."""
    with h5py.File(path, "w") as f:
        f.attrs["origin"] = "test"
        n = len(labels)
        if "spikes/times" not in skip:
            ds = f.create_dataset("spikes/times", (len(times),), dtype=h5py.vlen_dtype(times_dtype),
                                  maxshape=(None,), chunks=True)
            for i, t in enumerate(times):
                ds[i] = np.asarray(t, dtype=times_dtype)
            ds.attrs["unit"] = "s"
        if "spikes/units" not in skip:
            ds = f.create_dataset("spikes/units", (len(units),), dtype=h5py.vlen_dtype(units_dtype))
            for i, u in enumerate(units):
                ds[i] = np.asarray(u, dtype=units_dtype)
        if "labels" not in skip:
            f.create_dataset("labels", data=np.asarray(labels, dtype=labels_dtype))
        if "extra/speaker" not in skip:
            f.create_dataset("extra/speaker", data=np.asarray(speakers, dtype=speaker_dtype)[:n])
        if keys:
            f.create_dataset("extra/keys", data=np.array(KEYS))
        if meta:
            f.create_dataset("extra/meta_info/age", data=np.arange(20, 32, dtype=np.uint8))
            f.create_dataset("extra/meta_info/gender", data=np.array([b"female", b"male"] * 6))
    return path


def make_data(times, units, labels=None, speakers=None) -> SHDData:
    n = len(times)
    return SHDData(times=[np.asarray(t, np.float64) for t in times],
                   units=[np.asarray(u, np.int64) for u in units],
                   labels=np.asarray(labels if labels is not None else np.arange(n) % 20, np.int64),
                   speakers=np.asarray(speakers if speakers is not None else np.zeros(n), np.int64),
                   keys=None, path=Path("memory.h5"))


def oracle_dense(data: SHDData, ids, nb_steps=100, max_time=1.4, nb_inputs=700) -> torch.Tensor:
    """Per-event loop: add 1 at (b, digitize(t), unit) for every in-range spike."""
    edges = np.linspace(0, max_time, nb_steps)
    out = torch.zeros(len(ids), nb_steps, nb_inputs)
    for b, i in enumerate(ids):
        for t, u in zip(data.times[i], data.units[i]):
            step = int(np.digitize(t, edges))
            if step < nb_steps:
                out[b, step, u] += 1
    return out


# ----------------------------------------------------------------------------- binning

def test_time_bins_are_the_original_linspace():
    edges = time_bins(100, 1.4)
    assert edges.shape == (100,) and edges[0] == 0 and edges[-1] == 1.4
    assert np.allclose(np.diff(edges), 1.4 / 99)


def test_bin_times_digitize_semantics():
    t = np.array([0.0, 0.005, 0.01414, 0.01415, 0.7, 1.3858, 1.3859, 1.39999, 1.4, 2.5])
    steps = bin_times(t, 100, 1.4)
    assert steps.dtype == np.int64
    assert steps.tolist() == [1, 1, 1, 2, 50, 98, 99, 99, 100, 100]
    assert np.array_equal(steps, np.digitize(t, np.linspace(0, 1.4, 100)))
    # float32 storage of the times does not move them across an edge here
    assert bin_times(np.float32([0.01414, 0.01415]), 100, 1.4).tolist() == [1, 2]


def test_step_zero_is_always_empty_and_dense_matches_oracle():
    times, units, labels, speakers = random_samples(16, seed=1, max_spikes=200)
    times[0] = np.array([0.0, 0.0, 0.001])  # spikes at t = 0 go to step 1, not 0
    units[0] = np.array([5, 6, 7])
    data = make_data(times, units, labels, speakers)
    batches, stats = make_batches(data, np.arange(16), 8, 100, 1.4, 700, rng=None)
    for batch in batches:
        x = dense(batch.x)
        assert x.shape == (8, 100, 700) and x.dtype == torch.float32
        assert x[:, 0, :].sum() == 0
        assert torch.equal(x, oracle_dense(data, batch.ids.tolist()))
    assert dense(batches[0].x)[0, 1, 5:8].tolist() == [1.0, 1.0, 1.0]
    assert stats.n_dropped_late == 0 and stats.n_kept == sum(len(t) for t in times)


def test_late_events_are_dropped_and_counted():
    times = [np.array([0.1, 1.4, 1.5]), np.array([1.39, 2.0]), np.array([0.2])]
    units = [np.array([1, 2, 3]), np.array([4, 5]), np.array([6])]
    data = make_data(times, units)
    batches, stats = make_batches(data, np.arange(3), 3, 100, 1.4, 700, rng=None)
    assert stats == BinningStats(n_events=6, n_dropped_late=3, n_samples_used=3,
                                 n_samples_dropped_last=0)
    assert stats.n_kept == 3
    x = dense(batches[0].x)
    assert x.sum() == 3
    assert x[0, 8, 1] == 1 and x[1, 99, 4] == 1 and x[2, 15, 6] == 1
    idx, dropped = bin_events(times, units, 100, 1.4)
    assert dropped == 3 and idx.shape == (3, 3)


def test_duplicates_are_summed_into_counts_and_not_coalesced():
    # three spikes of unit 9 in step 1 and two of unit 3 in step 50, same sample
    times = [np.array([0.001, 0.002, 0.003, 0.7, 0.701]), np.array([0.5])]
    units = [np.array([9, 9, 9, 3, 3]), np.array([3])]
    data = make_data(times, units)
    (batch,), _ = make_batches(data, [0, 1], 2, 100, 1.4, 700, rng=None)
    assert batch.x.is_sparse and batch.x.dtype == torch.float32
    assert not batch.x.is_coalesced()
    assert batch.x._nnz() == 6
    assert torch.all(batch.x._values() == 1.0)
    x = dense(batch.x)
    assert x[0, 1, 9] == 3 and x[0, 50, 3] == 2 and x[1, 36, 3] == 1 and x.sum() == 6


def test_batch_fields_and_drop_last():
    times, units, labels, speakers = random_samples(23, seed=2)
    data = make_data(times, units, labels, speakers)
    indices = indices_where(data)
    batches, stats = make_batches(data, indices, 5, 100, 1.4, 700, np.random.default_rng(0))
    assert len(batches) == 4
    assert stats.n_samples_used == 20 and stats.n_samples_dropped_last == 3
    used = np.concatenate([b.ids.numpy() for b in batches])
    assert len(set(used.tolist())) == 20  # no sample twice
    for b in batches:
        assert isinstance(b, Batch)
        assert b.y.dtype == b.ids.dtype == b.speakers.dtype == torch.int64
        assert b.y.shape == b.ids.shape == b.speakers.shape == (5,)
        assert torch.equal(b.y, torch.from_numpy(data.labels[b.ids.numpy()]))
        assert torch.equal(b.speakers, torch.from_numpy(data.speakers[b.ids.numpy()]))
    assert stats.n_events == sum(len(times[i]) for i in used)
    # fewer samples than one batch -> no batch
    none, st = make_batches(data, [0, 1], 5, 100, 1.4, 700, rng=None)
    assert none == [] and st.n_samples_dropped_last == 2


def test_shuffle_is_deterministic_for_a_seed_and_does_not_touch_the_input():
    times, units, labels, speakers = random_samples(40, seed=3)
    data = make_data(times, units, labels, speakers)
    indices = np.arange(40)

    def order(rng):
        batches, _ = make_batches(data, indices, 8, 100, 1.4, 700, rng)
        return np.concatenate([b.ids.numpy() for b in batches])

    a, b = order(np.random.default_rng(7)), order(np.random.default_rng(7))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, order(np.random.default_rng(8)))
    assert np.array_equal(order(None), np.arange(40))
    assert np.array_equal(indices, np.arange(40))
    # the permutation is one rng.shuffle of a copy of the index array
    expected = indices.copy()
    np.random.default_rng(7).shuffle(expected)
    assert np.array_equal(a, expected)


def test_units_beyond_nb_inputs_raise_config_error():
    data = make_data([np.array([0.1])], [np.array([650])])
    with pytest.raises(ConfigError, match="nb_inputs"):
        make_batches(data, [0], 1, 100, 1.4, 600, rng=None)
    with pytest.raises(ConfigError, match="batch_size"):
        make_batches(data, [0], 0, 100, 1.4, 700, rng=None)


# ------------------------------------------------------------------------------- split

def expected_split(n: int) -> tuple[list[int], list[int]]:
    """(train, test) batch positions, restated from reference-spec s1.6."""
    d = n // 5
    if d > 1:
        return list(range(d, n)), list(range(0, d - 1))
    if d == 1:
        return list(range(1, n)), [0]
    return list(range(n)), ([0] if n else [])


@pytest.mark.parametrize("n", range(201))
def test_split_batches_rule(n):
    batches = [object() for _ in range(n)]
    train, test = split_batches(batches)
    want_train, want_test = expected_split(n)
    assert [batches.index(b) for b in train] == want_train
    assert [batches.index(b) for b in test] == want_test
    assert all(b is batches[i] for b, i in zip(train, want_train))
    d = n // 5
    if d > 1:
        assert batches[d - 1] not in train and batches[d - 1] not in test
        assert len(test) + len(train) == n - 1
    assert split_sizes(n) == (len(test), n - len(set(map(id, train + test))), len(train))


def test_split_sizes_examples():
    assert split_sizes(0) == (0, 0, 0)
    assert split_sizes(4) == (1, 0, 4)  # test batch leaks into train
    assert split_sizes(8) == (1, 0, 7)
    assert split_sizes(13) == (1, 1, 11)
    assert split_sizes(149) == (28, 1, 120)
    assert split_sizes(154) == (29, 1, 124)


# ----------------------------------------------------------------------------- filters

def test_filters_and_checks():
    data = make_data([np.zeros(0)] * 8, [np.zeros(0, np.int64)] * 8,
                     labels=[0, 1, 12, 3, 15, 1, 0, 11], speakers=[0, 1, 2, 1, 0, 3, 5, 1])
    assert indices_where(data, speaker=1).tolist() == [1, 3, 7]
    assert indices_where(data, not_speaker=1).tolist() == [0, 2, 4, 5, 6]
    assert indices_where(data, label=1).tolist() == [1, 5]
    assert indices_where(data, not_label=1).tolist() == [0, 2, 3, 4, 6, 7]
    assert indices_where(data, label_below=10).tolist() == [0, 1, 3, 5, 6]
    assert indices_where(data, not_speaker=1, label_below=10).tolist() == [0, 5, 6]
    assert indices_where(data).dtype == np.int64
    assert check_speaker(data, 5) == 5 and check_class(data, 12) == 12
    with pytest.raises(ConfigError, match=r"--speaker 4 is not in memory\.h5: speakers present are 0\.\.3, 5"):
        check_speaker(data, 4)
    with pytest.raises(ConfigError, match=r"--removed_class 2 is not in .*classes present are 0\.\.1, 3, 11\.\.12, 15"):
        check_class(data, 2)


# ------------------------------------------------------------------------- load / validate

def test_load_converts_dtypes_and_keeps_values(tmp_path):
    times, units, labels, speakers = random_samples(12, seed=4)
    p = write_shd(tmp_path / "a.h5", times, units, labels, speakers, times_dtype=np.float16)
    data = load_shd(p)
    assert len(data) == 12 and data.path == p
    assert data.keys == [k.decode() for k in KEYS]
    assert data.labels.dtype == data.speakers.dtype == np.int64
    assert data.labels.tolist() == list(labels) and data.speakers.tolist() == list(speakers)
    for i in range(12):
        assert data.times[i].dtype == np.float64 and data.units[i].dtype == np.int64
        assert np.array_equal(data.times[i], np.float16(times[i]).astype(np.float64))
        assert np.array_equal(data.units[i], units[i])
    assert data.speaker_counts() == np.bincount(speakers).tolist()
    sub = data.subset(data.speakers == speakers[0])
    assert len(sub) == int(np.sum(speakers == speakers[0]))
    # no extra/keys -> keys is None; an empty file is valid
    q = write_shd(tmp_path / "b.h5", [], [], [], [], keys=False)
    empty = load_shd(q)
    assert len(empty) == 0 and empty.keys is None and empty.speaker_counts() == []


def test_load_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"nothere\.h5 does not exist.*--data_dir.*--download"):
        load_shd(tmp_path / "nothere.h5")


def test_load_not_hdf5(tmp_path):
    p = tmp_path / "junk.h5"
    p.write_bytes(b"this is not an HDF5 file\n" * 10)
    with pytest.raises(DataError, match=r"junk\.h5 is not an HDF5 file \(corrupt or truncated\?\)"):
        load_shd(p)


def test_load_truncated_hdf5(tmp_path):
    times, units, labels, speakers = random_samples(30, seed=5)
    full = write_shd(tmp_path / "full.h5", times, units, labels, speakers)
    p = tmp_path / "cut.h5"
    p.write_bytes(full.read_bytes()[:2000])
    with pytest.raises(DataError, match=r"cut\.h5 .*corrupt or truncated"):
        load_shd(p)


@pytest.mark.parametrize("member", ["spikes/times", "spikes/units", "labels", "extra/speaker"])
def test_load_missing_member(tmp_path, member):
    times, units, labels, speakers = random_samples(4, seed=6)
    p = write_shd(tmp_path / "m.h5", times, units, labels, speakers, skip=(member,))
    with pytest.raises(DataError, match=rf"m\.h5 has no member '{member}'"):
        load_shd(p)


def test_load_times_units_length_mismatch(tmp_path):
    times = [np.array([0.1, 0.2]), np.array([0.1, 0.2, 0.3])]
    units = [np.array([1, 2]), np.array([1, 2])]
    p = write_shd(tmp_path / "len.h5", times, units, [0, 1], [0, 0])
    with pytest.raises(DataError, match=r"len\.h5: sample 1 has 3 times but 2 units"):
        load_shd(p)


def test_load_sample_count_mismatch(tmp_path):
    times, units, _, _ = random_samples(5, seed=7)
    p = write_shd(tmp_path / "cnt.h5", times, units, [0, 1, 2, 3], [0, 0, 0, 0])
    with pytest.raises(DataError, match=r"cnt\.h5 has members with different numbers of samples"):
        load_shd(p)


def test_load_unit_out_of_range(tmp_path):
    times = [np.array([0.1]), np.array([0.1, 0.2])]
    units = [np.array([3]), np.array([699, 700])]
    p = write_shd(tmp_path / "unit.h5", times, units, [0, 1], [0, 0])
    with pytest.raises(DataError, match=r"unit\.h5: sample 1 has unit 700, outside 0\.\.699"):
        load_shd(p)
    assert len(load_shd(p, nb_inputs=701)) == 2


@pytest.mark.parametrize("bad", [np.nan, -0.5, np.inf])
def test_load_bad_times(tmp_path, bad):
    times = [np.array([0.1, bad])]
    p = write_shd(tmp_path / "time.h5", times, [np.array([1, 2])], [0], [0])
    with pytest.raises(DataError, match=r"time\.h5: sample 0 has spike time"):
        load_shd(p)


def test_load_negative_label(tmp_path):
    p = write_shd(tmp_path / "lab.h5", [np.array([0.1])], [np.array([1])], [-1], [0],
                  labels_dtype=np.int16)
    with pytest.raises(DataError, match=r"lab\.h5: 'labels' of sample 0 is -1"):
        load_shd(p)


# ------------------------------------------------------------------------------ merge

def test_merge_train_then_test_keeps_dtypes_and_metadata(tmp_path):
    tr = random_samples(9, seed=8)
    te = random_samples(4, seed=9)
    a = write_shd(tmp_path / "shd_train.h5", *tr)
    b = write_shd(tmp_path / "shd_test.h5", *te)
    out = merge_shd(a, b, tmp_path / "merged.h5")
    assert out == tmp_path / "merged.h5"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["merged.h5", "shd_test.h5", "shd_train.h5"]
    with h5py.File(out, "r") as f:
        assert h5py.check_vlen_dtype(f["spikes/times"].dtype) == np.float32
        assert h5py.check_vlen_dtype(f["spikes/units"].dtype) == np.uint16
        assert f["labels"].dtype == np.uint8 and f["extra/speaker"].dtype == np.uint16
        assert f["extra/keys"].shape == (20,)  # not doubled
        assert f["extra/meta_info/age"].shape == (12,)
        assert f["spikes/times"].attrs["unit"] == "s" and f.attrs["origin"] == "test"
        for name in ("spikes/times", "spikes/units", "labels", "extra/speaker"):
            assert f[name].shape == (13,)
    merged, dtr, dte = load_shd(out), load_shd(a), load_shd(b)
    assert merged.keys == dtr.keys
    assert merged.labels.tolist() == dtr.labels.tolist() + dte.labels.tolist()
    assert merged.speakers.tolist() == dtr.speakers.tolist() + dte.speakers.tolist()
    for got, want in zip(merged.times, dtr.times + dte.times):
        assert np.array_equal(got, want)
    for got, want in zip(merged.units, dtr.units + dte.units):
        assert np.array_equal(got, want)


def test_merge_rejects_bad_input_and_writes_nothing(tmp_path):
    a = write_shd(tmp_path / "shd_train.h5", *random_samples(3, seed=10))
    b = write_shd(tmp_path / "shd_test.h5", [np.array([0.1])], [np.array([900])], [0], [0])
    with pytest.raises(DataError, match=r"shd_test\.h5: sample 0 has unit 900"):
        merge_shd(a, b, tmp_path / "merged.h5")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shd_test.h5", "shd_train.h5"]


# ------------------------------------------------------------------------------ paths / cli

def test_default_data_dir_follows_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert shd.DEFAULT_DATA_DIR == tmp_path / "data" / "hdspikes"
    assert resolve_data_dir(None) == tmp_path / "data" / "hdspikes"
    assert resolve_data_dir("~/elsewhere") == tmp_path / "elsewhere"


def test_run_main_turns_errors_into_exit_2(capsys):
    def boom():
        raise DataError("file x.h5 is broken: re-download it")

    with pytest.raises(SystemExit) as e:
        run_main(boom)
    assert e.value.code == 2
    assert capsys.readouterr().err == "error: file x.h5 is broken: re-download it\n"
    assert run_main(lambda a: a + 1, 1) == 2


def run_script(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, str(REPO / "heidelberg_unite_datasets.py"), *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def test_script_merges_and_prints_counts(tmp_path):
    tr = random_samples(10, seed=11, n_speakers=3)
    te = random_samples(5, seed=12, n_speakers=5)
    write_shd(tmp_path / "shd_train.h5", *tr)
    write_shd(tmp_path / "shd_test.h5", *te)
    r = run_script("--data_dir", str(tmp_path))
    assert r.returncode == 0, r.stderr
    counts = np.bincount(np.concatenate([tr[3], te[3]])).tolist()
    assert f"samples per speaker: {counts}" in r.stdout
    assert "/spikes/times (15,)" in r.stdout and "/extra/keys (20,)" in r.stdout
    assert len(load_shd(tmp_path / "shd_merged.h5")) == 15


def test_script_missing_folder_fails_cleanly(tmp_path):
    missing = tmp_path / "nope"
    r = run_script("--data-dir", str(missing), "--out", str(tmp_path / "out.h5"))
    assert r.returncode == 2
    assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1
    assert "Traceback" not in r.stderr and str(missing) in r.stderr
    assert not (tmp_path / "out.h5").exists() and not missing.exists()


def test_script_corrupt_file_fails_cleanly(tmp_path):
    write_shd(tmp_path / "shd_train.h5", *random_samples(3, seed=13))
    (tmp_path / "shd_test.h5").write_bytes(b"\x00" * 100)
    r = run_script("--data_dir", str(tmp_path))
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert r.stderr.startswith("error: ") and "shd_test.h5 is not an HDF5 file" in r.stderr
    assert not (tmp_path / "shd_merged.h5").exists()
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())


# ------------------------------------------------------------------------------ download

class _Server:
    """A static file server on 127.0.0.1 (port chosen by the OS) recording request paths."""

    def __init__(self, root: Path):
        requests = self.requests = []

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *a, **kw):
                super().__init__(*a, directory=str(root), **kw)

            def do_GET(self):
                requests.append(self.path)
                super().do_GET()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def no_proxy(monkeypatch):
    for k in list(os.environ):
        if "proxy" in k.lower():
            monkeypatch.delenv(k)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture
def mirror(tmp_path, no_proxy):
    """Served folder with shd_train.h5.gz, shd_test.h5.gz and a correct md5sums.txt."""
    root = tmp_path / "www"
    root.mkdir()
    raw = {}
    for name, seed, n in (("shd_train.h5", 20, 8), ("shd_test.h5", 21, 3)):
        h5 = write_shd(tmp_path / name, *random_samples(n, seed=seed))
        raw[name] = h5.read_bytes()
        (root / f"{name}.gz").write_bytes(gzip.compress(raw[name]))
    lines = [f"{hashlib.md5((root / g).read_bytes()).hexdigest()}  {g}"
             for g in ("shd_train.h5.gz", "shd_test.h5.gz")]
    (root / "md5sums.txt").write_text("\n".join(lines + ["0123  other.file"]) + "\n")
    server = _Server(root)
    yield server, root, raw
    server.close()


def test_download_fetches_checks_and_skips_second_time(tmp_path, mirror, capsys):
    server, _, raw = mirror
    dest = tmp_path / "data"
    train, test = download_shd(dest, base_url=server.url, timeout=10)
    assert (train, test) == (dest / "shd_train.h5", dest / "shd_test.h5")
    assert train.read_bytes() == raw["shd_train.h5"] and test.read_bytes() == raw["shd_test.h5"]
    assert sorted(p.name for p in dest.iterdir()) == [
        "shd_test.h5", "shd_test.h5.gz", "shd_train.h5", "shd_train.h5.gz"]
    assert sorted(server.requests) == ["/md5sums.txt", "/shd_test.h5.gz", "/shd_train.h5.gz"]
    assert "MB" in capsys.readouterr().err
    server.requests.clear()
    download_shd(dest, base_url=server.url + "/", timeout=10)
    assert server.requests == ["/md5sums.txt"]
    assert len(load_shd(train)) == 8


def test_download_md5_mismatch_leaves_nothing(tmp_path, mirror):
    server, root, _ = mirror
    text = (root / "md5sums.txt").read_text().replace(
        (root / "md5sums.txt").read_text()[:32], "f" * 32, 1)  # wrong md5 for the train archive
    (root / "md5sums.txt").write_text(text)
    dest = tmp_path / "data"
    with pytest.raises(DataError, match=r"md5 of the downloaded shd_train\.h5\.gz"):
        download_shd(dest, base_url=server.url, timeout=10)
    assert list(dest.iterdir()) == []


def test_download_http_error(tmp_path, mirror):
    server, root, _ = mirror
    (root / "shd_test.h5.gz").unlink()
    dest = tmp_path / "data"
    with pytest.raises(DataError, match=r"could not reach .*shd_test\.h5\.gz \(HTTP 404"):
        download_shd(dest, base_url=server.url, timeout=10)
    assert not any(p.name.startswith(".") for p in dest.iterdir())


def test_download_unreachable_server(tmp_path, no_proxy):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nothing listens there
    dest = tmp_path / "data"
    with pytest.raises(DataError, match=rf"could not reach http://127\.0\.0\.1:{port}/md5sums\.txt"
                                        r" .*by hand into"):
        download_shd(dest, base_url=f"http://127.0.0.1:{port}", timeout=5)


def test_script_download_then_merge(tmp_path, mirror):
    server, _, _ = mirror
    dest = tmp_path / "data"
    r = run_script("--data_dir", str(dest), "--download", "--base_url", server.url)
    assert r.returncode == 0, r.stderr
    assert "/labels (11,)" in r.stdout
    assert len(load_shd(dest / "shd_merged.h5")) == 11
