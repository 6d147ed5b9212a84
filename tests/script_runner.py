"""Run several repository scripts, each as ``python <script> <argv>`` would, inside ONE process.

Usage: ``python tests/script_runner.py plan.json`` where plan.json is a list of
``{"name", "script", "argv", "trace", "stdout"[, "stderr"]}`` (paths absolute or relative to the repo root).
Each script file is executed with ``runpy`` as ``__main__`` with ``sys.argv`` set, its stdout
captured into ``stdout`` and ``SCCL_TRACE`` pointed at ``trace``; the exit status of every run is
written to ``<plan>.status.json``, its wall time to ``<plan>.seconds.json``. One interpreter start (torch import) for the whole plan is
what keeps tests/test_settings.py and tests/test_golden.py fast on 2 cores; the scripts still run
through their real argparse / ``run_main`` entry points.
"""
from __future__ import annotations

import contextlib
import json
import os
import runpy
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_one(spec: dict) -> int:
    script = ROOT / spec["script"]
    old_argv, old_env = sys.argv, os.environ.get("SCCL_TRACE")
    sys.argv = [str(script), *map(str, spec["argv"])]
    if spec.get("trace"):
        os.environ["SCCL_TRACE"] = str(spec["trace"])
    else:
        os.environ.pop("SCCL_TRACE", None)
    code = 0
    try:
        err_file = spec.get("stderr") or os.devnull
        with open(spec["stdout"], "w") as out, open(err_file, "w") as err, \
                contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                runpy.run_path(str(script), run_name="__main__")
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            except Exception:  # a crash fails this run only; the traceback goes to stderr
                traceback.print_exc()
                code = 1
    finally:
        sys.argv = old_argv
        if old_env is None:
            os.environ.pop("SCCL_TRACE", None)
        else:
            os.environ["SCCL_TRACE"] = old_env
    return code


def main(plan_file: str) -> int:
    import torch

    torch.set_num_threads(1)
    plan = json.loads(Path(plan_file).read_text())
    status, seconds = {}, {}
    for spec in plan:
        t0 = time.perf_counter()
        status[spec["name"]] = run_one(spec)
        seconds[spec["name"]] = round(time.perf_counter() - t0, 2)
    Path(plan_file + ".status.json").write_text(json.dumps(status, indent=1))
    Path(plan_file + ".seconds.json").write_text(json.dumps(seconds, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
