"""One process per run folder: a second writer is refused with the holder's pid, readers read, and
the lock dies with its holder (SIGKILL included)."""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from solvers.lock import FolderInUse, FolderLock
from solvers.runs import open_run
from tests.helpers import sets

ROOT = Path(__file__).resolve().parents[1]


def cli(*args):
    return subprocess.run([sys.executable, "-m", "meanfield", *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_the_lock_names_its_holder_and_is_released(tmp_path):
    with FolderLock(tmp_path, "run in"):
        with pytest.raises(FolderInUse, match=f"cannot resume {tmp_path}: process {os.getpid()} is using it"):
            with FolderLock(tmp_path, "resume"):
                pass
    with FolderLock(tmp_path, "resume"):  # free again
        pass


def test_a_second_process_is_refused_until_the_first_dies(tmp_path):
    out = tmp_path / "run"
    items = ["m=20000", "t_end=1000", "dt=0.01", "checkpoints=0.2", "snapshots=0.5", "progress=false", "figures=false"]
    first = subprocess.Popen([sys.executable, "-m", "meanfield", "run", "--out", str(out), *sets(items)], cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while len(list((out / "checkpoints").glob("step_*.h5"))) < 2:  # past the start: stepping
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        for args in (["resume", out], ["run", "--out", out], ["plot", out], ["animate", out], ["sweep", "--out", out]):
            proc = cli(*args)
            assert proc.returncode == 2, (args, proc.stderr)
            lines = proc.stderr.strip().splitlines()
            assert len(lines) == 1 and f"process {first.pid} is using it" in lines[0], (args, proc.stderr)
        # readers read while it runs
        assert cli("info", out).returncode == 0
        assert cli("plot", out, "--out", tmp_path / "figures").returncode == 0
        assert cli("attractors", out).returncode == 0
        assert open_run(out).solver().step > 0
    finally:
        first.kill()
        first.wait()
    t = float(open_run(out).newest_checkpoint().state["t"])
    proc = cli("resume", out, "--t-end", t + 0.1)
    assert proc.returncode == 0, proc.stderr
