"""Compilation: the cache stamp covers every kernel source and nothing else; importing the package
changes no process-wide setting."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import meanfield._compile as compile_

ROOT = Path(__file__).resolve().parents[1]


def test_every_kernel_lives_in_a_stamped_source():
    stamped = set()
    for entry in compile_.KERNEL_SOURCES:
        path = ROOT / entry
        stamped |= set(path.rglob("*.py")) if path.is_dir() else {path}
    with_kernels = {p for package in ("meanfield", "solvers", "validation") for p in (ROOT / package).rglob("*.py")
                    if re.search(r"^@kernel", p.read_text(), flags=re.M)}
    assert with_kernels and with_kernels <= stamped, with_kernels - stamped


def test_stamp_changes_with_kernel_sources_only(tmp_path, monkeypatch):
    for entry in ("meanfield", "solvers", "validation"):
        shutil.copytree(ROOT / entry, tmp_path / entry, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(compile_, "_ROOT", tmp_path)

    def stamp():
        compile_.kernel_sources_stamp.cache_clear()
        return compile_.kernel_sources_stamp()

    try:
        first = stamp()
        plots = tmp_path / "meanfield" / "plots.py"
        plots.write_text(plots.read_text() + "\n# a comment in a non-kernel file\n")
        (tmp_path / "solvers" / "histogram.py").write_text("# rewritten\n")
        assert stamp() == first  # nothing to recompile
        helper = tmp_path / "meanfield" / "kernels" / "arcs.py"
        helper.write_text(helper.read_text().replace("TWO_PI = 2.0 * np.pi", "TWO_PI = 2.0 * np.pi  # edited"))
        assert stamp() != first  # every kernel that may inline the helper recompiles
    finally:
        compile_.kernel_sources_stamp.cache_clear()


def test_import_changes_no_process_wide_setting():
    code = (
        "import numba, matplotlib, os; before = (numba.config.CACHE_DIR, matplotlib.get_backend(), dict(os.environ)); "
        "import meanfield, solvers, meanfield.plots, solvers.cli, solvers.report; "
        "after = (numba.config.CACHE_DIR, matplotlib.get_backend(), dict(os.environ)); print(before == after)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.stdout.strip() == "True", proc.stderr


def test_the_cache_layer_on_numba_private_classes_still_works(tmp_path):
    """The stamped cache subclasses numba's private caching classes (numba has no public hook for
    a cache key). A numba release that changes them must fail here, loudly: a fresh process has
    to compile a kernel and store it through our locator, and a second process has to load it."""
    code = (
        "import numpy as np, meanfield as mf\n"
        "from meanfield.kernels import field as fk\n"
        "mf.residuals(mf.Samples([0.0, 1.0], [1.0, 0.0]), np.ones(3), np.zeros(3))\n"
        "kernel = fk.arc_moments\n"
        "print(type(kernel._cache._impl.locator).__name__, sum(kernel.stats.cache_hits.values()), sum(kernel.stats.cache_misses.values()))\n"
    )
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300) for _ in range(2)]
    assert all(proc.returncode == 0 for proc in runs), [proc.stderr for proc in runs]
    assert [proc.stdout.split() for proc in runs] == [["_UserProvided", "0", "1"], ["_UserProvided", "1", "0"]]
    assert list(tmp_path.rglob("*.nbi")), "no cache index written"
