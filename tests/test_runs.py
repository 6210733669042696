"""The run layer end to end with real processes: run, kill (SIGKILL at random moments and during
checkpoint writes, SIGTERM), resume, and compare with an uninterrupted run bit for bit."""
import random
import signal
import subprocess
import sys
import time

import pytest

from tests.helpers import assert_same_bits, final_state, reference_run, sets

# Particle runs of 4000 Heun steps and 3000 sliding steps and a histogram run of ~4000 MUSCL
# steps, with 30 to 48 checkpoints: room for every kill (each within 6 checkpoints of a start).
# Time cadences make every record land on the same steps whatever the interruptions.
PARTICLES = ["m=4000", "t_end=40.0", "dt=0.01", "method=heun", "history=0.1", "snapshots=5.0", "checkpoints=1.0", "keep=2"]
SLIDING = ["m=4000", "t_end=30.0", "dt=0.01", "method='sliding'", "history=0.1", "snapshots=5.0", "checkpoints=1.0", "keep=2"]
HISTOGRAM = ["kind='histogram'", "preset='gaussian4'", "sigma=0.5", "r_max=4.0", "n_r=120", "n_theta=900", "t_end=12.0",
             "history=0.05", "snapshots=1.0", "checkpoints=0.25", "keep=2"]


# the command line in a process whose checkpoint writes pause 0.1 s before their fsync: the window
# in which a killed writer leaves a partial file, wide enough to land a signal in (other files and
# folders are synced at once: pausing them too only makes the test longer)
SLOW_WRITES = """
import os, sys, time
fsync = os.fsync
def slow_fsync(fd):
    if "/checkpoints/.step_" in os.readlink(f"/proc/self/fd/{fd}"):
        time.sleep(0.1)
    return fsync(fd)
os.fsync = slow_fsync
from solvers.cli import main
sys.exit(main(sys.argv[1:]))
"""


def run_with_kills(tmp_path, items, sig, kills, *, during_write=False, seed=0):
    """Start a run in a subprocess, deliver ``sig`` ``kills`` times, resume after each, until it
    completes. A signal lands at a random moment between checkpoints: after 3 to 5 new ones and a
    random share of the shortest time between two of them after the first (the first may be
    written before a pause: compilation), or, with ``during_write``, at the next write after
    that. So the moments follow the run's own pace and not this machine's speed."""
    rng = random.Random(seed)
    out = tmp_path / "killed"
    args = ["run", "--out", str(out), *sets([*items, "progress=false", "figures=false"])]
    delivered, caught_in_write = 0, 0
    while True:
        command = [sys.executable, "-c", SLOW_WRITES] if during_write else [sys.executable, "-m", "meanfield"]
        proc = subprocess.Popen([*command, *args], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if delivered < kills:
            before = set((out / "checkpoints").glob("step_*.h5")) if out.exists() else set()
            wanted, seen = rng.randint(3, 5), []  # new checkpoints, in the order they appeared
            while proc.poll() is None and len(seen) < wanted:
                seen += [(time.monotonic(), p) for p in set((out / "checkpoints").glob("step_*.h5")) - before - {p for _, p in seen}]
                time.sleep(0.002)
            gap = min((b - a for (a, _), (b, _) in zip(seen[1:], seen[2:])), default=0.0)
            wait_until = time.monotonic() + rng.uniform(0.0, 1.0) * gap
            while proc.poll() is None:
                partial = list((out / "checkpoints").glob(".*.tmp-*"))
                if time.monotonic() > wait_until and (partial or not during_write):
                    proc.send_signal(sig)
                    caught_in_write += bool(partial)
                    delivered += 1
                    break
                time.sleep(0.002)
        stdout, stderr = proc.communicate(timeout=300)
        if proc.returncode == 0:
            # a kill that lands after the final checkpoint leaves a complete run, which resume reports
            assert "done: t =" in stdout or "the run is complete at" in stdout + stderr, stdout + stderr
            assert delivered == kills, f"the run ended after {delivered} of {kills} signals: make it longer"
            return out, caught_in_write
        expected = {signal.SIGKILL: -signal.SIGKILL, signal.SIGTERM: 143}[sig]
        assert proc.returncode == expected, stderr
        if sig == signal.SIGTERM:
            assert "SIGTERM: stopped at t =" in stderr and "Traceback" not in stderr, stderr
        args = ["resume", str(out)]


@pytest.mark.parametrize("items", [PARTICLES, SLIDING, HISTOGRAM], ids=["particles", "sliding", "histogram"])
def test_sigkill_at_random_moments_then_resume_equals_uninterrupted(tmp_path, items):
    reference = reference_run(tmp_path, items)
    killed, _ = run_with_kills(tmp_path, items, signal.SIGKILL, kills=3, seed=len(items))
    assert_same_bits(final_state(killed), final_state(reference))
    assert not list(killed.rglob(".*.tmp-*"))


def test_sigkill_during_checkpoint_writes_then_resume_equals_uninterrupted(tmp_path):
    items = [*PARTICLES, "t_end=80.0", "checkpoints=4.0"]
    reference = reference_run(tmp_path, items)
    killed, caught = run_with_kills(tmp_path, items, signal.SIGKILL, kills=2, during_write=True)
    assert caught == 2
    assert_same_bits(final_state(killed), final_state(reference))


@pytest.mark.parametrize("items", [PARTICLES, HISTOGRAM], ids=["particles", "histogram"])
def test_sigterm_checkpoints_exits_cleanly_and_resumes_bit_for_bit(tmp_path, items):
    reference = reference_run(tmp_path, items)
    killed, _ = run_with_kills(tmp_path, items, signal.SIGTERM, kills=2, seed=7)
    assert_same_bits(final_state(killed), final_state(reference))
