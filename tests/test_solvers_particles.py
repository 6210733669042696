"""Particle integrators against brute-force integration, orders of accuracy, Lemma 3,
Proposition 4 and Proposition 1."""
import numpy as np
import pytest

import meanfield as mf
import solvers
from meanfield import reference as mref
from meanfield.defaults import PRESETS
from solvers import reference as sref
from tests.helpers import random_samples


@pytest.fixture
def problem(rng):
    samples = random_samples(rng, 7, x_scale=1.0, duplicates=0.3)
    r, theta = solvers.init.gaussian_uniform(300, rng=rng)
    return samples, r, theta


@pytest.mark.parametrize("tv", [0.0, 0.05])
def test_euler_matches_brute_force_over_200_steps(problem, tv):
    samples, r, theta = problem
    solver = solvers.ParticleSolver(samples, r, theta, dt=0.02, tv=tv)
    solver.run(steps=200)
    r_ref, th_ref = sref.euler_canonical(samples, r, theta, dt=0.02, steps=200, tv=tv)
    np.testing.assert_allclose(solver.r, r_ref, rtol=0, atol=1e-10)
    dth = np.mod(solver.theta - th_ref + np.pi, 2 * np.pi) - np.pi
    assert np.abs(dth).max() < 1e-10
    assert solver.t == pytest.approx(4.0) and solver.step == 200
    np.testing.assert_allclose(solver.residuals(), mf.reference.residuals(samples, r_ref, th_ref), atol=1e-10)


def test_delta_metric_euler_matches_brute_force(problem, rng):
    samples, r, theta = problem
    delta = rng.normal(0, 2, r.size)
    alpha = np.sqrt(r.size)
    solver = solvers.ParticleSolver(samples, r, theta, dt=0.002, delta=delta, alpha=alpha)
    solver.run(steps=200)
    r_ref, th_ref = sref.euler_canonical(samples, r, theta, dt=0.002, steps=200, delta=delta, alpha=alpha)
    np.testing.assert_allclose(solver.r, r_ref, rtol=0, atol=1e-10)
    assert np.abs(np.mod(solver.theta - th_ref + np.pi, 2 * np.pi) - np.pi).max() < 1e-10


@pytest.mark.parametrize("train", [("a", "b", "c"), ("c",), ("a", "b")])
def test_full_gd_matches_brute_force_over_200_steps(rng, train):
    samples = random_samples(rng, 6)
    alpha = np.sqrt(200)  # the paper's normalisation: stable at this step in every regime
    a, b, c = solvers.init.pytorch_default(200, alpha=alpha, rng=rng)
    solver = solvers.FullParticleSolver(samples, a, b, c, alpha=alpha, lr=0.05, train=train)
    solver.run(steps=200)
    assert solver.loss() < 0.9 * solvers.FullParticleSolver(samples, a, b, c, alpha=alpha, lr=0.05).loss()
    want = sref.gd_full(samples, a, b, c, alpha=alpha, lr=0.05, steps=200, train=train)
    for got, exp in zip((solver.a, solver.b, solver.c), want):
        np.testing.assert_allclose(got, exp, rtol=0, atol=1e-10)
    for name, got, start in zip("abc", (solver.a, solver.b, solver.c), (a, b, c)):
        assert np.array_equal(got, start) == (name not in train)


def no_crossing_case(rng):
    """Particles far from every boundary ray, on a short horizon: the field is smooth there."""
    samples = mf.Samples([-1.0, 0.2, 1.5], [0.5, -0.3, 0.8])
    reg = samples.regions
    mids = reg.angles + reg.lengths / 2
    theta = np.repeat(mids, 20) + rng.uniform(-0.02, 0.02, 20 * reg.n_arcs)
    r = rng.standard_normal(theta.size)
    return samples, r, theta


@pytest.mark.parametrize("method, order", [("euler", 1), ("heun", 2), ("rk4", 4)])
def test_order_of_accuracy(rng, method, order):
    samples, r, theta = no_crossing_case(rng)
    t_end = 0.05
    fine = solvers.ParticleSolver(samples, r, theta, dt=t_end / 512, method="rk4").run(t_end=t_end)
    assert np.array_equal(samples.regions.locate(fine.theta), samples.regions.locate(theta))
    errors = []
    for n in (8, 16, 32):
        coarse = solvers.ParticleSolver(samples, r, theta, dt=t_end / n, method=method).run(t_end=t_end)
        errors.append(np.abs(coarse.r - fine.r).max() + np.abs(coarse.theta - fine.theta).max())
    slopes = np.log2(np.array(errors[:-1]) / errors[1:])
    assert np.all(np.abs(slopes - order) < 0.25), slopes


def test_lemma3_delta_drift_is_first_order_in_the_step(rng):
    samples = random_samples(rng, 5)
    a, b, c = solvers.init.pytorch_default(100, alpha=10.0, rng=rng)
    drifts = []
    for lr in (0.04, 0.02, 0.01):
        solver = solvers.FullParticleSolver(samples, a, b, c, alpha=10.0, lr=lr)
        solver.run(t_end=2.0)
        drifts.append(np.abs(solver.delta() - mf.invariants(a, b, c)).max())
    ratios = np.array(drifts[:-1]) / drifts[1:]
    assert np.all(np.abs(ratios - 2) < 0.2), (drifts, ratios)


@pytest.mark.parametrize("alpha_of_m", [np.sqrt, float])
def test_proposition4_full_gd_follows_reduced_delta_flow(rng, alpha_of_m):
    samples = random_samples(rng, 5)
    m = 80
    alpha = alpha_of_m(m)
    r, theta = solvers.init.gaussian_uniform(m, rng=rng)
    delta = rng.normal(0, 1, m)
    a, b, c = solvers.init.given_delta(r, theta, delta, alpha=alpha)
    t_end = 0.5 if alpha < m else 20.0
    gaps = []
    for lr in (t_end / 100, t_end / 200):
        full = solvers.FullParticleSolver(samples, a, b, c, alpha=alpha, lr=lr).run(t_end=t_end)
        reduced = solvers.ParticleSolver(samples, r, theta, dt=lr, delta=delta, alpha=alpha).run(t_end=t_end)
        r_full, th_full = full.canonical()
        assert np.abs(r_full - r).max() > 1e-2  # the particles did move
        gaps.append(np.abs(r_full - reduced.r).max() + np.abs(np.mod(th_full - reduced.theta + np.pi, 2 * np.pi) - np.pi).max())
    assert 1.6 < gaps[0] / gaps[1] < 2.4, gaps


def test_delta_limits_kernel_freezes_theta(problem):
    samples, r, theta = problem
    kernel = solvers.ParticleSolver(samples, r, theta, dt=1e-7, delta=-1e8, alpha=float(r.size)).run(steps=50)
    assert np.abs(kernel.theta - np.mod(theta, 2 * np.pi)).max() < 1e-6
    assert np.abs(kernel.r - r).max() > 1e-3


def test_proposition1_residual_ode(problem):
    """d rho / dt = -xt_j^T sum_{A_k in B_j} Sigma_k g_k, Sigma_k = (1/m) sum_{A_k} (r^2 t t^T + d d^T)."""
    samples, r, theta = problem
    predicted = mf.residual_rate(samples, r, theta)
    h = 1e-6
    ahead = solvers.ParticleSolver(samples, r, theta, dt=h, method="rk4").run(steps=1).residuals()
    observed = (ahead - mf.residuals(samples, r, theta)) / h
    np.testing.assert_allclose(observed, predicted, rtol=1e-4, atol=1e-8)


def test_history_records_at_cadence(problem):
    samples, r, theta = problem
    solver = solvers.ParticleSolver(samples, r, theta, dt=0.01, record_every=10).run(steps=35)
    np.testing.assert_array_equal(solver.history.step, [0, 10, 20, 30, 35])
    np.testing.assert_allclose(solver.history.t, 0.01 * solver.history.step)
    assert solver.history.rho.shape == (5, samples.s)
    np.testing.assert_allclose(solver.history.loss[-1], solver.loss())
    np.testing.assert_array_equal(solver.history.rho[-1], solver.residuals())


def test_float32_state_stays_float32(problem):
    samples, r, theta = problem
    solver = solvers.ParticleSolver(samples, r.astype(np.float32), theta.astype(np.float32), dt=0.01).run(steps=20)
    assert solver.r.dtype == np.float32 and solver.theta.dtype == np.float32
    ref64 = solvers.ParticleSolver(samples, r.astype(np.float32).astype(np.float64), theta.astype(np.float32).astype(np.float64), dt=0.01).run(steps=20)
    assert np.abs(solver.residuals() - ref64.residuals()).max() < 1e-4


@pytest.mark.parametrize("method", ["euler", "heun", "rk4", "sliding", "sliding-heun", "full"])
def test_a_float32_state_is_computed_on_in_float64(method):
    """A float32 run stores float32 but computes in float64: the residuals it carries are the
    brute-force float64 residuals of its stored state (a particle on a ray at the ray's angle)
    to float64 rounding. Products and angles in float32 (numba's float() of a float32) were
    off by 1e-10 to 1e-8."""
    samples = PRESETS["tent8"]()
    r, theta = solvers.init.gaussian_uniform(20000, rng=0, dtype=np.float32)
    if method == "full":
        a, b, c = mf.params.from_canonical(r.astype(np.float64), theta.astype(np.float64), 0.5, 20000.0)
        solver = solvers.FullParticleSolver(samples, *(v.astype(np.float32) for v in (a, b, c)), alpha=20000.0, lr=100.0).run(steps=50)
        assert solver.a.dtype == np.float32
        brute = mref.full_network(samples.x, *(v.astype(np.float64) for v in (solver.a, solver.b, solver.c)), 20000.0) - samples.y
    else:
        solver = solvers.ParticleSolver(samples, r, theta, dt=0.1, method=method, record_every=None).run(t_end=5.0)
        assert solver.theta.dtype == np.float32
        angle = solver.theta.astype(np.float64)
        if method.startswith("sliding"):
            on = solver.ray >= 0
            assert on.mean() > 0.05
            angle[on] = samples.regions.angles[solver.ray[on]]
        brute = mref.residuals(samples, solver.r.astype(np.float64), angle)
    np.testing.assert_allclose(solver.residuals(), brute, rtol=0, atol=1e-14)


def test_divergence_stops_with_a_message(problem, rng):
    samples, r, theta = problem
    solver = solvers.ParticleSolver(samples, r, theta, dt=0.01)
    solver.r[3] = np.nan
    with pytest.raises(solvers.DivergenceError, match="no longer finite at step 1 "):
        solver.run(steps=10)
    # the kernel regime is linear least squares: a step far beyond 2 / lambda_max must blow up
    a, b, c = solvers.init.pytorch_default(200, alpha=1.0, rng=rng)
    full = solvers.FullParticleSolver(samples, a, b, c, alpha=1.0, lr=10.0, train=("c",))
    with pytest.raises(solvers.DivergenceError, match="no longer finite"):
        full.run(steps=1000)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(dt=0.0), "dt must be a positive finite time step"),
        (dict(dt=np.inf), "dt must be a positive finite time step"),
        (dict(dt=0.1, tv=np.nan), "tv must be finite"),
        (dict(dt=0.1, method="leapfrog"), "method must be one of"),
        (dict(dt=0.1, alpha=2.0), "alpha is only used with delta"),
        (dict(dt=0.1, delta=1.0), "positive alpha"),
    ],
)
def test_bad_configuration(problem, kwargs, message):
    samples, r, theta = problem
    with pytest.raises(ValueError, match=message):
        solvers.ParticleSolver(samples, r, theta, **kwargs)
    with pytest.raises(ValueError, match="give t_end or steps"):
        solvers.ParticleSolver(samples, r, theta, dt=0.1).run()


def test_delta_limits_adaptive_is_the_uv_plane_metric(problem):
    """delta -> +inf: P_i -> (m/alpha)^2 delta diag(1, 1/r^2), the Euclidean metric of the uv-plane
    (Cartesian velocity -g_k on each arc), which differs from the canonical (cylinder) metric
    diag(1, 1) by r^2 in the angle."""
    samples, r, theta = problem
    m, alpha, delta = r.size, float(r.size), 1e9
    canonical = mref.velocity(samples, r, theta)  # the brute-force field, not the solver's kernels
    adaptive = solvers.ParticleSolver(samples, r, theta, dt=1.0, delta=delta, alpha=alpha).velocity()
    scale = (m / alpha) ** 2 * delta / m
    np.testing.assert_allclose(adaptive[0], scale * canonical[0], rtol=1e-6, atol=1e-9 * scale)
    np.testing.assert_allclose(adaptive[1], scale * canonical[1] / r**2, rtol=1e-6, atol=1e-9 * scale)


def test_copy_false_owns_the_arrays(problem):
    samples, r, theta = problem
    r, theta = r.copy(), theta.copy()
    solver = solvers.ParticleSolver(samples, r, theta, dt=0.01, copy=False).run(steps=3)
    assert solver.r is r and solver.theta is theta
    copied = solvers.ParticleSolver(samples, *problem[1:], dt=0.01).run(steps=3)
    assert np.array_equal(copied.r, r) and np.array_equal(copied.theta, theta)


@pytest.mark.parametrize("method", ["heun", "rk4"])
def test_fused_runge_kutta_matches_brute_force_stages(problem, rng, method):
    """The fused passes against the scheme evaluated stage by stage with the brute-force O(m s)
    velocity (solvers.reference), plain, with the delta metric and with the TV term."""
    from solvers.particles import TABLEAUS

    samples, r, theta = problem
    a, b = TABLEAUS[method]
    delta = rng.normal(0, 1, r.size)
    for kwargs in (dict(), dict(delta=delta, alpha=float(r.size)), dict(tv=0.05)):
        h = 0.01 if "delta" not in kwargs else 0.001
        solver = solvers.ParticleSolver(samples, r, theta, dt=h, method=method, **kwargs).run(steps=30)
        r_ref, th_ref = sref.runge_kutta(samples, r, theta, a=a, b=b, dt=h, steps=30, **kwargs)
        np.testing.assert_allclose(solver.r, r_ref, rtol=0, atol=1e-10)
        assert np.abs(np.mod(solver.theta - th_ref + np.pi, 2 * np.pi) - np.pi).max() < 1e-10
        np.testing.assert_allclose(solver.residuals(), mf.reference.residuals(samples, r_ref, th_ref), atol=1e-10)


def test_tableaus_fit_the_fused_stages():
    """runge_kutta_stage builds stage s from k_{s-1} alone: a[s, l] = 0 for l < s - 1."""
    from solvers.particles import TABLEAUS

    for a, b in TABLEAUS.values():
        assert np.all(np.tril(a, -2) == 0) and np.all(np.triu(a) == 0) and b.sum() == pytest.approx(1.0)


def test_the_tableaus_meet_the_fused_stages_condition():
    """The shipped schemes pass the check made at import, and a tableau whose stage point uses an
    older stage (classical RK4 with a[3, 1] != 0 moved off the subdiagonal) is refused."""
    from solvers.particles import TABLEAUS, check_fused

    for name, (a, b) in TABLEAUS.items():
        check_fused(name, a, b)
    a, b = TABLEAUS["rk4"]
    bad = a.copy()
    bad[3, 1] = 0.5
    with pytest.raises(ValueError, match="first subdiagonal"):
        check_fused("bad", bad, b)
    with pytest.raises(ValueError, match="a must be 2 x 2"):
        check_fused("short", a, b[:2])
