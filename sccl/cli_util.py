"""Shared entry-point wrapper for the scripts (design.md "Errors").

Every script ends with::

    if __name__ == "__main__":
        sys.exit(run_main(main))

so a user-facing :class:`sccl.errors.SCCLError` becomes one ``error: ...`` line on stderr and
exit status 2 (no traceback), and Ctrl-C exits with status 130. ``main(argv=None)`` itself
raises normally, so tests and other Python code can call it and catch the exception.
"""
from __future__ import annotations

import sys
from typing import Callable, TypeVar

from sccl.errors import SCCLError

R = TypeVar("R")


# configuration fields whose flag is not ``--<field>`` (sccl.config, sccl.experiments.continual)
SETTING_FLAGS = {"depth": "--latent_depth", "n_frames": "--latent_subsample",
                 "memory_batches": "--latent_batches / --reharsal_size", "held_out": "--speaker / --removed_class"}


def cli_message(e: Exception) -> str:
    """The error's message, prefixed with the flag (and value) of the setting it is about."""
    setting = getattr(e, "setting", None)
    if not setting:
        return str(e)
    flag = SETTING_FLAGS.get(setting, "--" + setting)
    value = getattr(e, "value", None)
    return f"{flag}{'' if value is None else f'={value}'}: {e}"


def error_exit(message: str, status: int = 2) -> None:
    """Print ``error: <message>`` (one line) to stderr and exit with ``status``."""
    print("error: " + " ".join(str(message).split()), file=sys.stderr, flush=True)
    sys.exit(status)


def run_main(fn: Callable[..., R], *args, **kwargs) -> R:
    """Call ``fn(*args, **kwargs)`` and return its result; exit 2 on SCCLError, 130 on Ctrl-C."""
    try:
        return fn(*args, **kwargs)
    except SCCLError as e:
        error_exit(cli_message(e), 2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr, flush=True)
        sys.exit(130)
    raise AssertionError("unreachable")
