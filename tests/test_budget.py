"""What a run needs, refused up front: memory and disk estimated from the configuration before
anything is allocated or written; inputs whose squares would overflow; no numpy warning lines."""
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import meanfield as mf
from solvers import budget
from solvers import config as cfg

ROOT = Path(__file__).resolve().parents[1]


def cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "meanfield", *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=300)


def one_error_line(proc, *phrases):
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for phrase in phrases:
        assert phrase in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("items, phrase", [
    (["m=1e13"], "lower init.m"),
    (["kind='histogram'", "n_r=1000000", "n_theta=1000000"], "lower solver.n_r and solver.n_theta"),
])
def test_a_run_too_big_for_memory_is_refused_before_anything_is_made(tmp_path, items, phrase):
    began = time.monotonic()
    proc = cli("run", "--out", tmp_path / "run", *[a for item in items for a in ("--set", item)])
    line = one_error_line(proc, "GB of memory", "GB are available", phrase)
    assert time.monotonic() - began < 5 + 10  # the interpreter's start and imports, then no allocation
    assert not (tmp_path / "run").exists(), line


def test_the_memory_estimate_counts_state_workspace_and_files():
    config = cfg.load(None, ["m=1000000", "method=rk4"])
    parts = budget.memory_needed(config, s=8)
    assert parts == {"state": 16e6, "workspace": 32e6, "files": 16e6}  # r, theta; 4 float64 per particle; the file image
    assert budget.memory_needed(config, s=8, ranks=4)["state"] == 4e6  # a rank's share
    assert budget.memory_needed(config, s=8, ranks=4)["files"] == 4e6  # every rank writes its own part
    with pytest.raises(ValueError, match=r"needs about 0.064 GB .* but 0.05 GB are available"):
        budget.check_memory(config, 8, available=0.05e9)
    budget.check_memory(config, 8, available=0.07e9)


def test_the_disk_estimate_counts_the_cadences():
    config = cfg.load(None, ["m=1000000", "t_end=100", "snapshots=10.0", "keep=3", "history=0.5"])
    parts = budget.disk_needed(config, s=8)
    assert parts["snapshots"] == 12 * 16e6 and parts["checkpoints"] == 4 * 16e6 and parts["history"] == 2 * 202 * 8 * 12
    assert budget.disk_needed(config, s=8, t_from=50.0)["snapshots"] == 7 * 16e6  # what a resume at t = 50 adds
    with pytest.raises(ValueError, match="set a longer output.snapshots"):
        budget.check_disk(config, 8, "/", free=1e8)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("mount") is None, reason="mounting a tmpfs needs root")
def test_a_run_too_big_for_the_disk_is_refused_before_anything_is_written(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)], check=True)
    try:
        one_error_line(cli("run", "--out", mount / "run", "--set", "m=1e6", "--set", "snapshots=1.0"), "would write about", "are free in")
        assert not (mount / "run").exists()
        one_error_line(cli("sweep", "--out", mount / "s", "--set", "m=[1e5, 1e6]", "--set", "snapshots=1.0"), "would write about")
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_inputs_whose_squares_overflow_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"beyond \+-1e\+100"):
        mf.Samples([1e300, 2.0], [0.0, 1.0])
    one_error_line(cli("run", "--out", tmp_path / "a", "--set", "x=[1e300, 2]", "--set", "y=[0, 1]"), "beyond +-1e+100")
    one_error_line(cli("run", "--out", tmp_path / "b", "--set", "sigma=1e200"), "init.sigma must be <= 1e+100")


@pytest.mark.parametrize("dt, says", [(1e30, "the loss blew up"), (1e200, "no longer finite")])
def test_a_run_that_overflows_says_so_in_one_line_and_no_warning(tmp_path, dt, says):
    proc = cli("run", "--out", tmp_path / "run", "--set", "sigma=1e90", "--set", f"dt={dt}", "--set", "m=1000", "--set", "t_end=1e300",
               "--set", "steps=20", "--set", "progress=false", "--set", "figures=false")
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0] and "Warning" not in proc.stderr, proc.stderr


def test_python_warnings_are_one_line_without_a_source_location(tmp_path):
    """The histogram's warning that mass leaves through |r| = r_max, from the command line."""
    proc = cli("run", "--out", tmp_path / "run", "--set", "kind='histogram'", "--set", "r_max=2.0", "--set", "n_r=20",
               "--set", "n_theta=40", "--set", "t_end=1", "--set", "progress=false", "--set", "figures=false")
    assert proc.returncode == 0, proc.stderr
    warned = [line for line in proc.stderr.splitlines() if line]
    assert warned and all(line.startswith("warning: ") and ".py:" not in line for line in warned), proc.stderr
    assert np.isfinite(float(mf.open_run(tmp_path / "run").history.loss[-1]))
