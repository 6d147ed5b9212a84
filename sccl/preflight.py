"""Fail before working: every output location is checked before any training or rendering.

:func:`check_out_dir` is called by the generators, the continual scripts, ``sccl report`` (tables
and figures) and ``sccl grid`` before they read data or train. It creates nothing: it walks up to
the nearest existing folder and refuses, with one line naming the path and the flag, a path
that is (or lies under) a regular file, a folder that cannot be written, and expected output
files that are folders. A later failure (a disk filling up during the run) is still reported
by :func:`sccl.results.write_error`.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from sccl.errors import SCCLError


def _nearest_existing(path: Path) -> Path:
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def check_out_dir(path: Path, flag: str = "--out_dir", *, files=(), dirs=()) -> Path:
    """Refuse an output folder that cannot be made or written; ``files`` are names inside it
    that will be written (each must not be a folder), ``dirs`` sub-folders (each must not be a
    file). Returns the path."""
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise SCCLError(f"{flag} {path} is a file, not a folder: choose another {flag}")
    base = _nearest_existing(path.absolute())
    if not base.is_dir():
        raise SCCLError(f"cannot write {path} ({flag}): {base} is a file, not a folder; choose another {flag}")
    if not os.access(base, os.W_OK | os.X_OK) or not _probe(base):
        raise SCCLError(f"cannot write {path} ({flag}): {base} does not accept new files; fix its "
                        f"permissions or choose another {flag}")
    for name in dirs:
        sub = path / name
        if sub.exists() and not sub.is_dir():
            raise SCCLError(f"{sub} (where this run writes) is a file, not a folder: move it away or choose "
                            f"another {flag}")
        if sub.is_dir() and not _probe(sub):
            raise SCCLError(f"{sub} is not writable: fix its permissions or choose another {flag}")
    for name in files:
        target = path / name
        if target.exists() and not target.is_file():
            raise SCCLError(f"{target} (an output file of this run) is a folder: move it away or choose "
                            f"another {flag}")
        if target.exists() and not os.access(target, os.W_OK):
            raise SCCLError(f"{target} (an output file of this run) is not writable: fix its permissions "
                            f"or choose another {flag}")
    return path


def _probe(folder: Path) -> bool:
    """Create and remove one temporary file (access() says yes to root on read-only mounts)."""
    try:
        fd, name = tempfile.mkstemp(prefix=".sccl-probe-", dir=folder)
        os.close(fd)
        os.unlink(name)
        return True
    except OSError:
        return False


def check_out_file(path: Path, flag: str) -> Path:
    """An output file (e.g. a figure): its folder must be usable and the path not a folder."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise SCCLError(f"{flag} {path} is a folder, not a file: choose another {flag}")
    check_out_dir(path.parent, flag)
    return path
