#!/usr/bin/env python
"""Merge the SHD train and test files into one shd_merged.h5 (reference-spec s1.3).

Reads <data_dir>/shd_train.h5 and <data_dir>/shd_test.h5 (default folder ~/data/hdspikes),
writes <data_dir>/shd_merged.h5 = all train samples then all test samples, prints each merged
dataset with its shape and the number of samples per speaker. Works offline; --download fetches
the official SHD archives first (md5 checked). Same as `sccl data merge`.

    python heidelberg_unite_datasets.py [--data_dir DIR] [--download] [--out FILE]
"""
import sys

from sccl.cli_util import run_main
from sccl.data.merge_cli import build_parser, main  # noqa: F401  (build_parser: for --help tooling)

if __name__ == "__main__":
    sys.exit(run_main(main))
