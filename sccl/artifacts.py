"""Pretraining artifacts: weights and batch lists, saved with ``torch.save``.

File names follow the original's pickles (reference-spec s1.8) with a ``.pt`` suffix, e.g.
``state_dict_speaker_3.pt``, ``pretrain_x_speaker_3.pt``, ``pretrain_class_x_class_7.pt``.

* a state dict is a ``dict[str, Tensor]`` of the seven float32 CPU tensors
  (``w1 w2 w3 w_out v1 v2 v3``, original orientation);
* an ``x`` file is a list of sparse COO float32 tensors ``[B, nb_steps, nb_inputs]`` holding one
  1.0 per spike (duplicates are summed by ``to_dense``: the dense input is a count map);
* a ``y`` file is a list of int64 tensors ``[B]``;
* an ``ids`` file (sccl addition) is a dict ``{"pretrain": [...], "pretrain_test": [...],
  "removed": [...]}`` of int64 ``[B]`` tensors: the index of every sample in ``shd_merged.h5``;
* ``meta_<tag>.json`` (sccl addition) records the generator's configuration, seed, dataset
  and accuracy.

Everything loads with ``torch.load(path, weights_only=True)``; everything is written to a
temporary file in the same folder and renamed, so an interrupted run never leaves a half file.
"""
from __future__ import annotations

import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch

from sccl.errors import ArtifactError


def speaker_tag(speaker: int) -> str:
    return f"speaker_{speaker}"


def class_tag(removed_class: int) -> str:
    return f"class_{removed_class}"


TEN_CLASSES_TAG = "10classes"


def artifact_names(tag: str, *, class_style: bool = False) -> dict[str, str]:
    """File names (without folder) of one generator run; ``class_style`` uses the odd test name."""
    test = "pretrain_class_{}_" if class_style else "pretrain_test_{}_"
    return {
        "state_dict": f"state_dict_{tag}.pt",
        "pretrain_x": f"pretrain_x_{tag}.pt",
        "pretrain_y": f"pretrain_y_{tag}.pt",
        "pretrain_test_x": test.format("x") + f"{tag}.pt",
        "pretrain_test_y": test.format("y") + f"{tag}.pt",
        "removed_x": f"removed_x_{tag}.pt",
        "removed_y": f"removed_y_{tag}.pt",
        "ids": f"ids_{tag}.pt",
        "meta": f"meta_{tag}.json",
    }


def atomic_write(path: Path, write) -> Path:
    """Call ``write(tmp_path)`` then rename the temp file onto ``path`` (same folder)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give them the usual mode
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save(obj: Any, path: Path) -> Path:
    """``torch.save`` atomically."""
    def write(tmp):
        with open(tmp, "wb") as f:  # through a file object: the archive's inner names do not
            torch.save(obj, f)      # depend on the temp name, so reruns are byte-identical
    return atomic_write(path, write)


def save_text(text: str, path: Path) -> Path:
    def write(tmp):
        with open(tmp, "w") as f:
            f.write(text)
    return atomic_write(path, write)


def save_json(obj: Any, path: Path) -> Path:
    return save_text(json.dumps(obj, indent=2, sort_keys=True) + "\n", path)


def load(path: Path, *, made_by: str | None = None) -> Any:
    """``torch.load(weights_only=True)`` to CPU; a missing or unreadable file is an ArtifactError
    whose message names the file and, when given, the command that makes it."""
    path = Path(path)
    hint = f": make it with `{made_by}`" if made_by else ""
    if not path.exists():
        raise ArtifactError(f"missing artifact {path}{hint}")
    from sccl.manifest import check_file

    check_file(path, made_by=made_by)  # part of a complete, unchanged generator run (sccl.manifest)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Sparse invariant checks")
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt, truncated, or not a torch file
        raise ArtifactError(f"cannot read artifact {path} ({type(exc).__name__}: {exc}){hint}") from None


def load_state_dict(path: Path, *, made_by: str | None = None) -> dict[str, torch.Tensor]:
    sd = load(path, made_by=made_by)
    needed = ("w1", "w2", "w3", "w_out", "v1", "v2", "v3")
    if not isinstance(sd, dict) or any(k not in sd for k in needed):
        raise ArtifactError(f"{path} is not an sccl state dict (expected the tensors {', '.join(needed)})")
    return {k: sd[k].float() for k in needed}


def load_json(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        return {}
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{path} is not valid JSON ({exc})") from None


GENERATOR_COMMANDS = {
    "speaker": "python statedicts_64_elements/heidelberg_statedict_generator.py --speaker={n}",
    "class": "python statedicts_class_incremental/heidelberg_statedict_generator.py --removed_class={n}",
    "10classes": "python statedicts_class_incremental/heidelberg_statedict_generator_10classes.py",
}


def made_by(mode: str, n: int | None = None) -> str:
    """The command that writes the artifacts of a (mode, held-out) pretraining."""
    return GENERATOR_COMMANDS[mode].format(n=n)


def load_pair(folder: Path, names: dict, which: str, *, hint: str) -> list[tuple]:
    """The ``(x, y)`` batch list ``which`` (``pretrain``, ``pretrain_test``, ``removed``)."""
    xs = load(Path(folder) / names[f"{which}_x"], made_by=hint)
    ys = load(Path(folder) / names[f"{which}_y"], made_by=hint)
    if len(xs) != len(ys):
        raise ArtifactError(f"{names[which + '_x']} holds {len(xs)} batches but {names[which + '_y']} "
                            f"holds {len(ys)}: regenerate them with `{hint}`")
    return list(zip(xs, ys))
