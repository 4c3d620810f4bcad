"""``python -m minialex [command] ...``: the command line lives in ``minialex.cli``."""

from __future__ import annotations

import sys

from minialex.cli import main

if __name__ == "__main__":
    sys.exit(main())
