"""`sccl data merge` and heidelberg_unite_datasets.py: merge SHD train + test (docs/data.md).

Reads ``<data_dir>/shd_train.h5`` and ``<data_dir>/shd_test.h5`` (default folder
``~/data/hdspikes``), writes ``<data_dir>/shd_merged.h5`` = all train samples then all test
samples, prints each merged dataset with its shape and the number of samples per speaker.
Works offline; ``--download`` fetches the official SHD archives first (md5 checked).

    python heidelberg_unite_datasets.py [--data_dir DIR] [--download] [--out FILE]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import h5py
import numpy as np

from sccl.cli_util import run_main
from sccl.data.shd import (DEFAULT_BASE_URL, MERGED_NAME, TEST_NAME, TRAIN_NAME, download_shd,
                           merge_shd, resolve_data_dir)
from sccl.errors import DataError


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    p.add_argument("--data_dir", "--data-dir", dest="data_dir", default=None,
                   help="folder with shd_train.h5 and shd_test.h5 (default: ~/data/hdspikes)")
    p.add_argument("--download", action="store_true",
                   help="download shd_train.h5.gz and shd_test.h5.gz into --data_dir first "
                        "(md5 checked; skipped when already present)")
    p.add_argument("--base_url", "--base-url", dest="base_url", default=DEFAULT_BASE_URL,
                   help=argparse.SUPPRESS)  # a mirror; used by the tests
    p.add_argument("--out", default=None,
                   help=f"merged file to write (default: <data_dir>/{MERGED_NAME})")
    return p


def main(argv: list[str] | None = None, *, prog: str | None = None) -> int:
    args = build_parser(prog).parse_args(argv)
    data_dir = resolve_data_dir(args.data_dir)
    out = Path(args.out).expanduser() if args.out else data_dir / MERGED_NAME
    if args.download:
        train, test = download_shd(data_dir, base_url=args.base_url)
    else:
        if not data_dir.is_dir():
            raise DataError(f"data folder {data_dir} does not exist: pass --data_dir with the "
                            f"folder holding {TRAIN_NAME} and {TEST_NAME}, or add --download "
                            "to fetch SHD into it")
        train, test = data_dir / TRAIN_NAME, data_dir / TEST_NAME
    merge_shd(train, test, out)

    print(f"merged {train} + {test} -> {out}")
    with h5py.File(out, "r") as f:
        f.visititems(lambda name, obj: print(f"/{name} {obj.shape}")
                     if isinstance(obj, h5py.Dataset) else None)
        speakers = f["extra/speaker"][()].astype(np.int64)
    counts = np.bincount(speakers).tolist() if len(speakers) else []
    print(f"samples per speaker: {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
