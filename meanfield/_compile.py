"""The one place where numba compiles this project's kernels.

Every ``@njit`` kernel in ``meanfield`` and ``solvers`` is decorated with :func:`kernel` so that
the compilation options are decided once:

- ``cache=True``: compiled machine code is stored beside the sources, so a second process (a test
  run, a CLI call) pays no compilation.
- ``fastmath=False``: the kernels must agree with the brute-force reference to the last digits we
  test, and reassociation would make results depend on vectorisation choices.
- ``error_model='numpy'``: division by zero gives inf/nan as in numpy rather than raising, which
  spares a branch per division in hot loops.

Numba keys a cached kernel on its own source file only, so a kernel that inlines a helper from
another module would keep stale machine code after the helper changes. The cache directory is
therefore keyed by a hash of every kernel module's source (``NUMBA_CACHE_DIR``, if set, is the
base; otherwise the user cache directory).
"""
import hashlib
import os
from pathlib import Path

import numba

_ROOT = Path(__file__).resolve().parents[1]
_KERNEL_DIRS = ("meanfield", "solvers")


def _source_hash():
    digest = hashlib.sha256(numba.__version__.encode())
    for package in _KERNEL_DIRS:
        for path in sorted((_ROOT / package).rglob("*.py")):
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _cache_dir():
    base = os.environ.get("NUMBA_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "meanfield-numba"
    )
    return os.path.join(base, _source_hash())


numba.config.CACHE_DIR = _cache_dir()

_OPTIONS = dict(cache=True, nogil=True, fastmath=False, error_model="numpy")


def kernel(fn=None, *, parallel=False, inline=False):
    """Compile ``fn`` with the project's options.

    ``parallel=True`` enables ``prange``. ``inline=True`` inlines a small helper into its callers
    at numba's level: without it a helper returning a tuple stays an opaque call to LLVM, and a
    loop around it cannot vectorise (measured: sincos over a block is 10x faster inlined).
    """

    def wrap(f):
        return numba.njit(parallel=parallel, inline="always" if inline else "never", **_OPTIONS)(f)

    return wrap(fn) if fn is not None else wrap


prange = numba.prange
