"""Long fuzz run, e.g. ``nice -n 10 python tests/fuzz/run_long.py --inputs 100000`` (see long_run.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fuzz.long_run import main

sys.exit(main())
