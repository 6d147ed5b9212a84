"""What the scripts in the experiment folders share: data / output flags and the generator main.

A script is a page: build the parser from ``sccl.config`` and the helpers below, then call
one function here. Argparse stays in the scripts; the library takes config records.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from sccl.config import add_common_args, add_flag, add_run_args, net_config_from_args


def add_data_args(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("data")
    add_flag(g, "data_dir", default=None,
             help="folder with shd_merged.h5 (or shd_train.h5 + shd_test.h5); default ~/data/hdspikes")
    add_flag(g, "synthetic", action="store_true",
             help="use sccl's synthetic SHD-format set (generated on first use) instead of the real SHD")
    add_flag(g, "synthetic_reps", type=int, default=40,
             help="repetitions per speaker and word of the synthetic set (default 40)")


def add_out_arg(parser: argparse.ArgumentParser, default: Path, what: str) -> None:
    add_flag(parser, "out_dir", type=Path, default=default, help=f"{what} (default: {default})")


def pretrain_parser(description: str, held_out_flag: str | None, script_dir: Path) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    add_common_args(p)
    if held_out_flag:
        add_flag(p, held_out_flag, type=int, default=0)
    if held_out_flag == "removed_class":
        add_flag(p, "removed_only", action="store_true",
                 help="only write removed_{x,y}_class_<c>.pt (the batch lists other classes' faithful "
                      "class-incremental runs replay); no pretraining")
    add_data_args(p)
    add_run_args(p)
    add_flag(p, "lr", type=float, default=2e-4, help="learning rate (the original hard-codes 2e-4)")
    add_out_arg(p, script_dir, "folder for the weights and batch lists")
    return p


def pretrain_main(args: argparse.Namespace, mode: str, held_out: int | None) -> int:
    from sccl.data.source import open_merged
    from sccl.experiments.pretrain import PretrainConfig, run_pretrain
    from sccl.runtime import select_device, set_threads

    cfg = PretrainConfig(mode=mode, held_out=held_out, net=net_config_from_args(args),
                         batch_size=args.batch_size, nb_epochs=args.nb_epochs, lr=args.lr,
                         seed=args.seed, removed_only=getattr(args, "removed_only", False)).validate()
    device = select_device(args.device)
    set_threads(args.threads)
    source = open_merged(args.data_dir, synthetic=args.synthetic, synthetic_seed=0,
                         synthetic_reps=args.synthetic_reps, nb_inputs=cfg.net.nb_inputs,
                         log=lambda m: print(m, file=sys.stderr))
    t0 = time.time()
    rec = run_pretrain(cfg, source, args.out_dir, device, log=lambda m: print(m, flush=True))
    print(pretrain_summary(cfg, {**rec, "wall_s": time.time() - t0}, args.out_dir), flush=True)
    return 0


def pretrain_summary(cfg, rec: dict, out_dir: Path) -> str:
    """The one closing line: what ran, its accuracy, wall time, where the files are."""
    what = {"speaker": f"speaker {cfg.held_out} held out", "class": f"class {cfg.held_out} held out",
            "10classes": "10 English classes"}[cfg.mode]
    if rec.get("test_accuracy") is None:  # --removed_only
        return f"pretrain {what} (--removed_only): batch lists written in {rec.get('wall_s', 0):.1f} s -> {out_dir}"
    return (f"pretrain {what}, seed {cfg.seed}, {cfg.nb_epochs} epochs on {rec.get('dataset')}: test accuracy "
            f"{100 * rec['test_accuracy']:.2f} % in {rec['wall_s']:.1f} s -> {out_dir} "
            f"(meta_{cfg.tag}.json and the weights / batch lists)")


# --------------------------------------------------------------------------- continual scripts

def continual_parser(description: str, *, held_out_flag: str | None, nb_epochs: int, lr: float,
                     lr_flag_original: bool, statedict_dir: Path, script_dir: Path,
                     hard_epochs: int | None = None) -> argparse.ArgumentParser:
    """Parser of a continual-learning script: the 13 common flags (+ the held-out flag), then the
    caller adds the script's own original flags, then :func:`add_continual_extras`."""
    p = argparse.ArgumentParser(description=description)
    add_common_args(p, nb_epochs=nb_epochs)
    if held_out_flag:
        add_flag(p, held_out_flag, type=int, default=0)
    p.set_defaults(_lr_default=lr, _lr_original=lr_flag_original, _hard_epochs=hard_epochs,
                   _statedict_dir=statedict_dir, _script_dir=script_dir)
    return p


def add_continual_extras(p: argparse.ArgumentParser) -> None:
    """sccl's additions, after the original flags."""
    d = p.get_default
    if not d("_lr_original"):
        add_flag(p, "lr", type=float, default=d("_lr_default"),
                 help=f"learning rate (the original hard-codes {d('_lr_default'):g} in this script)")
    hard = d("_hard_epochs")
    add_flag(p, "override_epochs", type=int, default=None,
             help="train this many epochs, whatever --nb_epochs says" + (
                 f" (this script, as the original, hard-codes {hard} epochs and ignores --nb_epochs)" if hard else ""))
    add_run_args(p)
    add_flag(p, "statedict_dir", type=Path, default=d("_statedict_dir"),
             help=f"folder with the pretraining artifacts (default: {d('_statedict_dir')})")
    add_flag(p, "out_dir", type=Path, default=d("_script_dir"),
             help="folder for the TXT / CSV / records files (default: this script's folder)")
    add_flag(p, "protocol", choices=("faithful", "clean"), default="faithful",
             help="faithful: the original's data flow (default); clean: the fixes of docs/protocols.md")
    add_flag(p, "order", choices=("new_then_replay", "interleave"), default="new_then_replay",
             help="batch order per epoch (default: new batches, then replay batches, as the original)")
    add_flag(p, "skip_done", action="store_true",
             help="do nothing when this run's records file already exists (used by the testsuites to resume)")


def effective_epochs(args: argparse.Namespace) -> int:
    if args.override_epochs is not None:
        return args.override_epochs
    hard = getattr(args, "_hard_epochs", None)
    return args.nb_epochs if hard is None else hard


def continual_main(args: argparse.Namespace, *, experiment: str, script: str, held_out: int | None,
                   depth: int | None = None, memory_batches: int = 0, n_frames: int | None = None,
                   pooling: str = "or", run=None) -> int:
    from sccl.config import check_depth, check_subsample
    from sccl.experiments.continual import ContinualConfig
    from sccl.runtime import select_device, set_threads

    if depth is not None:
        check_depth(depth)
    if n_frames is not None:
        check_subsample(n_frames, args.nb_steps)
    cfg = ContinualConfig(experiment=experiment, script=script, held_out=held_out,
                          net=net_config_from_args(args), batch_size=args.batch_size,
                          nb_epochs=effective_epochs(args), lr=args.lr, depth=depth,
                          memory_batches=memory_batches, n_frames=n_frames, pooling=pooling,
                          seed=args.seed, protocol=args.protocol, order=args.order).validate()
    from sccl.results import records_path, run_done

    if args.skip_done and run_done(args.out_dir, cfg.run_id):
        print(f"already done: {records_path(args.out_dir, cfg.run_id)}")
        return 0
    device = select_device(args.device)
    set_threads(args.threads)
    if run is None:
        from sccl.experiments.sample_incremental import run
    t0 = time.time()
    records = run(cfg, args.statedict_dir, args.out_dir, device, log=lambda m: print(m, flush=True))
    print(continual_summary(cfg, records, time.time() - t0, args.out_dir), flush=True)
    return 0


def continual_summary(cfg, records, wall: float, out_dir: Path) -> str:
    """The one closing line: the run, its final accuracies, wall time, where the records are."""
    from sccl.results import records_path

    last = (records or [{}])[-1]
    acc = ", ".join(f"{k} {100 * last[f'{k}_acc']:.1f} %" for k in ("old", "new", "total", "previous", "global")
                    if last.get(f"{k}_acc") is not None)
    return (f"{cfg.run_id}: {cfg.nb_epochs} epochs" + (f", final {acc}" if acc else "") +
            f", {wall:.1f} s -> {records_path(out_dir, cfg.run_id)} (+ the original TXT / CSV in {out_dir})")
