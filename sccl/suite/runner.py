"""The grid driver: runs ready runs on an executor, in dependency order, and reports.

* A run starts only when every run it depends on has finished (exit status 0) in this or an
  earlier driver; a run that fails marks everything that depends on it, directly or not, as
  "not run" (reported, with the run that failed); independent runs go on.
* A run whose done marker exists is skipped; a continual run whose records file exists returns
  at once (``--skip_done``) and is reported as skipped too.
* One line per finished run, then a summary: done / skipped / failed / not run, wall time.
* One driver per output folder (a lock); a second one stops with a clear message.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from sccl.errors import SCCLError
from sccl.suite.spec import Grid
from sccl.suite.state import GridState, write_error

STATUSES = ("done", "skipped", "failed", "not_run")


@dataclass
class Summary:
    total: int
    wall_s: float = 0.0
    runs: dict = field(default_factory=dict)      # id -> status
    messages: dict = field(default_factory=dict)  # id -> why (failed / not run)

    def count(self, status: str) -> int:
        return sum(1 for s in self.runs.values() if s == status)

    @property
    def ok(self) -> bool:
        return self.count("failed") == 0 and self.count("not_run") == 0

    def line(self) -> str:
        parts = [f"{self.count(s)} {s.replace('_', ' ')}" for s in STATUSES]
        return f"grid: {self.total} runs: " + ", ".join(parts) + f"; wall time {self.wall_s:.1f} s"

    def to_dict(self) -> dict:
        return {"total": self.total, "wall_s": round(self.wall_s, 2),
                **{s: self.count(s) for s in STATUSES},
                "failed_runs": {i: self.messages.get(i, "") for i, s in self.runs.items() if s == "failed"},
                "not_run": {i: self.messages.get(i, "") for i, s in self.runs.items() if s == "not_run"}}


def _why(log: Path) -> str:
    """The child's error line (or last line) from its log."""
    try:
        lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    errs = [ln for ln in lines if ln.startswith("error: ")]
    if errs:
        return errs[-1]
    return lines[-1] if lines else ""


def _skipped_by_child(log: Path) -> bool:
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return False
    return text.startswith("already done: ") or "\nalready done: " in text


def dry_run(grid: Grid, out: Path, state: GridState | None = None, log=print) -> None:
    order = grid.order()
    for i, s in enumerate(order, 1):
        done = state is not None and state.is_done(s.id)
        log(f"[{i}/{len(order)}] {'done' if done else 'todo'}  {s.label}  {s.shown(out)}")
        if s.deps:
            names = [grid.by_id()[d].label for d in s.deps]
            shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
            log(f"        after: {shown}")


@dataclass
class Policy:
    """How a driver reacts to finished runs: ``stop_on_failure`` starts nothing new once a run has
    failed (the testsuite drivers: the sweep stops at the run that failed); ``on_finish(id,
    status)`` is told of every run that ends (the testsuites keep their progress file with it)."""

    stop_on_failure: bool = False
    on_finish: Callable[[str, str], None] | None = None


def run_grid(grid: Grid, out: Path, executor, *, state: GridState | None = None, log=print,
             python: str | None = None, forget_done: bool = False, policy: Policy | None = None) -> Summary:
    """Run ``grid`` (outputs under ``out``) on ``executor``; returns the summary (raises SCCLError
    only for problems of the driver itself: lock held, folder unwritable, conflicting results).
    ``forget_done``: ignore (delete) earlier done markers, once the lock is held."""
    out = Path(out).resolve()
    state = state or GridState(out)
    python = python or sys.executable
    state.prepare()
    with state.locked():
        if forget_done:
            try:
                state.forget_done()
            except OSError as exc:
                raise write_error(state.done_dir, exc) from None
        return _run(grid, out, executor, state, log, python, policy or Policy())


def _run(grid, out, executor, state, log, python, policy) -> Summary:
    t_all = time.time()
    order = grid.order()
    specs = {s.id: s for s in order}
    dependants = grid.dependants()
    summary = Summary(total=len(order))
    try:
        state.check_conflicts(grid)
        state.write_manifest(grid)
    except OSError as exc:
        raise write_error(state.dir, exc) from None
    status: dict[str, str] = {}
    for s in order:  # topological: a run is skipped only when every run it depends on is too, so a
        # pretraining that runs again makes its dependants run (their scripts then skip them only
        # when the new pretraining's manifest is the one their records were made from)
        if state.is_done(s.id) and all(status.get(d) == "skipped" for d in s.deps):
            status[s.id] = "skipped"
    n_skip = len(status)
    log(f"grid: {len(order)} runs in {out} ({executor.describe()})" +
        (f"; {n_skip} already done, skipped" if n_skip else ""))
    todo = [s for s in order if s.id not in status]
    adopted = []
    adopt = getattr(executor, "adopt", None)
    if adopt is not None:
        for s in todo:
            info = state.submitted(s.id)
            if info and adopt(s.id, info):
                status[s.id] = "running"
                adopted.append(s.id)
        if adopted:
            log(f"grid: {len(adopted)} runs submitted by an earlier driver are still queued or running: waiting for them")
    finished_count = 0
    n_todo = len(todo)
    width = len(str(n_todo))
    from sccl.runtime import progress

    # elapsed time and ETA on a terminal (quiet in logs and CI); the per-run lines print above it
    bar = progress(total=n_todo, desc="grid", unit="run",
                   bar_format="{desc}: {n_fmt}/{total_fmt} runs |{bar}| [{elapsed} elapsed, ETA {remaining}]")

    def report(s, what: str, extra: str = "") -> None:
        nonlocal finished_count
        finished_count += 1
        line = f"[{finished_count:>{width}}/{n_todo}] {what:<8} {s.label}" + (f"  {extra}" if extra else "")
        if bar.disable:
            log(line)
        else:
            bar.write(line)
        bar.update(1)

    def block_dependants(root: str) -> None:
        stack = list(dependants[root])
        while stack:
            d = stack.pop()
            if status.get(d) is None:
                status[d] = "not_run"
                summary.messages[d] = f"needs {specs[root].label}, which " + (
                    "failed" if status[root] == "failed" else "was not run")
                report(specs[d], "not run", f"(needs {specs[root].label})")
                stack.extend(dependants[d])

    try:
        while True:
            stopped = policy.stop_on_failure and "failed" in status.values()
            ready = [] if stopped else [
                s for s in todo if status.get(s.id) is None
                and all(status.get(d) in ("done", "skipped") for d in s.deps)
                and all(status.get(d) in STATUSES for d in s.after)]
            room = executor.capacity - executor.running()
            if ready and room > 0:
                batch = []
                for s in ready[:room]:
                    status[s.id] = "running"
                    argv, cwd = s.command(python, out, executor.threads)
                    batch.append((s.id, argv, cwd, state.log_path(s.id)))
                try:
                    executor.start(batch)
                except OSError as exc:
                    raise write_error(state.log_dir, exc) from None
            if executor.running() == 0:
                break
            finished = executor.poll()
            if not finished:
                time.sleep(executor.poll_s)
                continue
            for f in finished:
                s = specs[f.key]
                logf = state.log_path(s.id)
                if f.rc == 0:
                    skipped = s.kind == "continual" and _skipped_by_child(logf)
                    status[s.id] = "skipped" if skipped else "done"
                    try:
                        state.mark_done(s, wall_s=round(f.wall_s, 2), skipped_by_script=skipped, **f.info)
                    except OSError as exc:
                        raise write_error(state.done_dir, exc) from None
                    report(s, "skipped" if skipped else "done", f"{f.wall_s:.1f} s" + (" (results existed)" if skipped else ""))
                else:
                    status[s.id] = "failed"
                    job = f.info.get("job_id")
                    why = f.message or (f"exit status {f.rc}" + (f" (job {job})" if job else "") +
                                        (f": {_why(logf)}" if _why(logf) else ""))
                    summary.messages[s.id] = why
                    report(s, "FAILED", f"after {f.wall_s:.1f} s, {why} (log: {logf})")
                    block_dependants(s.id)
                if policy.on_finish is not None:
                    policy.on_finish(s.id, status[s.id])
    except BaseException:
        executor.cancel_all()
        raise
    finally:
        bar.close()
    for s in order:
        st = status.get(s.id)
        summary.runs[s.id] = st if st in STATUSES else "not_run"
    summary.wall_s = time.time() - t_all
    log(summary.line() + f"; outputs in {out} (logs: {state.log_dir})")
    try:
        state.write_summary({**summary.to_dict(), "executor": executor.describe()})
    except OSError:
        pass
    return summary


def raise_on_failure(summary: Summary, rerun: str = "rerun the same command") -> None:
    if summary.ok:
        return
    nf, nn = summary.count("failed"), summary.count("not_run")
    first = next((f"{i}: {m}" for i, m in summary.messages.items() if summary.runs.get(i) == "failed"), "")
    raise SCCLError(f"{nf} run(s) failed and {nn} were not run because of them (first: {first}); fix the cause "
                    f"and {rerun}: finished runs are skipped")
