"""The kernels of the kernel regime (Section 3.3): exact limits as m -> infinity.

A neuron [a x - b]_+ with (a, b) drawn from mu_0 gives the random-feature kernel (23) and the
indicator kernel of the tangent kernel (27):

    K_RF(x, x')  = E[ [a x - b]_+ [a x' - b]_+ ]
    K_ind(x, x') = E[ 1(a x > b) 1(a x' > b) ]
    K_NTK        = K_RF + E(c^2) (x x' + 1) K_ind                                 (27)

Two laws of (a, b) are covered, each evaluated exactly (no Monte Carlo):

- ``uniform``: a, b ~ U(-1, 1) independent (PyTorch's default first layer). For fixed a the
  b-integral is a polynomial in (a x, a x', min(1, a x, a x')); as a function of a it is a
  polynomial of degree <= 3 between the breakpoints a in {0, +-1/x, +-1/x'}, so Gauss-Legendre
  with 3 nodes per piece integrates it to rounding.
- ``gaussian``: (a, b) standard normal. Closed forms: with phi = arctan, x <= x',

      K_RF  = C / (4 pi) {(pi - phi(x') + phi(x)) (x x' + 1)
                          + (x / (1 + x^2) - x' / (1 + x'^2)) (x x' - 1)
                          + (x + x') (x'^2 / (1 + x'^2) - x^2 / (1 + x^2))},   C = E(a^2 + b^2) = 2
      K_ind = (pi - |phi(x) - phi(x')|) / (2 pi)

  The paper prints (26) with the opposite sign of the middle term (its derivation (40) integrates
  from arctan(x') instead of -arctan(x), the boundary-angle misprint listed in docs/conventions.md); the
  printed form misses Monte Carlo by 0.05 to 0.5 and is kept as :func:`printed_eq26` for the check.

Proposition 6 (second seed) gives the spline kernels of neurons [x - s]_+ with knots s ~ U(k0, k1):
:func:`spline_k1` (a = 1 only) and :func:`spline_k2` (a = +-1 with equal weight).

By Theorem 5 the minimum-norm interpolant of samples in [-1, 1] under the uniform K_RF (the limit of
training only c from c = 0) is a C^2 cubic spline with knots at the samples; see :func:`interpolant`.
"""
import numpy as np

_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(3)


def _pairs(x, x2):
    x, x2 = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(x2, dtype=np.float64))
    return x.shape, x.ravel(), x2.ravel()


def _over_a(x, x2, integrand):
    """integral over a ~ U(-1, 1) (density 1/2) of integrand(p = a x, q = a x'), piece by piece
    between the breakpoints where the integrand stops being one polynomial."""
    shape, x, x2 = _pairs(x, x2)
    with np.errstate(divide="ignore", over="ignore"):  # x = 0 or subnormal: the breakpoint is beyond +-1
        inverse = np.stack([1 / x, -1 / x, 1 / x2, -1 / x2], axis=-1)
    fixed = np.broadcast_to([-1.0, 0.0, 1.0], (x.size, 3))
    breaks = np.sort(np.clip(np.concatenate([np.nan_to_num(inverse, posinf=1.0, neginf=-1.0), fixed], axis=-1), -1.0, 1.0), axis=-1)
    lo, hi = breaks[:, :-1, None], breaks[:, 1:, None]
    half = (hi - lo) / 2
    a = lo + half * (_NODES + 1)
    p, q = a * x[:, None, None], a * x2[:, None, None]
    return (0.5 * (half * _WEIGHTS * integrand(p, q)).sum(axis=(1, 2))).reshape(shape)


def _rf_given_a(p, q):
    """E_b[(p - b)_+ (q - b)_+] for b ~ U(-1, 1): (1/2) int_{-1}^{min(1, p, q)} (p - b)(q - b) db."""
    top = np.minimum(1.0, np.minimum(p, q))

    def antiderivative(b):
        return p * q * b - (p + q) * b * b / 2 + b ** 3 / 3

    return np.where(top > -1.0, 0.5 * (antiderivative(top) - antiderivative(-1.0)), 0.0)


def _ind_given_a(p, q):
    """P_b(b < min(p, q)) for b ~ U(-1, 1)."""
    return np.clip((np.minimum(p, q) + 1.0) / 2.0, 0.0, 1.0)


def rf_kernel(x, x2, law="uniform"):
    """K_RF(x, x') = E[[a x - b]_+ [a x' - b]_+] for (a, b) ~ ``law`` ("uniform" or "gaussian"),
    broadcast over x and x'."""
    if law == "uniform":
        return _over_a(x, x2, _rf_given_a)
    if law == "gaussian":
        shape, x, x2 = _pairs(x, x2)
        lo, hi = np.minimum(x, x2), np.maximum(x, x2)
        value = ((np.pi - np.arctan(hi) + np.arctan(lo)) * (lo * hi + 1) + (lo / (1 + lo * lo) - hi / (1 + hi * hi)) * (lo * hi - 1)
                 + (lo + hi) * (hi * hi / (1 + hi * hi) - lo * lo / (1 + lo * lo)))
        return (2.0 / (4 * np.pi) * value).reshape(shape)
    raise ValueError(f"law must be 'uniform' or 'gaussian', got {law!r}")


def printed_eq26(x, x2, scale=2.0):
    """Equation (26) exactly as printed (``scale`` is its C), for x <= x'; wrong: see the module."""
    x, x2 = np.asarray(x, dtype=np.float64), np.asarray(x2, dtype=np.float64)
    return scale / (4 * np.pi) * ((np.pi - np.arctan(x2) + np.arctan(x)) * (x * x2 + 1) + (x2 / (1 + x2 * x2) - x / (1 + x * x)) * (x * x2 - 1)
                                  + (x + x2) * (x2 * x2 / (1 + x2 * x2) - x * x / (1 + x * x)))


def indicator_kernel(x, x2, law="uniform"):
    """K_ind(x, x') = P(a x > b and a x' > b) for (a, b) ~ ``law``, broadcast over x and x'."""
    if law == "uniform":
        return _over_a(x, x2, _ind_given_a)
    if law == "gaussian":
        shape, x, x2 = _pairs(x, x2)
        return ((np.pi - np.abs(np.arctan(x) - np.arctan(x2))) / (2 * np.pi)).reshape(shape)
    raise ValueError(f"law must be 'uniform' or 'gaussian', got {law!r}")


def ntk_kernel(x, x2, law="uniform", c2=1.0):
    """The limit (27) of the neural tangent kernel with alpha = sqrt(m): K_RF + c2 (x x' + 1) K_ind,
    c2 = E(c^2)."""
    x, x2 = np.asarray(x, dtype=np.float64), np.asarray(x2, dtype=np.float64)
    return rf_kernel(x, x2, law) + c2 * (x * x2 + 1) * indicator_kernel(x, x2, law)


def spline_k1(x, x2, k0=-1.0, k1=1.0):
    """Proposition 6, case (i): int_{k0}^{k1} [x - s]_+ [x' - s]_+ ds = -(2 k0 + lo - 3 hi)(k0 - lo)^2 / 6
    with lo = min(x, x'), hi = max(x, x') (both in [k0, k1])."""
    x, x2 = np.asarray(x, dtype=np.float64), np.asarray(x2, dtype=np.float64)
    lo, hi = np.minimum(x, x2), np.maximum(x, x2)
    return -(2 * k0 + lo - 3 * hi) * (k0 - lo) ** 2 / 6


def spline_k2(x, x2, k0=-1.0, k1=1.0):
    """Proposition 6, case (ii): half of [x - s]_+ [x' - s]_+ and half of [s - x]_+ [s - x']_+ over
    s in [k0, k1]: -(2 k0 + lo - 3 hi)(k0 - lo)^2 / 12 + (2 k1 - 3 lo + hi)(k1 - hi)^2 / 12."""
    x, x2 = np.asarray(x, dtype=np.float64), np.asarray(x2, dtype=np.float64)
    lo, hi = np.minimum(x, x2), np.maximum(x, x2)
    return spline_k1(lo, hi, k0, k1) / 2 + (2 * k1 - 3 * lo + hi) * (k1 - hi) ** 2 / 12


def interpolant(kernel, x, y):
    """The minimum-norm interpolant f(u) = sum_j alpha_j K(u, x_j) with K(x_i, x_j) alpha = y.

    ``kernel(u, v)`` broadcasts; returns a vectorised function of u. Duplicated x must carry equal y.
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    gram = kernel(x[:, None], x[None, :])
    coef = np.linalg.lstsq(gram, y, rcond=None)[0]
    return lambda u: kernel(np.asarray(u, dtype=np.float64)[..., None], x) @ coef
