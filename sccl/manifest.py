"""A pretraining is one verified set: ``manifest_<tag>.json``, written last by the generator.

The manifest lists every artifact file of one generator run with its size and sha256, the full
network and data configuration (``config``: the PretrainConfig, ``net`` included) and the
dataset it was made from (label, sample count and a content fingerprint). It is deterministic
(no time stamps), so regenerating the same pretraining gives the same manifest and the same
:attr:`Pretraining.hash`.

* The generator deletes the old manifest before it writes anything (:func:`begin`) and writes
  the new one after every other file (:func:`write`): a generator killed half-way leaves no
  manifest, and the set is refused as incomplete instead of mixing new weights with old
  batch lists.
* :func:`load_verified` checks every listed file (present, same size, same sha256) and refuses
  an incomplete or mixed set with one line naming the file and the command that remakes it.
* :func:`check_file` is what :func:`sccl.artifacts.load` calls for every file it reads from a
  folder that holds manifests: the file must be listed, with its current bytes, by one of them
  (the faithful class-incremental memory reads files written by *other* generator runs, and
  the 10-class generator rewrites ``removed_*_class_10..19``, so any manifest of the folder
  may vouch for a file).
* :func:`resolve_net` makes a continual run take the network from the manifest (docs/integrity.md).
"""
from __future__ import annotations

import contextvars
import hashlib
import json
import os
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from sccl.errors import ArtifactError, ConfigError

FORMAT = "sccl-pretraining-manifest"
VERSION = 1
PREFIX = "manifest_"

# Flags whose value the pretraining fixes: the network's shape and dynamics it was trained
# with and the binning of the batch lists it wrote. reg_1 / reg_2 (loss terms) stay run settings.
FIXED_NET = ("nb_inputs", "nb_hidden", "nb_outputs", "time_step", "nb_steps", "max_time",
             "tau_mem", "tau_syn", "weight_scale")
FIXED = (*FIXED_NET, "batch_size")


def manifest_name(tag: str) -> str:
    return f"{PREFIX}{tag}.json"


# --------------------------------------------------------------------------- hashing

_DIGESTS: dict[tuple, tuple[int, str]] = {}


def file_digest(path: Path) -> tuple[int, str]:
    """(size, sha256) of a file; cached per process by (path, size, mtime, inode)."""
    st = os.stat(path)
    key = (str(Path(path).resolve()), st.st_size, st.st_mtime_ns, st.st_ino)
    if key not in _DIGESTS:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _DIGESTS[key] = (st.st_size, h.hexdigest())
    return _DIGESTS[key]


def dataset_fingerprint(data) -> str:
    """sha256 of a dataset's content (spike times and units of every sample, labels, speakers,
    label words), independent of the HDF5 file's layout or time stamps."""
    h = hashlib.sha256()
    h.update(np.asarray(data.labels, dtype=np.int64).tobytes())
    h.update(np.asarray(data.speakers, dtype=np.int64).tobytes())
    h.update(json.dumps(list(data.keys) if data.keys is not None else None).encode())
    for t, u in zip(data.times, data.units):
        h.update(np.int64(len(t)).tobytes())
        h.update(np.asarray(t, dtype=np.float64).tobytes())
        h.update(np.asarray(u, dtype=np.int64).tobytes())
    return h.hexdigest()


def _canonical(body: dict) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


# --------------------------------------------------------------------------- writing

def begin(out_dir: Path, tag: str) -> dict | None:
    """Remove the manifest of ``tag`` before a generator writes anything; return its old body."""
    path = Path(out_dir) / manifest_name(tag)
    old = None
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        pass
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    return old


def write(out_dir: Path, tag: str, files, *, made_by: str, config: dict, dataset: dict,
          info: dict | None = None) -> dict:
    """Write ``manifest_<tag>.json`` listing ``files`` (names in ``out_dir``); call it last."""
    from sccl.artifacts import save_json

    out_dir = Path(out_dir)
    entries = {}
    for name in sorted(set(files)):
        size, sha = file_digest(out_dir / name)
        entries[name] = {"size": size, "sha256": sha}
    body = {"format": FORMAT, "version": VERSION, "tag": tag, "made_by": made_by, "config": config,
            "dataset": dataset, "files": entries, "info": info or {}}
    save_json(body, out_dir / manifest_name(tag))
    return body


def still_valid(out_dir: Path, body: dict | None) -> bool:
    """Whether every file an (old) manifest lists is still there with the same bytes."""
    if not body or not isinstance(body.get("files"), dict):
        return False
    for name, e in body["files"].items():
        p = Path(out_dir) / name
        if not p.is_file() or file_digest(p) != (e.get("size"), e.get("sha256")):
            return False
    return True


def restore(out_dir: Path, tag: str, body: dict) -> None:
    from sccl.artifacts import save_json

    save_json(body, Path(out_dir) / manifest_name(tag))


# --------------------------------------------------------------------------- reading

@dataclass(frozen=True)
class Pretraining:
    """A verified pretraining set."""

    folder: Path
    tag: str
    body: dict

    @property
    def path(self) -> Path:
        return self.folder / manifest_name(self.tag)

    @property
    def hash(self) -> str:
        return hashlib.sha256(_canonical(self.body)).hexdigest()

    @property
    def dataset_fingerprint(self) -> str:
        return str(self.body.get("dataset", {}).get("fingerprint", ""))

    @property
    def config(self) -> dict:
        return self.body.get("config", {})

    @property
    def made_by(self) -> str:
        return self.body.get("made_by", "")

    def fixed_values(self) -> dict:
        """Values of the :data:`FIXED` flags the pretraining was made with."""
        net = self.config.get("net", {})
        out = {k: net[k] for k in FIXED_NET if k in net}
        if "batch_size" in self.config:
            out["batch_size"] = self.config["batch_size"]
        return out


def _read(path: Path, remake: str) -> dict:
    try:
        body = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"cannot read the pretraining manifest {path} ({type(exc).__name__}): "
                            f"remake the set with `{remake}`") from None
    if not isinstance(body, dict) or body.get("format") != FORMAT or not isinstance(body.get("files"), dict):
        raise ArtifactError(f"{path} is not an sccl pretraining manifest: remake the set with `{remake}`")
    return body


def load_verified(folder: Path, tag: str, *, made_by: str, needs=()) -> Pretraining:
    """The manifest of ``tag`` in ``folder``, every file it lists checked; ``needs`` are file
    names the caller reads, which the manifest must list."""
    folder = Path(folder)
    path = folder / manifest_name(tag)
    if not path.exists():
        present = sorted(p.name for p in folder.glob(f"*_{tag}.*")) if folder.is_dir() else []
        if present:
            raise ArtifactError(f"{folder / present[0]} has no {manifest_name(tag)} beside it: the pretraining "
                                f"set is incomplete (its generator did not finish, or predates manifests); "
                                f"remake it with `{made_by}`")
        first = next(iter(needs), manifest_name(tag))
        raise ArtifactError(f"missing artifact {folder / first}: make it with `{made_by}`")
    body = _read(path, made_by)
    for name in needs:
        if name not in body["files"]:
            raise ArtifactError(f"{path} does not list {name} (it was made by "
                                f"`{body.get('made_by', '?')}`): remake the set with `{made_by}`")
    for name, e in sorted(body["files"].items()):
        p = folder / name
        if not p.is_file():
            raise ArtifactError(f"missing artifact {p} (listed in {path.name}): remake the set with `{made_by}`")
        if file_digest(p) != (e.get("size"), e.get("sha256")):
            raise ArtifactError(f"{p} is not the file {path.name} lists (other size or sha256: it was "
                                f"rewritten by another or an interrupted generator run): remake the set "
                                f"with `{made_by}`")
    return Pretraining(folder, tag, body)


def _folder_manifests(folder: Path) -> list[tuple[Path, dict]]:
    out = []
    for p in sorted(Path(folder).glob(f"{PREFIX}*.json")):
        try:
            body = json.loads(p.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(body, dict) and body.get("format") == FORMAT and isinstance(body.get("files"), dict):
            out.append((p, body))
    return out


_PRIMARY: contextvars.ContextVar[Pretraining | None] = contextvars.ContextVar("sccl_pretraining", default=None)


@contextmanager
def reading_for(pre: Pretraining):
    """While a continual run on ``pre`` runs, every other generator run's file it reads must come
    from the same dataset and binning (:func:`compatible`)."""
    token = _PRIMARY.set(pre)
    try:
        yield pre
    finally:
        _PRIMARY.reset(token)


def check_file(path: Path, *, made_by: str | None = None) -> None:
    """A file read from a folder with manifests must be one a manifest lists, unchanged.
    Folders without any manifest (hand-made test fixtures, other tools) are not checked here:
    a continual run checks its own set with :func:`load_verified` first."""
    path = Path(path)
    pre = _PRIMARY.get()
    if pre is not None and not (path.parent.resolve() == pre.folder.resolve() and path.name in pre.body["files"]):
        compatible(pre, path)
    listed = [(p, b) for p, b in _folder_manifests(path.parent) if path.name in b["files"]]
    if not listed:
        if _folder_manifests(path.parent) and not path.name.startswith(PREFIX):
            how = f"remake it with `{made_by}`" if made_by else "remake it with its generator"
            raise ArtifactError(f"{path} is not listed by any pretraining manifest in its folder (its "
                                f"generator did not finish): {how}")
        return
    digest = file_digest(path)
    if any(digest == (b["files"][path.name].get("size"), b["files"][path.name].get("sha256")) for _, b in listed):
        return
    p, b = listed[-1]
    how = made_by or b.get("made_by") or "its generator"
    raise ArtifactError(f"{path} is not the file {p.name} lists (other size or sha256: it was rewritten by "
                        f"another or an interrupted generator run): remake it with `{how}`")


def compatible(primary: Pretraining, other_path: Path) -> None:
    """An auxiliary file (another generator run's batch list) must come from the same dataset
    and the same binning as the run's own pretraining."""
    other_path = Path(other_path)
    digest = file_digest(other_path)
    for p, b in _folder_manifests(other_path.parent):
        e = b["files"].get(other_path.name)
        if e is None or digest != (e.get("size"), e.get("sha256")):
            continue  # only the manifest that vouches for the file's current bytes tells its origin
        theirs, ours = b.get("dataset", {}).get("fingerprint"), primary.dataset_fingerprint
        if theirs != ours:
            raise ArtifactError(f"{other_path} was made from another dataset than {primary.path.name} "
                                f"({p.name}: {str(theirs)[:12]}, {primary.path.name}: {ours[:12]}): "
                                f"remake it with `{b.get('made_by')}` on the same data")
        other = Pretraining(p.parent, b.get("tag", ""), b).fixed_values()
        for k, v in primary.fixed_values().items():
            if k in other and other[k] != v and k in ("nb_inputs", "nb_steps", "max_time", "batch_size"):
                raise ArtifactError(f"{other_path} was binned with --{k} {other[k]} but {primary.path.name} with "
                                    f"--{k} {v}: remake it with `{b.get('made_by')} --{k}={v}`")
        return


# --------------------------------------------------------------------------- continual runs

class _Given:
    """Marker mixin: a value argparse took from the default, not from the command line."""


class _DefaultInt(int, _Given):
    pass


class _DefaultFloat(float, _Given):
    pass


def mark_defaults(parser, names) -> None:
    """Make the defaults of ``names`` recognisable after parsing (see :func:`was_given`); the
    values and ``--help`` are unchanged."""
    marked = {}
    for a in parser._actions:
        if a.dest in names and isinstance(a.default, (int, float)) and not isinstance(a.default, bool):
            marked[a.dest] = (_DefaultInt if isinstance(a.default, int) else _DefaultFloat)(a.default)
    parser.set_defaults(**marked)


def was_given(args, name: str) -> bool:
    return not isinstance(getattr(args, name, None), _Given)


def plain(value):
    if isinstance(value, _DefaultInt):
        return int(value)
    if isinstance(value, _DefaultFloat):
        return float(value)
    return value


def resolve_net(args, pre: Pretraining) -> dict:
    """Values of the :data:`FIXED` flags for a run on ``pre``: the pretraining's; a flag given
    with another value is a ConfigError naming both."""
    fixed = pre.fixed_values()
    out = {}
    for name in FIXED:
        if name not in fixed:
            out[name] = plain(getattr(args, name))
            continue
        theirs = fixed[name]
        if was_given(args, name) and getattr(args, name) != theirs:
            raise ConfigError(f"--{name} {plain(getattr(args, name))} was given but the pretraining "
                              f"{pre.path} was made with --{name} {theirs}: drop the flag (the run takes "
                              f"the pretraining's value) or remake the pretraining with "
                              f"`{pre.made_by} --{name}={plain(getattr(args, name))}`")
        out[name] = type(plain(getattr(args, name)))(theirs) if isinstance(theirs, (int, float)) else theirs
    return out


def net_fields() -> set[str]:
    from sccl.config import NetConfig

    return {f.name for f in fields(NetConfig)}
