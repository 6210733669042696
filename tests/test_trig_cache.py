"""The trigonometric cache of the Runge-Kutta steps: each pass keeps the cos, sin and arc of the
point whose moments it summed, and the next pass reads them instead of computing them. The cache
must change no bit of any step, hold exactly what would be recomputed, and follow the
configuration through a resume."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import solvers
from meanfield.kernels.arcs import locate_many
from meanfield.kernels.trig import sincos_block
from solvers import budget, job
from solvers import config as cfg
from solvers.particles import TABLEAUS, TRIG_CACHE_BYTES
from tests.helpers import random_particles, random_samples


def _steps(samples, r, theta, method, cache, steps, switch=None, **metric):
    dt = 0.01 / (samples.s * max(1.0, np.abs(samples.x).max()) ** 2)  # stable: the field grows like s |x|^2
    solver = solvers.ParticleSolver(samples, r, theta, dt=dt, method=method, record_every=None, trig_cache=cache, **metric)
    for k in range(steps):
        if k == switch:  # drop the cache mid-run and take it again: the next step refills it
            solver.trig_cache = not cache
        solver.run(steps=1)
    return solver


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), s=st.sampled_from([1, 2, 7, 30]), method=st.sampled_from(sorted(TABLEAUS)),
       float32=st.booleans(), metric=st.booleans(), x_scale=st.sampled_from([1.0, 1e3]), steps=st.integers(1, 6))
def test_steps_with_the_cache_equal_steps_without_it_bit_for_bit(seed, s, method, float32, metric, x_scale, steps):
    """Random samples (duplicated x, x = 0, s = 1, large |x|) and particles (r = 0, angles over
    several turns, float32): the cached run, one that drops and retakes its cache mid-run, and
    the uncached run reach the same particles and moments to the bit."""
    rng = np.random.default_rng(seed)
    samples = random_samples(rng, s, x_scale=x_scale, duplicates=0.3, zero=True)
    r, theta = random_particles(rng, 3000, zero_r=0.1, dtype=np.float32 if float32 else np.float64)
    extra = dict(delta=rng.normal(0, 1, r.size), alpha=50.0) if metric else {}
    runs = [_steps(samples, r, theta, method, cache, steps, switch, **extra) for cache, switch in ((False, None), (True, None), (True, steps // 2))]
    for other in runs[1:]:
        for name in ("r", "theta", "_moments"):
            np.testing.assert_array_equal(getattr(other, name), getattr(runs[0], name), err_msg=name)


@pytest.mark.parametrize("method", sorted(TABLEAUS))
def test_the_cache_holds_the_states_sin_cos_and_arc(method):
    """After steps, the cache holds sin and cos of the stored angles and their arcs, as the
    moments pass computes them from the state (sincos of theta in float64, the bucket search)."""
    rng = np.random.default_rng(3)
    samples = random_samples(rng, 12, duplicates=0.25)
    for dtype in (np.float64, np.float32):
        r, theta = random_particles(rng, 5000, dtype=dtype)
        solver = _steps(samples, r, theta, method, True, 3)
        sn, cs, arcs = np.empty(r.size), np.empty(r.size), np.empty(r.size, dtype=np.int64)
        sincos_block(solver.theta.astype(np.float64), 0, r.size, sn, cs)
        locate_many(solver.theta, samples.regions.lookup, arcs)
        cache = solver._cache
        assert cache.valid
        np.testing.assert_array_equal(cache.sin, sn)
        np.testing.assert_array_equal(cache.cos, cs)
        np.testing.assert_array_equal(cache.arc, arcs)
        assert np.abs(cs - np.cos(solver.theta.astype(np.float64))).max() < 1e-15


def test_the_cache_follows_the_configuration_and_the_budget_counts_it(tmp_path):
    """trig_cache = off keeps none (also after a resume, where the solver is rebuilt), on keeps
    20 bytes per particle, which the memory budget counts; the sliding solver keeps none."""
    samples = random_samples(np.random.default_rng(0), 5)
    base = cfg.load(overrides=["m=2000", "t_end=0.05", "figures=false", "progress=false", "snapshots='off'"])
    for value, kept in (("off", False), ("on", True), ("auto", True)):
        config = cfg.load(overrides=[f"trig_cache={value!r}"], base=base)
        assert job.build_solver(config, samples).trig_cache is kept
        extra = budget.memory_needed(config, 5)["workspace"] - budget.memory_needed(cfg.load(overrides=["trig_cache='off'"], base=base), 5)["workspace"]
        assert extra == (TRIG_CACHE_BYTES * 2000 if value == "on" else 0)
    sliding = cfg.load(overrides=["method='sliding'", "trig_cache='on'"], base=base)
    assert not hasattr(job.build_solver(sliding, samples), "trig_cache")
    assert budget.memory_needed(sliding, 5)["workspace"] == budget.memory_needed(cfg.load(overrides=["trig_cache='off'"], base=sliding), 5)["workspace"]
    off = cfg.load(overrides=["trig_cache='off'"], base=base)
    job.start(off, tmp_path / "run")
    restored = job._Restored(tmp_path / "run", solvers.runs.open_run(tmp_path / "run"))
    assert restored.solver.trig_cache is False
