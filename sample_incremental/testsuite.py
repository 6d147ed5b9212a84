#!/usr/bin/env python
"""Sample-incremental sweeps of the original drivers (reference-spec s4), over speakers.

Strategies (--strategies, default all): naive; rehearsal (--reharsal_sizes, default 1..5);
lr = latent replay (--depths 1..3 x --latent_batches 40, 50 epochs); subsample = compressed,
"new" (--subsample_depths 0 x 40 batches, --latent_subsample 10); sums = compressed, "sums"
(--sums_depths 0..3 x 40 batches, --sums_subsample 1). The defaults are the original drivers'
literal lists. Resumable (test.conf + completed runs are skipped), stops on a failing run,
--jobs N runs N at a time. Other flags (e.g. --batch_size 8 --statedict_dir DIR) go to every run.
Example: python testsuite.py --speakers 0..11 --strategies lr,subsample --jobs 2
"""
from pathlib import Path

from sccl.cli_util import run_main
from sccl.drivers import driver_parser, int_list, run_sweep, threads_per_job

HERE = Path(__file__).resolve().parent
STRATEGIES = ("naive", "rehearsal", "lr", "subsample", "sums")


def runs(a) -> list[list[str]]:
    out = []
    for s in a.speakers:
        sp = f"--speaker={s}"
        if "naive" in a.strategies:
            out.append(["naive.py", sp])
        if "rehearsal" in a.strategies:
            out += [["rehearsal.py", sp, f"--reharsal_size={k}"] for k in a.reharsal_sizes]
        for d in a.depths if "lr" in a.strategies else []:
            out += [["latent_replay.py", sp, f"--latent_depth={d}", f"--latent_batches={b}",
                     f"--nb_epochs={a.nb_epochs}"] for b in a.latent_batches]
        for d in a.subsample_depths if "subsample" in a.strategies else []:
            out += [["latent_replay_subsample.py", sp, f"--latent_depth={d}", f"--nb_epochs={a.nb_epochs}",
                     f"--latent_batches={b}", f"--latent_subsample={t}"]
                    for b in a.latent_batches for t in a.latent_subsample]
        for d in a.sums_depths if "sums" in a.strategies else []:
            out += [["latent_replay_subsample.py", sp, f"--latent_depth={d}", f"--nb_epochs={a.nb_epochs}",
                     f"--latent_batches={b}", f"--latent_subsample={t}", "--pooling=sum"]
                    for b in a.latent_batches for t in a.sums_subsample]
    return out


def main(argv=None):
    p = driver_parser(__doc__)
    p.add_argument("--speakers", type=int_list, default=list(range(12)), help="default 0..11")
    p.add_argument("--strategies", type=lambda t: t.split(","), default=list(STRATEGIES),
                   help="comma list of " + ",".join(STRATEGIES))
    p.add_argument("--reharsal_sizes", type=int_list, default=[1, 2, 3, 4, 5])
    p.add_argument("--depths", type=int_list, default=[1, 2, 3])
    p.add_argument("--latent_batches", type=int_list, default=[40])
    p.add_argument("--subsample_depths", type=int_list, default=[0])
    p.add_argument("--latent_subsample", type=int_list, default=[10])
    p.add_argument("--sums_depths", type=int_list, default=[0, 1, 2, 3])
    p.add_argument("--sums_subsample", type=int_list, default=[1])
    p.add_argument("--nb_epochs", type=int, default=50)
    args, extra = p.parse_known_args(argv)
    bad = set(args.strategies) - set(STRATEGIES)
    if bad:
        p.error(f"unknown strategy {sorted(bad)}; choose from {','.join(STRATEGIES)}")
    tail = [f"--threads={threads_per_job(args.jobs)}", "--skip_done", *extra]
    return run_sweep([r + tail for r in runs(args)], cwd=HERE, conf=HERE / args.conf,
                     jobs=args.jobs, dry_run=args.dry_run)


if __name__ == "__main__":
    run_main(main)
