"""Shared by the tests: random inputs with the awkward cases built in, runs compared bit for bit,
and the MPI launcher."""
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

import meanfield as mf
from solvers import config as cfg
from solvers import job
from solvers.runs import open_run


def random_samples(rng, s, *, x_scale=1.0, duplicates=0.0, zero=False):
    """s samples with x ~ x_scale * N(0, 1), a share of duplicated x, optionally one x = 0."""
    x = x_scale * rng.standard_normal(s)
    n_dup = int(duplicates * s)
    if n_dup and s > 1:
        x[rng.choice(s, n_dup, replace=False)] = x[rng.choice(s, n_dup)]
    if zero:
        x[rng.integers(s)] = 0.0
    return mf.Samples(x, rng.standard_normal(s))


def random_particles(rng, m, *, zero_r=0.0, dtype=np.float64):
    """m particles, r ~ N(0, 1) with a share set to exactly 0, theta uniform over several turns."""
    r = rng.standard_normal(m)
    r[rng.random(m) < zero_r] = 0.0
    theta = rng.uniform(-4 * np.pi, 4 * np.pi, m)
    return r.astype(dtype), theta.astype(dtype)


def distance_to_boundaries(regions, theta):
    """Angular distance of each angle to the nearest boundary angle."""
    d = np.mod(np.asarray(theta, dtype=np.float64)[:, None] - regions.angles[None, :], 2 * np.pi)
    return np.minimum(d, 2 * np.pi - d).min(axis=1)


# -- runs compared bit for bit ---------------------------------------------------------------
def sets(items):
    return [a for item in items for a in ("--set", item)]


def reference_run(tmp_path, items, name="reference"):
    """The uninterrupted run, in this process."""
    config = cfg.load(None, [*items, "progress=false", "figures=false"])
    outcome = job.start(config, tmp_path / name)
    assert outcome.status == "complete", outcome.message
    return tmp_path / name


def final_state(folder):
    """State arrays and scalars of the newest checkpoint, and the run file's history."""
    run = open_run(folder)
    state = {k: (np.array(v) if isinstance(v, np.ndarray) else v) for k, v in run.solver().state().items()}
    h = run.history
    return state, dict(t=h.t, step=h.step, rho=h.rho, loss=h.loss, energy=h.energy)


def assert_same_bits(a, b):
    (state_a, hist_a), (state_b, hist_b) = a, b
    assert state_a.keys() == state_b.keys()
    for key in state_a:
        if isinstance(state_a[key], np.ndarray):
            assert state_a[key].dtype == state_b[key].dtype and np.array_equal(state_a[key], state_b[key]), key
            assert state_a[key].tobytes() == state_b[key].tobytes(), key
        else:
            assert state_a[key] == state_b[key], key
    for key in hist_a:
        assert hist_a[key].tobytes() == hist_b[key].tobytes(), key


def mpiexec():
    """The path of mpiexec (the mpich wheel of the test extra), or skip the test without it."""
    pytest.importorskip("mpi4py", reason="mpi4py is part of the test extra: pip install '.[test]'")
    path = shutil.which("mpiexec") or str(Path(sys.executable).parent / "mpiexec")
    if not Path(path).exists():
        pytest.skip("no mpiexec (the mpich wheel of the test extra provides one)")
    return path
