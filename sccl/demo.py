"""``make demo`` / ``sccl demo``: the whole pipeline on the embedded synthetic SHD.

Every step runs the repository's real scripts as subprocesses (exactly what a user types),
with every artifact and result under ``--out_dir`` (default ``results/demo``):

1. generate the synthetic SHD-format set with the ``demo`` preset (the more learnable variant,
   docs/synthetic.md) and merge it (``heidelberg_unite_datasets.py``);
2. pretrain: speaker 0 held out (one model per seed), class 3 held out, the ten English classes;
3. sample-incremental (new speaker 0): naive, rehearsal, latent replay (LR) at depths 1-3 and
   three memory sizes at depth 1, compressed LR at 1:2 and 1:10;
4. class-incremental (new class 3): naive, rehearsal, LR at depth 2 with 1 and 2 batches per old
   class, compressed LR at 1:2 and 1:10 (faithful protocol: the memory reads the other classes'
   ``removed_x_class_<c>.pt``, written by ``--removed_only`` generator runs);
5. progressive English -> German, compressed LR at 1:2;
6. ``sccl report``: tables, figures and the check of the paper's claims.

Every continual configuration runs with 3 seeds. A sample-incremental run draws nothing random
after pretraining, so its seed is also the seed of its own speaker-0 pretraining; the
class-incremental and progressive runs share one pretraining and their seed draws the new
classes' readout weights (docs/demo_results.md).

Independent steps run side by side (``--jobs``, one torch thread each); each step's output goes
to ``<out_dir>/logs/``. On a terminal a progress bar shows elapsed time and an ETA.
"""
from __future__ import annotations

import argparse
import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from sccl.errors import ConfigError, SCCLError

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Plan:
    n_rep: int             # synthetic repetitions per speaker and word
    batch_size: int
    pretrain_epochs: int       # speaker-held-out pretrainings
    class_pretrain_epochs: int  # class-held-out pretraining
    ten_pretrain_epochs: int    # the 10 English classes (half the samples per epoch)
    pretrain_lr: float     # the generators' lr (the original's 2e-4 needs ~200 epochs)
    weight_scale: float    # init scale (the original's 0.2 leaves layer 3 silent at first: slow start)
    cl_epochs: int         # sample / class continual epochs
    progressive_epochs: int
    cl_lr: float = 1e-3    # every sample- and class-incremental run's lr
    # progressive: the original's own lr (hard-coded 2e-4 there; 1e-3 forgot the English classes
    # within the first German class) and the largest memory of its driver's sweep (1..4 batches)
    progressive_lr: float = 2e-4
    progressive_memory: int = 4
    sample_memory: tuple = (2, 4, 8)  # LR batches at depth 1 (the lines of Fig. 5a, sample panel)
    class_memory: tuple = (1, 2)      # LR batches per old class at depth 2 (Fig. 5a, class panel)
    seeds: tuple = (0, 1, 2)
    preset: str = "demo"
    speaker: int = 0
    removed_class: int = 3
    net_flags: tuple = ()  # e.g. ("--nb_hidden=16",) for the quick plan
    # what runs the time loops in every step (--kernel of the scripts): native = the compiled,
    # spike-driven loop (same spikes, predictions and losses as torch; gradients to the float32
    # floor; falls back to torch with a notice where it cannot be built). Records carry env.kernel.
    kernel: str = "native"

    @property
    def memory_batches(self) -> int:
        """The middle memory size: the one every depth / compression is compared at."""
        return self.sample_memory[len(self.sample_memory) // 2]


# pretraining sizes: the epochs after which every seed's model is >= 80 % on the demo preset at lr 1e-3
# (benchmarks/pretrain_learnability.py, docs/synthetic.md: the slowest speaker seed, 2, is at 82-85 %
# after 36-42 epochs; lr 2e-3 left it at 65 % after 36)
FULL = Plan(n_rep=16, batch_size=16, pretrain_epochs=40, class_pretrain_epochs=30, ten_pretrain_epochs=20,
            pretrain_lr=1e-3, weight_scale=0.5, cl_epochs=6, progressive_epochs=4)
QUICK = Plan(n_rep=4, batch_size=8, pretrain_epochs=2, class_pretrain_epochs=2, ten_pretrain_epochs=2, pretrain_lr=2e-3, weight_scale=1.0, cl_epochs=2,
             progressive_epochs=1, sample_memory=(1, 2), class_memory=(1,), seeds=(0, 1), progressive_memory=1,
             net_flags=("--nb_hidden=32", "--nb_steps=50"))


@dataclass
class Step:
    key: str
    title: str
    folder: str               # working directory, relative to the repository root
    argv: list
    needs: tuple = ()         # keys of the steps that must finish first
    kind: str = "other"       # data | pretrain | continual | report (for the summary line)
    # CPU seconds of the full plan's step with the native kernel at one thread, as measured in a
    # `make demo` run (the per-epoch rates below; the .done markers record each run's own): orders
    # the queue and weighs the ETA
    cost: float = 1.0
    seconds: float | None = field(default=None, compare=False)   # wall time once run
    cpu: float | None = field(default=None, compare=False)       # its process's CPU time (user + sys)


def steps(plan: Plan, out: Path) -> list[Step]:
    """Every step of the demo, in a valid order (each after the steps it needs)."""
    data = out / "data"
    sd64, sdc = out / "statedicts_64_elements", out / "statedicts_class_incremental"
    sd10 = out / "statedicts_10classes"
    net = [f"--batch_size={plan.batch_size}", *plan.net_flags, f"--kernel={plan.kernel}"]
    sp, rc = f"--speaker={plan.speaker}", f"--removed_class={plan.removed_class}"
    pre = [*net, f"--data_dir={data}", f"--lr={plan.pretrain_lr}", f"--weight_scale={plan.weight_scale}"]
    # one lr for every sample- and class-incremental run (the originals' scripts differ: 2e-4 or
    # 1e-3), so that the strategies of a panel differ only in their memory; progressive has its own
    cl = [*net, f"--override_epochs={plan.cl_epochs}", f"--lr={plan.cl_lr}"]
    n_steps = 50 if "--nb_steps=50" in plan.net_flags else 100
    half, tenth = n_steps // 2, n_steps // 10
    m = plan.memory_batches
    out_s, out_c, out_p = out / "sample_incremental", out / "class_incremental", out / "class_incremental_multiclasses"
    E = plan.pretrain_epochs
    st = [
        Step("data", f"synthetic SHD-format dataset (preset {plan.preset}, n_rep {plan.n_rep})", ".",
             ["-m", "sccl.data.synthetic", f"--out_dir={data}", f"--n_rep={plan.n_rep}", f"--preset={plan.preset}",
              "--no-progress"], kind="data", cost=4),
        Step("merge", "merge train + test", ".", ["heidelberg_unite_datasets.py", f"--data_dir={data}"],
             needs=("data",), kind="data", cost=1.5),
    ]
    for s in plan.seeds:
        st.append(Step(f"pre-speaker-s{s}", f"pretrain, speaker {plan.speaker} held out, seed {s}",
                       "statedicts_64_elements",
                       ["heidelberg_statedict_generator.py", sp, f"--nb_epochs={E}", f"--seed={s}", *pre,
                        f"--out_dir={sd64 / f'seed{s}'}"], needs=("merge",), kind="pretrain", cost=3.25 * E))
    EC = plan.class_pretrain_epochs
    st.append(Step("pre-class", f"pretrain, class {plan.removed_class} held out", "statedicts_class_incremental",
                   ["heidelberg_statedict_generator.py", rc, f"--nb_epochs={EC}", *pre, f"--out_dir={sdc}"],
                   needs=("merge",), kind="pretrain", cost=3.6 * EC))

    def batch_lists(classes, prefix: str, why: str, out_dir: Path) -> list[str]:
        """One `--removed_only` step per class (the batch lists a faithful memory reads); their keys."""
        keys = []
        for c in classes:
            keys.append(f"{prefix}{c}")
            st.append(Step(keys[-1], f"batch lists of class {c} {why}", "statedicts_class_incremental",
                           ["heidelberg_statedict_generator.py", f"--removed_class={c}", "--removed_only", *pre,
                            f"--out_dir={out_dir}"], needs=("merge",), kind="data", cost=4.5))
        return keys

    removed = batch_lists([c for c in range(20) if c != plan.removed_class], "removed-",
                          "(--removed_only, for the faithful class memory)", sdc)
    for s in plan.seeds:
        S = [sp, f"--seed={s}", *cl, f"--statedict_dir={sd64 / f'seed{s}'}", f"--out_dir={out_s}"]
        need = (f"pre-speaker-s{s}",)
        runs = [("naive", "naive", ["naive.py"]),
                (f"rehearsal ({m} raw batches)", f"rehearsal-m{m}", ["rehearsal.py", f"--reharsal_size={m}"])]
        for L in plan.sample_memory:
            runs.append((f"LR depth 1, {L} batches", f"lr-d1-m{L}",
                         ["latent_replay.py", "--latent_depth=1", f"--latent_batches={L}"]))
        for d in (2, 3):
            runs.append((f"LR depth {d}", f"lr-d{d}-m{m}", ["latent_replay.py", f"--latent_depth={d}", f"--latent_batches={m}"]))
        for t in (half, tenth):
            runs.append((f"compressed LR depth 1, 1:{n_steps // t}", f"clr-d1-t{t}",
                         ["latent_replay_subsample.py", "--latent_depth=1", f"--latent_batches={m}", f"--latent_subsample={t}"]))
        for title, key, argv in runs:
            st.append(Step(f"sample-{key}-s{s}", f"sample-incremental: {title}, seed {s}", "sample_incremental",
                           [*argv, *S], needs=need, kind="continual", cost=plan.cl_epochs * 1.4))
    for s in plan.seeds:
        C = [rc, f"--seed={s}", *cl, f"--statedict_dir={sdc}", f"--out_dir={out_c}"]
        need = ("pre-class", *removed)
        runs = [("naive", "naive", ["naive.py"]),
                ("rehearsal (compressed raw, 1 batch per class)", "rehearsal",
                 ["rehearsal.py", "--reharsal_size=1", f"--latent_subsample={tenth}"])]
        for L in plan.class_memory:
            runs.append((f"LR depth 2, {L} batch(es) per class", f"lr-d2-m{L}",
                         ["latent_replay_subsample.py", "--latent_depth=2", f"--latent_batches={L}",
                          f"--latent_subsample={n_steps}"]))
        for t in (half, tenth):
            runs.append((f"compressed LR depth 2, 1:{n_steps // t}", f"clr-d2-t{t}",
                         ["latent_replay_subsample.py", "--latent_depth=2", "--latent_batches=1",
                          f"--latent_subsample={t}"]))
        for title, key, argv in runs:
            st.append(Step(f"class-{key}-s{s}", f"class-incremental: {title}, seed {s}", "class_incremental",
                           [*argv, *C], needs=need, kind="continual", cost=plan.cl_epochs * 1.7))
    # the 10-class generator writes removed_x_class_10..19.pt, which the faithful class-incremental
    # memory reads from the single-class runs: it gets its own folder (with the English classes'
    # batch lists, which the faithful progressive run reads), so it can run at any time
    E10 = plan.ten_pretrain_epochs
    st.append(Step("pre-10classes", "pretrain, 10 English classes", "statedicts_class_incremental",
                   ["heidelberg_statedict_generator_10classes.py", f"--nb_epochs={E10}", *pre, f"--out_dir={sd10}"],
                   needs=("merge",), kind="pretrain", cost=2.1 * E10))
    english = batch_lists(range(10), "removed-en-", "for the faithful progressive run (--removed_only)", sd10)
    for s in plan.seeds:
        st.append(Step(f"progressive-s{s}", f"progressive English -> German, compressed LR 1:2, seed {s}",
                       "class_incremental_multiclasses",
                       ["latent_replay_subsample.py", f"--seed={s}", f"--statedict_dir={sd10}", f"--out_dir={out_p}",
                        *net, f"--nb_epochs={plan.progressive_epochs}", f"--lr={plan.progressive_lr}", "--latent_depth=1",
                        f"--latent_batches={plan.progressive_memory}", f"--latent_subsample={half}"],
                       needs=("pre-10classes", *english), kind="continual", cost=plan.progressive_epochs * 10 * 0.2 * plan.progressive_memory))
    st.append(Step("compression", "compression example (the report's compression figure)", ".",
                   ["-m", "sccl", "compression", f"--statedict_dir={sd64 / f'seed{plan.seeds[0]}'}",
                    f"--out={out / 'compression_example.json'}"],
                   needs=(f"pre-speaker-s{plan.seeds[0]}",), kind="data", cost=3))
    st.append(Step("report", "report: tables, figures and the claims", ".",
                   ["-m", "sccl.report", f"--results={out}", f"--out={out}", f"--figures={out / 'figure'}",
                    f"--statedict_dir={sd64 / f'seed{plan.seeds[0]}'}", f"--statedict_dir={sd64}",
                    f"--statedict_dir={sdc}", f"--statedict_dir={sd10}"],
                   needs=tuple(x.key for x in st), kind="report", cost=7))
    return st


def _command(step: Step, threads: int | None) -> list[str]:
    cmd = [sys.executable, *step.argv]
    if threads is not None and step.argv[0].endswith(".py") and "unite" not in step.argv[0]:
        cmd.append(f"--threads={threads}")
    return cmd


def _shown(step: Step, threads: int | None) -> str:
    return f"(cd {step.folder} && {shlex.join(['python', *_command(step, threads)[1:]])})"


def critical_path(st: list[Step]) -> dict[str, float]:
    """Each step's cost plus the costliest chain of steps that wait for it: running the ready
    step with the longest such chain first keeps both cores busy until the end."""
    users: dict[str, list[Step]] = {s.key: [] for s in st}
    for s in st:
        for n in s.needs:
            users[n].append(s)
    rank: dict[str, float] = {}
    for s in reversed(st):  # every step comes after the steps it needs
        rank[s.key] = s.cost + max((rank[u.key] for u in users[s.key]), default=0.0)
    return rank


def run_steps(st: list[Step], *, jobs: int, threads: int | None, log_dir: Path, log=print,
              resume: bool = False) -> float:
    """Run the steps, at most ``jobs`` at a time, each as soon as the steps it needs are done
    (the ready step with the longest chain behind it first). Each step's stdout + stderr go to ``log_dir/<key>.log``.
    Raises SCCLError (after the running steps end) when a step fails."""
    from sccl.runtime import progress

    log_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads or 1), "SCCL_NO_PROGRESS": "1"}
    env.pop("SCCL_PROGRESS", None)
    order = {s.key: i for i, s in enumerate(st)}
    rank = critical_path(st)
    pending, running, done = list(st), {}, set()
    if resume:  # steps that ended well in an earlier run (their ``.done`` marker) are not run again
        for s in list(pending):
            if (log_dir / f"{s.key}.done").exists():
                pending.remove(s)
                done.add(s.key)
        if done:
            log(f"--resume: {len(done)} steps done by an earlier run are skipped", flush=True)
    total = sum(s.cost for s in st)
    bar = progress(total=round(total, 1), desc="sccl demo", unit="",
                   bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed} elapsed, ETA {remaining}]")
    t_all, failed, n_done = time.time(), None, len(done)
    try:
        while pending or running:
            ready = [s for s in pending if all(n in done for n in s.needs)]
            ready.sort(key=lambda s: (-rank[s.key], order[s.key]))
            while ready and len(running) < jobs and failed is None:
                s = ready.pop(0)
                pending.remove(s)
                fh = open(log_dir / f"{s.key}.log", "w")
                fh.write(f"$ {_shown(s, threads)}\n")
                fh.flush()
                proc = subprocess.Popen(_command(s, threads), cwd=ROOT / s.folder, stdout=fh, stderr=subprocess.STDOUT,
                                        env=env)
                running[s.key] = (s, proc, fh, time.time())
            if failed is not None and not running:
                break
            time.sleep(0.2)
            for key, (s, proc, fh, t0) in list(running.items()):
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)   # the step's own CPU time, too
                if pid == 0:
                    continue
                rc = proc.returncode = os.waitstatus_to_exitcode(status)
                fh.close()
                del running[key]
                s.seconds = time.time() - t0
                s.cpu = usage.ru_utime + usage.ru_stime
                n_done += 1
                if rc != 0:
                    failed = failed or (s, rc)
                    continue
                done.add(key)
                (log_dir / f"{key}.done").write_text(f"{s.seconds:.1f} s wall, {s.cpu:.1f} s CPU\n")
                bar.update(s.cost)
                msg = (f"[{n_done}/{len(st)}] {s.title}: {s.seconds:.1f} s ({s.cpu:.1f} s CPU; "
                       f"total {time.time() - t_all:.0f} s)")
                bar.write(msg, file=sys.stdout) if not bar.disable else log(msg, flush=True)
            bar.set_description_str(f"sccl demo, {n_done}/{len(st)} steps", refresh=False)
    finally:
        bar.close()
        for s, proc, fh, _ in running.values():  # Ctrl-C: stop what this demo started
            proc.terminate()
            proc.wait()
            fh.close()
    if failed is not None:
        s, rc = failed
        tail = (log_dir / f"{s.key}.log").read_text(errors="replace").splitlines()[-15:]
        raise SCCLError(f"demo step '{s.title}' failed with exit status {rc}: see {log_dir / (s.key + '.log')} "
                        f"(last lines: {' | '.join(tail)}); the command is its first line")
    return time.time() - t_all


def summary(st: list[Step], wall: float, out: Path, jobs: int) -> str:
    from collections import Counter

    import resource

    n = Counter(s.kind for s in st)
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = ru.ru_utime + ru.ru_stime  # every step this demo ran (they are its child processes)
    return (f"sccl demo: {n['pretrain']} pretrainings, {n['continual']} continual runs, "
            f"{n['data']} data steps and the report in {wall / 60:.1f} min wall ({cpu / 60:.1f} min CPU, "
            f"{jobs} at a time) -> {out}/tables.md, {out}/figure/, logs in {out}/logs/")


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="sccl demo", description=__doc__.split("\n\n")[0].replace("``", ""),
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--out_dir", "--out-dir", type=Path, default=Path("results") / "demo",
                   help="folder for the data, the pretrained models, every result, the logs and the report")
    p.add_argument("--quick", action="store_true", help="a tiny smoke version (about a minute, used by the tests)")
    p.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 1),
                   help="steps run side by side, one torch thread each (the number of cores, at most 4)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads per step (on a shared 2-core machine a 2-thread torch process next to "
                        "another busy process runs many times slower)")
    p.add_argument("--kernel", choices=("auto", "torch", "exact", "native"), default=FULL.kernel,
                   help="what runs the time loops in every step: native = the compiled spike-driven loop (same "
                        "spikes and predictions as torch, gradients to the float32 floor), auto = bit-identical "
                        "to torch (docs/performance.md)")
    p.add_argument("--dry_run", "--dry-run", action="store_true", help="print the commands, run nothing")
    p.add_argument("--resume", action="store_true",
                   help="skip the steps an earlier demo in the same --out_dir finished (logs/<step>.done)")
    args = p.parse_args(argv)
    if args.jobs < 1 or args.threads < 1:
        raise ConfigError(f"--jobs and --threads must be >= 1, got {args.jobs} and {args.threads}")
    plan = QUICK if args.quick else FULL
    plan = replace(plan, kernel=args.kernel)
    out = args.out_dir.resolve()
    st = steps(plan, out)
    if not args.dry_run:
        from sccl.preflight import check_out_dir

        check_out_dir(out, "--out_dir")  # before the first step
    if args.dry_run:
        for s in st:
            print(_shown(s, args.threads))
        return 0
    print(f"sccl demo: the whole pipeline on the synthetic SHD-format dataset (preset '{plan.preset}') -> {out}\n"
          f"(synthetic data: the accuracies show the method at work on a cartoon of speech, not the paper's numbers)\n"
          f"{len(st)} steps, {args.jobs} at a time; each step's output: {out / 'logs'}/<step>.log", flush=True)
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops the steps this demo started, too
    wall = run_steps(st, jobs=args.jobs, threads=args.threads, log_dir=out / "logs", log=print, resume=args.resume)
    print(f"\nDemo finished in {wall / 60:.1f} min.\n  tables and claims: {out / 'tables.md'}\n"
          f"  figures: {out / 'figure'}/\n  results: {out}/*/records/*.jsonl (and the original TXT / CSV files beside them)")
    print(summary(st, wall, out, args.jobs))
    return 0
