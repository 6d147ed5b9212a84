"""Golden outputs (issue 10, item 2): the exact TXT / CSV bytes of a tiny fixed run of every
continual script, and the printed lines of the generators and analysis scripts, against
tests/golden/. After a deliberate change regenerate them with ``make golden`` (= ``python
tests/make_golden.py``) and review ``git diff tests/golden``. The runs are the ones of
tests/scenarios.py (pinned seed, threads, CPU, kernel), shared with tests/test_settings.py."""
from __future__ import annotations

import difflib

import pytest

import scenarios
from make_golden import GOLDEN, compare


def _diff(want: bytes, got: bytes, name: str) -> str:
    lines = difflib.unified_diff(want.decode(errors="replace").splitlines(),
                                 got.decode(errors="replace").splitlines(), f"golden/{name}", "now", lineterm="", n=1)
    return "\n".join(list(lines)[:30])


def test_golden_files_exist():
    assert GOLDEN.is_dir() and any(GOLDEN.iterdir()), "tests/golden/ is missing: run `make golden`"


@pytest.mark.parametrize("name", scenarios.names())
def test_golden_bytes(name, script_runs):
    assert script_runs.status[name] == 0, f"{name} failed: see {script_runs.work / (name + '.stdout')}"
    got = {name: scenarios.outputs(script_runs.specs[name])}
    want_dir = GOLDEN / name
    assert want_dir.is_dir(), f"no golden outputs for {name}: run `make golden`"
    diffs = [d for d in compare(got, GOLDEN) if d.split("/")[0] == name]
    if diffs:
        msgs = []
        for d in diffs:
            f = d.split("/", 1)[1]
            w = (want_dir / f).read_bytes() if (want_dir / f).exists() else b""
            msgs.append(_diff(w, got[name].get(f, b""), d))
        pytest.fail(f"{name}: differs from tests/golden (if deliberate: `make golden`)\n" + "\n".join(msgs))
