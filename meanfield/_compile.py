"""The one place where numba compiles this project's kernels.

Every ``@njit`` kernel in ``meanfield`` and ``solvers`` is decorated with :func:`kernel` so that
the compilation options are decided once:

- cached machine code (below), so a second process (a test run, a CLI call) pays no compilation;
- ``fastmath=False``: the kernels must agree with the brute-force reference to the last digits we
  test, and reassociation would make results depend on vectorisation choices;
- ``error_model='numpy'``: division by zero gives inf/nan as in numpy rather than raising, which
  spares a branch per division in hot loops.

Caching. Numba keys a cached kernel on its own source file only, so a kernel that inlines a helper
from another module would keep stale machine code after the helper changes. Each kernel's cache is
therefore stamped with a hash of every kernel source file (:data:`KERNEL_SOURCES`: the modules of
``meanfield/kernels`` and ``solvers/kernels``, the benchmarks' ``validation/kernels.py`` where it is present, and this file): editing any of them recompiles every
kernel, editing anything else (a plot, a docstring of a solver) recompiles nothing. The cache lives
where numba would put it (``__pycache__`` beside the sources, else the user's cache folder, or
``NUMBA_CACHE_DIR`` when set); nothing here changes numba's process-wide configuration.
"""
import functools
import hashlib
from pathlib import Path

import numba
from numba.core import caching
from numba.core.caching import CompileResultCacheImpl, FunctionCache


def _numba_locator(name):
    """A cache locator class of numba: a public name in recent numba, underscored in 0.60."""
    return getattr(caching, name, None) or getattr(caching, f"_{name}")


InTreeCacheLocator, UserProvidedCacheLocator, UserWideCacheLocator = (
    _numba_locator(name) for name in ("InTreeCacheLocator", "UserProvidedCacheLocator", "UserWideCacheLocator")
)

_ROOT = Path(__file__).resolve().parents[1]
KERNEL_SOURCES = ("meanfield/kernels", "solvers/kernels", "validation/kernels.py", "meanfield/_compile.py")

_OPTIONS = dict(nogil=True, fastmath=False, error_model="numpy")


@functools.cache
def kernel_sources_stamp():
    """SHA-256 of numba's version and of every kernel source file (path and bytes)."""
    digest = hashlib.sha256(numba.__version__.encode())
    for entry in KERNEL_SOURCES:
        path = _ROOT / entry
        for source in sorted(path.rglob("*.py")) if path.is_dir() else [path] if path.exists() else []:
            digest.update(str(source.relative_to(_ROOT)).encode())
            digest.update(source.read_bytes())
    return digest.hexdigest()


class _KernelSourcesStamp:
    """Locator mixin: a cache entry is fresh while no kernel source file, and not the kernel's
    own file, has changed (the own file counts apart: an installed package has no
    ``validation/``, whose kernels then compile from the checkout)."""

    def get_source_stamp(self):
        return kernel_sources_stamp() + _file_stamp(self._py_file)


@functools.cache
def _file_stamp(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class _UserProvided(_KernelSourcesStamp, UserProvidedCacheLocator):  # type: ignore[valid-type,misc]
    pass


class _InTree(_KernelSourcesStamp, InTreeCacheLocator):  # type: ignore[valid-type,misc]
    pass


class _UserWide(_KernelSourcesStamp, UserWideCacheLocator):  # type: ignore[valid-type,misc]
    pass


class _CacheImpl(CompileResultCacheImpl):
    _locator_classes = [_UserProvided, _InTree, _UserWide]


class _KernelCache(FunctionCache):
    _impl_class = _CacheImpl


def kernel(fn=None, *, parallel=False, inline=False):
    """Compile ``fn`` with the project's options and cache.

    With ``NUMBA_DISABLE_JIT=1`` it returns ``fn`` itself: every kernel then runs as Python
    (slowly), for a debugger or a coverage measurement.

    ``parallel=True`` enables ``prange``. ``inline=True`` inlines a small helper into its callers
    at numba's level: without it a helper returning a tuple stays an opaque call to LLVM, and a
    loop around it cannot vectorise (measured: sincos over a block is 10x faster inlined).
    """

    def wrap(f):
        if numba.config.DISABLE_JIT:  # NUMBA_DISABLE_JIT=1: the kernels run as plain Python
            return f
        dispatcher = numba.njit(parallel=parallel, inline="always" if inline else "never", cache=False, **_OPTIONS)(f)
        dispatcher._cache = _KernelCache(dispatcher.py_func)  # what cache=True does, with our stamp
        return dispatcher

    return wrap(fn) if fn is not None else wrap


prange = numba.prange
