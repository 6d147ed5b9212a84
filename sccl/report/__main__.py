"""``python -m sccl.report --results DIR``: see :mod:`sccl.report.cli`."""
import sys

from sccl.cli_util import run_main
from sccl.report.cli import main

if __name__ == "__main__":
    sys.exit(run_main(main))
