"""``python -m meanfield``: the command line lives with the run layer (:mod:`solvers.cli`)."""
import sys

from solvers.cli import main

sys.exit(main())
