"""The synthetic SHD-format generator: layout, ranges, split, determinism, labelling, CLI."""
from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from sccl.data import synthetic as syn
from sccl.errors import ConfigError, DataError

REPO = Path(__file__).resolve().parents[1]
N_REP = 2


def _read(path: Path) -> dict:
    with h5py.File(path, "r") as f:
        return {
            "times": list(f["spikes/times"][:]),
            "units": list(f["spikes/units"][:]),
            "labels": f["labels"][:],
            "speakers": f["extra/speaker"][:],
            "attrs": dict(f.attrs),
        }


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> tuple[Path, Path]:
    """The default 12 speakers, n_rep 2, seed 0 (read-only for every test)."""
    return syn.make_synthetic_shd(tmp_path_factory.mktemp("syn_small"), n_rep=N_REP, seed=0)


def test_layout_and_dtypes(small):
    for path in small:
        with h5py.File(path, "r") as f:
            assert h5py.check_vlen_dtype(f["spikes/times"].dtype) == np.dtype(np.float32)
            assert h5py.check_vlen_dtype(f["spikes/units"].dtype) == np.dtype(np.uint16)
            assert f["labels"].dtype == np.uint16 and f["extra/speaker"].dtype == np.uint16
            n = f["labels"].shape[0]
            for name in ("spikes/times", "spikes/units", "extra/speaker"):
                assert f[name].shape == (n,)
                assert f[name].maxshape == (None,)          # resizable, as SHD's members
            keys = [k.decode("ascii") for k in f["extra/keys"][:]]
            assert keys == list(syn.KEYS)
            assert keys[:10] == ["zero", "one", "two", "three", "four", "five", "six", "seven",
                                 "eight", "nine"]
            assert keys[10:] == ["null", "eins", "zwei", "drei", "vier", "fuenf", "sechs",
                                 "sieben", "acht", "neun"]
            for name in ("gender", "age", "body_height"):
                assert f[f"extra/meta_info/{name}"].shape == (12,)
            assert set(f["extra/meta_info/gender"][:]) == {b"female", b"male"}
            assert f.attrs["generator"] == "sccl.synthetic"


def test_ranges_lengths_and_order(small):
    edges32 = np.linspace(0, 1.4, 100).astype(np.float32)
    for path in small:
        d = _read(path)
        for t, u in zip(d["times"], d["units"]):
            assert t.size == u.size > 500
            assert t.min() >= 0.0 and t.max() < 1.4
            assert u.max() < 700
            assert np.all(np.diff(t) >= 0)                   # sorted by time
            # the reference binning (spec s1.4) stays in range even with float32 edges
            assert np.digitize(t, edges32).max() <= 99


def test_counts_labels_speakers_and_split(small):
    train, test = (_read(p) for p in small)
    assert len(train["labels"]) + len(test["labels"]) == 20 * N_REP * 12
    for d in (train, test):
        assert set(d["labels"].tolist()) == set(range(20))
    assert set(train["speakers"].tolist()) | set(test["speakers"].tolist()) == set(range(12))
    assert not set(train["speakers"].tolist()) & {4, 5}
    for s in (4, 5):                                         # test-only, every word, every rep
        assert np.sum(test["speakers"] == s) == 20 * N_REP
    # files are shuffled: a prefix mixes speakers and words
    assert len(set(train["speakers"][:50].tolist())) > 3
    assert len(set(train["labels"][:50].tolist())) > 5


def test_split_plan_takes_5_percent_of_every_seen_speaker_word():
    train, test = syn.split_plan(40, seed=0, n_speakers=12)
    assert len(train) + len(test) == 9600 and len(set(train) | set(test)) == 9600
    for s in range(12):
        for label in range(20):
            n_test = sum(1 for it in test if it[:2] == (s, label))
            assert n_test == (40 if s in (4, 5) else 2)
    assert syn.split_plan(40, seed=0) == (train, test)
    assert syn.split_plan(40, seed=1) != (train, test)


def test_same_arguments_give_identical_bytes(small, tmp_path):
    again = syn.make_synthetic_shd(tmp_path, n_rep=N_REP, seed=0)
    for a, b in zip(small, again):
        assert _md5(a) == _md5(b)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shd_test.h5", "shd_train.h5"]  # no temp left


def test_different_seed_gives_different_data(small, tmp_path):
    other = syn.make_synthetic_shd(tmp_path, n_rep=N_REP, seed=1)
    a, b = _read(small[0]), _read(other[0])
    assert a["attrs"]["seed"] == 0 and b["attrs"]["seed"] == 1
    assert _md5(small[0]) != _md5(other[0])
    first = {x.tobytes() for x in a["times"]}
    assert not first & {x.tobytes() for x in b["times"]}    # no sample in common
    assert not np.array_equal(syn.generate_sample(0, 3, 7, 0)[0], syn.generate_sample(1, 3, 7, 0)[0])


def test_small_n_rep_is_a_subset_of_a_larger_set(small, tmp_path):
    """Each sample depends only on (seed, speaker, label, rep), not on n_rep or the order."""
    def by_content(paths):
        out = {}
        for p in paths:
            d = _read(p)
            for t, u, lab, s in zip(d["times"], d["units"], d["labels"], d["speakers"]):
                out.setdefault((int(s), int(lab)), set()).add(t.tobytes() + u.tobytes())
        return out

    big = by_content(syn.make_synthetic_shd(tmp_path, n_rep=N_REP + 1, seed=0))
    small_ = by_content(small)
    assert small_.keys() == big.keys()
    for key, samples in small_.items():
        assert len(samples) == N_REP and len(big[key]) == N_REP + 1
        assert samples <= big[key]
    # and every file sample is exactly generate_sample(seed, speaker, label, rep)
    t, u = syn.generate_sample(0, 6, 13, 1)
    assert t.tobytes() + u.tobytes() in small_[(6, 13)]


def test_generate_sample_is_order_independent():
    a = syn.generate_sample(0, 2, 5, 3)
    syn.speaker_params.cache_clear()
    for s in range(3):
        syn.generate_sample(0, s, 1, 0)
    b = syn.generate_sample(0, 2, 5, 3)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert a[0].dtype == np.float32 and a[1].dtype == np.uint16


def test_labelling(small, tmp_path):
    info = syn.synthetic_info(small[0])
    assert info["generator"] == "sccl.synthetic"
    assert info["generator_version"] == syn.GENERATOR_VERSION
    assert (info["seed"], info["n_rep"], info["var"], info["accent"]) == (0, N_REP, 1.5, 0.12)
    assert info["split"] == "train" and syn.synthetic_info(small[1])["split"] == "test"
    assert syn.is_synthetic(small[0]) and syn.dataset_label(small[1]) == "synthetic"
    plain = tmp_path / "real.h5"
    with h5py.File(plain, "w") as f:
        f["labels"] = np.zeros(3, dtype=np.uint16)
    assert not syn.is_synthetic(plain) and syn.dataset_label(plain) == "shd"
    with pytest.raises(DataError, match="does not exist"):
        syn.is_synthetic(tmp_path / "missing.h5")
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(DataError, match="junk.h5"):
        syn.is_synthetic(tmp_path / "junk.h5")


@pytest.mark.parametrize("kwargs", [dict(n_rep=0), dict(n_rep=2.5), dict(seed=-1), dict(var=-0.1),
                                    dict(accent=float("nan")), dict(n_speakers=5)])
def test_bad_arguments_raise_config_error(kwargs, tmp_path):
    with pytest.raises(ConfigError):
        syn.make_synthetic_shd(tmp_path, **kwargs)
    assert not any(tmp_path.iterdir())


def test_interrupted_run_leaves_no_file(tmp_path, monkeypatch):
    calls = {"n": 0}
    real = syn.generate_sample

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 100:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(syn, "generate_sample", failing)
    with pytest.raises(KeyboardInterrupt):
        syn.make_synthetic_shd(tmp_path, n_rep=1, n_speakers=6)
    assert not any(tmp_path.iterdir())


def test_channel_map_follows_lauscher():
    hz = np.array([22500, 7000, 2500, 860, 300, 133])
    assert np.allclose(syn.freq_to_unit(np.log(hz)), [0, 140, 280, 420, 560, 665])
    grid = syn.freq_to_unit(np.log(np.geomspace(50, 30000, 200)))
    assert np.all(np.diff(grid) < 0)                         # unit 0 = highest frequency


def test_speech_sits_in_the_lower_channels(small):
    units = np.concatenate(_read(small[0])["units"]).astype(np.int64)
    q5, q50, q95 = np.percentile(units, [5, 50, 95])
    assert 120 <= q5 <= 300 and 420 <= q50 <= 560 and q95 >= 620
    n = np.array([t.size for t in _read(small[0])["times"]])
    assert 4000 <= n.mean() <= 7000


def test_loads_through_the_shd_loader(small):
    shd = pytest.importorskip("sccl.data.shd")
    data = shd.load_shd(small[0])
    assert len(data) == len(_read(small[0])["labels"])
    assert data.keys == list(syn.KEYS)
    assert data.labels.dtype == np.int64 and set(data.labels.tolist()) == set(range(20))


def test_cli(tmp_path):
    out = tmp_path / "cli"
    r = subprocess.run([sys.executable, "-m", "sccl.data.synthetic", "--out_dir", str(out),
                        "--n_rep", "1", "--n_speakers", "6", "--seed", "3"],
                       cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "train:" in r.stdout and "test:" in r.stdout and "spikes/sample" in r.stdout
    assert "wall time" in r.stdout
    assert syn.synthetic_info(out / "shd_train.h5")["seed"] == 3
    # hyphenated aliases and a bad value: one line on stderr, exit status 2
    r = subprocess.run([sys.executable, "-m", "sccl.data.synthetic", "--out-dir", str(out),
                        "--n-rep", "0"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "--n_rep" in r.stderr
