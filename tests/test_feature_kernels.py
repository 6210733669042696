"""The exact kernels of the kernel regime (meanfield.feature_kernels) against independent numerical
integration of their definitions (scipy's adaptive quadrature), and the spline property of
Theorem 5's interpolant."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate

import meanfield.feature_kernels as fk

points = st.one_of(st.just(0.0), st.floats(-3.0, 3.0), st.floats(-50.0, 50.0))


def _uniform_by_quadrature(x, x2, indicator=False):
    """E over a, b ~ U(-1, 1) (density 1/4) by nested adaptive quadrature, told where the integrand
    kinks: at b = a x and a x' inside, at a = 0, +-1/x, +-1/x' outside."""
    def inner(a):
        def integrand(b):
            p, q = a * x - b, a * x2 - b
            return float((p > 0) and (q > 0)) if indicator else max(p, 0.0) * max(q, 0.0)

        kinks = sorted({v for v in (a * x, a * x2) if -1.0 < v < 1.0})
        return integrate.quad(integrand, -1.0, 1.0, points=kinks or None, epsabs=1e-13, epsrel=1e-13, limit=200)[0]

    outer = sorted({0.0} | {s / v for v in (x, x2) if v != 0.0 for s in (1.0, -1.0) if abs(v) > 1.0})
    return 0.25 * integrate.quad(inner, -1.0, 1.0, points=outer, epsabs=1e-12, epsrel=1e-12, limit=200)[0]


def _gaussian_by_quadrature(x, x2, indicator=False):
    """E over (a, b) standard normal: the radius and the angle part, E(r^2) = 2, the angle uniform."""
    def integrand(eta):
        p, q = x * np.cos(eta) - np.sin(eta), x2 * np.cos(eta) - np.sin(eta)
        return ((p > 0) * (q > 0) if indicator else 2.0 * max(p, 0.0) * max(q, 0.0)) / (2 * np.pi)

    kinks = sorted({np.mod(np.arctan(v) + k * np.pi, 2 * np.pi) for v in (x, x2) for k in (0, 1)})
    return integrate.quad(integrand, 0.0, 2 * np.pi, points=kinks, epsabs=1e-12, epsrel=1e-12, limit=200)[0]


@settings(max_examples=25, deadline=None)
@given(points, points)
def test_uniform_kernels_equal_nested_quadrature(x, x2):
    scale = 1.0 + x * x + x2 * x2
    assert fk.rf_kernel(x, x2) == pytest.approx(_uniform_by_quadrature(x, x2), abs=1e-8 * scale)
    assert fk.indicator_kernel(x, x2) == pytest.approx(_uniform_by_quadrature(x, x2, indicator=True), abs=1e-8)


@settings(max_examples=60, deadline=None)
@given(points, points)
def test_gaussian_kernels_equal_quadrature_over_the_angle(x, x2):
    scale = 1.0 + x * x + x2 * x2
    assert fk.rf_kernel(x, x2, "gaussian") == pytest.approx(_gaussian_by_quadrature(x, x2), abs=1e-9 * scale)
    assert fk.indicator_kernel(x, x2, "gaussian") == pytest.approx(_gaussian_by_quadrature(x, x2, indicator=True), abs=1e-9)


def test_printed_eq26_is_wrong_and_the_corrected_form_symmetric():
    x, x2 = 0.3, 0.8
    truth = _gaussian_by_quadrature(x, x2)
    assert fk.rf_kernel(x, x2, "gaussian") == pytest.approx(truth, abs=1e-10)
    assert abs(fk.printed_eq26(x, x2) - truth) > 0.04  # the conventions of (40): see the module docstring
    assert fk.rf_kernel(x2, x, "gaussian") == fk.rf_kernel(x, x2, "gaussian")


@pytest.mark.parametrize("x, x2", [(0.3, 0.8), (-0.9, 0.9), (0.5, 0.5), (-1.0, -0.2), (0.7, -0.4)])
def test_proposition6_spline_kernels(x, x2):
    def one(s):
        return max(x - s, 0.0) * max(x2 - s, 0.0)

    def other(s):
        return max(s - x, 0.0) * max(s - x2, 0.0)

    k1 = integrate.quad(one, -1.0, 1.0, points=sorted({x, x2}), epsabs=1e-13)[0]
    k_minus = integrate.quad(other, -1.0, 1.0, points=sorted({x, x2}), epsabs=1e-13)[0]
    assert fk.spline_k1(x, x2) == pytest.approx(k1, abs=1e-12)
    assert fk.spline_k2(x, x2) == pytest.approx((k1 + k_minus) / 2, abs=1e-12)


def test_ntk_is_rf_plus_the_indicator_term():
    x, x2 = np.array([0.2, -1.5]), np.array([0.9, 0.4])
    for law in ("uniform", "gaussian"):
        expected = np.array([_uniform_by_quadrature(u, v) if law == "uniform" else _gaussian_by_quadrature(u, v) for u, v in zip(x, x2)])
        expected += 3.0 * (x * x2 + 1) * np.array([(_uniform_by_quadrature if law == "uniform" else _gaussian_by_quadrature)(u, v, True)
                                                  for u, v in zip(x, x2)])
        np.testing.assert_allclose(fk.ntk_kernel(x, x2, law, c2=3.0), expected, atol=1e-8)


def test_interpolant_is_a_c2_cubic_spline_with_knots_at_the_samples():
    """Theorem 5: on every interval between samples (and out to +-1) the interpolant is one cubic;
    f, f' and f'' are continuous at the samples and f''' jumps there."""
    x = np.array([-0.8, -0.5, -0.45, 0.1, 0.6])
    y = np.array([0.3, -1.0, 0.2, 0.9, -0.4])
    f = fk.interpolant(fk.rf_kernel, x, y)
    np.testing.assert_allclose(f(x), y, atol=1e-10)
    knots = np.concatenate([[-1.0], x, [1.0]])
    pieces = []
    for lo, hi in zip(knots[:-1], knots[1:]):
        u = np.linspace(lo, hi, 30)
        cubic = np.polynomial.Polynomial.fit(u, f(u), 3)
        assert np.abs(cubic(u) - f(u)).max() < 1e-10
        pieces.append(cubic)
    for left, right, k in zip(pieces[:-1], pieces[1:], x):
        for order in (0, 1, 2):
            assert left.deriv(order)(k) == pytest.approx(right.deriv(order)(k), abs=1e-6)
        assert abs(left.deriv(3)(k) - right.deriv(3)(k)) > 1.0


def test_unknown_law_is_an_error():
    with pytest.raises(ValueError, match="law must be"):
        fk.rf_kernel(0.0, 1.0, "laplace")
    with pytest.raises(ValueError, match="law must be"):
        fk.indicator_kernel(0.0, 1.0, "laplace")
