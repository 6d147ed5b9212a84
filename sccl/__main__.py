import sys

from sccl.cli import main

sys.exit(main())
