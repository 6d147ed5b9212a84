"""Result files of one run: the original's TXT and CSV lines plus sccl's structured records.

* TXT and CSV lines are formatted by the caller with the original's format strings
  (reference-spec s8.3) and are byte-compatible with the original's files.
* Everything is written when the run completes: the TXT in one atomic write (``w`` mode
  files are replaced, ``a`` mode files are appended to), the CSV rows of the whole run appended
  in one locked write, and the records file ``records/<run_id>.jsonl`` (one JSON object per
  epoch, with the run's full configuration) atomically. A run killed half-way therefore leaves
  no rows behind, and a sweep can resume by skipping runs whose records file exists, without
  duplicating or losing CSV rows. The original wrote the same lines progressively; the final
  contents are identical.
* Lines are echoed to stdout as they are produced (progress).
"""
from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

from sccl.artifacts import save_text

RECORDS = "records"


def records_path(out_dir: Path, run_id: str) -> Path:
    return Path(out_dir) / RECORDS / f"{run_id}.jsonl"


def run_done(out_dir: Path, run_id: str) -> bool:
    return records_path(out_dir, run_id).exists()


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

    def commit(self) -> Path:
        """Write the TXT, append the CSV rows, write the records file (last: it marks 'done')."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        text = "".join(self._txt)
        txt_path = self.out_dir / self.txt_name
        if self.txt_mode == "a":
            append_locked(txt_path, text)
        else:
            save_text(text, txt_path)
        if self._csv:
            append_locked(self.out_dir / self.csv_name, "".join(self._csv))
        body = "".join(json.dumps(r, sort_keys=True) + "\n" for r in self._records)
        return save_text(body, records_path(self.out_dir, self.run_id))


def read_records(root: Path) -> list[dict]:
    """Every epoch record under ``root`` (recursively, all ``records/*.jsonl`` files)."""
    out = []
    for path in sorted(Path(root).rglob(f"{RECORDS}/*.jsonl")):
        with open(path) as f:
            out.extend(json.loads(line) for line in f if line.strip())
    return out
