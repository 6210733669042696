"""The regularised problem (eq. 16) as a convex program: its exact optimum, and a dual
certificate that bounds how far any state is from it.

With the TV regulariser the flow minimises F(mu) = 1/2 |rho|^2 + lambda * integral |r| dmu,
rho_j = f(x_j) - y_j. Write nu(dth) = integral r mu(dr, dth), the signed measure on the circle
that the network sees: f(x) = integral [x cos th + sin th]_+ dnu(th). Then

    F(mu) >= G(nu) = 1/2 |Phi nu - y|^2 + lambda |nu|_TV,      (Phi nu)_j = f(x_j),

with equality when r keeps one sign on each angle, so min F = min G =: F*, and G is convex.

**The exact program.** On an arc [lo, hi] of the circle with no boundary ray inside, every
active feature is linear in d(th) = (cos th, sin th): the arc adds sum_{j in C} <xt_j, z> to the
network at the samples, where z = integral d(th) dnu over the arc. If the arc is narrower than
pi, the least total variation that makes a given z is min |p| + |q| over z = p - q with p and q in
the cone spanned by d(lo) and d(hi) (a measure's positive part makes a vector of that cone no
longer than its mass, and one atom at the direction of p makes p with mass |p|). So F* is a
second-order cone program with four non-negative weights per arc, no grid in theta:
:func:`optimum` solves it with Clarabel (``pip install "meanfield-relu[convex]"``).

**The certificate.** The dual of G is max_p D(p) = <p, y> - |p|^2 / 2 subject to
sup_th |sum_j p_j [x_j cos th + sin th]_+| <= lambda. On arc k the sum is <g_k(p), d(th)> with
g_k(p) = sum_{j in C_k} p_j xt_j, whose largest modulus over the arc has a closed form (|g_k| when
the direction of +-g_k lies in the arc, else the larger end). For residuals rho of any state,
p = -rho min(1, lambda / S(rho)) is feasible, S(rho) = max_th |sum_j rho_j [x_j cos th + sin th]_+|
(the largest radial speed of the field), so F(mu) - D(p) >= F(mu) - F* >= 0: an upper bound of a
state's excess that costs O(s) (:func:`dual_value`). At the optimum p = -rho* and the bound is 0.

Full parameters with weight decay lambda_wd (a^2 + b^2 + c^2) / 2 have the same optimum with
lambda = lambda_wd * alpha (a neuron's |c| |(a, b)| <= (a^2 + b^2 + c^2) / 2, equal when balanced).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from . import params
from .field import arc_fields, energy_of
from .kernels.arcs import TWO_PI
from .samples import Samples, as_samples

__all__ = ["Optimum", "optimum", "dual_value", "dual_point", "largest_radial_speed"]

PIECE = math.pi / 2  # arcs wider than this are cut into pieces: the cone of a piece's ends is then pointed
MERGE = 1e-6  # radians: atoms of one sign closer than this are one atom (neighbouring pieces share their ends)
DUST = 1e-11  # atoms lighter than this share of the total variation are the interior-point solver's rounding


def largest_radial_speed(samples: Samples, rho: ArrayLike) -> float:
    """S(rho) = max over th of |sum_j rho_j [x_j cos th + sin th]_+| = max_k max_{th in A_k}
    |<g_k, d(th)>|: the largest radial speed |dr/dt| of the unregularised field (mean-field clock),
    exact (closed form per arc), O(s)."""
    samples = as_samples(samples)
    g = arc_fields(samples, rho)
    reg = samples.regions
    lo, width = reg.angles, reg.lengths
    size = np.hypot(g[:, 0], g[:, 1])
    direction = np.arctan2(g[:, 1], g[:, 0])
    inside = (np.mod(direction - lo, TWO_PI) <= width) | (np.mod(direction + math.pi - lo, TWO_PI) <= width)
    ends = np.maximum(np.abs(g[:, 0] * np.cos(lo) + g[:, 1] * np.sin(lo)),
                      np.abs(g[:, 0] * np.cos(lo + width) + g[:, 1] * np.sin(lo + width)))
    return float(np.max(np.where(inside, size, ends)))


def dual_point(samples: Samples, rho: ArrayLike, tv: float) -> np.ndarray:
    """The feasible dual point p = -rho min(1, lambda / S(rho)) of residuals ``rho`` (sorted
    sample order, shape (s,)), with ``tv`` = lambda (:func:`largest_radial_speed`)."""
    samples = as_samples(samples)
    rho = np.asarray(rho, dtype=np.float64)
    speed = largest_radial_speed(samples, rho)
    scale = 1.0 if speed <= tv else tv / speed
    return -rho * scale


def dual_value(samples: Samples, rho: ArrayLike, tv: float) -> float:
    """D(p) = <p, y> - |p|^2 / 2 at the feasible dual point of residuals ``rho`` (see
    :func:`dual_point`): a lower bound of F* = min F, so that F(mu) - D is an upper bound of how far a
    state mu with residuals rho is above the optimum (the *gap*). O(s).

    Parameters
    ----------
    samples : Samples
    rho : array_like (s,)
        Residuals f(x_j) - y_j of any state, in sorted sample order (as solvers give them).
    tv : float
        lambda >= 0 of the regulariser lambda * integral |r| dmu (with tv = 0 the bound is 0).
    """
    samples = as_samples(samples)
    if not (math.isfinite(tv) and tv >= 0):
        raise ValueError(f"tv must be finite and >= 0, got {tv}")
    p = dual_point(samples, rho, tv)
    return float(p @ samples.y - 0.5 * (p @ p))


@dataclass(frozen=True)
class Optimum:
    """The global minimiser of G(nu) = 1/2 |Phi nu - y|^2 + lambda |nu|_TV (see the module).

    Attributes
    ----------
    energy : float
        F* = G(nu*), evaluated from the atoms below (an upper bound of the true minimum by
        rounding and the solver's tolerance; ``gap`` bounds the rest).
    loss, total_variation : float
        Its parts 1/2 |rho*|^2 and |nu*|_TV = sum |weights|.
    rho : ndarray (s,)
        Residuals f*(x_j) - y_j (sorted sample order).
    angles, weights : ndarray (n,)
        The optimal measure nu* = sum_i weights_i delta(angles_i), angles in [0, 2 pi): at most s
        atoms, so that f*(x) = sum_i weights_i [x cos(angles_i) + sin(angles_i)]_+. As canonical
        particles this is mass on the rays th = angles_i with r = weights_i / (its share of mu).
    knots, values : ndarray (n_knots,)
        The network as a linear spline: the distinct knots x = -tan(angle) of the atoms (sorted;
        atoms at th = pi/2, 3 pi/2 have none) and f* there; ``slopes`` (n_knots + 1,) the slope on
        each piece (left of the first knot to right of the last).
    gap : float
        energy - dual_value(samples, rho, tv): the certificate of this solve (>= the error of
        ``energy`` up to rounding).
    tv : float
        lambda.
    status : str
        Clarabel's status of the solve kept ("Solved" or "AlmostSolved"), or "zero measure" when
        nu = 0 is optimal (sup_th |sum_j y_j [x_j cos th + sin th]_+| <= lambda: no solve).
    """

    samples: Samples
    tv: float
    energy: float
    loss: float
    total_variation: float
    rho: np.ndarray
    angles: np.ndarray
    weights: np.ndarray
    knots: np.ndarray
    values: np.ndarray
    slopes: np.ndarray
    gap: float
    status: str = field(default="")

    def network(self, x: ArrayLike) -> np.ndarray:
        """f*(x) at the points ``x`` (any shape), from the atoms."""
        x = np.asarray(x, dtype=np.float64)
        return (_features(x.ravel(), self.angles) @ self.weights).reshape(x.shape)

    def distances_to_samples(self) -> np.ndarray:
        """For each knot, the distance |knot - x_j| to the nearest sample (the optimum's knots need
        not sit at samples)."""
        if not self.knots.size:
            return np.empty(0)
        return np.min(np.abs(self.knots[:, None] - self.samples.x[None, :]), axis=1)


def optimum(samples: Samples, tv: float, *, certify: float = 1e-11) -> Optimum:
    """The exact global optimum F* of the TV-regularised problem (eq. 16) and its measure.

    Solves the second-order cone program of the module (four weights per arc, exact in theta)
    with Clarabel; drops the interior-point solver's dust, reduces the measure to at most s atoms
    (Caratheodory: atoms whose features are dependent trade mass at no cost in G), polishes the
    atoms (:func:`_polish`) and evaluates every figure from them. The solve is repeated with
    tighter tolerances (1e-10, 1e-12, 1e-14) until the certificate ``gap`` is at most
    ``certify`` times F*; the best result (least energy up to rounding, then least gap) is returned.

    Parameters
    ----------
    samples : Samples
    tv : float
        lambda > 0.
    certify : float
        The relative gap at which a solve is accepted.

    Returns
    -------
    Optimum
        ``energy`` (F*), residuals, atoms, the spline, and the certificate ``gap``.

    Raises
    ------
    ImportError
        Without Clarabel (``pip install "meanfield-relu[convex]"``).
    RuntimeError
        When the solver reports neither success nor near-success at any tolerance.
    """
    samples = as_samples(samples)
    if not (math.isfinite(tv) and tv > 0):
        raise ValueError(f"tv must be positive and finite, got {tv}")
    try:
        import clarabel  # noqa: F401
    except ImportError:
        raise ImportError('meanfield.convex.optimum needs Clarabel: pip install "meanfield-relu[convex]"') from None
    if largest_radial_speed(samples, samples.y) <= tv:  # p = y is dual feasible: nu = 0 is optimal
        return _from_atoms(samples, tv, np.empty(0), np.empty(0), "zero measure")
    program = _ConeProgram(samples, tv)
    solved, status = [], ""
    for tol in (1e-10, 1e-12, 1e-14):
        angles, weights, status = program.solve(tol)
        if weights is None:
            continue
        solved.append((*_polish(samples, tv, *_clean(samples, angles, weights)), status))
        best = _better(solved)
        if best[1] <= certify * best[0]:
            break
    if not solved:
        raise RuntimeError(f"the cone program was not solved: Clarabel says {status}")
    energy, gap, angles, weights, status = _better(solved)
    return _from_atoms(samples, tv, angles, weights, status)


class _ConeProgram:
    """The cone program of the module in Clarabel's form, min 1/2 x^T P x + c^T x subject to
    A x + s = b, s in the cones. Variables: e = Phi nu - y (s), per piece the weights of d(lo) and
    d(hi) in p and in q (4 per piece, >= 0), then per piece t >= |p| and t' >= |q|. The targets are
    scaled to max |y| = 1: G(c nu; c y, c lambda) = c^2 G(nu; y, lambda)."""

    def __init__(self, samples, tv):
        from scipy import sparse

        self.scale = float(np.max(np.abs(samples.y)))
        lo, hi, active = _pieces(samples)
        n, s = lo.size, samples.s
        self.n = n
        self.ends = ends = np.stack([np.cos(lo), np.sin(lo), np.cos(hi), np.sin(hi)], axis=1)  # d(lo), d(hi) per piece
        # features of the end directions at the samples: <xt_j, d(lo_q)> and <xt_j, d(hi_q)> where active
        f_lo = (samples.x[None, :] * ends[:, 0:1] + ends[:, 1:2]) * active  # (n, s)
        f_hi = (samples.x[None, :] * ends[:, 2:3] + ends[:, 3:4]) * active
        nv = s + 6 * n
        self.w0, self.t0 = w0, t0 = s, s + 4 * n
        piece = np.arange(n)
        rows, cols, vals = [np.arange(s)], [np.arange(s)], [np.ones(s)]
        for part, sign in ((0, -1.0), (2, 1.0)):  # e - Phi (p - q) = -y
            for end, feat in ((0, f_lo), (1, f_hi)):
                qj, jj = np.nonzero(feat)
                rows.append(jj), cols.append(w0 + 4 * qj + part + end), vals.append(sign * feat[qj, jj])
        r0 = s
        rows.append(r0 + np.arange(4 * n)), cols.append(w0 + np.arange(4 * n)), vals.append(-np.ones(4 * n))  # w >= 0
        r0 += 4 * n
        for part in (0, 1):  # (t, p) and (t', q) in second-order cones of dimension 3
            base = r0 + 3 * (2 * piece + part)
            rows.append(base), cols.append(t0 + 2 * piece + part), vals.append(-np.ones(n))
            for comp in (0, 1):
                for end in (0, 1):
                    rows.append(base + 1 + comp), cols.append(w0 + 4 * piece + 2 * part + end), vals.append(-ends[:, 2 * end + comp])
        self.A = sparse.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(r0 + 6 * n, nv))
        self.b = np.zeros(r0 + 6 * n)
        self.b[:s] = -samples.y / self.scale
        self.P = sparse.csc_matrix((np.ones(s), (np.arange(s), np.arange(s))), shape=(nv, nv))
        self.c = np.zeros(nv)
        self.c[t0:] = tv / self.scale
        self.s = s

    def solve(self, tol):
        """Atoms (angles, signed weights; None when the solver fails) and Clarabel's status."""
        import clarabel

        n = self.n
        cones = [clarabel.ZeroConeT(self.s), clarabel.NonnegativeConeT(4 * n)] + [clarabel.SecondOrderConeT(3)] * (2 * n)
        settings = clarabel.DefaultSettings()
        settings.verbose = False
        settings.tol_gap_abs = settings.tol_gap_rel = settings.tol_feas = tol
        settings.max_iter = 400
        result = clarabel.DefaultSolver(self.P, self.c, self.A, self.b, cones, settings).solve()
        status = str(result.status)
        if status not in ("Solved", "AlmostSolved"):
            return None, None, status
        w = np.asarray(result.x)[self.w0:self.t0].reshape(n, 2, 2) * self.scale  # (piece, p or q, end)
        ends = self.ends
        pos = w[:, 0, 0:1] * ends[:, 0:2] + w[:, 0, 1:2] * ends[:, 2:4]
        neg = w[:, 1, 0:1] * ends[:, 0:2] + w[:, 1, 1:2] * ends[:, 2:4]
        vectors = np.concatenate([pos, neg])  # an atom of mass |vector| at the vector's angle: + for p, - for q
        angles = np.mod(np.arctan2(vectors[:, 1], vectors[:, 0]), TWO_PI)
        weights = np.hypot(vectors[:, 0], vectors[:, 1]) * np.repeat([1.0, -1.0], n)
        return angles, weights, status


def _pieces(samples):
    """The non-empty arcs, each cut into equal pieces no wider than PIECE: their ends (lo, hi)
    and active sets (n, s)."""
    reg = samples.regions
    lo, hi, active = [], [], []
    for k in np.flatnonzero(reg.lengths > 0):
        cuts = max(1, math.ceil(reg.lengths[k] / PIECE))
        edges = reg.angles[k] + reg.lengths[k] * np.arange(cuts + 1) / cuts
        lo.extend(edges[:-1]), hi.extend(edges[1:])
        active.extend([reg.active[k]] * cuts)
    return np.array(lo), np.array(hi), np.array(active, dtype=np.float64).reshape(len(lo), samples.s)


def _features(x, angles):
    """[x cos th + sin th]_+ for every point (rows) and angle (columns)."""
    return np.maximum(x[:, None] * np.cos(angles)[None, :] + np.sin(angles)[None, :], 0.0)


def _clean(samples, angles, weights):
    """Drop the solver's dust (weights under DUST of the total), merge atoms of one sign closer
    than MERGE (their vectors add), and reduce to linearly independent features (so at most s
    atoms)."""
    keep = np.abs(weights) > DUST * float(np.abs(weights).sum())
    angles, weights = angles[keep], weights[keep]
    order = np.argsort(angles)
    merged_a, merged_w = [], []
    for a, w in zip(angles[order], weights[order], strict=True):
        if merged_a and np.sign(merged_w[-1]) == np.sign(w) and abs(a - merged_a[-1]) < MERGE:
            vec = merged_w[-1] * np.array([math.cos(merged_a[-1]), math.sin(merged_a[-1])]) + w * np.array([math.cos(a), math.sin(a)])
            merged_a[-1] = math.atan2(np.sign(w) * vec[1], np.sign(w) * vec[0]) % TWO_PI
            merged_w[-1] = float(np.sign(w) * np.hypot(*vec))
        else:
            merged_a.append(a), merged_w.append(w)
    angles, weights = np.array(merged_a), np.array(merged_w)
    features = _features(samples.x, angles)  # (s, n)
    while weights.size and np.linalg.matrix_rank(features) < weights.size:
        # along v with Phi v = 0 the fit stays and lambda sum |w| changes by t <sign(w), v> while no
        # sign flips: zero at an optimum. Go the way that does not raise it until a weight is 0.
        v = np.linalg.svd(features)[2][-1]
        if np.sign(weights) @ v > 0:
            v = -v
        shrinking = weights * v < 0
        weights = weights + np.min(-weights[shrinking] / v[shrinking]) * v
        drop = np.argmin(np.abs(weights))
        angles, weights, features = np.delete(angles, drop), np.delete(weights, drop), np.delete(features, drop, axis=1)
    return angles, weights


def _polish(samples, tv, angles, weights):
    """Sharpen the solver's atoms: :func:`_refine` them as they are, and with those within MERGE of
    a boundary ray put onto it (an atom can sit a hair from a ray at large |x|); of every candidate
    met on the way, return the best by :func:`_better` as (energy, gap, angles, weights)."""
    rays = samples.regions.angles
    nearest = np.argmin(np.abs((angles[:, None] - rays[None, :] + math.pi) % TWO_PI - math.pi), axis=1) if angles.size else angles
    on_ray = np.abs((angles - rays[nearest] + math.pi) % TWO_PI - math.pi) < MERGE if angles.size else angles.astype(bool)
    candidates = _refine(samples, tv, angles, weights, np.zeros_like(on_ray))
    if on_ray.any():
        candidates += _refine(samples, tv, np.where(on_ray, rays[nearest], angles), weights, on_ray)
    return _better(candidates)


def _better(candidates):
    """Of (energy, gap, angles, weights, ...) candidates, the one of least gap among those whose energy
    is the least up to rounding (1e-13 relative): the energy is flat at the optimum, to second order,
    while the gap moves to first order, so it tells apart candidates the energy cannot."""
    least = min(c[0] for c in candidates)
    return min((c for c in candidates if c[0] <= least + 1e-13 * abs(least)), key=lambda c: c[1])


def _refine(samples, tv, angles, weights, fixed, rounds=8):
    """Candidates (energy, gap, angles, weights) from alternating two exact moves, starting with the
    given atoms. With the angles and the signs sigma fixed, the weights w = sigma v minimising G
    solve min 1/2 |Phi sigma v - y|^2 + lambda sum v over v >= 0, which with Phi sigma = Q R is the
    non-negative least-squares problem min |R v - (Q^T y - lambda R^-T 1)| (exact, finite:
    Lawson-Hanson); atoms it leaves at 0 go. An atom not ``fixed`` (on a ray) goes to where its dual
    constraint is tight, the direction of -sign(w) g_k of the current residuals, when that lies in
    its arc. Stops when G rises beyond rounding."""
    from scipy.linalg import solve_triangular
    from scipy.optimize import nnls

    reg = samples.regions
    candidates = [_candidate(samples, tv, angles, weights)]
    signs = np.sign(weights)
    for _ in range(rounds):
        features = _features(samples.x, angles)
        q, r = np.linalg.qr(features * signs)
        if not np.all(np.abs(np.diag(r)) > 1e-14 * np.abs(r).max()):
            break
        v = nnls(r, q.T @ samples.y - tv * solve_triangular(r, np.ones(signs.size), trans="T"), maxiter=50 * signs.size)[0]
        keep = v > 0
        angles, signs, fixed, weights = angles[keep], signs[keep], fixed[keep], signs[keep] * v[keep]
        found = _candidate(samples, tv, angles, weights)
        if found[0] > min(c[0] for c in candidates) * (1 + 1e-13):
            break
        candidates.append(found)
        if fixed.all():
            break
        g = arc_fields(samples, features[:, keep] @ weights - samples.y)
        angles = angles.copy()
        for i in np.flatnonzero(~fixed):
            k = reg.locate(angles[i])[()]
            d = -signs[i] * g[k]
            target = math.atan2(d[1], d[0]) % TWO_PI
            if 0 < (target - reg.angles[k]) % TWO_PI < reg.lengths[k]:
                angles[i] = target
    return candidates


def _candidate(samples, tv, angles, weights):
    """(energy, gap, angles, weights) of atoms."""
    rho = _features(samples.x, angles) @ weights - samples.y
    energy = energy_of(rho, tv, float(np.abs(weights).sum()))
    return energy, energy - dual_value(samples, rho, tv), angles, weights


def _from_atoms(samples, tv, angles, weights, status):
    """An :class:`Optimum` with every figure evaluated from the atoms."""
    rho = _features(samples.x, angles) @ weights - samples.y
    energy, gap, _, _ = _candidate(samples, tv, angles, weights)
    variation = float(np.abs(weights).sum())
    knots = np.unique(params.knots(angles[np.abs(np.cos(angles)) > 1e-15]))
    # atoms at th and th + pi (a ray's two sides) give one knot up to rounding
    knots = knots[np.concatenate([[True], np.diff(knots) > 1e-9 * np.maximum(1.0, np.abs(knots[1:]))])] if knots.size else knots
    values = _features(knots, angles) @ weights
    # the slope of each piece: sum of w cos(th) over the atoms active on it (probed at its middle)
    probes = np.concatenate([[knots[0] - 1.0], (knots[1:] + knots[:-1]) / 2, [knots[-1] + 1.0]]) if knots.size else np.zeros(1)
    slopes = ((probes[:, None] * np.cos(angles) + np.sin(angles) > 0) * np.cos(angles)) @ weights
    return Optimum(samples=samples, tv=float(tv), energy=energy, loss=0.5 * float(rho @ rho), total_variation=variation, rho=rho,
                   angles=angles, weights=weights, knots=knots, values=values, slopes=slopes, gap=gap, status=status)
