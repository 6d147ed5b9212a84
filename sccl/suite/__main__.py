import sys

from sccl.cli_util import run_main
from sccl.suite.cli import main

sys.exit(run_main(main))
