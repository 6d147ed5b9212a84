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
from sccl.registry import PROTOCOLS

ORDERS = ("new_then_replay", "interleave")  # sccl.strategies.ORDERS (not imported: it needs torch)


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
    from sccl.preflight import check_out_dir

    check_out_dir(args.out_dir, "--out_dir")  # before the data is read or anything is trained
    device = select_device(args.device)
    set_threads(args.threads)
    source = open_merged(args.data_dir, synthetic=args.synthetic, synthetic_seed=0,
                         synthetic_reps=args.synthetic_reps, nb_inputs=cfg.net.nb_inputs,
                         log=lambda m: print(m, file=sys.stderr))
    t0 = time.time()
    rec = run_pretrain(cfg, source, args.out_dir, device, log=lambda m: print(m, flush=True))
    # the closing line goes to stderr: stdout keeps exactly the original's printed lines
    print(pretrain_summary(cfg, {**rec, "wall_s": time.time() - t0}, args.out_dir), file=sys.stderr, flush=True)
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


def _mark_given(p: argparse.ArgumentParser) -> None:
    """Defaults that a run must tell from given values (sccl.manifest.was_given)."""
    from sccl.manifest import FIXED, mark_defaults

    mark_defaults(p, (*FIXED, "nb_epochs", "latent_batches"))


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
    add_flag(p, "protocol", choices=PROTOCOLS, default="faithful",
             help="faithful: the original's data flow (default); clean: the fixes of docs/protocols.md")
    add_flag(p, "order", choices=ORDERS, default="new_then_replay",
             help="batch order per epoch (default: new batches, then replay batches, as the original)")
    add_flag(p, "skip_done", action="store_true",
             help="do nothing when this run's records file already exists (used by the testsuites to resume)")
    _mark_given(p)


def effective_epochs(args: argparse.Namespace) -> int:
    from sccl.manifest import plain

    if args.override_epochs is not None:
        return args.override_epochs
    hard = getattr(args, "_hard_epochs", None)
    return plain(args.nb_epochs) if hard is None else hard


RUNS = {"sample": "sccl.experiments.sample_incremental", "class": "sccl.experiments.class_incremental",
        "progressive": "sccl.experiments.progressive"}


def continual_main(args: argparse.Namespace, *, experiment: str, strategy: str, held_out: int | None,
                   depth: int | None = None, memory_batches: int = 0, n_frames: int | None = None) -> int:
    """A continual script's main: ``strategy`` is a :mod:`sccl.registry` name. Checks everything
    that can be checked before working (flags, output folder, the pretraining set and its
    network), then claims the run and runs it (docs/integrity.md)."""
    from importlib import import_module

    from sccl import preflight, registry, runclaim
    from sccl.config import check_depth
    from sccl.manifest import reading_for
    from sccl.results import records_path, run_done
    from sccl.runtime import select_device, set_threads

    if depth is not None:
        check_depth(depth)
    preflight.check_out_dir(args.out_dir, "--out_dir", dirs=["records"])
    cfg, pre = resolved_config(args, experiment=experiment, strategy=strategy, held_out=held_out, depth=depth,
                               memory_batches=memory_batches, n_frames=n_frames)
    check_memory_flag(args, registry.get(strategy), cfg.memory_batches)  # the memory the run really keeps
    ignored_flag_notices(args, cfg.memory_batches)

    def done() -> bool:
        if args.skip_done and run_done(args.out_dir, cfg.run_id):
            print(f"already done: {records_path(args.out_dir, cfg.run_id)}")
            return True
        return False

    if done():
        return 0
    with runclaim.claim(args.out_dir, cfg.run_id) as waited, reading_for(pre):
        if waited and done():  # the other copy of this run finished it
            return 0
        device = select_device(args.device)
        set_threads(args.threads)
        t0 = time.time()
        records = import_module(RUNS[experiment]).run(cfg, args.statedict_dir, args.out_dir, device,
                                                      log=lambda m: print(m, flush=True))
        print(continual_summary(cfg, records, time.time() - t0, args.out_dir), file=sys.stderr, flush=True)
    return 0


def continual_summary(cfg, records, wall: float, out_dir: Path) -> str:
    """The one closing line: the run, its final accuracies, wall time, where the records are."""
    from sccl.results import records_path

    last = (records or [{}])[-1]
    acc = ", ".join(f"{k} {100 * last[f'{k}_acc']:.1f} %" for k in ("old", "new", "total", "previous", "global")
                    if last.get(f"{k}_acc") is not None)
    return (f"{cfg.run_id}: {cfg.nb_epochs} epochs" + (f", final {acc}" if acc else "") +
            f", {wall:.1f} s -> {records_path(out_dir, cfg.run_id)} (+ the original TXT / CSV in {out_dir})")


PRETRAINING_OF = {"sample": "speaker", "class": "class", "progressive": "10classes"}


def pretraining_tag(mode: str, held_out: int | None) -> str:
    from sccl import artifacts

    if mode == "speaker":
        return artifacts.speaker_tag(held_out)
    if mode == "class":
        return artifacts.class_tag(held_out)
    return artifacts.TEN_CLASSES_TAG


def resolved_config(args: argparse.Namespace, *, experiment: str, strategy: str, held_out: int | None,
                    depth, memory_batches: int, n_frames):
    """The run's ContinualConfig with the network taken from the verified pretraining manifest
    and the run's inputs (dataset fingerprint, manifest hash) in its identity."""
    from sccl import artifacts, manifest, registry
    from sccl.config import check_subsample
    from sccl.experiments.continual import ContinualConfig
    from sccl.manifest import plain

    mode = PRETRAINING_OF[experiment]
    tag = pretraining_tag(mode, held_out)
    names = artifacts.artifact_names(tag, class_style=mode == "class")
    if held_out is not None and held_out < 0:
        ContinualConfig.of(registry.get(strategy), experiment=experiment, held_out=held_out).validate()
    pre = manifest.load_verified(args.statedict_dir, tag, made_by=artifacts.made_by(mode, held_out),
                                 needs=[names["state_dict"], names["pretrain_x"], names["pretrain_test_x"]])
    fixed = manifest.resolve_net(args, pre)
    net = _net(args, fixed)
    if n_frames is not None:
        check_subsample(n_frames, net.nb_steps)
    cfg = ContinualConfig.of(registry.get(strategy), experiment=experiment, held_out=held_out, net=net,
                             batch_size=fixed["batch_size"], nb_epochs=effective_epochs(args), lr=args.lr,
                             depth=depth, memory_batches=plain(memory_batches), n_frames=plain(n_frames),
                             seed=args.seed, protocol=args.protocol, order=args.order,
                             dataset_fp=pre.dataset_fingerprint, pretraining=pre.hash)
    return cfg.validate(), pre


def _memory_flag(args: argparse.Namespace) -> str:
    return "--reharsal_size" if hasattr(args, "reharsal_size") else "--latent_batches"


def check_memory_flag(args: argparse.Namespace, strategy, memory_batches: int) -> None:
    """A strategy with a replay memory and a zero-size one would run without memory while
    reporting a memory (nan accuracy, 0 bytes): refuse it, naming the script without memory."""
    from sccl.errors import ConfigError

    if strategy.replays and memory_batches < 1:
        flag = _memory_flag(args)
        raise ConfigError(f"{flag} {memory_batches} leaves this script without a replay memory: choose "
                          f"{flag} >= 1, or run naive.py (the run without memory)")


def ignored_flag_notices(args: argparse.Namespace, memory_batches: int, *, say=None) -> list[str]:
    """One line on stderr for each flag the script accepts and ignores, when it is given."""
    from sccl.manifest import plain, was_given

    say = say or (lambda m: print(m, file=sys.stderr, flush=True))
    lines = []
    epochs = effective_epochs(args)
    if was_given(args, "nb_epochs") and args.nb_epochs != epochs and args.override_epochs is None:
        lines.append(f"notice: --nb_epochs {plain(args.nb_epochs)} is ignored: this script trains {epochs} epochs, "
                     f"as the original (use --override_epochs {plain(args.nb_epochs)} to change that)")
    if hasattr(args, "latent_batches") and was_given(args, "latent_batches") and args.latent_batches != memory_batches:
        lines.append(f"notice: --latent_batches {plain(args.latent_batches)} is ignored: this script keeps "
                     f"{memory_batches} batch(es) per old class, as the original")
    for line in lines:
        say(line)
    return lines


def mark_fixed(p: argparse.ArgumentParser) -> None:
    """For scripts that read a pretraining: tell given network flags from defaults."""
    from sccl.manifest import FIXED, mark_defaults

    mark_defaults(p, FIXED)


def pretrained_net(args: argparse.Namespace, mode: str, held_out: int | None, folder: Path):
    """The NetConfig of the verified pretraining ``(mode, held_out)`` in ``folder``, the given
    network flags checked against it (the analysis scripts; see :func:`resolved_config`)."""
    from sccl import artifacts, manifest

    tag = pretraining_tag(mode, held_out)
    names = artifacts.artifact_names(tag, class_style=mode == "class")
    pre = manifest.load_verified(folder, tag, made_by=artifacts.made_by(mode, held_out),
                                 needs=[names["state_dict"], names["pretrain_test_x"]])
    return _net(args, manifest.resolve_net(args, pre))


def _net(args: argparse.Namespace, fixed: dict):
    """NetConfig of the pretraining's fixed values and the run's own (reg_1, reg_2)."""
    from sccl import manifest
    from sccl.config import NetConfig

    return NetConfig(**{k: (fixed[k] if k in fixed else manifest.plain(getattr(args, k)))
                        for k in manifest.net_fields()}).validate()
