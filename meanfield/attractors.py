"""Which boundary rays attract or repel neurons (condition 14; Lemma 2 in its corrected form).

At the boundary ray phi of sample j, the angular velocity of a particle (r, th) is
-r <g, t(phi)>, with g the field vector of the arc just below the ray (counter-clockwise before it)
or just above it. Write a = <g_below, t(phi)> and b = <g_above, t(phi)>. For r > 0 the flow points
into the ray from both sides when a <= 0 <= b (attractor; a side at rest counts as pointing in),
out of it when a >= 0 >= b, not both 0 (repulsor), and across it when a and b have one strict
sign. The factor r swaps the two for r < 0. These are the rule the solvers follow too
(:func:`meanfield.kernels.primitives.ray_rule`), ties included. Only the angular component jumps across
a ray (by |r rho_j| |xt_j|); the radial one is continuous.

A side of a ray whose arc has no active sample (the 'dead' arc between the on-ray of the largest x
and the off-ray of the smallest) has no field at all: particles there do not move, in angle or in r.
Such a side is neutral and the live side decides: particles it pushes into the ray stop there and
mass gathers (an attractor); particles it pushes away leave (a repulsor).

For the off-ray of sample k, whose side above the ray has active set {i < k}, the condition
a b < 0 reads -rho_k^2 |xt_k|^2 < rho_k P_k^- < 0 with P_k^- = sum_{i<k} rho_i <xt_i, xt_k>; for the on-ray
({i > k} below it) the same with P_k^+. The paper's Lemma 2 prints only the left inequality.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from . import field
from .kernels.primitives import ATTRACTS, CROSSES_DOWN, CROSSES_UP, REPELS, ray_rules
from .samples import Samples, as_samples

ATTRACTOR, REPULSOR, CROSSING = "attractor", "repulsor", "crossing"


@dataclass(frozen=True)
class RayClassification:
    """One entry per boundary ray (2s rays, in the order of ``Regions.angles``).

    ``angle`` and ``sample`` have shape (2s,); ``positive``, ``negative`` (the state for r > 0 and
    r < 0) and ``margin`` have shape (2s,) for one residual vector, (T, 2s) for a history.
    ``margin`` = max(min(-a, b), min(a, -b)): positive when the ray attracts one sign of r and repels
    the other (by that much angular field per unit r before one side flips), negative when the
    flow crosses (by that much before it stops crossing); a neutral (dead) side never flips, so
    there the margin is |live side|. ``below``/``above`` are a and b; ``dead_below``/``dead_above``
    mark neutral sides.
    """

    angle: np.ndarray
    sample: np.ndarray
    positive: np.ndarray
    negative: np.ndarray
    margin: np.ndarray
    below: np.ndarray
    above: np.ndarray
    dead_below: np.ndarray
    dead_above: np.ndarray

    def state(self, sign):
        """States for particles of the given sign of r (+1 or -1)."""
        return self.positive if sign > 0 else self.negative


def one_sided_fields(samples, rho):
    """(a, b): <g, t(phi)> on the arcs just below and just above each ray, shapes (..., 2s).

    Rays sharing an angle (duplicated x) share their arcs: the nearest non-empty arcs around the
    group of equal angles.
    """
    reg = samples.regions
    rho = np.asarray(rho, dtype=np.float64)
    batch = rho.reshape(-1, samples.s)
    n = reg.n_arcs
    phi = reg.angles
    tangent = np.stack([-np.sin(phi), np.cos(phi)], axis=1)  # (2s, 2)
    below_arc, above_arc = reg.arc_before, reg.arc_at
    a = np.empty((batch.shape[0], n))
    b = np.empty((batch.shape[0], n))
    for i, r in enumerate(batch):
        g = field.arc_fields(samples, r)
        a[i] = np.einsum("kd,kd->k", g[below_arc], tangent)
        b[i] = np.einsum("kd,kd->k", g[above_arc], tangent)
    shape = rho.shape[:-1] + (n,)
    return a.reshape(shape), b.reshape(shape)


def classify_rays(samples: Samples, rho: ArrayLike) -> RayClassification:
    """Classify every boundary ray as attractor, repulsor or crossing, for r > 0 and r < 0.

    Parameters
    ----------
    samples : Samples
    rho : array_like (s,) or (T, s)
        Residuals, or a history of them (leading time axis).

    Returns
    -------
    RayClassification
    """
    samples = as_samples(samples)
    rho = np.asarray(rho, dtype=np.float64)
    if rho.shape[-1:] != (samples.s,) or rho.ndim > 2:
        raise ValueError(f"rho must have shape ({samples.s},) or (T, {samples.s}), got {rho.shape}")
    if not np.all(np.isfinite(rho)):
        bad = np.argwhere(~np.isfinite(rho))[0]
        raise ValueError(f"rho has non-finite residuals (first at index {tuple(int(i) for i in bad)}): no ray can be classified")
    a, b = one_sided_fields(samples, rho)
    reg = samples.regions
    dead_below = reg.dead[reg.arc_before]
    dead_above = reg.dead[reg.arc_at]
    positive, negative = (_states(np.where(dead_below, 0.0, -sign * a), np.where(dead_above, 0.0, -sign * b)) for sign in (1.0, -1.0))
    # for the margin a neutral side takes the value that agrees with the live side and can never flip
    a_eff = np.where(dead_below, np.where(b >= 0, -np.inf, np.inf), a)
    b_eff = np.where(dead_above, np.where(a <= 0, np.inf, -np.inf), b)
    margin = np.maximum(np.minimum(-a_eff, b_eff), np.minimum(a_eff, -b_eff))
    return RayClassification(reg.angles, reg.sample_of, positive, negative, margin, a, b, dead_below, dead_above)


def _states(u_low, u_high):
    """The state of each ray from the angular velocities (per unit |r|) just below and above it,
    by the project's one ray rule (:func:`meanfield.kernels.primitives.ray_rule`: ties attract)."""
    rules = np.empty(u_low.size, dtype=np.int64)
    ray_rules(np.ascontiguousarray(u_low).ravel(), np.ascontiguousarray(u_high).ravel(), rules)
    names = np.empty(4, dtype=np.array(ATTRACTOR).dtype)
    names[ATTRACTS], names[REPELS], names[CROSSES_UP], names[CROSSES_DOWN] = ATTRACTOR, REPULSOR, CROSSING, CROSSING
    return names[rules].reshape(u_low.shape)


def lemma2(samples, rho, printed=False):
    """The two-sided condition of docs/conventions.md, per ray: True where the ray is an
    attractor or repulsor. ``printed=True`` gives the paper's Lemma 2 as printed, which keeps only
    the left inequality -rho_k^2 |xt_k|^2 < rho_k P_k (wrong on about half of random cases).
    The off-ray of k uses P_k^- (the side with {i < k} active), the on-ray
    P_k^+. Exact for distinct x (with duplicates, rays share arcs and the condition involves the
    whole group). Strict, so it says False on the two rays bounding the dead arc (P = 0 there), which
:func:`classify_rays` decides by their live side. Provided to check the detector against the
paper's form."""
    rho = np.asarray(rho, dtype=np.float64)
    xt = samples.xt
    gram = xt @ xt.T
    weighted = rho[..., None, :] * gram  # rho_i <xt_i, xt_k> at [..., k, i]
    lower = np.tril(np.ones((samples.s, samples.s)), -1)
    p_minus = np.sum(weighted * lower, axis=-1)
    p_plus = np.sum(weighted * lower.T, axis=-1)
    norm2 = np.diag(gram)

    def between(p):
        value = rho * p
        return (-(rho**2) * norm2 < value) & ((value < 0) | printed)

    reg = samples.regions
    result = np.where(reg.switches_on, between(p_plus)[..., reg.sample_of], between(p_minus)[..., reg.sample_of])
    return result


@dataclass(frozen=True)
class Event:
    """A change of a ray's state at a recorded time."""

    t: float
    ray: int
    sample: int
    sign: int
    before: str
    after: str


def ray_timeline(samples: Samples, rho_history: ArrayLike, t: ArrayLike) -> tuple[RayClassification, list[Event]]:
    """States of every ray over a residual history, and the events where they change.

    Returns (classification with a leading time axis, list of Event), events in time order.
    """
    cls = classify_rays(samples, np.atleast_2d(rho_history))
    t = np.asarray(t, dtype=np.float64)
    events = []
    for sign, states in ((1, cls.positive), (-1, cls.negative)):
        changed = np.nonzero(states[1:] != states[:-1])
        for step, ray in zip(*changed):
            events.append(Event(float(t[step + 1]), int(ray), int(cls.sample[ray]), sign, str(states[step, ray]), str(states[step + 1, ray])))
    events.sort(key=lambda e: (e.t, e.ray, -e.sign))
    return cls, events


def ray_mass(samples: Samples, r: ArrayLike, theta: ArrayLike, eps: float) -> np.ndarray:
    """Share of particles within angle eps of each ray by sign of r, shape (2s, 2): row k is the
    ray at ``samples.regions.angles[k]``, column 0 r > 0, column 1 r <= 0.

    The share is the particle count over m (the mass of the empirical measure mu). O(m log m + s).
    """
    samples = as_samples(samples)
    reg = samples.regions
    theta = np.mod(np.asarray(theta, dtype=np.float64), 2 * np.pi)
    positive = np.asarray(r) > 0
    pos = _count_in_windows(np.sort(theta[positive]), reg.angles, eps)
    neg = _count_in_windows(np.sort(theta[~positive]), reg.angles, eps)
    return np.stack([pos, neg], axis=1) / theta.size


def _count_in_windows(sorted_theta, centres, eps):
    """Number of angles within eps of each centre, on the circle (windows split at 0 / 2 pi)."""

    def count(lo, hi):  # angles in [lo, hi]; 0 for empty windows (hi < lo)
        n = np.searchsorted(sorted_theta, hi, side="right") - np.searchsorted(sorted_theta, lo, side="left")
        return np.where(hi >= lo, n, 0)

    lo, hi = centres - eps, centres + eps
    two_pi = 2 * np.pi
    inside = count(np.maximum(lo, 0.0), np.minimum(hi, two_pi))
    below_zero = count(np.where(lo < 0, lo + two_pi, 1.0), np.where(lo < 0, two_pi, 0.0))
    above_two_pi = count(np.where(hi > two_pi, 0.0, 1.0), np.where(hi > two_pi, hi - two_pi, 0.0))
    return inside + below_zero + above_two_pi


def concentration_report(samples, rho_history, start, end, eps=1e-3):
    """Predicted attractors against observed concentration, per ray and sign of r.

    Parameters
    ----------
    rho_history : (T, s) residuals recorded during the run.
    start, end : (r, theta) of the particles at the start and the end of the run.

    Returns a list of dicts with keys ray, sample, angle, sign, final (state at the end), ever
    (called an attractor at some record), mass_start and mass_end (share of particles within eps).
    """
    cls = classify_rays(samples, np.atleast_2d(rho_history))
    before = ray_mass(samples, *start, eps)
    after = ray_mass(samples, *end, eps)
    rows = []
    for which, sign in ((0, 1), (1, -1)):
        states = cls.state(sign)
        for k in range(cls.angle.size):
            rows.append(
                dict(
                    ray=k, sample=int(cls.sample[k]), angle=float(cls.angle[k]), sign=sign, final=str(states[-1, k]),
                    ever=bool((states[:, k] == ATTRACTOR).any()), mass_start=float(before[k, which]), mass_end=float(after[k, which]),
                )
            )
    return rows
