"""Real write faults: a run on a size-limited tmpfs that fills up (or turns read-only) after the
disk budget was checked: at the start, at a checkpoint, at a snapshot and at resume's first write. Each is one line and exit 74, leaves no
temporary file and keeps the run file and the last good checkpoint; after space is freed, resume
ends bit for bit where the uninterrupted run does. Mounting needs root (as CI runs)."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from solvers.runfolder import read_checkpoint
from solvers.runs import open_run
from tests.helpers import assert_same_bits, final_state, mpiexec, reference_run, sets

ROOT = Path(__file__).resolve().parents[1]
ITEMS = ["m=20000", "t_end=3.0", "dt=0.01", "method=heun", "history=0.1", "keep=2", "progress=false", "figures=false"]

# runs the command line with a hook that fills the disk or remounts it read-only: before the
# observers of step AT, or with AT = -1 just after the disk budget was checked (another process
# filling the disk once the run has started)
DRIVER = """
import os, subprocess, sys
from solvers import budget, cli
from solvers.observers import HistoryRecorder

action, mount, at = sys.argv[1], sys.argv[2], int(sys.argv[3])


def fault():
    if os.environ.get("PMI_RANK", "0") != "0":  # under mpiexec rank 0 makes the fault for all
        return
    if action in ("fill", "fill-but-128k"):  # the latter leaves room for the run file, not for particles
        free = os.statvfs(mount).f_bavail * os.statvfs(mount).f_frsize - (2**17 if action == "fill-but-128k" else 0)
        with open(os.path.join(mount, "ballast"), "wb") as f:
            os.posix_fallocate(f.fileno(), 0, free)
    else:
        subprocess.run(["mount", "-o", "remount,ro", mount], check=True)


step, check_disk = HistoryRecorder.step, budget.check_disk
HistoryRecorder.step = lambda self, solver: (fault() if solver.step == at else None, step(self, solver))[1]
budget.check_disk = lambda *args, **kwargs: (check_disk(*args, **kwargs), fault() if at < 0 else None)[0]
sys.exit(cli.main(sys.argv[4:]))
"""

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("mount") is None, reason="mounting a tmpfs needs root")


@pytest.fixture
def disk(tmp_path):
    """A 24 MB tmpfs, unmounted afterwards."""
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def cli(*args, driver=None, ranks=1):
    command = [sys.executable, "-c", DRIVER, *driver] if driver else [sys.executable, "-m", "meanfield"]
    if ranks > 1:
        command = [mpiexec(), "-n", str(ranks), *command]
    return subprocess.run([*command, *args], cwd=ROOT, capture_output=True, text=True, timeout=600, env=dict(os.environ, NUMBA_NUM_THREADS="1"))




def free_space(mount):
    subprocess.run(["mount", "-o", "remount,rw", str(mount)], check=True)
    (mount / "ballast").unlink(missing_ok=True)


def assert_one_write_error(proc, *phrases):
    assert proc.returncode == 74, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot write "), proc.stderr
    for phrase in phrases:
        assert phrase in lines[0], lines[0]


def assert_no_temporary_files(mount):
    assert not [p for p in mount.rglob("*") if ".tmp-" in p.name]


def test_a_full_disk_at_the_start_leaves_no_run_behind(disk, tmp_path):
    out = disk / "run"
    proc = cli("run", "--out", str(out), *sets(ITEMS), driver=("fill", str(disk), "-1"))
    assert_one_write_error(proc, "No space left on device", "nothing was kept")
    assert not out.exists()
    assert_no_temporary_files(disk)
    free_space(disk)
    assert cli("run", "--out", str(out), *sets(ITEMS)).returncode == 0
    assert_same_bits(final_state(out), final_state(reference_run(tmp_path, ITEMS)))


@pytest.mark.parametrize("moment, cadences, action", [
    ("checkpoint", ["snapshots=100.0", "checkpoints=0.5"], "fill"),
    ("snapshot", ["snapshots=0.5", "checkpoints=1.0"], "fill"),
    ("read-only", ["snapshots=0.5", "checkpoints=0.5"], "remount"),
])
def test_a_write_failing_mid_run_keeps_the_last_checkpoint_and_resumes(disk, tmp_path, moment, cadences, action):
    """Before the observers of step 120 the disk fills (or turns read-only); the next write (the
    checkpoint of step 150, the snapshot of step 150) fails."""
    items = [*ITEMS, *cadences]
    out = disk / "run"
    proc = cli("run", "--out", str(out), *sets(items), driver=(action, str(disk), "120"))
    assert_one_write_error(proc, "step_000000000100.h5", f"python -m meanfield resume {out}")
    assert_no_temporary_files(disk)
    newest = read_checkpoint(sorted((out / "checkpoints").glob("step_*.h5"))[-1])  # verifies
    assert newest.state["step"] == 100
    assert open_run(out).history.step[-1] >= 100  # the run file reads
    free_space(disk)
    proc = cli("resume", str(out))
    assert proc.returncode == 0, proc.stderr
    assert_same_bits(final_state(out), final_state(reference_run(tmp_path, items)))


def test_a_full_disk_at_resume_changes_nothing(disk, tmp_path):
    items = [*ITEMS, "t_end=2.0", "snapshots=0.5", "checkpoints=0.5"]
    out = disk / "run"
    assert cli("run", "--out", str(out), *sets(items)).returncode == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and p.name != ".lock"}
    proc = cli("resume", str(out), "--t-end", "3", driver=("fill", str(disk), "-1"))
    assert_one_write_error(proc, f"cannot write {out}/", "No space left on device")
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and p.name != ".lock"} == before
    assert_no_temporary_files(disk)
    free_space(disk)
    assert cli("resume", str(out), "--t-end", "3").returncode == 0
    reference = reference_run(tmp_path, items)
    assert cli("resume", str(reference), "--t-end", "3").returncode == 0
    assert_same_bits(final_state(out), final_state(reference))


@pytest.mark.mpi
def test_a_full_disk_during_a_checkpoint_written_by_two_ranks(disk, tmp_path):
    """Each rank writes its own particles (320 kB each); the disk fills but for 128 kB before the
    checkpoint of step 150: one line (from rank 0, naming the part that failed; MPI_Abort adds its
    own), no part or temporary file of that checkpoint left, the one of step 100 intact; after
    space is freed the run resumes on two ranks and ends with the serial run's bits."""
    items = [*ITEMS, "m=40000", "snapshots=100.0", "checkpoints=0.5"]
    out = disk / "run"
    proc = cli("run", "--out", str(out), *sets(items), driver=("fill-but-128k", str(disk), "120"), ranks=2)
    assert proc.returncode == 74, proc.stderr
    lines = [line for line in proc.stderr.strip().splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and lines[0].startswith(f"error: rank 0: cannot write {out}/checkpoints/step_000000000150.parts/"), proc.stderr
    assert "No space left on device" in lines[0] and "step_000000000100.h5" in lines[0] and "Traceback" not in proc.stderr
    assert_no_temporary_files(disk)
    kept = [f"step_{step:012d}{suffix}" for step in (50, 100) for suffix in (".h5", ".parts")]  # keep = 2
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == kept
    assert read_checkpoint(out / "checkpoints" / "step_000000000100.h5").state["step"] == 100  # verifies, parts included
    free_space(disk)
    proc = cli("resume", str(out), ranks=2)
    assert proc.returncode == 0, proc.stderr
    assert_same_bits(final_state(out), final_state(reference_run(tmp_path, items)))
