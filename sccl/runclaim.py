"""One run, one set of rows: the per-run claim that two copies of one run cannot both append.

A continual run takes :func:`claim` before it loads anything. The claim is

* its *append key*, decided when the run starts: ``<run_id>@<digest of the records file as it
  was then>`` (``@0`` when the run has never completed). :class:`sccl.results.RunLog` appends
  under this key, and :func:`sccl.results.append_once` writes a key's rows at most once. Two
  copies started before either finished share the key: only the first to commit appends, the
  other rewrites the same TXT / records and appends nothing. A run started after the previous
  one completed gets a new key and appends again, as the original does for a deliberate rerun.
* an exclusive ``flock`` on ``records/.ledger/claims/<run_id>.lock`` held for the whole run (the
  kernel drops it when the process dies, even by kill -9). A second copy waits for the first
  (one notice line naming its pid), then re-checks ``--skip_done``: a copy orphaned by a killed
  driver and the rerun's copy of the same run therefore end with one set of rows.
"""
from __future__ import annotations

import contextvars
import fcntl
import json
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

CLAIMS = ".ledger/claims"  # beside the append ledger: sccl's bookkeeping, not results

_KEY: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar("sccl_append_key", default=None)


def append_key(out_dir: Path, run_id: str) -> str:
    from sccl.results import _digest, records_path

    done = records_path(out_dir, run_id)
    try:
        generation = _digest(done.read_bytes())[:12]
    except FileNotFoundError:
        generation = "0"
    return f"{run_id}@{generation}"


def current_key(run_id: str) -> str | None:
    """The append key claimed for ``run_id`` in this process, if any."""
    held = _KEY.get()
    return held[1] if held and held[0] == run_id else None


def claim_path(out_dir: Path, run_id: str) -> Path:
    from sccl.results import RECORDS

    return Path(out_dir) / RECORDS / CLAIMS / f"{run_id}.lock"


def _lock(path: Path, run_id: str, log) -> tuple[int, bool]:
    """flock ``path`` (waiting if another copy holds it); retried when the holder removed the
    file meanwhile (a released claim is unlinked), so two holders can never coexist."""
    waited = False
    while True:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except FileNotFoundError:  # the holder removed the emptied folder meanwhile: again
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not waited:
                try:
                    holder = json.loads(os.pread(fd, 4096, 0).decode() or "{}").get("pid", "?")
                except (OSError, ValueError):
                    holder = "?"
                say = log or (lambda m: print(m, file=sys.stderr, flush=True))
                say(f"notice: pid {holder} is running this same run ({run_id}); waiting for it to end")
            waited = True
            fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd, waited
        os.close(fd)


@contextmanager
def claim(out_dir: Path, run_id: str, *, log=None):
    """Hold the run's claim (waiting for another copy of it, if one runs) and its append key.
    Yields True when this process waited for another copy (the caller re-checks --skip_done).
    The claim file (and the folders made for it, when left empty) is removed on release."""
    key = append_key(out_dir, run_id)  # before waiting: a copy that waits shares the first one's key
    path = claim_path(out_dir, run_id)
    made = [d for d in (path.parent.parent.parent, path.parent.parent, path.parent) if not d.exists()]
    fd, waited = _lock(path, run_id, log)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "started": time.time()}).encode(), 0)
        token = _KEY.set((run_id, key))
        try:
            yield waited
        finally:
            _KEY.reset(token)
    finally:
        try:
            path.unlink()
        except OSError:
            pass
        os.close(fd)  # releases the flock
        for d in dict.fromkeys((path.parent, *reversed(made))):
            try:
                d.rmdir()  # only when empty: a failed first run leaves no records/ folder behind
            except OSError:
                pass
