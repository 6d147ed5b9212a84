"""``make demo`` / ``sccl demo``: the whole pipeline on the embedded synthetic SHD.

Every step runs the repository's real scripts as subprocesses (exactly what a user types),
with every artifact and result under ``--out_dir`` (default ``results/demo``):

1. generate the synthetic SHD-format set and merge it (``heidelberg_unite_datasets.py``);
2. pretrain: one held-out speaker, one held-out class, the ten English classes;
3. sample-incremental: naive, rehearsal, latent replay at depths 1-3, compressed latent replay
   at 1:2 and 1:10;
4. class-incremental: naive, rehearsal, latent replay, compressed latent replay (faithful
   protocol: its memory reads the other classes' ``removed_x_class_<c>.pt``, which the demo writes
   with ``--removed_only`` generator runs);
5. progressive English -> German at 1:2, faithful and clean protocols;
6. ``sccl report``: tables and figures.

Sizes are reduced (fewer samples and epochs than the paper) so that it finishes in about a
quarter of an hour on 2 CPU cores; ``--quick`` is a smaller smoke version (used by the tests).
"""
from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from sccl.errors import SCCLError

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Plan:
    n_rep: int             # synthetic repetitions per speaker and word
    batch_size: int
    pretrain_epochs: int
    pretrain_lr: float     # the generators' lr (the original's 2e-4 needs ~200 epochs)
    weight_scale: float    # init scale (the original's 0.2 leaves layer 3 silent at first: slow start)
    cl_epochs: int         # sample / class continual epochs
    progressive_epochs: int
    memory_batches: int    # replay batches (sample-incremental)
    speaker: int = 0
    removed_class: int = 3
    net_flags: tuple = ()  # e.g. ("--nb_hidden=16",) for the quick plan


FULL = Plan(n_rep=16, batch_size=32, pretrain_epochs=16, pretrain_lr=2e-3, weight_scale=0.5, cl_epochs=10,
            progressive_epochs=6, memory_batches=6)
QUICK = Plan(n_rep=4, batch_size=8, pretrain_epochs=2, pretrain_lr=2e-3, weight_scale=1.0, cl_epochs=2,
             progressive_epochs=1, memory_batches=2, net_flags=("--nb_hidden=32", "--nb_steps=50"))


def steps(plan: Plan, out: Path) -> list[tuple[str, str, list[str]]]:
    """(title, folder relative to the repo root, argv) of every step, in order."""
    data, sd64, sdc = out / "data", out / "statedicts_64_elements", out / "statedicts_class_incremental"
    net = [f"--batch_size={plan.batch_size}", *plan.net_flags]
    sp, rc = f"--speaker={plan.speaker}", f"--removed_class={plan.removed_class}"
    pre = [*net, f"--data_dir={data}", f"--lr={plan.pretrain_lr}", f"--weight_scale={plan.weight_scale}"]
    cl = [*net, f"--override_epochs={plan.cl_epochs}"]
    m = f"--latent_batches={plan.memory_batches}"
    n_steps = 50 if "--nb_steps=50" in plan.net_flags else 100
    half, tenth = n_steps // 2, n_steps // 10
    out_s, out_c, out_p = out / "sample_incremental", out / "class_incremental", out / "class_incremental_multiclasses"
    S = [f"--statedict_dir={sd64}", f"--out_dir={out_s}"]
    C = [f"--statedict_dir={sdc}", f"--out_dir={out_c}"]
    P = [f"--statedict_dir={sdc}", f"--out_dir={out_p}", *net, f"--nb_epochs={plan.progressive_epochs}",
         "--latent_depth=1", f"--latent_batches={max(1, plan.memory_batches // 2)}", f"--latent_subsample={half}"]
    st = [
        ("synthetic SHD-format dataset", ".", ["-m", "sccl.data.synthetic", f"--out_dir={data}", f"--n_rep={plan.n_rep}"]),
        ("merge train + test", ".", ["heidelberg_unite_datasets.py", f"--data_dir={data}"]),
        (f"pretrain, speaker {plan.speaker} held out", "statedicts_64_elements",
         ["heidelberg_statedict_generator.py", sp, f"--nb_epochs={plan.pretrain_epochs}", *pre, f"--out_dir={sd64}"]),
        ("sample-incremental: naive", "sample_incremental", ["naive.py", sp, *cl, *S]),
        ("sample-incremental: rehearsal (2 raw batches)", "sample_incremental", ["rehearsal.py", sp, "--reharsal_size=2", *cl, *S]),
    ]
    for d in (1, 2, 3):
        st.append((f"sample-incremental: latent replay, depth {d}", "sample_incremental",
                   ["latent_replay.py", sp, f"--latent_depth={d}", m, *cl, *S]))
    for d in (1, 3):
        for t in (half, tenth):
            st.append((f"sample-incremental: compressed latent replay, depth {d}, 1:{n_steps // t}", "sample_incremental",
                       ["latent_replay_subsample.py", sp, f"--latent_depth={d}", m, f"--latent_subsample={t}", *cl, *S]))
    st.append((f"pretrain, class {plan.removed_class} held out", "statedicts_class_incremental",
               ["heidelberg_statedict_generator.py", rc, f"--nb_epochs={plan.pretrain_epochs}", *pre, f"--out_dir={sdc}"]))
    for c in range(20):
        if c != plan.removed_class:
            st.append((f"batch lists of class {c} for the faithful class-incremental memory (--removed_only)",
                       "statedicts_class_incremental",
                       ["heidelberg_statedict_generator.py", f"--removed_class={c}", "--removed_only", *pre,
                        f"--out_dir={sdc}"]))
    st += [
        ("class-incremental: naive", "class_incremental", ["naive.py", rc, *cl, *C]),
        ("class-incremental: rehearsal (compressed raw, 1 batch per class)", "class_incremental",
         ["rehearsal.py", rc, "--reharsal_size=1", f"--latent_subsample={tenth}", *cl, *C]),
        ("class-incremental: latent replay, depth 2", "class_incremental",
         ["latent_replay.py", rc, "--latent_depth=2", "--lr=0.001", *cl, *C]),
        ("class-incremental: compressed latent replay, depth 2, 1:10", "class_incremental",
         ["latent_replay_subsample.py", rc, "--latent_depth=2", "--latent_batches=1", f"--latent_subsample={tenth}", *cl, *C]),
        ("class-incremental: latent replay, depth 2, clean protocol", "class_incremental",
         ["latent_replay.py", rc, "--latent_depth=2", "--lr=0.001", "--protocol=clean", *cl, *C]),
        ("pretrain, 10 English classes", "statedicts_class_incremental",
         ["heidelberg_statedict_generator_10classes.py", f"--nb_epochs={plan.pretrain_epochs}", *pre, f"--out_dir={sdc}"]),
        ("progressive English -> German, 1:2, faithful", "class_incremental_multiclasses", ["latent_replay_subsample.py", *P]),
        ("progressive English -> German, 1:2, clean", "class_incremental_multiclasses",
         ["latent_replay_subsample.py", *P, "--protocol=clean"]),
        ("compression example (the report's compression figure)", ".",
         ["-m", "sccl", "compression", f"--statedict_dir={sd64}", f"--out={out / 'compression_example.json'}"]),
        ("report: tables and figures", ".", ["-m", "sccl.report", f"--results={out}", f"--out={out}",
                                              f"--figures={out / 'figure'}", f"--statedict_dir={sd64}"]),
    ]
    return st


def run_steps(st, *, threads: int | None, log=print) -> float:
    t_all = time.time()
    for i, (title, folder, argv) in enumerate(st, 1):
        cmd = [sys.executable, *argv]
        if threads is not None and argv[0].endswith(".py") and "testsuite" not in argv[0] \
                and "unite" not in argv[0]:
            cmd.append(f"--threads={threads}")
        log(f"\n=== [{i}/{len(st)}] {title}\n$ (cd {folder} && {shlex.join(['python', *cmd[1:]])})", flush=True)
        t0 = time.time()
        rc = subprocess.call(cmd, cwd=ROOT / folder)
        if rc != 0:
            raise SCCLError(f"demo step {i} ({title}) failed with exit status {rc}; the command is printed above")
        log(f"--- step {i} done in {time.time() - t0:.1f} s (total {time.time() - t_all:.0f} s)", flush=True)
    return time.time() - t_all


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="sccl demo", description=__doc__.split("\n\n")[0])
    p.add_argument("--out_dir", "--out-dir", type=Path, default=ROOT / "results" / "demo")
    p.add_argument("--quick", action="store_true", help="a tiny smoke version (about a minute)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads per step (default 1: on a shared 2-core machine a 2-thread torch "
                        "process next to another busy process runs many times slower)")
    args = p.parse_args(argv)
    plan = QUICK if args.quick else FULL
    out = args.out_dir.resolve()
    from sccl.preflight import check_out_dir

    check_out_dir(out, "--out_dir")  # before the first step
    print(f"sccl demo: the whole pipeline on the synthetic SHD-format dataset -> {out}\n"
          f"(synthetic data: the accuracies show the pipeline working, not the paper's numbers)")
    wall = run_steps(steps(plan, out), threads=args.threads, log=print)
    print(f"\nDemo finished in {wall / 60:.1f} min.\n  tables:  {out / 'tables.md'}\n  figures: {out / 'figure'}/\n"
          f"  results: {out}/*/records/*.jsonl (and the original TXT / CSV files beside them)")
    return 0
