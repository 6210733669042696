"""Maps between full parameters (a, b, c), canonical particles (r, th) and the uv-plane.

Full parameters: f_z(x) = (1/alpha) sum_i c_i [a_i x - b_i]_+, knot e_i = b_i / a_i.
Canonical:       f_w(x) = (1/m) sum_i r_i [x cos th_i + sin th_i]_+.
Since c [a x - b]_+ = c |(a, b)| [x cos th + sin th]_+ with (cos th, sin th) = (a, -b) / |(a, b)|,

    r = (m / alpha) c sqrt(a^2 + b^2),    th = atan2(-b, a)  (mod 2 pi).

The paper prints arctan(-b/a), which loses half the circle (a < 0).
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .kernels.arcs import TWO_PI
from .kernels.params import layer_norms_many


def to_canonical(a: ArrayLike, b: ArrayLike, c: ArrayLike, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """(a, b, c) -> (r, theta) with theta in [0, 2 pi); m is the number of neurons, len(a)."""
    a, b, c = (np.asarray(v, dtype=np.result_type(v, np.float32)) for v in (a, b, c))
    m = a.size
    r = (m / alpha) * c * np.hypot(a, b)
    theta = np.mod(np.arctan2(-b, a), TWO_PI)
    return r, theta


def invariants(a: ArrayLike, b: ArrayLike, c: ArrayLike) -> np.ndarray:
    """delta_i = c_i^2 - a_i^2 - b_i^2, conserved by the gradient flow of L(a, b, c) (Lemma 3)."""
    a, b, c = (np.asarray(v) for v in (a, b, c))
    return c * c - a * a - b * b


def from_canonical(r: ArrayLike, theta: ArrayLike, delta: ArrayLike, alpha: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(r, theta) and the invariants delta -> (a, b, c), inverse of :func:`to_canonical`.

    With q = alpha r / m = c n and n^2 = a^2 + b^2 = c^2 - delta, n^2 solves n^4 + delta n^2 = q^2:

        c^2 = (delta + sqrt(delta^2 + 4 q^2)) / 2,   n^2 = (-delta + sqrt(delta^2 + 4 q^2)) / 2,

    each evaluated in the form free of cancellation (:func:`meanfield.kernels.primitives.layer_norms`,
    the formula the delta-metric kernels use). sign(c) = sign(r), (a, -b) = n d(theta).
    A neuron with r = 0 and delta > 0 has a = b = 0 and loses its angle.
    """
    r, theta, delta = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (r, theta, delta)))
    q = (alpha * r / r.size).ravel()  # a new contiguous array
    big_n, big_c = np.empty_like(q), np.empty_like(q)
    layer_norms_many(q, np.ascontiguousarray(delta).ravel(), big_n, big_c)
    n = np.sqrt(big_n).reshape(r.shape)
    c = np.copysign(np.sqrt(big_c).reshape(r.shape), r)
    return n * np.cos(theta), -n * np.sin(theta), c


def uv(r: ArrayLike, theta: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """uv-plane coordinates (u, v) = |r| d(theta) of the paper's Figure 1 (right)."""
    size = np.abs(np.asarray(r))
    angle = np.asarray(theta)
    return size * np.cos(angle), size * np.sin(angle)


def knots(theta: ArrayLike) -> np.ndarray:
    """Knot x = -tan(theta) = -v/u of each neuron: where x cos th + sin th changes sign.

    (The paper prints v/u; the sign is wrong. For full parameters this equals b/a.)
    A neuron with cos th = 0 (a = 0) has no knot; in floating point th = pi/2 gives about 1.6e16.
    """
    theta = np.asarray(theta, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return -np.sin(theta) / np.cos(theta)
