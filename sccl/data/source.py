"""Where the experiments' data comes from: the real SHD folder or the embedded synthetic set.

``open_merged(data_dir, synthetic=...)`` returns the merged file loaded and labelled:

* real SHD: ``<data_dir>/shd_merged.h5`` (default folder ``~/data/hdspikes``); when only
  ``shd_train.h5`` / ``shd_test.h5`` are there, they are merged first (what
  ``heidelberg_unite_datasets.py`` does);
* ``--synthetic``: the synthetic SHD-format set (``sccl.data.synthetic``) in ``data_dir`` or,
  by default, ``~/.cache/sccl/synthetic-shd-seed<seed>-n<reps>``; generated on first use.

Every result made from the synthetic set is labelled ``dataset: synthetic``.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from sccl.errors import DataError

MERGED = "shd_merged.h5"
TRAIN = "shd_train.h5"
TEST = "shd_test.h5"


def default_data_dir() -> Path:
    return Path("~/data/hdspikes").expanduser()


def default_synthetic_dir(seed: int = 0, n_rep: int = 40) -> Path:
    return Path("~/.cache/sccl").expanduser() / f"synthetic-shd-seed{seed}-n{n_rep}"


@dataclass
class Source:
    data: object          # sccl.data.shd.SHDData
    path: Path            # the merged file
    dataset: str          # "shd" | "synthetic"
    origin: dict | None = None  # where the data came from (data_origin below)

    @property
    def description(self) -> dict:
        return {"dataset": self.dataset, "file": str(self.path), "n_samples": len(self.data)}


def data_origin(merged: Path, label: str) -> dict:
    """What every result records about its data: the label and, for the synthetic set, the
    generator's attributes (version, preset, seed, n_rep, var, accent, speakers)."""
    from sccl.data.synthetic import DEFAULT_PRESET, synthetic_info

    if label != "synthetic":
        return {"dataset": label}
    info = synthetic_info(merged) or {}
    keep = ("generator", "generator_version", "seed", "n_rep", "var", "accent", "n_speakers")
    return {"dataset": label, "preset": info.get("preset", DEFAULT_PRESET),
            **{k: info[k] for k in keep if k in info}}


def dataset_label(folder: Path) -> str:
    """"synthetic" when the folder's files were written by sccl's generator, else "shd"."""
    from sccl.data.synthetic import is_synthetic

    for name in (MERGED, TRAIN):
        p = Path(folder) / name
        if p.exists() and is_synthetic(p):
            return "synthetic"
    return "shd"


def ensure_merged(folder: Path, *, log=print) -> Path:
    """Return ``folder/shd_merged.h5``, merging train + test first when only those exist."""
    from sccl.data.shd import merge_shd

    folder = Path(folder)
    merged = folder / MERGED
    if merged.exists():
        return merged
    if not folder.is_dir():
        raise DataError(
            f"data folder {folder} does not exist: put shd_train.h5 and shd_test.h5 there "
            f"(or run `python heidelberg_unite_datasets.py --download`), pass --data_dir, or use --synthetic")
    missing = [n for n in (TRAIN, TEST) if not (folder / n).exists()]
    if missing:
        raise DataError(
            f"no {MERGED} in {folder} and {' and '.join(missing)} missing: download SHD with "
            f"`python heidelberg_unite_datasets.py --download --data_dir {folder}`, or use --synthetic")
    log(f"merging {folder / TRAIN} + {folder / TEST} -> {merged}")
    return merge_shd(folder / TRAIN, folder / TEST, merged)


def ensure_synthetic(folder: Path, *, seed: int = 0, n_rep: int = 40, log=print) -> Path:
    """Generate the synthetic set in ``folder`` unless it is there; return the folder."""
    from sccl.data.synthetic import make_synthetic_shd

    folder = Path(folder)
    if not ((folder / TRAIN).exists() and (folder / TEST).exists()) and not (folder / MERGED).exists():
        log(f"generating the synthetic SHD-format dataset in {folder} (seed {seed}, {n_rep} repetitions)")
        make_synthetic_shd(folder, n_rep=n_rep, seed=seed)
    return folder


def open_merged(data_dir: str | Path | None = None, *, synthetic: bool = False,
                synthetic_seed: int = 0, synthetic_reps: int = 40, nb_inputs: int = 700,
                log=print) -> Source:
    """Load the merged dataset the experiments read (reference-spec s1.3)."""
    from sccl.data.shd import load_shd

    if synthetic:
        folder = Path(data_dir).expanduser() if data_dir else default_synthetic_dir(synthetic_seed, synthetic_reps)
        ensure_synthetic(folder, seed=synthetic_seed, n_rep=synthetic_reps, log=log)
    else:
        folder = Path(data_dir).expanduser() if data_dir else default_data_dir()
    merged = ensure_merged(folder, log=log)
    data = load_shd(merged, nb_inputs=nb_inputs)
    label = dataset_label(folder)
    if label == "synthetic":
        print(f"[dataset: synthetic] {merged} is sccl's synthetic SHD-format set, not the real SHD: "
              f"accuracies say nothing about the paper's numbers", file=sys.stderr)
    return Source(data=data, path=merged, dataset=label, origin=data_origin(merged, label))
