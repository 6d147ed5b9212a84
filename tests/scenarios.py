"""The tiny fixed runs of every script that tests/test_settings.py observes (SCCL_TRACE) and
tests/test_golden.py compares byte for byte with tests/golden/ (regenerate: ``make golden``).

Everything that could vary is pinned: the synthetic set (n_rep 4, seed 0), the pretraining
artifacts of tests/conftest.py (tiny network, seed 0), ``--seed=0``, ``--threads=1``, the CPU,
``OMP_NUM_THREADS=1`` and the PyTorch model kernel (``SCCL_KERNEL=torch``, for when a native
kernel exists whose gradients may differ in the last float bits). All scripts of one plan run in
one interpreter (tests/script_runner.py).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TINY = ["--batch_size=8", "--nb_hidden=16", "--nb_steps=20", "--weight_scale=1.0", "--threads=1",
        "--seed=0", "--device=cpu"]
PROTOCOLS = ("faithful", "clean")
# Hard-coded epoch counts are exercised at their real value (no --override_epochs) in these runs.
HARD_EPOCHS = 50

# name -> (script, its own flags). {p} = protocol. Sample: speaker 0 (10 batches: split test =
# batch 0, batch 1 unused, train = 2..9); class: class 3 (6 batches: test 0, train 1..5);
# progressive: German classes of 6 batches, L = 2 English batches.
SAMPLE = {
    "naive": ("sample_incremental/naive.py", ["--override_epochs=2"]),
    "rehearsal": ("sample_incremental/rehearsal.py", ["--reharsal_size=2", "--override_epochs=2"]),
    "rehearsal_subsample": ("sample_incremental/rehearsal_subsample.py",
                            ["--latent_batches=2", "--latent_subsample=5", "--nb_epochs=2"]),
    "latent_replay": ("sample_incremental/latent_replay.py",
                      ["--latent_depth=3", "--latent_batches=2", "--nb_epochs=2"]),
    "latent_replay_subsample": ("sample_incremental/latent_replay_subsample.py",
                                ["--latent_depth=0", "--latent_batches=2", "--latent_subsample=10",
                                 "--nb_epochs=2"]),
    "latent_replay_subsample_sums": ("sample_incremental/latent_replay_subsample.py",
                                     ["--latent_depth=1", "--latent_batches=2", "--latent_subsample=5",
                                      "--pooling=sum", "--nb_epochs=2"]),
}
CLASS = {
    "naive": ("class_incremental/naive.py", ["--nb_epochs=2"]),
    "rehearsal": ("class_incremental/rehearsal.py", ["--reharsal_size=2", "--latent_subsample=2",
                                                     "--override_epochs=2"]),
    "latent_replay": ("class_incremental/latent_replay.py",
                      ["--latent_depth=2", "--latent_batches=3", "--nb_epochs=2"]),  # 3 is ignored (Q29)
    "latent_replay_subsample": ("class_incremental/latent_replay_subsample.py",
                                ["--latent_depth=1", "--latent_batches=2", "--latent_subsample=10",
                                 "--nb_epochs=2"]),
}
PROGRESSIVE = {
    "latent_replay": ("class_incremental_multiclasses/latent_replay.py",
                      ["--latent_depth=1", "--latent_batches=2", "--nb_epochs=1"]),
    "latent_replay_subsample": ("class_incremental_multiclasses/latent_replay_subsample.py",
                                ["--latent_depth=0", "--latent_batches=2", "--latent_subsample=10",
                                 "--nb_epochs=1"]),
}
# Scripts whose original hard-codes 50 epochs: run once more with --nb_epochs=1 (ignored) on a tinier
# network (conftest.HARD_NET / HARD_BATCH artifacts, untrained). Class 3 has 3 batches of 16 there:
# the clean split (test 0, train 1..2) of a set under 5 batches (Q12).
HARD = {
    "sample-naive-hard": ("sample_incremental/naive.py", [], "faithful"),
    "sample-rehearsal-hard": ("sample_incremental/rehearsal.py", ["--reharsal_size=1"], "faithful"),
    "class-rehearsal-hard": ("class_incremental/rehearsal.py", ["--reharsal_size=1", "--latent_subsample=2"], "clean"),
}
HARD_FLAGS = ["--batch_size=16", "--nb_hidden=8", "--nb_steps=10", "--weight_scale=2.0", "--threads=1",
              "--seed=0", "--device=cpu"]


def continual_runs() -> list[tuple[str, str, str, str, list[str]]]:
    """(name, experiment, strategy, protocol, argv without the folder flags) of every run."""
    runs = []
    for exp, table, held in (("sample", SAMPLE, ["--speaker=0"]), ("class", CLASS, ["--removed_class=3"]),
                             ("progressive", PROGRESSIVE, [])):
        for strategy, (script, flags) in table.items():
            for p in PROTOCOLS:
                runs.append((f"{exp}-{strategy}-{p}", exp, strategy, p,
                             [script, *held, *TINY, *flags, f"--protocol={p}"]))
    for name, (script, flags, p) in HARD.items():
        exp = name.split("-")[0]
        held = ["--speaker=0"] if exp == "sample" else ["--removed_class=3"]
        runs.append((name, exp, name.split("-")[1], p,
                     [script, *held, *HARD_FLAGS, *flags, "--nb_epochs=1", f"--protocol={p}"]))
    return runs


GENERATORS = {  # printed lines of the pretraining generators and analysis scripts
    "gen-speaker": ("statedicts_64_elements/heidelberg_statedict_generator.py", ["--speaker=2", "--nb_epochs=1"]),
    "gen-class": ("statedicts_class_incremental/heidelberg_statedict_generator.py",
                  ["--removed_class=5", "--nb_epochs=1"]),
    "gen-10classes": ("statedicts_class_incremental/heidelberg_statedict_generator_10classes.py", ["--nb_epochs=1"]),
}
ANALYSIS = {
    "spike-activity": ("statedicts_64_elements/test_spike_activity.py", ["--speaker=0"]),
    "test-statedict": ("statedicts_class_incremental/test_statedict.py", ["--removed_class=3"]),
}


# Runs that must be refused: name -> (script, flags, exit status). Speaker 1 of the hard artifacts
# has a single new batch of 80: --protocol clean has nothing left to train on (issue 10, item 4).
REFUSED = {
    "refused-clean-single-batch": ("sample_incremental/naive.py",
                                   ["--speaker=1", *HARD_FLAGS[1:], "--batch_size=80", "--protocol=clean"], 2),
}


def names() -> list[str]:
    """Every run of the plan, by name."""
    return [r[0] for r in continual_runs()] + list(GENERATORS) + list(ANALYSIS)


def plan(work: Path, speaker_dir: Path, class_dir: Path, synth_dir: Path, hard_dir: Path, *,
         trace: bool = True, generators: bool = True, refused: bool = True) -> list[dict]:
    """The runner's plan: every continual run (own out folder), then generators and analysis."""
    work = Path(work)
    specs = []
    for name, exp, _, _, (script, *argv) in continual_runs():
        d = hard_dir if name.endswith("-hard") else speaker_dir if exp == "sample" else class_dir
        out = work / name
        out.mkdir(parents=True, exist_ok=True)
        specs.append({"name": name, "script": script, "out": str(out),
                      "argv": [*argv, f"--statedict_dir={d}", f"--out_dir={out}"],
                      "trace": str(work / f"{name}.trace.jsonl") if trace else None,
                      "stdout": str(work / f"{name}.stdout")})
    for name, (script, flags, _) in (REFUSED if refused else {}).items():
        out = work / name
        out.mkdir(parents=True, exist_ok=True)
        specs.append({"name": name, "script": script, "out": str(out), "trace": None,
                      "argv": [*flags, f"--statedict_dir={hard_dir}", f"--out_dir={out}"],
                      "stdout": str(work / f"{name}.stdout"), "stderr": str(work / f"{name}.stderr")})
    if generators:
        for name, (script, flags) in GENERATORS.items():
            out = work / name
            out.mkdir(parents=True, exist_ok=True)
            specs.append({"name": name, "script": script, "out": str(out), "trace": None,
                          "argv": [*TINY, *flags, f"--data_dir={synth_dir}", f"--out_dir={out}"],
                          "stdout": str(work / f"{name}.stdout")})
        for name, (script, flags) in ANALYSIS.items():
            d = speaker_dir if "spike" in name else class_dir
            specs.append({"name": name, "script": script, "out": None, "trace": None,
                          "argv": [*TINY, *flags, f"--out_dir={d}"], "stdout": str(work / f"{name}.stdout")})
    return specs


def execute(specs: list[dict], work: Path, timeout: int = 900) -> dict:
    """Run ``specs`` in one child interpreter; returns {name: exit status}."""
    work = Path(work)
    plan_file = work / "plan.json"
    plan_file.write_text(json.dumps(specs, indent=1))
    env = {**os.environ, "SCCL_NO_PROGRESS": "1", "OMP_NUM_THREADS": "1", "SCCL_KERNEL": "torch"}
    env.pop("SCCL_TRACE", None)
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "script_runner.py"), str(plan_file)],
                          cwd=work, capture_output=True, text=True, env=env, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"script_runner failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(Path(str(plan_file) + ".status.json").read_text())


def outputs(spec: dict) -> dict[str, bytes]:
    """The golden files of one run: its TXT and CSV files (run) or its printed lines (others)."""
    files = {}
    if spec["trace"] is not None or spec["name"].startswith(("sample", "class", "progressive")):
        out = Path(spec["out"])
        for f in sorted(out.iterdir()):
            if f.suffix in (".txt", ".csv"):
                files[f.name] = f.read_bytes()
    else:
        files["stdout.txt"] = Path(spec["stdout"]).read_bytes()
    return files
