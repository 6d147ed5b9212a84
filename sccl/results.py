"""Result files of one run: the original's TXT and CSV lines plus sccl's structured records.

* TXT and CSV lines are formatted by the caller with the original's format strings
  (reference-spec s8.3) and are byte-compatible with the original's files.
* Everything is written when the run completes: the TXT in one atomic write (``w`` mode
  files are replaced, ``a`` mode files are appended to), the CSV rows of the whole run appended
  in one locked write, and the records file ``records/<run_id>.jsonl`` (one JSON object per
  epoch, with the run's full configuration) atomically, last: it marks the run done.
  A run killed half-way therefore leaves no rows behind, and a sweep can resume by skipping
  runs whose records file exists, without duplicating or losing CSV rows. The original wrote
  the same lines progressively; the final contents are identical.
* Appends are idempotent across a kill (``append_once``): a run killed after its CSV rows were
  appended but before its records file was written appends nothing the second time. Each
  append is announced first in a small ledger (``records/.ledger/<file name>``: key, offset,
  length, checksum, one line per append, written under the same lock as the append); the next
  writer checks the ledger's last line against the file and drops an announced append that
  never happened (or truncates one cut short by a full disk). The CSV bytes are unchanged.
* A full disk or an unwritable folder ends the run with one clear error (SCCLError); what was
  already written stays as it was.
* Lines are echoed to stdout as they are produced (progress).
"""
from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
from pathlib import Path

from sccl.artifacts import save_text
from sccl.errors import SCCLError

RECORDS = "records"
LEDGER = ".ledger"


def records_path(out_dir: Path, run_id: str) -> Path:
    return Path(out_dir) / RECORDS / f"{run_id}.jsonl"


def run_done(out_dir: Path, run_id: str) -> bool:
    return records_path(out_dir, run_id).exists()


def write_error(path: Path, exc: OSError) -> SCCLError:
    """The user-facing form of an OSError raised while writing ``path``."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        why = "the disk is full (or the quota is exhausted): free some space"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        why = "the folder is not writable: fix its permissions or choose another --out_dir"
    else:
        why = f"{exc.strerror or exc}: check the folder"
    return SCCLError(f"cannot write {path} ({why}); files written before are intact, "
                     f"rerun the same command afterwards")


def append_locked(path: Path, text: str) -> None:
    """Append ``text`` in one write while holding an exclusive lock on the file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def ledger_path(path: Path) -> Path:
    path = Path(path)
    return path.parent / RECORDS / LEDGER / f"{path.name}.ledger"


def _digest(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def _read_ledger(ledger: Path) -> list[tuple[str, int, int, str]]:
    entries = []
    if not ledger.exists():
        return entries
    for line in ledger.read_text().splitlines():
        parts = line.split("\t")
        if len(parts) != 4:
            continue  # a line cut short by a full disk: it announced nothing that was written
        try:
            entries.append((parts[0], int(parts[1]), int(parts[2]), parts[3]))
        except ValueError:
            continue
    return entries


def _write_ledger(ledger: Path, entries) -> None:
    save_text("".join(f"{k}\t{o}\t{n}\t{h}\n" for k, o, n, h in entries), ledger)


def _applied(f, size: int, entry) -> bool:
    """Whether the bytes an entry announces are in the file (same place, same checksum)."""
    _, off, n, h = entry
    if off + n > size:
        return False
    f.seek(off)
    return _digest(f.read(n)) == h


def _pending_path(ledger: Path) -> Path:
    return ledger.with_name(ledger.name + ".pending")


def _save_bytes(data: bytes, path: Path) -> None:
    from sccl.artifacts import atomic_write

    def write(tmp):
        with open(tmp, "wb") as f:
            f.write(data)
    atomic_write(path, write)


def _undo_last(f, size: int, entries: list, ledger: Path) -> list:
    """The ledger's last append is not in the file: it was announced by a writer killed before
    (or while) appending. Undo it and return the entries that remain; a ledger that does not
    describe the file any more (the file was deleted or edited) is dropped."""
    _, off, n, h = entries[-1]
    if size == off:  # announced, never written
        return entries[:-1]
    if off < size < off + n:  # cut short: truncate it if the tail is the announced data's start
        pending = _pending_path(ledger)
        data = pending.read_bytes() if pending.exists() else b""
        f.seek(off)
        if _digest(data) == h and data.startswith(f.read(size - off)):
            f.truncate(off)
            return entries[:-1]
    return []


def append_once(path: Path, text: str, key: str) -> bool:
    """Append ``text`` to ``path`` unless the append announced under ``key`` is already there.

    Runs under an exclusive lock on ``path`` (as :func:`append_locked`); returns whether it wrote.
    """
    path = Path(path)
    data = text.encode()
    ledger = ledger_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        ledger.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab+") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                size = os.fstat(f.fileno()).st_size
                entries = _read_ledger(ledger)
                if entries and not _applied(f, size, entries[-1]):
                    entries = _undo_last(f, size, entries, ledger)
                    size = os.fstat(f.fileno()).st_size
                    _write_ledger(ledger, entries)
                if any(e[0] == key and _applied(f, size, e) for e in entries):
                    return False
                entry = (key, size, len(data), _digest(data))
                _save_bytes(data, _pending_path(ledger))  # what is announced, to undo a cut write
                with open(ledger, "a") as lg:  # announce, then append
                    lg.write("\t".join(map(str, entry)) + "\n")
                    lg.flush()
                    os.fsync(lg.fileno())
                try:
                    f.seek(0, os.SEEK_END)
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                except OSError:
                    try:  # leave the file and its ledger as they were
                        f.truncate(size)
                        _write_ledger(ledger, entries)
                    except OSError:
                        pass  # the next writer undoes the announced append (see _undo_last)
                    raise
                return True
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)
    except OSError as exc:
        raise write_error(path, exc) from None


class RunLog:
    """Collects one run's TXT lines, CSV rows and epoch records; ``commit()`` writes them."""

    def __init__(self, out_dir: Path, run_id: str, *, txt_name: str, csv_name: str,
                 txt_mode: str = "w", header: dict | None = None, echo=print):
        self.out_dir = Path(out_dir)
        self.run_id = run_id
        self.txt_name, self.csv_name, self.txt_mode = txt_name, csv_name, txt_mode
        self.header = dict(header or {})
        self.echo = echo
        self._txt: list[str] = []
        self._csv: list[str] = []
        self._records: list[dict] = []

    def txt(self, line: str) -> None:
        """A TXT line exactly as the original writes it (with its leading/trailing newlines)."""
        self._txt.append(line)
        if self.echo:
            self.echo(line.strip("\n"))

    def csv(self, row: str) -> None:
        self._csv.append(row)

    def record(self, **fields) -> None:
        self._records.append({"run_id": self.run_id, **self.header, **fields})

    @property
    def records(self) -> list[dict]:
        return list(self._records)

    def _append_key(self) -> str:
        """Key of this completion's appends: the same for a retry of a run killed before its
        records file was written (its appends are not repeated), new for a deliberate rerun of
        a completed run (which appends again, as the original does). Under a run claim
        (:mod:`sccl.runclaim`) the key was fixed when the run started."""
        from sccl.runclaim import current_key

        claimed = current_key(self.run_id)
        if claimed is not None:
            return claimed
        done = records_path(self.out_dir, self.run_id)
        generation = _digest(done.read_bytes())[:12] if done.exists() else "0"
        return f"{self.run_id}@{generation}"

    def commit(self) -> Path:
        """Write the TXT, append the CSV rows, write the records file (last: it marks 'done')."""
        target = self.out_dir
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            key = self._append_key()
            text = "".join(self._txt)
            txt_path = target = self.out_dir / self.txt_name
            if self.txt_mode == "a":
                append_once(txt_path, text, key)
            else:
                save_text(text, txt_path)
            if self._csv:
                append_once(self.out_dir / self.csv_name, "".join(self._csv), key)
            body = "".join(json.dumps(r, sort_keys=True) + "\n" for r in self._records)
            target = records_path(self.out_dir, self.run_id)
            return save_text(body, target)
        except OSError as exc:
            raise write_error(target, exc) from None


def read_records(root: Path) -> list[dict]:
    """Every epoch record under ``root`` (recursively, all ``records/*.jsonl`` files)."""
    out = []
    for path in sorted(Path(root).rglob(f"{RECORDS}/*.jsonl")):
        with open(path) as f:
            out.extend(json.loads(line) for line in f if line.strip())
    return out
