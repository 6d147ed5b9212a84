#!/usr/bin/env python
"""Class-incremental sweeps of the original drivers (reference-spec s4), over classes.

Strategies (--strategies, default all): naive (--naive_epochs 10); rehearsal (--reharsal_sizes 2);
lr = uncompressed latent replay (depth --lr_depth 2, --lr_epochs 100, --lr_rate 0.001);
subsample = compressed latent replay (--depths 0..3 x --latent_batches 2, --latent_subsample 10,
--nb_epochs 50). The defaults are the original drivers' literal values. Resumable (test.conf +
completed runs are skipped), stops on a failing run, --jobs N runs N at a time. Other flags
(e.g. --batch_size 8 --protocol clean --statedict_dir DIR) go to every run.
Needs the class generator's artifacts for every class (statedicts_class_incremental/testsuite.py).
"""
from pathlib import Path

from sccl.cli_util import run_main
from sccl.drivers import driver_parser, int_list, run_sweep, threads_per_job

HERE = Path(__file__).resolve().parent
STRATEGIES = ("naive", "rehearsal", "lr", "subsample")


def runs(a) -> list[list[str]]:
    out = []
    for c in a.classes:
        rc = f"--removed_class={c}"
        if "naive" in a.strategies:
            out.append(["naive.py", rc, f"--nb_epochs={a.naive_epochs}"])
        if "rehearsal" in a.strategies:
            out += [["rehearsal.py", rc, f"--reharsal_size={k}"] for k in a.reharsal_sizes]
        if "lr" in a.strategies:
            out.append(["latent_replay.py", rc, f"--latent_depth={a.lr_depth}", "--latent_batches=10",
                        f"--nb_epochs={a.lr_epochs}", f"--lr={a.lr_rate}"])
        for d in a.depths if "subsample" in a.strategies else []:
            out += [["latent_replay_subsample.py", rc, f"--latent_depth={d}", f"--nb_epochs={a.nb_epochs}",
                     f"--latent_subsample={t}", f"--latent_batches={b}"]
                    for b in a.latent_batches for t in a.latent_subsample]
    return out


def main(argv=None):
    p = driver_parser(__doc__)
    p.add_argument("--classes", type=int_list, default=list(range(20)), help="default 0..19")
    p.add_argument("--strategies", type=lambda t: t.split(","), default=list(STRATEGIES),
                   help="comma list of " + ",".join(STRATEGIES))
    p.add_argument("--naive_epochs", type=int, default=10)
    p.add_argument("--reharsal_sizes", type=int_list, default=[2])
    p.add_argument("--lr_depth", type=int, default=2)
    p.add_argument("--lr_epochs", type=int, default=100)
    p.add_argument("--lr_rate", type=float, default=0.001)
    p.add_argument("--depths", type=int_list, default=[0, 1, 2, 3])
    p.add_argument("--latent_batches", type=int_list, default=[2])
    p.add_argument("--latent_subsample", type=int_list, default=[10])
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
