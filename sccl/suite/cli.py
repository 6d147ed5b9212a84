"""``python -m sccl.suite`` (``sccl grid``): a whole grid -- data, pretrainings, continual runs --
with dependencies, resumable, on a local process pool or on SLURM.

    python -m sccl.suite --paper --out_dir results/paper --jobs 2
    python -m sccl.suite --speakers 0,1 --classes 0,1 --progressive --strategies all --tiny \\
        --synthetic --synthetic_reps 4 --batch_size 8 --nb_hidden 16 --nb_steps 20 --weight_scale 1.0 \\
        --pretrain_epochs 2 --override_epochs 1 --executor local --jobs 2 --out_dir /tmp/grid
    python -m sccl.suite --paper --executor slurm --partition gpu --gpus 1 --time 4:00:00 --mem 16G

Flags it does not know go to every run (network, data and seed flags such as --batch_size,
--nb_hidden, --nb_steps, --weight_scale, --seed, --device); --override_epochs, --protocol,
--order and --lr go to the continual runs only. Rerunning the same command resumes: finished
runs are skipped, failed ones are retried. See docs/sweeps.md.
"""
from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from sccl.registry import PROTOCOLS
from sccl.suite import sweeps
from sccl.suite.executors import add_executor_args, make_executor
from sccl.suite.grids import GridOptions, N_CLASSES, build_grid, split_common
from sccl.suite.runner import dry_run, raise_on_failure, run_grid
from sccl.suite.spec import ROOT
from sccl.suite.state import GridState

PREFIX = {"sample": (sweeps.SAMPLE_OPTIONS, "sample_"), "class": (sweeps.CLASS_OPTIONS, "class_"),
          "progressive": (sweeps.PROGRESSIVE_OPTIONS, "progressive_")}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m sccl.suite", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    g = p.add_argument_group("what to run")
    g.add_argument("--paper", action="store_true",
                   help=f"the paper's grid: speakers 0..11, classes 0..{N_CLASSES - 1}, progressive")
    g.add_argument("--speakers", type=sweeps.int_list, default=None, help="sample-incremental: held-out speakers, e.g. 0..11")
    g.add_argument("--classes", type=sweeps.int_list, default=None, help="class-incremental: held-out classes, e.g. 0..19")
    g.add_argument("--progressive", action="store_true", help="the progressive (English -> German) runs")
    g.add_argument("--strategies", type=sweeps.str_list, default=["all"],
                   help="sample / class strategies: all (default: the paper's) or a comma list of "
                        + ",".join(dict.fromkeys(sweeps.SAMPLE_CHOICES + sweeps.CLASS_CHOICES)))
    g.add_argument("--tiny", action="store_true",
                   help="one setting per strategy (depth 2, 1 memory batch, 1:2 / 1:10 ratios for 20 steps, "
                        "1 epoch): a smoke grid; sweep flags below still override it")
    g.add_argument("--protocol", choices=PROTOCOLS, default="faithful",
                   help="continual runs' protocol (clean needs no batch-list runs)")
    g.add_argument("--pretrain_epochs", "--pretrain-epochs", type=int, default=200,
                   help="epochs of every pretraining (default 200, the original)")
    g.add_argument("--override_epochs", "--override-epochs", type=int, default=None,
                   help="epochs of every continual run (default: each script's own)")
    g.add_argument("--pretrain_args", default="", help="extra flags for the generators only, one string")
    g.add_argument("--continual_args", default="", help="extra flags for the continual scripts only, one string")
    d = p.add_argument_group("data and output")
    d.add_argument("--out_dir", "--out-dir", type=Path, default=ROOT / "results" / "grid",
                   help="everything goes here (default results/grid)")
    d.add_argument("--data_dir", "--data-dir", default=None,
                   help="SHD folder (default ~/data/hdspikes); with --synthetic: where the synthetic set goes "
                        "(default OUT/data)")
    d.add_argument("--synthetic", action="store_true", help="sccl's synthetic SHD-format set instead of SHD")
    d.add_argument("--synthetic_reps", "--synthetic-reps", type=int, default=None,
                   help="synthetic repetitions per speaker and word (default 40)")
    d.add_argument("--dry_run", "--dry-run", action="store_true", help="list the runs in order, run nothing")
    add_executor_args(p)
    p.add_argument("--threads", type=int, default=None,
                   help="local: torch threads per run (default cores // --jobs)")
    for exp, (options, prefix) in PREFIX.items():
        sg = p.add_argument_group(f"{exp} sweep (the original driver's lists by default)")
        for o in options:
            sg.add_argument(f"--{prefix}{o.name}", type=o.type, default=None,
                            help=f"{o.help} (default {','.join(map(str, o.default)) if isinstance(o.default, list) else o.default})")
    return p


def options_from_args(a: argparse.Namespace, extra: list[str]) -> GridOptions:
    sweep = {}
    for exp, (options, prefix) in PREFIX.items():
        values = {o.name: o.default for o in options}
        if a.tiny:
            values.update(sweeps.TINY[exp])
        for o in options:
            v = getattr(a, prefix + o.name)
            if v is not None:
                values[o.name] = v
        sweep[exp] = argparse.Namespace(**values)
    common, continual = split_common(extra)
    o = GridOptions(
        speakers=a.speakers if a.speakers is not None else (list(range(12)) if a.paper else []),
        classes=a.classes if a.classes is not None else (list(range(N_CLASSES)) if a.paper else []),
        progressive=a.progressive or a.paper, strategies=a.strategies,
        sample=sweep["sample"], klass=sweep["class"], prog=sweep["progressive"], protocol=a.protocol,
        pretrain_epochs=a.pretrain_epochs, override_epochs=a.override_epochs, common=common,
        pretrain_args=shlex.split(a.pretrain_args), continual_args=[*continual, *shlex.split(a.continual_args)],
        data_dir=a.data_dir, synthetic=a.synthetic, synthetic_reps=a.synthetic_reps)
    return o


def main(argv=None) -> int:
    p = parser()
    a, extra = p.parse_known_args(argv)
    stray = [x for x in extra if x.startswith("-") and not x.startswith("--")]
    if stray:
        p.error(f"unrecognized arguments: {' '.join(stray)}")
    try:
        grid = build_grid(options_from_args(a, extra))
    except argparse.ArgumentTypeError as exc:
        p.error(str(exc))
    out = a.out_dir.expanduser().resolve()
    state = GridState(out)
    if not a.dry_run:
        from sccl.preflight import check_out_dir

        check_out_dir(out, "--out_dir")  # before any run starts
    if a.dry_run:
        dry_run(grid, out, state if state.dir.exists() else None)
        return 0
    executor = make_executor(a, submitit_folder=state.dir / "submitit", state=state)
    if a.threads is not None:
        if a.threads < 1:
            p.error("--threads must be >= 1")
        executor.threads = a.threads
    summary = run_grid(grid, out, executor, state=state)
    raise_on_failure(summary)
    return 0
