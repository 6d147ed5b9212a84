"""The ``sccl`` command (also ``python -m sccl``).

    sccl demo   [--out_dir results/demo] [--quick]    the whole pipeline on synthetic SHD
    sccl data synth --out_dir DIR [--preset P] [--n_rep N]  write a synthetic SHD-format set
    sccl data merge [--data_dir DIR] [--download]          = heidelberg_unite_datasets.py
    sccl report --results DIR [...]                  tables and figures from result records
    sccl compression --statedict_dir DIR --out FILE  the compression figure's data (read by the report)
    sccl grid [--paper | --speakers L ...] [--executor local|slurm] [--jobs N]
                                                     a whole grid with dependencies (docs/sweeps.md)
"""
from __future__ import annotations

import sys

from sccl.cli_util import run_main

USAGE = __doc__.split("\n\n", 1)[1]
DATA_USAGE = """usage: sccl data {synth,merge} [--help] ...

    sccl data synth --out_dir DIR [--preset default|demo] [--n_rep N] [--seed S]
                                  write a synthetic SHD-format set (shd_train.h5, shd_test.h5)
    sccl data merge [--data_dir DIR] [--download]
                                  merge SHD train + test into shd_merged.h5 (= heidelberg_unite_datasets.py)

`sccl data synth --help` / `sccl data merge --help` list every flag with its default."""


def _dispatch(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print("usage:\n" + USAGE)
        return 0
    cmd, rest = argv[0], argv[1:]
    if cmd == "demo":
        from sccl.demo import main as demo_main
        return demo_main(rest)
    if cmd == "grid":
        from sccl.suite.cli import main as grid_main
        return grid_main(rest)
    if cmd == "report":
        from sccl.report import main as report_main
        return report_main(rest)
    if cmd == "compression":
        from sccl.experiments.analysis import compression_main
        return compression_main(rest)
    if cmd == "data" and rest[:1] == ["synth"]:
        from sccl.data.synthetic import main as synth_main
        return synth_main(rest[1:], prog="sccl data synth")
    if cmd == "data" and rest[:1] == ["merge"]:
        from sccl.data.merge_cli import main as merge_main
        return merge_main(rest[1:], prog="sccl data merge")
    if cmd == "data" and (not rest or rest[0] in ("-h", "--help", "help")):
        print(DATA_USAGE)
        return 0
    if cmd == "data":
        print(f"sccl data: unknown subcommand {rest[0]!r} (choose synth or merge)\n{DATA_USAGE}", file=sys.stderr)
        return 2
    print(f"sccl: unknown command {' '.join(argv[:2])!r}\nusage:\n{USAGE}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    return run_main(_dispatch, list(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
