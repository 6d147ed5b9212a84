"""The per-folder testsuites' progress file, keyed by the sweep's arguments.

The original drivers keep one integer in ``test.conf`` (the next run to do), shared by every
sweep started in the folder: a sweep with other arguments resumed at the other sweep's index
and skipped runs without saying so. Here ``test.conf`` keeps its format (one integer, the
progress of the last sweep that wrote it) and ``test.conf.sweeps.json`` beside it holds the
progress of each sweep, keyed by a hash of its run commands (the flags that only change how a
run executes, ``--threads`` and ``--skip_done``, left out):

* a sweep resumes at its own progress, whatever other sweeps did in between;
* deleting ``test.conf`` still restarts the sweeps (the keyed progress goes with it), and a
  ``test.conf`` changed by hand is obeyed (it says where the next sweep resumes), as the original's;
* a ``test.conf`` without the keyed file (an older driver's) is trusted as before, with a
  one-line notice that says at which run the sweep resumes and why.
"""
from __future__ import annotations

import hashlib
import json
import shlex
from pathlib import Path
from typing import Sequence

from sccl.errors import ConfigError

EXEC_ONLY = ("--threads", "--skip_done", "--skip-done")


def sweep_key(commands: Sequence[Sequence[str]]) -> str:
    runs = [[str(a) for a in cmd if str(a).split("=", 1)[0] not in EXEC_ONLY] for cmd in commands]
    return hashlib.sha1(json.dumps(runs).encode()).hexdigest()[:12]


def keyed_path(conf: Path) -> Path:
    conf = Path(conf)
    return conf.with_name(conf.name + ".sweeps.json")


def _read_int(conf: Path) -> int:
    text = conf.read_text().strip().splitlines()
    try:
        value = int(text[0]) if text else 0
    except ValueError:
        raise ConfigError(f"{conf} should hold one integer (the next run to do), found {text[0]!r}: "
                          f"fix or delete it (deleting restarts the sweep)") from None
    if value < 0:
        raise ConfigError(f"{conf} holds {value}; it should be >= 0")
    return value


def _read_keyed(conf: Path) -> dict:
    try:
        data = json.loads(keyed_path(conf).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) and isinstance(data.get("sweeps"), dict) else {}


def read(conf: Path, commands: Sequence[Sequence[str]], *, log=print) -> int:
    """The index of this sweep's first unfinished run."""
    conf = Path(conf)
    if not conf.exists():
        keyed_path(conf).unlink(missing_ok=True)  # deleting test.conf restarts every sweep
        write(conf, commands, 0)
        return 0
    value = _read_int(conf)
    keyed = _read_keyed(conf)
    sweeps = keyed.get("sweeps", {})
    key = sweep_key(commands)
    if keyed and keyed.get("last") != value:  # edited by hand (or by an older driver) since: it says
        log(f"notice: {conf.name} was changed since this driver wrote it: resuming at run {value + 1} as it says")
        return value
    if key in sweeps:
        return int(sweeps[key].get("next", 0))
    if not keyed:
        if value:
            log(f"notice: {conf.name} (written by an older driver) does not say which sweep it belongs to: "
                f"resuming at run {value + 1} as it says (delete it to start this sweep from run 1)")
        return value
    if value:
        first = shlex.join(str(c) for c in commands[0]) if commands else ""
        log(f"notice: {conf.name} holds the progress of another sweep of this folder; this sweep "
            f"({len(commands)} runs, the first `{first}`) starts at run 1 (its finished runs are skipped)")
    return 0


def write(conf: Path, commands: Sequence[Sequence[str]], value: int) -> None:
    """Record this sweep's progress (``test.conf`` and the keyed file, atomically each)."""
    from sccl.artifacts import save_json, save_text

    conf = Path(conf)
    sweeps = _read_keyed(conf).get("sweeps", {}) if conf.exists() else {}
    sweeps[sweep_key(commands)] = {"next": value, "runs": len(commands),
                                   "first": shlex.join(str(c) for c in commands[0]) if commands else ""}
    save_json({"last": value, "sweeps": sweeps}, keyed_path(conf))
    save_text(f"{value}\n", conf)
