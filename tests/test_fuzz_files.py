"""Damaged files: bytes flipped or the file cut anywhere in run.h5, a checkpoint or a snapshot, then
every reader and resume on the folder. Each answers with one error line (exit 2), or works around
the damage (a warning and the previous checkpoint); none raises or crashes. About 200 cases run by
default; ``pytest -m slow`` runs 3000 more."""
import random
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solvers import cli
from solvers.runs import open_run

ITEMS = ["m=300", "t_end=0.3", "snapshots=0.1", "checkpoints='5 steps'", "keep=3", "history=0.05", "progress=false", "figures=false"]
TARGETS = ("run.h5", "checkpoints/newest", "checkpoints/oldest", "snapshots/one")


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz") / "run"
    args = ["run", "--out", str(folder)]
    for item in ITEMS:
        args += ["--set", item]
    assert cli.main(args) == 0
    return folder


def damage(folder, target, mode, seed):
    """Flip 1 to 16 bytes of the target file, or cut it at a random length."""
    rng = random.Random(seed)
    if target == "run.h5":
        path = folder / "run.h5"
    elif target.startswith("checkpoints/"):
        files = sorted((folder / "checkpoints").glob("step_*.h5"))
        path = files[-1] if target.endswith("newest") else files[0]
    else:
        path = rng.choice(sorted((folder / "snapshots").glob("step_*.h5")))
    data = bytearray(path.read_bytes())
    if mode == "cut":
        del data[rng.randrange(len(data)):]
    else:
        for _ in range(rng.randint(1, 16)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    path.write_bytes(bytes(data))


@contextmanager
def damaged_copy(pristine, target, mode, seed):
    """A copy of the run folder with the damage done, removed afterwards: (folder, scratch)."""
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "run"
        shutil.copytree(pristine, folder)
        damage(folder, target, mode, seed)
        yield folder, Path(scratch)


def answers(capsys, args):
    """The exit status of a command; its stderr holds one error line or only warnings."""
    code = cli.main(args)
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code in (0, 2), (args, code, err)
    if code == 2:
        assert len(err) == 1 and err[0].startswith("error: "), (args, err)
    else:
        assert all(line.startswith(("warning: ", "resuming ")) for line in err), (args, err)
    return code


DAMAGE = dict(target=st.sampled_from(TARGETS), mode=st.sampled_from(["flip", "cut"]), seed=st.integers(0, 2**32 - 1))
ANY_FIXTURE = [HealthCheck.function_scoped_fixture]


@settings(max_examples=190, deadline=None, suppress_health_check=ANY_FIXTURE)
@given(**DAMAGE)
def test_readers_and_resume_of_a_damaged_folder(pristine, capsys, target, mode, seed):
    readers_and_resume(pristine, capsys, target, mode, seed)


@pytest.mark.slow
@settings(max_examples=3000, deadline=None, suppress_health_check=ANY_FIXTURE)
@given(**DAMAGE)
def test_readers_and_resume_of_many_damaged_folders(pristine, capsys, target, mode, seed):
    readers_and_resume(pristine, capsys, target, mode, seed)


def readers_and_resume(pristine, capsys, target, mode, seed):
    with damaged_copy(pristine, target, mode, seed) as (folder, _):
        answers(capsys, ["info", str(folder)])
        answers(capsys, ["attractors", str(folder)])
        for path in sorted(folder.rglob("*.h5")):
            answers(capsys, ["info", str(path)])
        try:
            run = open_run(folder)
            assert all(snap.state["kind"] == run.kind for snap in run.snapshots)
            run.solver()
        except ValueError as err:  # FileError: one line naming the file
            assert "\n" not in str(err) and str(folder) in str(err)
        answers(capsys, ["resume", str(folder), "--t-end", "0.4"])


@settings(max_examples=12, deadline=None, suppress_health_check=ANY_FIXTURE)
@given(**DAMAGE)
def test_plot_of_a_damaged_folder(pristine, capsys, target, mode, seed):
    with damaged_copy(pristine, target, mode, seed) as (folder, scratch):
        answers(capsys, ["plot", str(folder), "--out", str(scratch / "figures")])
