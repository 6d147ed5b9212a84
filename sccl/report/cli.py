"""Tables and figures from a results folder.

    python -m sccl.report --results DIR [--out DIR] [--figures DIR] [--statedict_dir DIR ...]

Reads every ``records/*.jsonl`` under ``--results`` (recursively) and every pretraining
``meta_*.json`` under ``--results`` and the ``--statedict_dir`` folders; writes
``<out>/tables.md``, ``<out>/tables.csv`` and the PNG figures into ``--figures`` (default
``<out>/figure``); prints where they are. ``--out`` defaults to ``--results``. The compression
illustration is drawn from a ``compression_example.json`` under ``--results`` or in a
``--statedict_dir`` (written by ``sccl compression --statedict_dir DIR --out FILE``): the report
reads records only, never a model.
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
                   help="a pretraining folder: its meta_*.json feed the pretraining table, its "
                        "compression_example.json the compression figure (repeatable; default: none)")
    p.add_argument("--no_figures", action="store_true", help="write the tables only (default: off)")
    p.add_argument("--threads", type=int, default=None, help=argparse.SUPPRESS)  # accepted; the report uses no torch
    return p


COMPRESSION_EXAMPLE = "compression_example.json"


def find_compression_example(folders) -> dict | None:
    """The first ``compression_example.json`` under ``folders`` (the data of the compression figure)."""
    import json

    for folder in folders:
        for path in sorted(Path(folder).rglob(COMPRESSION_EXAMPLE)) if Path(folder).is_dir() else []:
            try:
                return json.loads(path.read_text())
            except (OSError, ValueError):
                continue
    return None


def make_report(results: Path, out: Path | None = None, figures: Path | None = None, *,
                statedict_dirs: list[Path] = (), with_figures: bool = True, log=print) -> dict:
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
    from sccl.preflight import check_out_dir

    check_out_dir(out, "--out", files=["tables.md", "tables.csv"])  # before anything is rendered
    if with_figures:
        check_out_dir(fig_dir, "--figures")
    secs, notes = sections(records)
    metas = tables.find_meta([results, *statedict_dirs])
    md, csv_path = tables.write(secs, metas, out, source=str(results), notes=notes)
    pngs: list[Path] = []
    if with_figures:
        from sccl.report import figures as F

        pngs = F.write_all(secs, fig_dir)
        example = find_compression_example([results, *statedict_dirs])
        png, note = F.compression_figure(example, fig_dir / "compression.png")
        if png is not None:
            pngs.append(png)
        elif example is None:
            note = (f"compression figure skipped: no {COMPRESSION_EXAMPLE} under --results or a --statedict_dir "
                    f"(write one with `sccl compression --statedict_dir DIR --out FILE`)")
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
    make_report(args.results, args.out, args.figures, statedict_dirs=args.statedict_dir,
                with_figures=not args.no_figures)
    return 0
