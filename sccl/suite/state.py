"""What a grid keeps on disk besides the runs' own outputs (``{out}/grid/``), and its lock.

    lock              held (fcntl) by the one driver working on the folder; says who holds it
    done/<id>.json    written (atomically) when a run has finished with exit status 0
    logs/<id>.log     the run's stdout + stderr (rewritten when the run is retried)
    submitted/<id>.json   cluster job id of a submitted run (a restarted driver adopts it)
    runs.json         the grid: every run, its command and dependencies
    summary.json      the last driver's counts and wall time

A run is "done" only through its marker: a driver killed after a run finished but before the
marker was written reruns it, and the continual scripts (given ``--skip_done``) then return at
once because their records file exists; generators rewrite the same artifacts atomically.
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from sccl.artifacts import save_json, save_text  # noqa: F401  (atomic writes, shared with the artifacts)
from sccl.errors import SCCLError

NO_FLOCK = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL)


def write_error(path: Path, exc: OSError):
    from sccl.results import write_error as make

    return make(path, exc)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _holder_text(info: dict, path: Path) -> str:
    if not info:
        return f"the lock {path} is held"
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.get("started", 0)))
    return (f"pid {info.get('pid')} on {info.get('host')}, started {started}: "
            f"`{info.get('command', '?')}`")


class GridLock:
    """One driver per folder. ``flock`` on ``path`` (released by the kernel when the holder dies,
    even by kill -9); where the file system has no flock, an O_EXCL pid file ``path.pid`` whose
    holder is checked for life (same host) instead."""

    def __init__(self, path: Path, what: str):
        self.path = Path(path)
        self.what = what
        self.fd: int | None = None
        self.pidfile: Path | None = None

    def _info(self) -> str:
        return json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(),
                           "command": " ".join(sys.argv)})

    def _refuse(self, info: dict, path: Path):
        raise SCCLError(f"another sccl driver is already working on {self.what} ({_holder_text(info, path)}); "
                        f"wait for it to finish or stop it, then rerun: two drivers on one folder would "
                        f"start the same runs twice")

    def acquire(self) -> "GridLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                info = json.loads(os.read(fd, 65536).decode() or "{}")
            except (OSError, ValueError):
                info = {}
            os.close(fd)
            self._refuse(info, self.path)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in NO_FLOCK:
                raise
            return self._acquire_pidfile()
        os.ftruncate(fd, 0)
        os.write(fd, self._info().encode())
        os.fsync(fd)
        self.fd = fd
        return self

    def _acquire_pidfile(self) -> "GridLock":
        pidfile = self.path.with_name(self.path.name + ".pid")
        for _ in range(2):
            try:
                fd = os.open(pidfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                try:
                    info = json.loads(pidfile.read_text() or "{}")
                except (OSError, ValueError):
                    info = {}
                stale = info.get("host") == socket.gethostname() and not _alive(int(info.get("pid", 0)))
                if stale:
                    pidfile.unlink(missing_ok=True)
                    continue
                if info.get("host") != socket.gethostname():
                    raise SCCLError(f"another sccl driver may be working on {self.what} "
                                    f"({_holder_text(info, pidfile)}); if none is, delete {pidfile}")
                self._refuse(info, pidfile)
            with os.fdopen(fd, "w") as f:
                f.write(self._info())
            self.pidfile = pidfile
            return self
        raise SCCLError(f"cannot take the lock {pidfile}: delete it if no driver is running")

    def release(self) -> None:
        if self.fd is not None:
            try:
                os.ftruncate(self.fd, 0)
            except OSError:
                pass
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None
        if self.pidfile is not None:
            self.pidfile.unlink(missing_ok=True)
            self.pidfile = None


class GridState:
    def __init__(self, out: Path, name: str = "grid"):
        self.out = Path(out).resolve()
        self.dir = self.out / name
        self.done_dir = self.dir / "done"
        self.log_dir = self.dir / "logs"
        self.sub_dir = self.dir / "submitted"

    # ------------------------------------------------------------------ setup
    def prepare(self) -> None:
        """Create the folders and check that something can be written there (clear error if not)."""
        probe = self.dir / f".write-probe-{os.getpid()}"
        try:
            for d in (self.out, self.dir, self.done_dir, self.log_dir, self.sub_dir):
                d.mkdir(parents=True, exist_ok=True)
            save_text("x" * 4096, probe)
            probe.unlink(missing_ok=True)
        except OSError as exc:
            raise write_error(probe if self.dir.exists() else self.out, exc) from None

    @contextmanager
    def locked(self):
        lock = GridLock(self.dir / "lock", str(self.out)).acquire()
        try:
            yield lock
        finally:
            lock.release()

    # ------------------------------------------------------------------ runs
    def done_path(self, run_id: str) -> Path:
        return self.done_dir / f"{run_id}.json"

    def is_done(self, run_id: str) -> bool:
        return self.done_path(run_id).exists()

    def mark_done(self, spec, **info) -> None:
        save_json({**spec.to_dict(), **info, "host": socket.gethostname(), "finished": time.time()},
                  self.done_path(spec.id))
        (self.sub_dir / f"{spec.id}.json").unlink(missing_ok=True)

    def log_path(self, run_id: str) -> Path:
        return self.log_dir / f"{run_id}.log"

    def forget_done(self) -> None:
        for marker in self.done_dir.glob("*.json"):
            marker.unlink(missing_ok=True)

    def done_markers(self) -> list[dict]:
        out = []
        for p in sorted(self.done_dir.glob("*.json")):
            try:
                out.append(json.loads(p.read_text()))
            except (OSError, ValueError):
                continue
        return out

    def check_conflicts(self, grid) -> None:
        """Refuse a grid whose runs would rewrite artifacts made under another configuration
        (their dependants' results would silently mix the two)."""
        writers = {}
        for m in self.done_markers():
            for w in m.get("writes", []):
                writers[w] = m
        for s in grid.runs:
            for w in s.writes:
                m = writers.get(w)
                if m is not None and m.get("id") != s.id:
                    raise SCCLError(
                        f"{self.out} already holds {w.split(':')[-1]} made by a different run "
                        f"({m.get('label')}: {' '.join(m.get('argv', []))}); this grid would rewrite it as "
                        f"`{' '.join(s.argv)}`: use another --out_dir (or delete {self.out} to start over)")

    def submitted(self, run_id: str) -> dict | None:
        p = self.sub_dir / f"{run_id}.json"
        try:
            return json.loads(p.read_text())
        except (OSError, ValueError):
            return None

    def mark_submitted(self, run_id: str, info: dict) -> None:
        save_json(info, self.sub_dir / f"{run_id}.json")

    def forget_submitted(self, run_id: str) -> None:
        (self.sub_dir / f"{run_id}.json").unlink(missing_ok=True)

    def write_manifest(self, grid) -> None:
        save_json({"runs": [s.to_dict() for s in grid.order()]}, self.dir / "runs.json")

    def write_summary(self, summary: dict) -> None:
        save_json(summary, self.dir / "summary.json")
