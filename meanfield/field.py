"""The mean-field model of canonical particles: residuals, loss and velocity field (eq. 12).

A particle is w = (r, th) with network f(x) = (1/m) sum_i r_i [x cos th_i + sin th_i]_+.
Everything here is clock-free: the velocity is -grad V(w; mu), and ``m * dL/dw_i = grad V(w_i)``
(the paper prints m/2), so gradient descent on L with step eta is the explicit Euler scheme of
the mean-field flow with time step eta / m.

Cost: O(m + s) per call (arc search is O(1) typically, O(log s) at worst); no m x s array.
Particle arrays may be float32 or float64; reductions run in float64.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .kernels import field as _k
from .samples import Samples, as_samples


def as_particles(r: ArrayLike, theta: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Validate canonical particles: equal-length 1-D float arrays (float32 kept, else float64)."""
    r = np.asarray(r)
    theta = np.asarray(theta)
    if r.ndim != 1 or theta.ndim != 1:
        raise ValueError(f"r and theta must be one-dimensional, got shapes {r.shape} and {theta.shape}")
    if r.size != theta.size:
        raise ValueError(f"r and theta must have the same length, got {r.size} and {theta.size}")
    if r.size == 0:
        raise ValueError("no particles: r and theta are empty")
    found = np.result_type(r, theta)
    dtype = found if found in (np.float32, np.float64) else np.dtype(np.float64)
    return np.ascontiguousarray(r, dtype=dtype), np.ascontiguousarray(theta, dtype=dtype)


def arc_moments(samples: Samples, r: ArrayLike, theta: ArrayLike) -> np.ndarray:
    """Per-arc moments M_k = sum_{i in A_k} r_i d(th_i), shape (2s, 2), float64."""
    samples = as_samples(samples)
    r, theta = as_particles(r, theta)
    reg = samples.regions
    work = np.empty((_k.n_chunks(r.size), reg.n_arcs, 2))
    out = np.empty((reg.n_arcs, 2))
    _k.arc_moments(r, theta, reg.lookup, _k.chunk_size(r.size), work)
    _k.reduce_chunks(work, out)
    return out


def residuals_from_moments(samples, moments, m):
    """Residuals rho_j = f(x_j) - y_j from per-arc moments of m particles."""
    rho = np.empty(samples.s)
    _k.residuals_from_moments(moments, samples.arcs, float(m), rho)
    return rho


def residuals(samples: Samples, r: ArrayLike, theta: ArrayLike) -> np.ndarray:
    """Residuals rho_j = f(x_j) - y_j of the network of canonical particles (r, theta), shape (s,)."""
    samples = as_samples(samples)
    r, theta = as_particles(r, theta)
    return residuals_from_moments(samples, arc_moments(samples, r, theta), r.size)


def network(x: ArrayLike, r: ArrayLike, theta: ArrayLike) -> np.ndarray:
    """f(x) = (1/m) sum_i r_i [x cos th_i + sin th_i]_+ at the points x, in O(m + n) rather than
    O(m n): the points play the part of samples with y = 0, whose residuals are f itself."""
    from .samples import Samples

    x = np.atleast_1d(np.asarray(x, dtype=np.float64))
    points = Samples(x, np.zeros_like(x))
    f = np.empty_like(x)
    f[points.order] = residuals(points, r, theta)
    return f


def arc_fields(samples: Samples, rho: ArrayLike) -> np.ndarray:
    """Per-arc field vectors g_k = sum_{j in C_k} rho_j xt_j, shape (2s, 2)."""
    samples = as_samples(samples)
    rho = _as_residuals(samples, rho)
    g = np.empty((samples.regions.n_arcs, 2))
    _k.arc_field(rho, samples.arcs, g)
    return g


def velocity(samples: Samples, r: ArrayLike, theta: ArrayLike, rho: ArrayLike | None = None, tv: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Velocity -grad V(w; mu) of each particle (eq. 12), with the TV term of eq. 16.

    Parameters
    ----------
    samples : Samples
    r, theta : array_like (m,)
        Canonical particles.
    rho : array_like (s,), optional
        Residuals of the measure that creates the field; computed from (r, theta) when None.
    tv : float
        lambda >= 0 of the regulariser lambda * integral |r| dmu.

    Returns
    -------
    dr, dtheta : ndarray (m,)
        dr = -<g_k, d(th)> - lambda sign(r), dtheta = -r <g_k, t(th)> for th in arc A_k, per unit
        of mean-field time. Same dtype as the particles.
    """
    samples = as_samples(samples)
    r, theta = as_particles(r, theta)
    if rho is None:
        rho = residuals(samples, r, theta)
    g = arc_fields(samples, rho)
    reg = samples.regions
    dr = np.empty_like(r)
    dtheta = np.empty_like(theta)
    _k.particle_velocity(r, theta, reg.lookup, g, float(tv), dr, dtheta)
    return dr, dtheta


def data_loss(rho: ArrayLike) -> Any:
    """The data loss L = 1/2 |rho|^2 of residuals rho (s,), a float, or of each row of a history
    (T, s), an array: the one expression of it. A diverging state gives inf without a warning (the
    divergence guard reports it in one line)."""
    rho = np.asarray(rho, dtype=np.float64)
    with np.errstate(over="ignore"):
        return 0.5 * float(rho @ rho) if rho.ndim == 1 else 0.5 * np.einsum("ts,ts->t", rho, rho)


def energy_of(rho: ArrayLike, tv: float, abs_r: float) -> float:
    """L + tv * integral |r| dmu (eq. 16) from the residuals and ``abs_r`` = integral |r| dmu: the
    one expression of the energy (the solvers' histories, the sliding step's test, the convex
    optimum's)."""
    value = data_loss(rho)
    return value + tv * abs_r if tv else value


def loss(samples: Samples, r: ArrayLike, theta: ArrayLike, tv: float = 0.0) -> float:
    """L = 1/2 sum_j rho_j^2 (+ tv * (1/m) sum_i |r_i|, the regulariser of eq. 16)."""
    samples = as_samples(samples)
    r, theta = as_particles(r, theta)
    return energy_of(residuals(samples, r, theta), tv, float(np.abs(r).astype(np.float64).mean()) if tv else 0.0)


def residual_rate(samples: Samples, r: ArrayLike, theta: ArrayLike) -> np.ndarray:
    """Time derivative of the residuals under the canonical flow (Proposition 1, mean-field clock):

        d rho_j / dt = -xt_j^T sum_{k: A_k in B_j} Sigma_k g_k,
        Sigma_k = (1/m) sum_{i in A_k} (r_i^2 t(th_i) t(th_i)^T + d(th_i) d(th_i)^T).

    O(m + s): per-arc second moments, then prefix sums over each run B_j.
    """
    samples = as_samples(samples)
    r, theta = as_particles(r, theta)
    reg = samples.regions
    g = arc_fields(samples, residuals(samples, r, theta))
    k = reg.locate(theta)
    th = theta.astype(np.float64)
    c, s, r2 = np.cos(th), np.sin(th), r.astype(np.float64) ** 2
    def per_arc(w):
        return np.bincount(k, weights=w, minlength=reg.n_arcs) / r.size
    s00 = per_arc(r2 * s * s + c * c)
    s01 = per_arc(-r2 * s * c + c * s)
    s11 = per_arc(r2 * c * c + s * s)
    sigma_g = np.stack([s00 * g[:, 0] + s01 * g[:, 1], s01 * g[:, 0] + s11 * g[:, 1]], axis=1)
    runs = np.empty((samples.s, 2))
    _k.run_sums(sigma_g, reg.arc_on, reg.arc_off, runs)
    return -(samples.x * runs[:, 0] + runs[:, 1])


def _as_residuals(samples, rho):
    rho = np.ascontiguousarray(rho, dtype=np.float64)
    if rho.shape != (samples.s,):
        raise ValueError(f"rho must have shape ({samples.s},), got {rho.shape}")
    return rho
