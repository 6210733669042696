"""Full parameters <-> canonical particles <-> uv-plane (docs/conventions.md, 'Full parameters')."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import meanfield as mf
import meanfield.reference as ref


def full_network(x, a, b, c, alpha):
    return (c[:, None] * np.maximum(np.multiply.outer(a, x) - b[:, None], 0)).sum(0) / alpha


@pytest.mark.parametrize("alpha_of_m", [lambda m: 1.0, np.sqrt, lambda m: float(m)])
@given(seed=st.integers(0, 2**32 - 1), scale=st.sampled_from([1e-3, 1.0, 1e3]))
def test_round_trip_with_invariants(alpha_of_m, seed, scale):
    rng = np.random.default_rng(seed)
    m = 257
    alpha = alpha_of_m(m)
    a, b = scale * rng.standard_normal((2, m))  # scale sets delta from very negative to positive
    c = rng.standard_normal(m)
    r, theta = mf.to_canonical(a, b, c, alpha)
    delta = mf.invariants(a, b, c)
    a2, b2, c2 = mf.from_canonical(r, theta, delta, alpha)
    size = np.sqrt(a * a + b * b + c * c)
    for got, want in ((a2, a), (b2, b), (c2, c)):
        assert np.all(np.abs(got - want) <= 1e-12 * size)


@given(st.integers(0, 2**32 - 1))
def test_canonical_network_equals_full_network(seed):
    """f_z = f_w with theta = atan2(-b, a); the printed arctan(-b/a) breaks it for a < 0."""
    rng = np.random.default_rng(seed)
    m, alpha = 40, 6.0
    a, b, c = rng.standard_normal((3, m))
    x = np.linspace(-4, 4, 33)
    r, theta = mf.to_canonical(a, b, c, alpha)
    np.testing.assert_allclose(ref.network(x, r, theta), full_network(x, a, b, c, alpha), atol=1e-12)
    printed = np.arctan(-b / a)
    if np.any(a < 0):
        assert not np.allclose(ref.network(x, r, printed), full_network(x, a, b, c, alpha), atol=1e-6)


def test_c_squared_formula_for_alpha_m(rng):
    m = 100
    a, b, c = rng.standard_normal((3, m))
    r, theta = mf.to_canonical(a, b, c, m)
    delta = mf.invariants(a, b, c)
    # the printed form cancels when delta < 0 (from_canonical uses a stable form): compare on
    # the scale of the terms rather than relatively
    printed = (delta + np.sqrt(delta**2 + 4 * r * r)) / 2
    assert np.all(np.abs(c * c - printed) <= 1e-14 * (np.abs(delta) + np.abs(r)))


def test_knots_are_minus_v_over_u(rng):
    a, b, c = rng.standard_normal((3, 50))
    r, theta = mf.to_canonical(a, b, c, 1.0)
    u, v = mf.uv(r, theta)
    np.testing.assert_allclose(mf.knots(theta), b / a, rtol=1e-12)
    np.testing.assert_allclose(mf.knots(theta), -v / u, rtol=1e-12)
    assert not np.allclose(v / u, b / a)  # the paper's v/u has the wrong sign
    # the pre-activation changes sign at the knot: it is the kink of the neuron
    e = mf.knots(theta)
    np.testing.assert_allclose(e * np.cos(theta) + np.sin(theta), 0, atol=1e-12)
    np.testing.assert_allclose(np.hypot(u, v), np.abs(r), rtol=1e-14)
    assert abs(mf.knots(np.pi / 2)) > 1e15  # a neuron with a = 0 has its knot at infinity


def test_sample_lines_in_the_uv_plane(rng):
    """Sample j is the line u x_j + v = 0: the boundary rays of x_j lie on it."""
    x = rng.standard_normal(7)
    on, off = mf.boundary_angles(x)
    for angle in (on, off):
        u, v = mf.uv(np.ones_like(angle), angle)
        np.testing.assert_allclose(u * x + v, 0, atol=1e-15)


def test_zero_neuron_round_trip():
    a2, b2, c2 = mf.from_canonical(np.zeros(3), np.zeros(3), np.zeros(3), 1.0)
    assert np.all(a2 == 0) and np.all(b2 == 0) and np.all(c2 == 0)
