#!/usr/bin/env python
"""Mutation check (``make mutants``): one-line semantic changes that must each make a test fail.

Every mutant is a record (id, file, exact old snippet, new snippet, tests to run, why). For each,
the tool writes the change into a scratch copy of the repository (never the working tree), runs
only the selected tests there with ``python -m pytest`` (``sccl`` imported from the copy through
PYTHONPATH), restores the file and prints KILLED (a test failed) or SURVIVED (every selected
test passed). A snippet that is not found exactly once is STALE: the code moved, update the
record. Exit status 1 when any mutant survived, is stale or could not be run; 0 when all were
killed. Not part of ``make test``; see docs/testing.md.

The test fixtures' pretraining artifacts are built once, by the unmutated code, and reused by
every mutant's run (SCCL_TEST_ARTIFACTS, tests/conftest.py); a baseline run of the union of all
selected tests on the unmutated copy must pass first.

Usage: python tests/mutants.py [--only ID,ID] [--list] [--keep DIR] [--no-baseline]
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
S = "tests/test_settings.py"
G = "tests/test_golden.py"


@dataclass(frozen=True)
class Mutant:
    id: str
    file: str
    old: str
    new: str
    tests: tuple[str, ...]   # pytest arguments (paths, ``-k`` expressions)
    why: str


def k(*names: str) -> tuple[str, ...]:
    """Run ``tests/test_settings.py`` / ``tests/test_golden.py`` for the named runs only."""
    return (S, G, "-k", " or ".join(names))


MUTANTS = [
    # --- the four changes of issue 10 ---------------------------------------------------------
    Mutant("sample-clr-lr", "sample_incremental/latent_replay_subsample.py",
           "lr=1e-3, lr_flag_original=False", "lr=2e-4, lr_flag_original=False",
           k("sample-latent_replay_subsample-faithful"), "compressed LR's lr 1e-3 -> 2e-4 (issue 10)"),
    Mutant("sample-rehearsal-epochs", "sample_incremental/rehearsal.py", "hard_epochs=50, ", "",
           k("sample-rehearsal-hard"), "rehearsal's hard-coded 50 epochs removed (issue 10)"),
    Mutant("q33-off", "sccl/experiments/progressive.py",
           'leak = cfg.protocol == Protocol.FAITHFUL and cfg.n_frames is None', "leak = False",
           k("progressive-latent_replay-faithful"), "Q33 disabled: German test batch not replayed (issue 10)"),
    Mutant("q30-off", "sccl/experiments/progressive.py",
           "global_set = [english[c][L + 1] for c in range(10)] + [german[c][0] for c in GERMAN]",
           "global_set = list(en_test) + [german[c][0] for c in GERMAN]",
           k("progressive-latent_replay_subsample-faithful"), "Q30 disabled: global set from the English test split (issue 10)"),
    # --- per-script learning rates and epochs ---------------------------------------------------
    Mutant("sample-rehearsal-sub-lr", "sample_incremental/rehearsal_subsample.py",
           "lr=1e-3, lr_flag_original=False", "lr=2e-4, lr_flag_original=False",
           k("sample-rehearsal_subsample-clean"), "compressed rehearsal's lr 1e-3"),
    Mutant("class-clr-lr", "class_incremental/latent_replay_subsample.py",
           'add_flag(p, "lr", type=float, default=2e-4)', 'add_flag(p, "lr", type=float, default=1e-3)',
           k("class-latent_replay_subsample-clean"), "class compressed LR's --lr default 2e-4"),
    Mutant("progressive-lr", "class_incremental_multiclasses/latent_replay.py",
           "nb_epochs=20, lr=2e-4", "nb_epochs=20, lr=1e-3",
           k("progressive-latent_replay-clean"), "progressive lr 2e-4"),
    Mutant("sample-naive-epochs", "sample_incremental/naive.py", "hard_epochs=50,", "hard_epochs=40,",
           k("sample-naive-hard"), "sample naive's hard-coded 50 epochs"),
    Mutant("class-rehearsal-epochs", "class_incremental/rehearsal.py", "hard_epochs=50, ", "",
           k("class-rehearsal-hard"), "class rehearsal's hard-coded 50 epochs"),
    Mutant("override-epochs", "sccl/scripting.py", "    if args.override_epochs is not None:\n",
           "    if False:\n", k("sample-naive-faithful"), "--override_epochs honoured"),
    # --- optimiser, trainable set, order ---------------------------------------------------------
    Mutant("adamax-betas", "sccl/training.py", "betas=(0.9, 0.999)", "betas=(0.9, 0.99)",
           k("sample-naive-faithful"), "Adamax betas (0.9, 0.999)"),
    Mutant("trainable-depth1", "sccl/model.py", '1: ("w2", "w3", "w_out", "v2", "v3"),',
           '1: ("w2", "w3", "w_out", "v3"),', k("sample-latent_replay_subsample_sums-faithful"),
           "depth 1 trains w2 w3 w_out v2 v3"),
    Mutant("order-replay-first", "sccl/strategies.py", "return [*new_items, *replay]",
           "return [*replay, *new_items]", k("sample-rehearsal-faithful"), "new batches, then replay (Q43)"),
    # progressive trains through the shared skeleton (Session.train -> feed): replay first there
    Mutant("progressive-order", "sccl/experiments/continual.py",
           "items = feed(new_items, self.buffers, self.level, self.device, self.cfg.order)",
           "items = (lambda f: lambda: [*f()[len(new_items):], *f()[:len(new_items)]])("
           "feed(new_items, self.buffers, self.level, self.device, self.cfg.order))", k("progressive-latent_replay-clean"), "progressive: new, then replay"),
    Mutant("progressive-shared-optimiser", "sccl/experiments/continual.py",
           "nb_epochs=self.cfg.nb_epochs, after_epoch=after_epoch, desc=desc)",
           "nb_epochs=self.cfg.nb_epochs, after_epoch=after_epoch, desc=desc, optimizer=self.__dict__.setdefault("
           "'opt', __import__('sccl.training', fromlist=['adamax']).adamax("
           "[self.model.weights[n] for n in trainable_names(self.cfg.encode_depth)], self.cfg.lr)))",
           k("progressive-latent_replay-clean"), "a fresh Adamax per progressive class (Q55)"),
    # --- splits and batching ---------------------------------------------------------------------
    Mutant("split-stop-1", "sccl/data/binning.py", "return batches[d:], batches[:d - 1]",
           "return batches[d:], batches[:d]", k("sample-naive-faithful"), "1/5 rule: batch d-1 unused (Q11)"),
    Mutant("q12-off", "sccl/data/binning.py", "    return batches, batches[:1]\n",
           "    return batches[1:], batches[:1]\n", ("tests/test_protocols.py", "-k", "clean_split"),
           "faithful trains on its test batch when n < 5 (Q12)"),
    Mutant("clean-split-off", "sccl/experiments/continual.py", 'if len(batches) < 5:',
           'if len(batches) < 2:', k("class-rehearsal-hard", "refused"),
           "clean keeps the test batch out of training (Q12 fix, single batch refused)"),
    Mutant("drop-last", "sccl/data/binning.py", "n_batches = len(order) // batch_size",
           "n_batches = -(-len(order) // batch_size)", ("tests/test_data.py",), "drop-last batching (Q7)"),
    # --- memories and leak flags -----------------------------------------------------------------
    Mutant("q28-off", "sccl/experiments/class_incremental.py",
           "if protocol is Protocol.FAITHFUL:\n        return faithful_memory",
           "if protocol is not Protocol.FAITHFUL:\n        return faithful_memory", k("class-latent_replay_subsample-faithful"),
           "faithful class memory from other classes' removed files (Q28)"),
    # one home for the rule: the registry's per-class count (applied by ContinualConfig)
    Mutant("q29-off", "sccl/registry.py", 'Strategy("latent_replay", "latent_replay", "latent", per_class=1,',
           'Strategy("latent_replay", "latent_replay", "latent", per_class=None,', k("class-latent_replay-faithful"),
           "class latent_replay.py keeps 1 batch per class, --latent_batches ignored (Q29)"),
    Mutant("q31-off", "sccl/experiments/progressive.py",
           "return global_set, [b for _ in range(10) for b in pre.pretrain[:L]]",
           "return global_set, list(pre.pretrain[:L])",
           k("progressive-latent_replay-faithful"), "ten copies of the first L English batches (Q31)"),
    Mutant("sample-memory-source", "sccl/experiments/sample_incremental.py", "pre.pretrain[:cfg.memory_batches]",
           "pre.pretrain_test[:cfg.memory_batches]", k("sample-latent_replay-faithful"),
           "sample memory = first k pretrain-train batches"),
    Mutant("rehearsal-or", "sccl/strategies.py",
           'return MemorySpec("raw", None, n_frames, *replay_scheme("raw", None))',
           'return MemorySpec("raw", None, n_frames, "or", "first")', k("sample-rehearsal_subsample-faithful"),
           "raw rehearsal compression sums the counts"),
    Mutant("sums-burst", "sccl/replay.py", 'else ("sum", "burst")', 'else ("sum", "first")',
           k("sample-latent_replay_subsample_sums-faithful"), "'sums' replays a count as a burst"),
    # --- compression / model -----------------------------------------------------------------------
    Mutant("pooling-or-as-sum", "sccl/replay.py", "return sums.ne(0).to(x.dtype)", "return sums",
           ("tests/test_replay.py",), "OR pooling (any spike in the window)"),
    Mutant("decompress-placement", "sccl/replay.py", "out[:, :, 0] = frames", "out[:, :, -1] = frames",
           ("tests/test_replay.py",), "decompression at the FIRST step of each window"),
    Mutant("reinit-skipped", "sccl/experiments/class_incremental.py",
           "adapt=lambda model: reinit_column(model, cfg.held_out, gen))", "adapt=None)", k("class-naive-faithful"),
           "class-incremental re-initialises column c (Q19)"),
    Mutant("reinit-mean", "sccl/experiments/continual.py", "normal_(0.003, 0.003, generator=generator)",
           "normal_(0.0, 0.003, generator=generator)", k("class-naive-faithful"),
           "new column ~ N(0.003, 0.003)"),
    Mutant("surrogate-scale", "sccl/model.py", "SURROGATE_SCALE = 100.0", "SURROGATE_SCALE = 10.0",
           ("tests/test_model.py",), "surrogate steepness 100"),
    Mutant("readout-sum", "sccl/model.py", "return trace.max(dim=0).values.view(B, C)",
           "return trace.sum(dim=0).view(B, C)", ("tests/test_model.py",), "readout = max over time"),
    Mutant("threshold-ge", "sccl/model.py", "torch.gt(u, thr, out=s)", "torch.ge(u, thr, out=s)",
           ("tests/test_model.py", "tests/test_quirks.py"), "spike when U > 1 strictly"),
    # --- output formats --------------------------------------------------------------------------
    Mutant("q23-one-row", "sccl/experiments/sample_incremental.py",
           'return ["%d, %d, %i, %.3f\\n" % (self.s, k, e, old), "%d, %d, %i, %.3f\\n" % (self.s, k, e, new)]',
           'return ["%d, %d, %i, %.3f\\n" % (self.s, k, e, old)]', k("sample-rehearsal-faithful"),
           "rehearsal CSV: two rows per epoch (Q23)"),
    Mutant("q29-literal-38", "sccl/experiments/class_incremental.py", '"%d, %d, 38, %f, %i, %.3f, %.3f\\n"',
           '"%d, %d, 19, %f, %i, %.3f, %.3f\\n"', k("class-latent_replay-faithful"), "the literal 38 (Q29)"),
    Mutant("q32-lc", "sccl/experiments/progressive.py", "% (d, L * c, c, e, prev, new, glob)",
           "% (d, L, c, e, prev, new, glob)", k("progressive-latent_replay-clean"), "progressive CSV column L*c (Q32)"),
]


def repo_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True,
                         check=True).stdout.decode()
    return [f for f in out.split("\0") if f and (ROOT / f).is_file()]


def copy_repo(dest: Path) -> None:
    for f in repo_files():
        (dest / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / f, dest / f)


def env_for(copy: Path, cache: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(copy), "OMP_NUM_THREADS": "1", "SCCL_NO_PROGRESS": "1",
           "SCCL_KERNEL": "torch", "SCCL_TEST_ARTIFACTS": str(cache), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("SCCL_TRACE", None)
    return env


def pytest(copy: Path, cache: Path, args, basetemp: Path, timeout: int = 900) -> tuple[int, str]:
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", f"--basetemp={basetemp}", *args]
    try:
        p = subprocess.run(cmd, cwd=copy, env=env_for(copy, cache), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return -1, "timeout"
    return p.returncode, p.stdout + p.stderr


def first_failure(output: str) -> str:
    m = re.search(r"^FAILED (\S+)", output, re.M) or re.search(r"^ERROR (\S+)", output, re.M)
    return m.group(1) if m else "?"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default=None, help="comma-separated mutant ids")
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    ap.add_argument("--keep", type=Path, default=None, help="scratch folder to use and keep")
    ap.add_argument("--no-baseline", action="store_true", help="skip the unmutated run of the selected tests")
    args = ap.parse_args(argv)
    todo = MUTANTS
    if args.only:
        want = set(args.only.split(","))
        unknown = want - {m.id for m in MUTANTS}
        if unknown:
            print(f"error: unknown mutant id(s) {sorted(unknown)}; see --list", file=sys.stderr)
            return 2
        todo = [m for m in MUTANTS if m.id in want]
    if args.list:
        for m in todo:
            print(f"{m.id:30s} {m.file}: {m.why}")
        return 0

    t0 = time.time()
    scratch = args.keep or Path(tempfile.mkdtemp(prefix="sccl-mutants-"))
    copy, cache, tmp = scratch / "repo", scratch / "artifacts", scratch / "tmp"
    try:
        if copy.exists():
            shutil.rmtree(copy)
        copy.mkdir(parents=True)
        copy_repo(copy)
        tmp.mkdir(exist_ok=True)
        where = subprocess.run([sys.executable, "-c", "import sccl; print(sccl.__file__)"], cwd=tmp,
                               env=env_for(copy, cache), capture_output=True, text=True).stdout.strip()
        if not where.startswith(str(copy)):
            print(f"error: sccl is imported from {where!r}, not from the scratch copy {copy}", file=sys.stderr)
            return 2
        if not (cache / "sdhard").is_dir():
            print(f"building the fixture artifacts once (unmutated) in {cache} ...", flush=True)
            subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, 'tests'); import make_golden; "
                            f"make_golden.build_artifacts(__import__('pathlib').Path({str(cache)!r}))"],
                           cwd=copy, env=env_for(copy, cache), check=True, capture_output=True)
        originals = {m.file: (copy / m.file).read_text() for m in todo if (copy / m.file).exists()}
        if not args.no_baseline:
            paths = sorted({a for m in todo for a in m.tests if a.startswith("tests/")})
            ks = sorted({m.tests[i + 1] for m in todo for i, a in enumerate(m.tests) if a == "-k"})
            print(f"baseline: the selected tests on the unmutated copy ({', '.join(paths)}) ...", flush=True)
            tb = time.time()
            # the union: whole files that are run without -k, the -k runs of the others
            plain = sorted({a for m in todo if "-k" not in m.tests for a in m.tests})
            keyed = sorted({a for m in todo if "-k" in m.tests for a in m.tests if a.startswith("tests/")} - set(plain))
            runs = ([plain] if plain else []) + ([[*keyed, "-k", " or ".join(f"({x})" for x in ks)]] if keyed else [])
            for r in runs:
                rc, out = pytest(copy, cache, r, tmp / "baseline")
                if rc != 0:
                    print(out[-3000:])
                    print(f"error: the unmutated baseline fails ({' '.join(r)}): fix the tests first", file=sys.stderr)
                    return 2
            print(f"baseline passed ({time.time() - tb:.0f} s)", flush=True)
        results = {}
        for m in todo:
            path = copy / m.file
            text = originals.get(m.file)
            n = text.count(m.old) if text is not None else 0
            if n != 1:
                what = "not found" if n == 0 else f"found {n} times"
                results[m.id] = "STALE"
                print(f"STALE     {m.id:30s} snippet {what} in {m.file}: stale mutant: update it", flush=True)
                continue
            tm = time.time()
            path.write_text(text.replace(m.old, m.new))
            try:
                rc, out = pytest(copy, cache, m.tests, tmp / m.id)
            finally:
                path.write_text(text)
            dt = time.time() - tm
            if rc == 1:
                results[m.id] = "KILLED"
                print(f"KILLED    {m.id:30s} {dt:5.0f} s  by {first_failure(out)}", flush=True)
            elif rc == 0:
                results[m.id] = "SURVIVED"
                print(f"SURVIVED  {m.id:30s} {dt:5.0f} s  ({m.why}; tests: {' '.join(m.tests)})", flush=True)
            else:
                results[m.id] = "ERROR"
                print(f"ERROR     {m.id:30s} {dt:5.0f} s  pytest exit {rc} (no test ran or it timed out):\n"
                      f"{out[-1500:]}", flush=True)
        counts = {s: sum(1 for v in results.values() if v == s) for s in ("KILLED", "SURVIVED", "STALE", "ERROR")}
        print(f"\n{counts['KILLED']}/{len(results)} killed, {counts['SURVIVED']} survived, {counts['STALE']} stale, "
              f"{counts['ERROR']} errors; {time.time() - t0:.0f} s", flush=True)
        return 0 if counts["KILLED"] == len(results) else 1
    finally:
        if args.keep is None:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
