#!/usr/bin/env python
"""Progressive (English -> German) sweeps of the original drivers: depths 0..3 x latent
batches 1..4 (--depths, --latent_batches), uncompressed and/or compressed (--variants
plain,subsample). The compressed runs use --latent_subsample (default 50, the paper's 1:2; the
original driver silently ran the script default 20 = 1:5: pass --latent_subsample 20 for that).
Resumable (test.conf + completed runs are skipped), stops on a failing run, --jobs N.
Other flags (e.g. --nb_epochs 20 --protocol clean --batch_size 8) go to every run.
"""
from pathlib import Path

from sccl.cli_util import run_main
from sccl.drivers import driver_parser, int_list, run_sweep, threads_per_job

HERE = Path(__file__).resolve().parent
VARIANTS = ("plain", "subsample")


def main(argv=None):
    p = driver_parser(__doc__)
    p.add_argument("--depths", type=int_list, default=[0, 1, 2, 3])
    p.add_argument("--latent_batches", type=int_list, default=[1, 2, 3, 4])
    p.add_argument("--variants", type=lambda t: t.split(","), default=list(VARIANTS))
    p.add_argument("--latent_subsample", type=int_list, default=[50])
    args, extra = p.parse_known_args(argv)
    bad = set(args.variants) - set(VARIANTS)
    if bad:
        p.error(f"unknown variant {sorted(bad)}; choose from {','.join(VARIANTS)}")
    runs = []
    for d in args.depths:
        for b in args.latent_batches:
            if "plain" in args.variants:
                runs.append(["latent_replay.py", f"--latent_depth={d}", f"--latent_batches={b}"])
            if "subsample" in args.variants:
                runs += [["latent_replay_subsample.py", f"--latent_depth={d}", f"--latent_batches={b}",
                          f"--latent_subsample={t}"] for t in args.latent_subsample]
    tail = [f"--threads={threads_per_job(args.jobs)}", "--skip_done", *extra]
    return run_sweep([r + tail for r in runs], cwd=HERE, conf=HERE / args.conf, jobs=args.jobs,
                     dry_run=args.dry_run)


if __name__ == "__main__":
    run_main(main)
