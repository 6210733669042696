"""``python -m meanfield``: the command line lives with the run layer (:mod:`solvers.cli`)."""
import sys

from solvers.cli import main

if __name__ == "__main__":  # not when a worker process (mpi4py.futures, spawn) imports the main module
    sys.exit(main())
