"""The one place where numba compiles this project's kernels.

Every ``@njit`` kernel in ``meanfield`` and ``solvers`` is decorated with :func:`kernel` so that
the compilation options are decided once:

- ``cache=True``: compiled machine code is stored beside the sources, so a second process (a test
  run, a CLI call) pays no compilation.
- ``fastmath=False``: the kernels must agree with the brute-force reference to the last digits we
  test, and reassociation would make results depend on vectorisation choices.
- ``error_model='numpy'``: division by zero gives inf/nan as in numpy rather than raising, which
  spares a branch per division in hot loops.
"""
import numba

_OPTIONS = dict(cache=True, nogil=True, fastmath=False, error_model="numpy")


def kernel(fn=None, *, parallel=False):
    """Compile ``fn`` with the project's options; ``parallel=True`` enables ``prange``."""

    def wrap(f):
        return numba.njit(parallel=parallel, **_OPTIONS)(f)

    return wrap(fn) if fn is not None else wrap


prange = numba.prange
