"""Sliding particles (ParticleSolver(method="sliding"), solvers.kernels.sliding): the step against
its brute-force reference over random problems, a particle that lands on a ray, slides and leaves
when the ray turns, the non-increasing loss of the adaptive step, and ray masses."""
import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

import meanfield as mf
import meanfield.reference as mref
import solvers
import solvers.reference as sref
from meanfield.defaults import PRESETS
from meanfield.kernels.field import n_chunks
from solvers.kernels import sliding as sk
from solvers.sliding import park_offset, ray_neighbours

PARK = park_offset(np.float64)


def kernel_step(samples, r, theta, ray, rho, h, tv=0.0, heun=False):
    """One call of the Euler kernel (and of the Heun corrector after it) in the field of the
    residuals rho: (r, theta, ray, residuals of the result, largest free speed, sum |r|)."""
    reg = samples.regions
    chunks = n_chunks(r.size)
    chunk = -(-r.size // chunks)
    work = np.zeros((chunks, reg.n_arcs, 2))
    now = sk.Particles(r, theta, ray)
    out = sk.Particles(np.empty_like(r), np.empty_like(theta), np.empty_like(ray))
    step = sk.SlideStep(mf.arc_fields(samples, rho), tv, h, PARK)
    fastest, abs_r = sk.sliding_step(now, out, reg.lookup, ray_neighbours(reg), step, sk.no_corrector(r.dtype), chunk, work)
    if heun:
        g_pred = mf.arc_fields(samples, mf.field.residuals_from_moments(samples, work.sum(axis=0), r.size))
        corrector, out = sk.Corrector(out, g_pred), sk.Particles(np.empty_like(r), np.empty_like(theta), np.empty_like(ray))
        fastest, abs_r = sk.sliding_step(now, out, reg.lookup, ray_neighbours(reg), step, corrector, chunk, work)
    moments = work.sum(axis=0)
    residuals = mf.field.residuals_from_moments(samples, moments, r.size)
    return (*out, residuals, fastest.max(), abs_r.sum())


inputs = st.sampled_from([-2.5, -1.0, -0.6, -0.3, 0.0, 0.2, 0.45, 0.9, 1.7, 40.0])


@example(x=[-0.6, -0.3, 40.0, 40.0], seed=2_008_062_876, h=0.5, tv=0.0, heun=True)  # the worst rounding found
@settings(max_examples=120, deadline=None)
@given(st.lists(inputs, min_size=1, max_size=6), st.integers(0, 2**32 - 1), st.floats(1e-3, 0.6), st.sampled_from([0.0, 0.3]), st.booleans())
def test_kernel_matches_the_brute_force_step(x, seed, h, tv, heun):
    """Random samples (duplicated x, x = 0, large |x|, s = 1), particles on rays and off them
    (r = 0 among them), random residuals, the Euler step and the Heun step: the same decisions
    and the same numbers, apart from particles whose decisions are within rounding of a tie."""
    rng = np.random.default_rng(seed)
    samples = mf.Samples(np.array(x), rng.standard_normal(len(x)))
    reg = samples.regions
    m = 40
    r = rng.normal(0, 2, m)
    r[:3] = 0.0
    theta = rng.uniform(0, 2 * np.pi, m)
    ray = np.full(m, -1, dtype=np.int32)  # the solver's ray type: the kernel compiled once
    full = np.flatnonzero(reg.lengths > 0)
    sliding = rng.random(m) < 0.4
    ray[sliding] = rng.choice(full, sliding.sum())
    theta[sliding] = reg.angles[ray[sliding]]
    rho = rng.standard_normal(samples.s)
    gaps = np.abs(np.angle(np.exp(1j * (theta[:, None] - reg.angles[None, :])))).min(axis=1)
    assume(np.all(sliding | (gaps > 1e-6)))  # a free particle on a ray: the two tie rules differ there
    r1, t1, ray1, residuals, _, abs_r = kernel_step(samples, r, theta, ray, rho, h, tv, heun)
    r2, t2, slide2, margin = (sref.sliding_heun if heun else sref.sliding_euler)(samples, r, theta, sliding, rho, h, tv, park=PARK)
    clear = margin > 1e-7
    np.testing.assert_array_equal((ray1 >= 0)[clear], slide2[clear])
    # the rounding of the residuals grows like |x| |r| s, that of the field and the angular speed
    # by another |x| |r| (the Heun corrector reads the predictor's field: from the kernel's moments
    # on one side, from the brute-force network on the other); found with x = 40 twice, h = 0.5
    tol = 1e-13 * (1 + np.abs(samples.x).max()) ** 2 * (1 + np.abs(r).max()) ** 2 * samples.s
    np.testing.assert_allclose(r1[clear], r2[clear], rtol=0, atol=tol)
    turn = np.abs(np.angle(np.exp(1j * (t1 - t2))))
    assert turn[clear].max(initial=0) < tol
    landed = ray1 >= 0
    np.testing.assert_array_equal(t1[landed], reg.angles[ray1[landed]])  # exactly on the ray
    # the moments of the result: residuals of the brute-force network of the new state
    np.testing.assert_allclose(residuals, mref.residuals(samples, r1, t1), atol=1e-10 * (1 + np.abs(r1).max()))
    assert abs_r == pytest.approx(np.abs(r1).sum(), rel=1e-12)


def test_a_particle_lands_on_a_ray_slides_and_leaves_when_the_ray_turns():
    """Samples at -0.6 and 0.4 with residuals rho: a ray with live arcs on both sides that
    attracts a particle with r = 1 (found from the brute-force one-sided field). The particle,
    started just above it, lands on it exactly, slides (theta fixed, r moving with the one-sided
    radial velocity), and when the residuals flip sign (the ray now repels) leaves below, with the
    velocity of that side (particle 0: frac(0 phi) = 0 is below every share)."""
    samples = mf.Samples([-0.6, 0.4], [0.0, 0.0])
    reg = samples.regions
    rho, h = np.array([0.7, -1.1]), 0.05
    dead = ~reg.active.any(axis=1)
    found = None
    for k in np.flatnonzero(reg.lengths > 0):
        below = (k - 1) % reg.n_arcs
        phi = reg.angles[k]
        if dead[k] or dead[below]:
            continue
        _, vt_b = sref._one_sided(samples, rho, 1.0, phi, -1, 0.0)
        _, vt_a = sref._one_sided(samples, rho, 1.0, phi, +1, 0.0)
        if vt_b > 0 > vt_a:
            found = k
    assert found is not None
    k, phi = found, reg.angles[found]
    r, theta, ray = np.array([1.0]), np.array([phi + 1e-3]), np.array([-1])
    r, theta, ray, *_ = kernel_step(samples, r, theta, ray, rho, h)
    assert ray[0] == k and theta[0] == phi
    for _ in range(3):
        vr, _ = sref._one_sided(samples, rho, r[0], phi, +1, 0.0)
        before = r[0]
        r, theta, ray, *_ = kernel_step(samples, r, theta, ray, rho, h)
        assert ray[0] == k and theta[0] == phi
        assert r[0] == pytest.approx(before + h * vr, abs=1e-14) and r[0] != before
    _, vt_b = sref._one_sided(samples, -rho, r[0], phi, -1, 0.0)
    _, vt_a = sref._one_sided(samples, -rho, r[0], phi, +1, 0.0)
    assert vt_b < 0 < vt_a  # the flipped residuals make it repel
    r, theta, ray, *_ = kernel_step(samples, r, theta, ray, -rho, h)
    assert ray[0] == -1 and theta[0] == pytest.approx(phi + h * vt_b, abs=1e-14)


def test_leaving_into_a_dead_arc_parks_the_particle_there():
    """One sample at x = 0.5: its on-ray has the dead arc below; with r rho > 0 it attracts, with
    rho flipped the live side points away and, as the histogram solver sends such mass, the
    particle goes to the dead side, just below the ray, and stays there."""
    samples = mf.Samples([0.5], [0.0])
    reg = samples.regions
    k = int(np.argmin(np.abs(reg.angles - np.mod(-np.arctan(0.5), 2 * np.pi))))
    phi = reg.angles[k]
    r, theta, ray = np.array([1.0]), np.array([phi + 0.05]), np.array([-1])
    r, theta, ray, *_ = kernel_step(samples, r, theta, ray, np.array([1.0]), 0.1, 0.1)
    assert ray[0] == k and theta[0] == phi
    r, theta, ray, *_ = kernel_step(samples, r, theta, ray, np.array([-1.0]), 0.1, 0.1)
    assert ray[0] == -1 and theta[0] == phi - PARK
    assert samples.regions.locate(theta)[0] != k and not samples.regions.active[samples.regions.locate(theta)[0]].any()
    parked = theta[0]
    r, theta, ray, *_ = kernel_step(samples, r, theta, ray, np.array([-1.0]), 0.1, 0.0)
    assert ray[0] == -1 and theta[0] == parked


@pytest.mark.parametrize("method", ["sliding", "sliding-heun"])
def test_loss_never_rises_on_the_default_problem_and_mass_sits_on_rays(method):
    """The adaptive sliding steps on the default run's problem (tent8, m = 20000) to t = 30: the
    loss falls at every step (recorded every step), the step sizes are recorded, the particles on
    rays are exactly there, and the ray masses add up to the share of sliding particles."""
    samples = PRESETS["tent8"]()
    r, theta = solvers.init.gaussian_uniform(20000, rng=0)
    solver = solvers.ParticleSolver(samples, r, theta, dt=0.1, method=method, record_every=1).run(t_end=30.0)
    loss = solver.history.loss
    assert np.all(np.diff(loss) <= 0), np.diff(loss).max()
    assert loss[-1] < 0.05 * loss[0]
    assert len(solver.step_sizes) == solver.step and sum(solver.step_sizes) == pytest.approx(30.0)
    on = solver.ray >= 0
    assert on.mean() > 0.1
    np.testing.assert_array_equal(solver.theta[on], samples.regions.angles[solver.ray[on]])
    assert solver.ray_mass().sum() == pytest.approx(on.mean())
    np.testing.assert_allclose(solver.residuals(), mref.residuals(samples, solver.r, solver.theta), atol=1e-9)


def test_explicit_euler_raises_the_loss_where_sliding_does_not():
    """The chattering the sliding step removes: Euler at a step the sliding step reaches raises
    the loss at some step on the same problem."""
    samples = PRESETS["tent8"]()
    r, theta = solvers.init.gaussian_uniform(20000, sigma=3.0, rng=1)
    euler = solvers.ParticleSolver(samples, r, theta, dt=0.05, record_every=1).run(t_end=30.0)
    assert np.diff(euler.history.loss).max() > 0
    for method in ("sliding", "sliding-heun"):
        sliding = solvers.ParticleSolver(samples, r, theta, dt=0.05, method=method, record_every=1).run(t_end=30.0)
        assert np.diff(sliding.history.loss).max() <= 0


def test_sliding_heun_is_second_order_where_no_particle_meets_a_ray():
    """Few particles far from the rays over a short time: halving the largest step divides the
    error of sliding-heun by about 4 and that of sliding by about 2 (against a 16x smaller step)."""
    samples = mf.Samples([-0.5, 0.5], [0.3, -0.2])
    rng = np.random.default_rng(2)
    reg = samples.regions
    arc = int(np.argmax(reg.lengths * reg.active.any(axis=1)))
    theta = reg.angles[arc] + reg.lengths[arc] * rng.uniform(0.4, 0.6, 50)
    r = rng.normal(0, 0.3, 50)
    ratios = {}
    for method in ("sliding", "sliding-heun"):
        def rho(dt):
            solver = solvers.ParticleSolver(samples, r, theta, dt=dt, method=method, record_every=None)
            solver.run(t_end=0.4)
            assert np.all(solver.ray < 0) and all(h == pytest.approx(dt) for h in solver.step_sizes)
            return solver.residuals()
        fine = rho(0.4 / 256)
        e1, e2 = (np.abs(rho(dt) - fine).max() for dt in (0.4 / 16, 0.4 / 32))
        ratios[method] = e1 / e2
    assert 1.7 < ratios["sliding"] < 2.3 and 3.4 < ratios["sliding-heun"] < 4.6, ratios


def test_sliding_refuses_the_delta_metric():
    samples = PRESETS["tent8"]()
    for method in ("sliding", "sliding-heun"):
        with pytest.raises(ValueError, match="runs the canonical flow, not 'delta'"):
            solvers.ParticleSolver(samples, [1.0], [0.3], dt=0.1, method=method, delta=0.5, alpha=1.0)
