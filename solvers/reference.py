"""Brute-force O(m s) integrators: the oracle of the solver tests and the benchmark baseline.

They use only :mod:`meanfield.reference` (pre-activations and their signs) and the definitions;
the metric of Proposition 4 is formed from the full parameters (a, b, c), not from the closed
form in (r, delta) used by the fast kernels.
"""
import numpy as np

from meanfield import params
from meanfield import reference as ref


def euler_canonical(samples, r, theta, *, dt, steps, tv=0.0, delta=None, alpha=None):
    """``steps`` explicit Euler steps of the canonical flow (or its delta-metric version)."""
    r = np.array(r, dtype=np.float64)
    theta = np.array(theta, dtype=np.float64)
    m = r.size
    for _ in range(steps):
        dr, dth = ref.velocity(samples, r, theta, tv=tv)
        if delta is not None:
            a, b, c = params.from_canonical(r, theta, delta, alpha)
            dr = dr * (m / alpha) ** 2 * (a * a + b * b + c * c) / m
            dth = dth / (a * a + b * b) / m
        r = r + dt * dr
        theta = theta + dt * dth
    return r, np.mod(theta, 2 * np.pi)


def full_gradient(samples, a, b, c, alpha):
    """dL/da, dL/db, dL/dc for f = (1/alpha) sum c [a x - b]_+ (active where a x - b >= 0)."""
    pre = np.multiply.outer(a, samples.x) - b[:, None]  # (m, s)
    active = pre >= 0
    rho = (c @ np.maximum(pre, 0)) / alpha - samples.y
    da = c * ((active * rho) @ samples.x) / alpha
    db = -c * (active @ rho) / alpha
    dc = (np.maximum(pre, 0) @ rho) / alpha
    return da, db, dc


def gd_full(samples, a, b, c, *, alpha, lr, steps, train=("a", "b", "c")):
    """``steps`` gradient-descent steps on L(a, b, c)."""
    a, b, c = (np.array(v, dtype=np.float64) for v in (a, b, c))
    for _ in range(steps):
        da, db, dc = full_gradient(samples, a, b, c, alpha)
        if "a" in train:
            a = a - lr * da
        if "b" in train:
            b = b - lr * db
        if "c" in train:
            c = c - lr * dc
    return a, b, c
