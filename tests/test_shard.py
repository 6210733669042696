"""Runs sharded over MPI ranks: the partition of the particles, draws that do not depend on the
number of ranks, and real ``mpiexec -n 2`` runs compared with serial ones bit for bit."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from meanfield.kernels import field as fk
from solvers import init
from solvers.observers import INTERRUPTED, Interrupt
from solvers.runs import open_run
from solvers.shard import Shard
from tests.helpers import mpiexec


class _Ranks:
    """Stands in for a communicator where only the rank and size are read."""

    def __init__(self, rank, size):
        self.rank, self.size = rank, size

    def Get_rank(self):
        return self.rank

    def Get_size(self):
        return self.size


@pytest.mark.parametrize("m", [16_385, 40_000, 50_001, 1_000_003, 10_000_000])
def test_ranks_hold_whole_chunks_that_cover_the_run(m):
    chunk = -(-m // fk.n_chunks(m))
    for size in sorted({1, 2, 3, fk.n_chunks(m)} - {s for s in (2, 3) if s > fk.n_chunks(m)}):
        shards = [Shard(m, _Ranks(k, size)) for k in range(size)]
        assert [s.lo for s in shards] == [0] + [s.hi for s in shards[:-1]]
        assert shards[-1].hi == m
        assert all(s.lo % chunk == 0 and s.local_m > 0 for s in shards)
        assert sum(s.chunk_counts[s.rank] for s in shards) == fk.n_chunks(m)


def test_more_ranks_than_chunks_is_refused_with_the_limit():
    with pytest.raises(ValueError, match="at most 2 MPI rank"):
        Shard(20_000, _Ranks(0, 3))


def test_blockwise_draw_of_any_range_is_that_range_of_the_whole_draw():
    """Block b comes from the b-th child of SeedSequence(seed) (spawn, an independent route)."""
    m, seed = 3 * init.BLOCK + 123, 7
    children = np.random.SeedSequence(seed).spawn(4)
    expect_r = np.concatenate([np.random.default_rng(c).standard_normal(min(init.BLOCK, m - b * init.BLOCK)) for b, c in enumerate(children)])
    draw = lambda n, rng: init.gaussian_uniform(n, sigma=1.0, rng=rng)  # noqa: E731
    r, theta = init.by_blocks(draw, m, seed)
    assert np.array_equal(r, expect_r)
    for lo, hi in [(0, 1), (5, init.BLOCK + 9), (init.BLOCK, 2 * init.BLOCK), (m - 4, m), (17, 17)]:
        part_r, part_theta = init.by_blocks(draw, m, seed, lo, hi)
        assert np.array_equal(part_r, r[lo:hi]) and np.array_equal(part_theta, theta[lo:hi])


def test_blockwise_pytorch_draw_keeps_the_bound_of_the_whole_network():
    m = init.BLOCK + 10
    a, b, c = init.by_blocks(lambda n, rng: init.pytorch_default(m, alpha=1.0, rng=rng, size=n), m, 3)
    assert a.size == m and np.abs(c).max() <= 1 / np.sqrt(m) and np.abs(c).max() > 0.9 / np.sqrt(m)


# -- real MPI runs --------------------------------------------------------------------------------
COMMON = ["--set", "m=40000", "--set", "output.figures=false", "--set", "output.progress=false"]




def _meanfield(args, ranks=1, timeout=600, **kw):
    """python -m meanfield ARGS, on ``ranks`` MPI ranks (1: a plain process), one numba thread each."""
    env = dict(os.environ, NUMBA_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "meanfield", *args]
    if ranks > 1:
        cmd = [mpiexec(), "-n", str(ranks), *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, **kw)


def _same_run(a, b):
    """Every array and scalar of the newest checkpoint, and the run file's history, identical."""
    ca, cb = (sorted((p / "checkpoints").glob("*.h5"))[-1] for p in (a, b))
    assert ca.name == cb.name
    with h5py.File(ca) as fa, h5py.File(cb) as fb:
        assert set(fa["state"]) == set(fb["state"])
        for name in fa["state"]:
            assert fa["state"][name][()].tobytes() == fb["state"][name][()].tobytes(), name
        assert dict(fa["state"].attrs) == dict(fb["state"].attrs)
    with h5py.File(a / "run.h5") as fa, h5py.File(b / "run.h5") as fb:
        for name in ("history/t", "history/step", "history/rho", "snapshots/step"):
            assert fa[name][()].tobytes() == fb[name][()].tobytes(), name


@pytest.mark.mpi
@pytest.mark.parametrize("sets", [
    ["solver.method='rk4'", "t_end=0.5"],
    ["solver.metric='delta'", "solver.delta=0.5", "solver.alpha='sqrt(m)'", "solver.dt=0.2", "t_end=4", "init.dtype='float32'"],
    ["solver.kind='full'", "solver.lr=0.05", "solver.alpha='sqrt(m)'", "init.law='pytorch_default'", "t_end=2", "solver.weight_decay=0.01"],
], ids=["rk4", "delta-float32", "full-pytorch"])
def test_two_ranks_equal_the_serial_run(tmp_path, sets):
    sets = [a for s in sets for a in ("--set", s)]
    one = _meanfield(["run", "--out", str(tmp_path / "one"), *COMMON, *sets])
    two = _meanfield(["run", "--out", str(tmp_path / "two"), *COMMON, *sets], ranks=2)
    assert one.returncode == 0, one.stderr
    assert two.returncode == 0, two.stderr
    assert "2 MPI ranks" in two.stdout
    _same_run(tmp_path / "one", tmp_path / "two")
    # rank 0 alone reports: the summary appears once
    assert two.stdout.count("loss 1/2 |rho|^2") == 1
    assert two.stdout.split("loss 1/2")[1] == one.stdout.split("loss 1/2")[1]


@pytest.mark.mpi
def test_checkpoints_resume_on_another_number_of_ranks(tmp_path):
    """serial -> 2 ranks, and a 2-rank run (its checkpoints written in parts, one per rank) -> 1,
    2 and 3 ranks, each equal to serial -> serial (40000 particles: 3 chunks)."""
    sets = [*COMMON, "--set", "solver.method='heun'", "--set", "t_end=0.5"]
    for name, first in (("ref", 1), ("to_two", 1), ("two", 2)):
        done = _meanfield(["run", "--out", str(tmp_path / name), *sets], ranks=first)
        assert done.returncode == 0, done.stderr
    newest = sorted((tmp_path / "two" / "checkpoints").glob("*.h5"))[-1]
    assert len(list(newest.with_suffix(".parts").glob("*.h5"))) == 2
    for ranks in (1, 2):
        shutil.copytree(tmp_path / "two", tmp_path / f"two_to_{ranks}")
    for name, then in (("ref", 1), ("to_two", 2), ("two_to_1", 1), ("two_to_2", 2), ("two", 3)):
        done = _meanfield(["resume", str(tmp_path / name), "--t-end", "1.0"], ranks=then)
        assert done.returncode == 0, done.stderr
    for name in ("to_two", "two_to_1", "two_to_2", "two"):
        _same_run(tmp_path / "ref", tmp_path / name)
    newest = sorted((tmp_path / "two" / "checkpoints").glob("*.h5"))[-1]
    assert len(list(newest.with_suffix(".parts").glob("*.h5"))) == 3
    assert not (tmp_path / "two_to_1" / "checkpoints" / newest.with_suffix(".parts").name).exists()  # serially: one file


@pytest.mark.mpi
def test_a_whole_state_too_large_for_rank_0_is_not_gathered_for_the_report(tmp_path):
    """The report at the end of a sharded run gathers the whole state only where it fits in rank
    0's free memory (here made to read 0 bytes): otherwise one line says so, and the run's files
    are complete."""
    driver = "import sys; from solvers import cli, job; job.available_memory = lambda: 0.0; sys.exit(cli.main(sys.argv[1:]))"
    sets = [*COMMON, "--set", "t_end=0.1", "--set", "output.figures=true"]
    done = subprocess.run([mpiexec(), "-n", "2", sys.executable, "-c", driver, "run", "--out", str(tmp_path / "run"), *sets],
                          capture_output=True, text=True, timeout=300, env=dict(os.environ, NUMBA_NUM_THREADS="1"))
    assert done.returncode == 0, done.stderr
    assert "report: the whole state does not fit in rank 0's free memory" in done.stdout
    assert "loss 1/2" not in done.stdout and not list((tmp_path / "run").glob("*.png"))
    assert open_run(tmp_path / "run").snapshots[-1].state["r"].size == 40_000


@pytest.mark.mpi
def test_a_damaged_part_makes_resume_on_ranks_fall_back_to_the_previous_checkpoint(tmp_path):
    sets = [*COMMON, "--set", "t_end=0.5", "--set", "output.checkpoints='20 steps'", "--set", "keep=3"]
    assert _meanfield(["run", "--out", str(tmp_path / "run"), *sets], ranks=2).returncode == 0
    older, newest = sorted((tmp_path / "run" / "checkpoints").glob("*.h5"))[-2:]
    part = sorted(newest.with_suffix(".parts").glob("*.h5"))[1]  # rank 1's particles
    data = bytearray(part.read_bytes())
    data[len(data) // 2] ^= 0x01
    part.write_bytes(bytes(data))
    info = _meanfield(["info", str(tmp_path / "run")])
    assert info.returncode == 0 and f"warning: checkpoint {newest.name} does not verify" in info.stdout, info.stdout + info.stderr
    done = _meanfield(["resume", str(tmp_path / "run"), "--t-end", "0.6"], ranks=2)
    assert done.returncode == 0, done.stderr
    assert f"warning: skipping checkpoint {newest.name}: " in done.stderr and "its checksum does not match" in done.stderr
    assert f"resuming {tmp_path / 'run'} from {older.name}" in done.stderr


@pytest.mark.mpi
def test_each_rank_writes_its_own_particles_without_a_gather():
    """Rank 0's peak memory while writing a checkpoint follows its own share of the particles, as
    every rank's does, not the run's: a gather to rank 0 would need the whole state (ranks x its
    share) and its file image, the other ranks nothing."""
    m = 600_000
    done = subprocess.run([mpiexec(), "-n", "2", sys.executable, "-m", "validation.bench_mpi", str(m), "10", "1", "1"],
                          capture_output=True, text=True, timeout=300, env=dict(os.environ, NUMBA_NUM_THREADS="1"))
    assert done.returncode == 0, done.stderr
    row = json.loads(done.stdout.strip().splitlines()[-1])
    assert sum(row["state"]) == 16 * m  # r and theta, float64
    for peak, own in zip(row["peak"], row["state"]):
        assert peak < 3 * own + 2**20, (peak, own)  # the file image (HDF5 grows it in steps) beside the rank's arrays
    # rank 0 writes the file that joins the parts as well: a few kB
    assert row["peak"][0] < 1.2 * max(row["peak"][1:]) + 2**20, row["peak"]


@pytest.mark.mpi
def test_an_error_on_rank_0_ends_every_rank_with_its_message(tmp_path):
    """Only rank 0 finds the run folder occupied; the other rank must not wait for it forever."""
    sets = [*COMMON, "--set", "t_end=0.05"]
    assert _meanfield(["run", "--out", str(tmp_path / "run"), *sets]).returncode == 0
    again = _meanfield(["run", "--out", str(tmp_path / "run"), *sets], ranks=2, timeout=120)
    assert again.returncode == 2
    assert "rank 0: " in again.stderr and "already holds a run" in again.stderr
    assert "Traceback" not in again.stderr


@pytest.mark.mpi
def test_input_errors_under_mpiexec_are_one_line(tmp_path):
    too_many = _meanfield(["run", "--out", str(tmp_path / "a"), "--set", "m=20000"], ranks=3, timeout=120)
    assert too_many.returncode == 2 and too_many.stderr.count("at most 2 MPI rank") == 1
    hist = _meanfield(["run", "--out", str(tmp_path / "b"), "--set", "solver.kind='histogram'"], ranks=2, timeout=120)
    assert hist.returncode == 2 and hist.stderr.count("runs on one process") == 1
    sliding = _meanfield(["run", "--out", str(tmp_path / "c"), "--set", "m=40000", "--set", "solver.method='sliding'"], ranks=2, timeout=120)
    assert sliding.returncode == 2 and sliding.stderr.count("'sliding' runs on one process") == 1
    assert not any((tmp_path / name).exists() for name in "abc")


def test_a_signal_handled_as_the_ranks_agree_is_not_lost():
    """Python runs a signal handler between two bytecodes, for example just as the collective that
    agrees on the signal returns: the request must survive the store of the agreed value."""
    interrupt = Interrupt()

    def agree(offered):
        interrupt.request(signal.SIGTERM)  # the handler, run as the allreduce returns
        return offered  # what the ranks offered before the signal

    interrupt._agree = agree
    assert interrupt.step(None) is None  # this step agreed before the signal came
    interrupt._agree = lambda offered: offered
    assert interrupt.step(None) == INTERRUPTED and interrupt.signal == signal.SIGTERM


def _sigterm_to_mpiexec(tmp_path):
    """SIGTERM to mpiexec while two ranks step: both stop at one agreed step, checkpoint it, exit
    143, and the run resumes."""
    sets = [*COMMON, "--set", "t_end=1000", "--set", "output.checkpoints='200 steps'", "--set", "keep=100"]
    env = dict(os.environ, NUMBA_NUM_THREADS="1", PYTHONFAULTHANDLER="1")  # SIGABRT dumps the ranks' stacks
    proc = subprocess.Popen([mpiexec(), "-n", "2", sys.executable, "-m", "meanfield", "run", "--out", str(tmp_path / "run"), *sets],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 120
    second = tmp_path / "run" / "checkpoints" / f"step_{200:012d}.h5"
    while not second.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)  # both ranks are stepping once the checkpoint of step 200 is there
    proc.send_signal(signal.SIGTERM)
    try:
        out, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:  # show where each rank is
        ranks = subprocess.run(["pgrep", "-f", f"meanfield run --out {tmp_path / 'run'}"], capture_output=True, text=True).stdout.split()
        for pid in ranks:
            os.kill(int(pid), signal.SIGABRT)
        out, err = proc.communicate(timeout=60)
        pytest.fail(f"no exit 120 s after SIGTERM; the ranks' stacks:\n{err[-8000:]}")
    assert proc.returncode == 143, err
    assert err.count("SIGTERM: stopped at") == 1
    step = int(err.split("(step ")[1].split(")")[0])
    newest = sorted((tmp_path / "run" / "checkpoints").glob("*.h5"))[-1]
    assert newest.name == f"step_{step:012d}.h5"
    with h5py.File(tmp_path / "run" / "run.h5") as f:
        assert f["history/step"][-1] <= step
    done = _meanfield(["resume", str(tmp_path / "run"), "--t-end", str(0.01 * (step + 5))], ranks=2)
    assert done.returncode == 0, done.stderr


@pytest.mark.mpi
def test_sigterm_to_mpiexec_checkpoints_every_rank_at_one_step_and_resumes(tmp_path):
    _sigterm_to_mpiexec(tmp_path)


@pytest.mark.mpi
@pytest.mark.slow
def test_sigterm_to_mpiexec_twenty_times(tmp_path):
    for k in range(20):
        _sigterm_to_mpiexec(tmp_path / str(k))
