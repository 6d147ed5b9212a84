"""sccl.suite: grids with dependencies, skip-if-done, executors (local pool, submitit's local
executor), faults (SIGKILL of the driver or of a run, concurrent drivers, unwritable folders)
and the fault-safe appends of sccl.results."""
from __future__ import annotations

import errno
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import ROOT, TINY_FLAGS, run_script
from sccl.errors import SCCLError

# --------------------------------------------------------------------------- fake runs (fast)


def fake(name: str, log: Path, *, deps=(), after=(), sleep: float = 0.0, fail_once: bool = False,
         kill_once: bool = False):
    """A run that records when it started and ended; ``fail_once`` / ``kill_once``: the first
    attempt exits 3 / is killed with SIGKILL."""
    from sccl.suite.spec import RunSpec

    code = (
        "import os, sys, time, signal, pathlib\n"
        f"d = pathlib.Path({str(log)!r}); n = {name!r}\n"
        "(d / ('start_' + n)).write_text(repr(time.time()))\n"
        f"time.sleep({sleep})\n"
        "flag = d / ('tried_' + n)\n"
        f"if {fail_once or kill_once} and not flag.exists():\n"
        "    flag.write_text('1')\n"
        f"    os.kill(os.getpid(), signal.SIGKILL) if {kill_once} else sys.exit(3)\n"
        "(d / ('end_' + n)).write_text(repr(time.time()))\n"
        "with open(d / 'count', 'a') as f: f.write(n + '\\n')\n")
    return RunSpec("", ["-c", code], label=f"fake {name}", deps=tuple(deps), after=tuple(after), threads_flag=False)


def _grid(log: Path, **kw):
    from sccl.suite.spec import Grid

    g = Grid()
    a = g.add(fake("a", log, sleep=0.3))
    b = g.add(fake("b", log, deps=[a], sleep=0.2))
    c = g.add(fake("c", log, deps=[a], sleep=0.2))
    g.add(fake("d", log, deps=[b, c]))
    g.add(fake("e", log))
    x = g.add(fake("x", log, **kw))
    f = g.add(fake("f", log, deps=[x]))
    g.add(fake("g", log, deps=[f]))
    g.add(fake("y", log, after=[x]))  # only ordered after x: runs even though x fails
    return g.validate()


def _t(log: Path, what: str, name: str) -> float:
    return float((log / f"{what}_{name}").read_text())


@pytest.mark.parametrize("fault", ["fail_once", "kill_once"])
def test_dependency_order_failure_and_skip_if_done(tmp_path, fault):
    from sccl.suite import LocalPool, run_grid

    log, out = tmp_path / "log", tmp_path / "out"
    log.mkdir()
    grid = _grid(log, **{fault: True})
    lines = []
    s = run_grid(grid, out, LocalPool(jobs=2), log=lines.append)
    # a run starts only after all its dependencies ended
    for x, deps in {"b": "a", "c": "a", "d": "bc", "y": "x"}.items():
        for d in deps:
            assert _t(log, "start", x) >= (_t(log, "end", d) if (log / f"end_{d}").exists() else 0)
    # the failed run is reported; its dependants (direct or not) are "not run", others went on
    assert (s.count("done"), s.count("failed"), s.count("not_run")) == (6, 1, 2)
    assert _t(log, "start", "y") > _t(log, "start", "x")
    failed = [ln for ln in lines if "FAILED" in ln]
    assert len(failed) == 1 and "fake x" in failed[0]
    assert ("exit status 3" if fault == "fail_once" else "exit status -9") in failed[0]
    assert sum("] not run" in ln for ln in lines) == 2 and lines[-1].startswith("grid: 9 runs: 6 done, 0 skipped, 1 failed, 2 not run")
    assert not (log / "start_f").exists() and not (log / "start_g").exists()
    # rerun: finished runs are skipped, the failed one and its dependants run now
    lines.clear()
    s = run_grid(grid, out, LocalPool(jobs=2), log=lines.append)
    assert (s.count("skipped"), s.count("done"), s.count("failed")) == (6, 3, 0) and s.ok
    assert sorted((log / "count").read_text().split()) == sorted("abcdefgxy")  # nothing ran twice
    assert "6 already done, skipped" in lines[0]
    s = run_grid(grid, out, LocalPool(jobs=1), log=lines.append)
    assert s.count("skipped") == 9


def test_grid_structure_and_stable_ids(tmp_path):
    from sccl.suite.grids import GridOptions, build_grid
    from sccl.suite.spec import RunSpec

    o = GridOptions(speakers=[0, 1], classes=[0, 1], progressive=True, synthetic=True, pretrain_epochs=2,
                    common=["--batch_size=8"], override_epochs=1)
    g = build_grid(o)
    by = {s.label: s for s in g.runs}
    ids = {s.id for s in g.runs}
    assert by["data"].kind == "data" and not by["data"].deps
    # class runs that replay (faithful) need every class's batch lists; naive only its own class
    lists = [s for s in g.runs if s.kind == "lists"]
    assert len([s for s in lists if "progressive" not in s.label]) == 18
    rehearsal = next(s for s in g.runs if s.label.startswith("class rehearsal removed_class=0"))
    assert len(rehearsal.deps) == 20
    naive = next(s for s in g.runs if s.label.startswith("class naive removed_class=1"))
    assert [by_id.label for by_id in g.runs if by_id.id in naive.deps] == ["pretrain class 1"]
    prog = [s for s in g.runs if s.label.startswith("progressive")]
    assert len(prog) == 32 and all(len(s.deps) == 11 for s in prog)  # 10-class model + lists 0..9
    # plain and compressed runs of one depth / memory size append to one TXT: one after the other
    chained = {s.id: s for s in prog if s.after}
    assert len(chained) == 16 and all("latent_replay_subsample" in s.label for s in chained.values())
    order = [s.id for s in g.order()]
    assert all(order.index(d) < order.index(s.id) for s in g.runs for d in s.deps)
    # the 10-class generator writes to its own folder: no artifact has two writers
    writes = [w for s in g.runs for w in s.writes]
    assert len(writes) == len(set(writes))
    # clean protocol: no batch-list runs, fewer dependencies
    clean = build_grid(GridOptions(classes=[0], progressive=True, synthetic=True, protocol="clean"))
    assert not [s for s in clean.runs if s.kind == "lists"]
    # ids: same configuration -> same id; execution-only flags do not count; folders can move
    assert ids == {s.id for s in build_grid(o).runs}
    s1 = RunSpec("sample_incremental", ["naive.py", "--speaker=0", "--out_dir={out}/x", "--skip_done"])
    s2 = RunSpec("sample_incremental", ["naive.py", "--speaker=0", "--out_dir={out}/x", "--threads=4"])
    s3 = RunSpec("sample_incremental", ["naive.py", "--speaker=1", "--out_dir={out}/x"])
    assert s1.id == s2.id != s3.id
    argv, cwd = s1.command("python", tmp_path, 3)
    assert argv[-1] == "--threads=3" and f"--out_dir={tmp_path}/x" in argv and cwd == ROOT / "sample_incremental"


def test_grid_refuses_cycles_duplicate_writers_and_other_configs(tmp_path):
    from sccl.errors import ConfigError
    from sccl.suite import LocalPool, run_grid
    from sccl.suite.spec import Grid, RunSpec

    a = RunSpec("", ["-c", "pass"], label="a", deps=("b-x",))
    with pytest.raises(ConfigError, match="not in the grid"):
        Grid([a]).validate()
    p = RunSpec("", ["-c", "1"], label="p")
    q = RunSpec("", ["-c", "2"], label="q", deps=(p.id,))
    p2 = RunSpec("", ["-c", "1"], label="p", deps=(q.id,))  # same id as p, depends on q
    with pytest.raises(ConfigError):
        Grid([p2, q]).validate()
    w1 = RunSpec("", ["-c", "1"], label="w1", writes=("k",), threads_flag=False)
    w2 = RunSpec("", ["-c", "2"], label="w2", writes=("k",), threads_flag=False)
    with pytest.raises(ConfigError, match="same artifact k"):
        Grid([w1, w2]).validate()
    # a second grid in the same folder that would rewrite an artifact made differently
    assert run_grid(Grid([w1]).validate(), tmp_path, LocalPool(), log=lambda m: None).ok
    with pytest.raises(SCCLError, match="made by a different run"):
        run_grid(Grid([w2]).validate(), tmp_path, LocalPool(), log=lambda m: None)


# --------------------------------------------------------------------------- locks and folders


def test_concurrent_drivers_refused(tmp_path):
    from sccl.suite import GridLock, GridState, LocalPool, run_grid
    from sccl.suite.spec import Grid

    out = tmp_path / "out"
    grid = Grid([fake("a", tmp_path)]).validate()
    # a driver (another process) holds the folder
    holder = subprocess.Popen([sys.executable, "-c",
                               "import sys, time; from sccl.suite import GridLock; "
                               f"GridLock(sys.argv[1], 'x').acquire(); print('held', flush=True); time.sleep(60)",
                               str(GridState(out).dir / "lock")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(SCCLError, match=r"another sccl driver is already working on .*pid \d+"):
            run_grid(grid, out, LocalPool(), log=lambda m: None)
        proc = subprocess.run([sys.executable, "-m", "sccl.suite", "--speakers", "0", "--synthetic",
                               f"--out_dir={out}"], capture_output=True, text=True, cwd=ROOT)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert proc.stderr.strip().startswith("error: another sccl driver is already working on")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # the holder died (kill -9): the kernel released the lock, the next driver runs
    assert run_grid(grid, out, LocalPool(), log=lambda m: None).ok
    # where flock is missing: an O_EXCL pid file, stale when its process is gone
    lock = GridLock(tmp_path / "lk", "here")
    pidfile = tmp_path / "lk.pid"
    import socket
    pidfile.write_text(json.dumps({"pid": 2 ** 22 + 12345, "host": socket.gethostname(), "started": 0}))
    lock._acquire_pidfile()
    assert json.loads(pidfile.read_text())["pid"] == os.getpid()
    with pytest.raises(SCCLError, match="already working on here"):
        GridLock(tmp_path / "lk", "here")._acquire_pidfile()
    lock.release()
    assert not pidfile.exists()


def test_unwritable_output_folder_is_one_clear_error(tmp_path, monkeypatch):
    from sccl.suite import LocalPool, run_grid
    from sccl.suite import state as state_mod
    from sccl.suite.spec import Grid

    grid = Grid([fake("a", tmp_path)]).validate()
    (tmp_path / "file").write_text("x")
    proc = subprocess.run([sys.executable, "-m", "sccl.suite", "--speakers", "0", "--synthetic",
                           f"--out_dir={tmp_path / 'file' / 'out'}"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: cannot write") and "file/out" in proc.stderr
    if os.geteuid() != 0:  # root writes anywhere
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        with pytest.raises(SCCLError, match="not writable"):
            run_grid(grid, ro / "out", LocalPool(), log=lambda m: None)
    # a full disk while the driver writes its state: one clear error, nothing half-written
    out = tmp_path / "full"
    assert run_grid(grid, out, LocalPool(), log=lambda m: None).ok
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and p.name != "lock"}

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(state_mod, "save_text", full)
    with pytest.raises(SCCLError, match="disk is full"):
        run_grid(Grid([fake("b", tmp_path)]).validate(), out, LocalPool(), log=lambda m: None)
    for p, data in before.items():
        assert p.read_bytes() == data


# --------------------------------------------------------------------------- fault-safe appends


def test_appends_survive_a_kill_between_rows_and_records(tmp_path):
    from sccl.results import RunLog, append_once, ledger_path, records_path

    def log(run="r1", rows=("1, 0.500\n", "2, 0.750\n")):
        lg = RunLog(tmp_path, run, txt_name=f"{run}.txt", csv_name="c.csv", txt_mode="a", echo=None)
        lg.txt("hello\n")
        for r in rows:
            lg.csv(r)
        lg.record(epoch=1)
        return lg

    csv = tmp_path / "c.csv"
    # killed after appending, before the records file: the retry appends nothing again
    lg = log()
    lg.commit()
    records_path(tmp_path, "r1").unlink()
    log().commit()
    assert csv.read_text() == "1, 0.500\n2, 0.750\n" and (tmp_path / "r1.txt").read_text() == "hello\n"
    # another run appends in between: still no duplicate
    log("r2", ["9, 0.1\n"]).commit()
    records_path(tmp_path, "r1").unlink()
    log().commit()
    assert csv.read_text().splitlines() == ["1, 0.500", "2, 0.750", "9, 0.1"]
    # announced but never written (killed between ledger and append): written on the retry
    led = ledger_path(csv)
    with open(led, "a") as f:
        f.write(f"r3@0\t{csv.stat().st_size}\t8\t{'0' * 40}\n")
    log("r3", ["3, 0.3\n"]).commit()
    assert csv.read_text().splitlines()[-1] == "3, 0.3" and csv.read_text().count("3, 0.3") == 1
    # cut short by a full disk: the partial row is removed before the next append
    size = csv.stat().st_size
    assert append_once(csv, "4, 0.4\n", "k4")
    with open(csv, "r+b") as f:
        f.truncate(size + 3)
    assert append_once(csv, "4, 0.4\n", "k4")
    assert csv.read_text().splitlines()[-1] == "4, 0.4" and csv.read_text().count("4, 0.4") == 1
    # a deliberate rerun of a completed run appends again, as the original does
    log("r2", ["9, 0.1\n"]).commit()
    assert csv.read_text().count("9, 0.1") == 2
    # the CSV deleted by hand: the ledger no longer matches and is not trusted
    csv.unlink()
    records_path(tmp_path, "r1").unlink()
    log().commit()
    assert csv.read_text() == "1, 0.500\n2, 0.750\n"


def test_append_to_a_full_disk_is_a_clear_error(tmp_path):
    from sccl.results import append_once

    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    (tmp_path / "c.csv").symlink_to("/dev/full")
    with pytest.raises(SCCLError, match="disk is full"):
        append_once(tmp_path / "c.csv", "1, 2\n" * 2000, "k")


# --------------------------------------------------------------------------- real grids

# data; speaker 0's pretraining, its naive and latent-replay runs; the 10-class pretraining and
# one progressive run (the class-incremental dependencies are checked on fake runs above)
GRID = ["--speakers", "0", "--progressive", "--tiny", "--strategies", "naive,lr", "--progressive_variants",
        "subsample", "--protocol", "clean", "--pretrain_epochs", "1", "--override_epochs", "1", *TINY_FLAGS[:-1]]
N_RUNS = 6


def grid_cmd(synth_dir, out, *extra):
    return [sys.executable, "-m", "sccl.suite", *GRID, "--synthetic", "--synthetic_reps", "4",
            f"--data_dir={synth_dir}", f"--out_dir={out}", *extra]


def run_grid_cli(synth_dir, out, *extra, check=True):
    env = {**os.environ, "SCCL_NO_PROGRESS": "1"}
    proc = subprocess.run(grid_cmd(synth_dir, out, *extra), cwd=ROOT, capture_output=True, text=True,
                          env=env, timeout=900)
    if check and proc.returncode != 0:
        raise AssertionError(f"grid failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-3000:]}")
    return proc


def results(out: Path) -> dict:
    """Everything a grid produced, comparable across runs: CSV rows as sorted lists, TXT files as
    bytes, artifacts tensor by tensor, records and metadata without wall times."""
    res = {}
    for p in sorted(out.rglob("*")):
        rel = str(p.relative_to(out))
        if not p.is_file() or rel.startswith("grid/") or "/.ledger/" in rel or rel.startswith("data/"):
            continue
        if p.suffix == ".csv":
            res[rel] = sorted(p.read_text().splitlines())
        elif p.suffix in (".jsonl", ".json"):
            text = p.read_text()
            objs = [json.loads(x) for x in text.splitlines() if x.strip()] if p.suffix == ".jsonl" else [json.loads(text)]
            for o in objs:
                o.pop("wall_s", None)
            res[rel] = objs
        elif p.suffix == ".pt":  # torch.save names its zip records after the (temporary) file name
            res[rel] = _tensors(torch.load(p, map_location="cpu", weights_only=True))
        else:
            res[rel] = p.read_bytes()
    return res


def _tensors(obj):
    """A torch.load result as plain comparable values (sparse tensors by indices and values)."""
    if isinstance(obj, torch.Tensor):
        if obj.is_sparse:
            return ("sparse", tuple(obj.shape), obj._indices().numpy().tobytes(), obj._values().numpy().tobytes())
        return (str(obj.dtype), tuple(obj.shape), obj.numpy().tobytes())
    if isinstance(obj, dict):
        return {k: _tensors(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_tensors(v) for v in obj]
    return obj


def leftovers(out: Path) -> list[Path]:
    return [p for p in out.rglob("*") if p.name.endswith(".tmp") or ".tmp-" in p.name]


@pytest.fixture(scope="module")
def reference(synth_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("grid") / "ref"
    t0 = time.time()
    proc = run_grid_cli(synth_dir, out, "--jobs", "2")
    return out, proc, time.time() - t0


def test_real_grid_dependency_order_and_skip_if_done(synth_dir, reference):
    out, proc, _ = reference
    lines = proc.stdout.strip().splitlines()
    assert lines[-1].startswith(f"grid: {N_RUNS} runs: {N_RUNS} done, 0 skipped, 0 failed, 0 not run")
    assert sum(" done " in ln for ln in lines) == N_RUNS
    markers = {m["id"]: m for m in map(json.loads, (p.read_text() for p in (out / "grid/done").glob("*.json")))}
    assert len(markers) == N_RUNS
    for m in markers.values():  # started after every dependency had finished
        for d in m["deps"]:
            assert m["finished"] - m["wall_s"] >= markers[d]["finished"] - 0.5
    assert (out / "sample_incremental/naive_incremental_csv.csv").exists()
    assert len(list((out / "class_incremental_multiclasses/records").glob("*.jsonl"))) == 1
    before = results(out)
    again = run_grid_cli(synth_dir, out, "--jobs", "2")
    assert f"{N_RUNS} already done, skipped" in again.stdout
    assert again.stdout.strip().splitlines()[-1].startswith(f"grid: {N_RUNS} runs: 0 done, {N_RUNS} skipped")
    assert results(out) == before and not leftovers(out)


def _kill_and_resume(synth_dir, out, seed: int, ref_seconds: float):
    """Start the grid, SIGKILL the driver at a point chosen by ``seed`` (10-85 % of the
    uninterrupted grid's time: before, during or between runs), then rerun it to the end."""
    at = random.Random(seed).uniform(0.10, 0.85) * ref_seconds
    env = {**os.environ, "SCCL_NO_PROGRESS": "1"}
    t0 = time.time()
    driver = subprocess.Popen(grid_cmd(synth_dir, out, "--jobs", "2"), cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    while driver.poll() is None and time.time() - t0 < at:
        time.sleep(0.02)
    killed = driver.poll() is None
    if killed:
        os.kill(driver.pid, signal.SIGKILL)  # the driver only: its runs die with it (PR_SET_PDEATHSIG)
    driver.wait()
    for _ in range(200):  # its runs go too (on Linux); elsewhere stop them here
        try:
            os.killpg(driver.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        os.killpg(driver.pid, signal.SIGKILL)
        assert not sys.platform.startswith("linux"), "runs outlived their killed driver"
    done = len(list((out / "grid" / "done").glob("*.json"))) if (out / "grid" / "done").exists() else 0
    resumed = run_grid_cli(synth_dir, out, "--jobs", "2")
    return killed, f"killed after {at:.1f} s, {done} runs done", resumed


@pytest.mark.parametrize("seed", [int(os.environ.get("SCCL_FAULT_SEED", "1"))])
def test_sigkill_of_the_driver_then_resume_equals_an_uninterrupted_grid(synth_dir, reference, tmp_path, seed):
    ref, _, ref_seconds = reference
    out = tmp_path / "out"
    killed, where, resumed = _kill_and_resume(synth_dir, out, seed, ref_seconds)
    assert killed, "the grid finished before the kill: nothing was tested"
    assert resumed.returncode == 0
    assert f"{N_RUNS} runs: " in resumed.stdout and " 0 failed, 0 not run" in resumed.stdout
    assert results(out) == results(ref), (seed, where)
    assert not leftovers(out)


@pytest.mark.skipif(not os.environ.get("SCCL_SLOW"), reason="slow (about a minute per seed): set SCCL_SLOW=1")
@pytest.mark.parametrize("seed", range(2, 7))
def test_sigkill_of_the_driver_many_seeds(synth_dir, reference, tmp_path, seed):
    test_sigkill_of_the_driver_then_resume_equals_an_uninterrupted_grid(synth_dir, reference, tmp_path, seed)


def test_submitit_local_executor(synth_dir, reference, speaker_dir, tmp_path):
    pytest.importorskip("submitit")
    ref, _, _ = reference
    # the grid through submitit's local executor: same results as the local pool
    out = tmp_path / "sub"
    env = {**os.environ, "SCCL_NO_PROGRESS": "1"}
    cmd = grid_cmd(synth_dir, out, "--executor", "submitit-local", "--jobs", "2")
    cmd.remove("--progressive")
    cmd[cmd.index("naive,lr")] = "naive"
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "submitit's local executor" in proc.stdout
    assert proc.stdout.strip().splitlines()[-1].startswith("grid: 3 runs: 3 done")
    assert list((out / "grid" / "submitit").glob("*_log.out"))
    mine, theirs = results(out), results(ref)
    assert mine and all(mine[k] == theirs[k] for k in mine)
    # a testsuite driver through it: the progress file is updated as by the local sweep
    conf = tmp_path / "t.conf"
    res = tmp_path / "res"
    proc = run_script("sample_incremental/testsuite.py", "--speakers", "0", "--strategies", "naive",
                      "--executor", "submitit-local", f"--conf={conf}", *TINY_FLAGS[:-1], "--override_epochs=1",
                      f"--statedict_dir={speaker_dir}", f"--out_dir={res}")
    assert conf.read_text().strip() == "1" and "1 done" in proc.stdout
    assert (res / "naive_incremental_csv.csv").read_text().count("\n") == 1
    assert list((tmp_path / "t.conf.grid" / "logs").glob("*.log"))


def test_missing_submitit_is_a_clear_error(tmp_path, monkeypatch):
    import builtins

    from sccl.suite.executors import import_submitit

    real = builtins.__import__

    def no_submitit(name, *a, **k):
        if name == "submitit":
            raise ImportError("no")
        return real(name, *a, **k)

    monkeypatch.setitem(sys.modules, "submitit", None)
    monkeypatch.setattr(builtins, "__import__", no_submitit)
    with pytest.raises(SCCLError, match=r"pip install 'sccl\[slurm\]'"):
        import_submitit()


def test_cluster_settings_from_flags_and_file(tmp_path):
    from types import SimpleNamespace

    from sccl.errors import ConfigError
    from sccl.suite.executors import cluster_params, parse_mem, parse_time

    assert parse_time("90") == 90 and parse_time("1:30:00") == 90 and parse_time("2-00:00:00") == 2880
    assert parse_time("10:30") == 11 and parse_mem("16G") == 16 and parse_mem("512M") == 0.5
    conf = tmp_path / "slurm.toml"
    conf.write_text('partition = "gpu"\ntime = "4:00:00"\ngpus = 1\nmem = "16G"\narray_parallelism = 8\n'
                    '[additional]\nconstraint = "a100"\n')
    args = SimpleNamespace(slurm_config=conf, partition=None, time="30", gpus=None, mem=None, cpus_per_task=4,
                           array_parallelism=None, account="lab", qos=None)
    p = cluster_params(args)
    assert (p.partition, p.time, p.gpus, p.mem_gb, p.cpus_per_task, p.array_parallelism) == ("gpu", 30, 1, 16.0, 4, 8)
    assert p.additional == {"constraint": "a100"} and p.account == "lab"
    conf.write_text('partiton = "gpu"\n')
    with pytest.raises(ConfigError, match="partiton"):
        cluster_params(args)
