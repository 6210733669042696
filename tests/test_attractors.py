"""The ray detector against direct one-sided evaluation of the field, Lemma 2 and observed mass."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import meanfield as mf
import meanfield.reference as ref
import solvers
from meanfield.attractors import ATTRACTOR, CROSSING, REPULSOR, classify_rays, lemma2, ray_mass, ray_timeline
from tests.helpers import random_samples


def one_sided_states(samples, rho, sign):
    """States from the brute-force field evaluated just below and above each ray (no arcs used).

    Returns the states, the smaller |angular velocity| of the live sides, and the offset used. A
    side where the particle does not move at all (no active sample) is neutral."""
    reg = samples.regions
    phi = reg.angles
    distinct = np.unique(phi)
    gaps = np.diff(np.concatenate([distinct, [distinct[0] + 2 * np.pi]]))
    eps = 1e-3 * min(gaps.min(), 1.0)
    r = np.full(phi.size, float(sign))
    dr_below, below = ref.velocity(samples, r, phi - eps, rho=rho)
    dr_above, above = ref.velocity(samples, r, phi + eps, rho=rho)
    dead_below = (dr_below == 0) & (below == 0)
    dead_above = (dr_above == 0) & (above == 0)
    into_from_below = (below > 0) | dead_below
    into_from_above = (above < 0) | dead_above
    away_below = (below < 0) | dead_below
    away_above = (above > 0) | dead_above
    live = ~(dead_below & dead_above)
    states = np.where(into_from_below & into_from_above & live, ATTRACTOR, np.where(away_below & away_above & live, REPULSOR, CROSSING))
    size = np.minimum(np.where(dead_below, np.inf, np.abs(below)), np.where(dead_above, np.inf, np.abs(above)))
    return states, size, eps


def test_detector_agrees_with_one_sided_field_on_10000_cases():
    rng = np.random.default_rng(14)
    disagreements = 0
    checked = 0
    for _ in range(10_000):
        s = int(rng.integers(1, 9))
        samples = random_samples(rng, s, x_scale=float(rng.choice([0.5, 2.0, 20.0])), duplicates=float(rng.choice([0.0, 0.5])))
        rho = rng.standard_normal(s)
        cls = classify_rays(samples, rho)
        for sign in (1, -1):
            states, size, eps = one_sided_states(samples, rho, sign)
            # the one-sided values are taken eps away from the ray: exclude fields within
            # 1e-9 (plus what that offset can change) of zero
            scale = np.abs(rho) @ np.hypot(samples.x, 1.0)
            clear = size > 1e-9 + 2 * eps * scale
            checked += clear.sum()
            disagreements += np.count_nonzero((states != cls.state(sign))[clear])
    assert checked > 100_000
    assert disagreements == 0


def test_rays_bounding_the_dead_arc_attract_what_the_live_side_pushes_in():
    samples = mf.Samples([-1.0, 0.5, 2.0], [0.0, 0.0, 0.0])
    rho = np.array([0.3, -0.2, 0.8])
    cls = classify_rays(samples, rho)
    dead = cls.dead_below | cls.dead_above
    assert dead.sum() == 2  # the on-ray of the largest x and the off-ray of the smallest
    assert np.all(cls.positive[dead] != CROSSING) and np.all(cls.margin[dead] > 0)
    np.testing.assert_allclose(cls.margin[dead], np.abs(np.where(cls.dead_below, cls.above, cls.below)[dead]))


@given(st.integers(0, 2**32 - 1))
def test_two_sided_lemma2_is_equivalent_on_live_rays(seed):
    rng = np.random.default_rng(seed)
    s = int(rng.integers(2, 10))
    samples = mf.Samples(np.sort(rng.uniform(-3, 3, s)), rng.standard_normal(s))
    rho = rng.standard_normal(s)
    cls = classify_rays(samples, rho)
    live = ~(cls.dead_below | cls.dead_above)  # Lemma 2 is strict: P = 0 on a dead side
    np.testing.assert_array_equal(lemma2(samples, rho)[live], (cls.positive != CROSSING)[live])


def test_printed_lemma2_disagrees_often():
    rng = np.random.default_rng(2)
    disagree = total = 0
    for _ in range(500):
        s = 6
        samples = mf.Samples(rng.uniform(-3, 3, s), np.zeros(s))
        rho = rng.standard_normal(s)
        cls = classify_rays(samples, rho)
        xt = samples.xt
        gram = xt @ xt.T
        p_minus = np.array([rho[:k] @ gram[:k, k] for k in range(s)])
        p_plus = np.array([rho[k + 1:] @ gram[k + 1:, k] for k in range(s)])
        reg = samples.regions
        k = reg.sample_of
        printed = np.where(reg.switches_on, rho[k] * p_plus[k], rho[k] * p_minus[k]) > -(rho[k] ** 2) * np.diag(gram)[k]
        live = ~(cls.dead_below | cls.dead_above)
        disagree += np.count_nonzero((printed != (cls.positive != CROSSING))[live])
        total += live.sum()
    assert disagree / total > 0.3  # about half of the cases (docs/conventions.md)


def test_margin_sign_and_jump():
    rng = np.random.default_rng(5)
    samples = random_samples(rng, 6)
    rho = rng.standard_normal(6)
    cls = classify_rays(samples, rho)
    assert np.all((cls.margin > 0) == (cls.positive != CROSSING))
    live = ~(cls.dead_below | cls.dead_above)
    np.testing.assert_array_equal(cls.positive[live] != CROSSING, (cls.below * cls.above < 0)[live])
    # the angular field jumps across ray j by |rho_j| |xt_j| (per unit r)
    j = cls.sample
    np.testing.assert_allclose(np.abs(cls.above - cls.below), np.abs(rho[j]) * np.hypot(samples.x[j], 1.0), rtol=1e-12)
    # r < 0 swaps attractors and repulsors
    swap = {ATTRACTOR: REPULSOR, REPULSOR: ATTRACTOR, CROSSING: CROSSING}
    assert [swap[p] for p in cls.positive] == list(cls.negative)


def test_history_vectorised_and_timeline_events():
    rng = np.random.default_rng(7)
    samples = random_samples(rng, 5)
    history = rng.standard_normal((30, 5))
    cls = classify_rays(samples, history)
    assert cls.positive.shape == (30, 10) and cls.margin.shape == (30, 10) and cls.angle.shape == (10,)
    for i in (0, 17):
        single = classify_rays(samples, history[i])
        np.testing.assert_array_equal(cls.positive[i], single.positive)
        np.testing.assert_array_equal(cls.margin[i], single.margin)
    t = np.arange(30) * 0.5
    _, events = ray_timeline(samples, history, t)
    changes = np.count_nonzero(cls.positive[1:] != cls.positive[:-1]) + np.count_nonzero(cls.negative[1:] != cls.negative[:-1])
    assert len(events) == changes > 0
    e = events[0]
    step = int(np.searchsorted(t, e.t))
    assert cls.state(e.sign)[step - 1, e.ray] == e.before and cls.state(e.sign)[step, e.ray] == e.after


def test_ray_mass_counts_particles_near_rays():
    samples = mf.Samples([0.0, 1.0], [0.0, 0.0])
    phi = samples.regions.angles
    theta = np.concatenate([phi[:1] + 1e-4, phi[:1] - 1e-4, phi[1:2] + 0.5, [phi[0] + 2 * np.pi - 1e-5]])
    r = np.array([1.0, -1.0, 1.0, 2.0])
    pos, neg = ray_mass(samples, r, theta, eps=1e-3).T
    assert pos[0] == pytest.approx(2 / 4) and neg[0] == pytest.approx(1 / 4)
    assert pos[1:].sum() == 0 and neg[1:].sum() == 0


def test_mass_gathers_only_where_the_detector_called_attractors():
    """Adaptive-regime run: mass that gathers on a ray does so for the sign of r the detector
    called it an attractor for; no mass gathers on rays never called so."""
    samples = mf.Samples([-0.8, -0.3, 0.2, 0.7], [0.6, -0.4, 0.5, -0.3])
    r, theta = solvers.init.gaussian_uniform(20_000, sigma=0.5, rng=0)
    solver = solvers.ParticleSolver(samples, r, theta, dt=0.01, record_every=5).run(t_end=20.0)
    cls = classify_rays(samples, solver.history.rho)
    eps = 1e-3
    start = ray_mass(samples, r, theta, eps).T
    end = ray_mass(samples, solver.r, solver.theta, eps).T
    for sign, before, after in ((1, start[0], end[0]), (-1, start[1], end[1])):
        ever = (cls.state(sign) == ATTRACTOR).any(axis=0)
        gathered = after > before + 0.01
        assert gathered.any()
        assert np.all(ever[gathered]), (sign, after, ever)
        assert np.all(after[~ever] <= before[~ever] + 1e-3)
