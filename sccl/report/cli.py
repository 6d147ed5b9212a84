"""Tables and figures from a results folder.

    python -m sccl.report --results DIR [--out DIR] [--figures DIR] [--statedict_dir DIR ...]

Reads every ``records/*.jsonl`` under ``--results`` (recursively) and every pretraining
``meta_*.json`` under ``--results`` and the ``--statedict_dir`` folders; writes
``<out>/tables.md``, ``<out>/tables.csv`` and the PNG figures into ``--figures`` (default
``<out>/figure``); prints where they are. ``--out`` defaults to ``--results``. The compression
illustration needs a statedict folder with ``state_dict_<tag>.pt`` and ``pretrain_x_<tag>.pt``.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from sccl.errors import SCCLError


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m sccl.report", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--results", type=Path, required=True, help="folder searched for records/*.jsonl (recursively)")
    p.add_argument("--out", type=Path, default=None, help="where tables.md / tables.csv go (default: --results)")
    p.add_argument("--figures", type=Path, default=None, help="where the PNGs go (default: <out>/figure)")
    p.add_argument("--statedict_dir", type=Path, action="append", default=[],
                   help="a pretraining folder: its meta_*.json feed the pretraining table, its weights the "
                        "compression figure (repeatable; the first one with weights is used; default: none)")
    p.add_argument("--speaker", type=int, default=None,
                   help="compression figure: use state_dict_speaker_<S>.pt (default: the first state dict found)")
    p.add_argument("--depth", type=int, default=1, choices=(1, 2, 3), help="compression figure: latent depth (default: 1)")
    p.add_argument("--n_frames", type=int, default=None,
                   help="compression figure: stored frames T' (default nb_steps/4, the paper's 1:4)")
    p.add_argument("--no_figures", action="store_true", help="write the tables only (default: off)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads for the compression figure (default: torch's choice)")
    return p


def make_report(results: Path, out: Path | None = None, figures: Path | None = None, *,
                statedict_dirs: list[Path] = (), speaker: int | None = None, depth: int = 1,
                n_frames: int | None = None, with_figures: bool = True, log=print) -> dict:
    """Read the records under ``results`` and write the tables and figures.

    Returns ``{"tables": [md, csv], "figures": [png, ...], "notes": [...]}``; raises
    :class:`SCCLError` when ``results`` holds no records.
    """
    from sccl.report import tables
    from sccl.report.runs import sections
    from sccl.results import read_records

    results = Path(results)
    if not results.is_dir():
        raise SCCLError(f"--results {results} is not a folder")
    try:
        records = read_records(results)
    except ValueError as e:  # a truncated / corrupt JSON line
        raise SCCLError(f"a records file under {results} is not valid JSON lines ({e})") from None
    if not records:
        raise SCCLError(f"no result records (records/*.jsonl) under {results}: run an experiment with "
                        f"--out_dir inside it first")
    out = Path(out) if out is not None else results
    fig_dir = Path(figures) if figures is not None else out / "figure"
    secs, notes = sections(records)
    metas = tables.find_meta([results, *statedict_dirs])
    md, csv_path = tables.write(secs, metas, out, source=str(results), notes=notes)
    pngs: list[Path] = []
    if with_figures:
        from sccl.report import figures as F

        pngs = F.write_all(secs, fig_dir)
        folders = [Path(d) for d in statedict_dirs] or sorted({p.parent for p, _ in metas})
        note = "compression figure skipped: no --statedict_dir (and no statedict folder under --results)"
        for folder in folders:
            png, note = F.compression_figure(folder, fig_dir / "compression.png", speaker=speaker, depth=depth,
                                             n_frames=n_frames)
            if png is not None:
                pngs.append(png)
                break
        notes.append(note)
    n_runs = sum(g.n for s in secs for g in s.groups)
    log(f"{len(records)} records, {n_runs} runs in {len(secs)} section(s): "
        + ", ".join(s.title for s in secs))
    log(f"tables: {md}")
    log(f"        {csv_path}")
    for p in pngs:
        log(f"figure: {p}")
    for n in notes:
        log(f"note: {n}")
    return {"tables": [md, csv_path], "figures": pngs, "notes": notes}


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    make_report(args.results, args.out, args.figures, statedict_dirs=args.statedict_dir, speaker=args.speaker,
                depth=args.depth, n_frames=args.n_frames, with_figures=not args.no_figures)
    return 0
