"""Fused particle steps: one pass over the particles per Runge-Kutta stage (an Euler step is the
one-stage scheme).

Each pass reads a particle, finds its arc, applies the velocity of that arc, writes the stage's
result, and accumulates the per-arc moments of the point it moved to into the chunk's row of a
workspace (chunks of ``chunk`` particles, :mod:`meanfield.kernels.field`); the caller reduces the
rows in chunk order (:class:`solvers.shard.Shard`, across MPI ranks too). The next stage's
residuals and field then cost O(s). Results do not depend on the thread count.

Kernels take their arrays in bundles (named tuples, which numba compiles field by field):
:class:`meanfield.kernels.arcs.ArcTable`, :class:`Metric`, :class:`Stage`, :class:`TrigCache`,
:class:`Descent`.
"""
import math
from collections import namedtuple

import numpy as np

from meanfield._compile import kernel, prange
from meanfield.kernels.arcs import in_turn, locate_wrapped, wrap_angle, wrap_near
from meanfield.kernels.field import BLOCK, block_scratch, open_chunk
from meanfield.kernels.primitives import add_block_moments, add_moment, delta_metric, settle_block, store_wrapped, velocity
from meanfield.kernels.trig import sincos_block

SEARCH_ALL = 8  # when over 1 / SEARCH_ALL of a block's points left their arcs, the next block searches all its points

Metric = namedtuple("Metric", ["delta", "q_per_r", "m_over_alpha_sq", "inv_m"])
Metric.__doc__ = """The metric of Proposition 4: per-particle invariants ``delta`` (m,), or empty for the
plain canonical flow; alpha / m, (m / alpha)^2 and 1 / m."""

Stage = namedtuple("Stage", ["s", "h", "a_prev", "a_next", "b", "k_prev", "acc"])
Stage.__doc__ = """Stage ``s`` of an explicit Runge-Kutta step of size ``h`` whose stage points use the
previous stage's velocity alone: a_prev = a[s, s-1], a_next = a[s+1, s] (0 where undefined), the
weights ``b`` (S,); ``k_prev`` (2, m) the last stage velocity and ``acc`` (2, m) the running sum
of b_l k_l (both (2, 0) where the scheme does not need them: S = 1, and ``acc`` for S = 2)."""


TrigCache = namedtuple("TrigCache", ["cos", "sin", "arc", "valid"])
TrigCache.__doc__ = """What the moments pass of a stage computes for each particle's next point and the next
stage would compute again for its velocity there: cos and sin of the angle (float64, (m,)) and
its arc (int32, (m,)); all three empty for no cache. ``valid``: whether they hold the current
state's values (False until a step has filled them). They are the values a stage would
recompute, so a step gives the same bits with or without them; they cost 20 bytes per particle
and save one sin/cos pass and one arc search per stage (:func:`runge_kutta_stage`)."""


def empty_cache(m):
    """A :class:`TrigCache` for m particles, not yet valid (m = 0: none, every stage computes
    sin, cos and arcs itself)."""
    return TrigCache(np.empty(m), np.empty(m), np.empty(m, dtype=np.int32), False)


@kernel(inline=True)
def move(r, theta, i, dr, dth, r_s, t_s, j):
    """Move particle i by (dr, dth) in place and keep its new position in r_s[j], t_s[j]. The
    angle is stored wrapped (0 where float32 rounds it up to 2 pi) unless :func:`wrap_near`
    left it outside [0, 2 pi): then t_s[j] holds it in float64 for :func:`settle_block` to
    store."""
    r[i] = np.float64(r[i]) + dr
    tn = wrap_near(np.float64(theta[i]) + dth)
    stored = store_wrapped(theta, i, tn)
    r_s[j] = np.float64(r[i])
    t_s[j] = stored if in_turn(tn) else tn


@kernel(parallel=True)
def runge_kutta_stage(r, theta, arcs, g, tv, metric, stage, cache, chunk, work):
    """Stage s of an explicit Runge-Kutta step (:class:`Stage`), one fused pass over the particles.

    Stage point p_s = w + h a_prev k_{s-1} (p_0 = w); its velocity k_s in the field ``g`` of p_s:
    dr = -<g_k, d> - tv sign r, dth = -r <g_k, t> per unit of mean-field time, times P_i / m
    with a ``metric`` (Proposition 4; per unit of gradient-flow time of L(a, b, c)). For
    s < S - 1: keep k_s in ``k_prev``, add b_s k_s to ``acc`` (S > 2) and accumulate the moments
    of p_{s+1} = w + h a_next k_s. For s = S - 1: move to w + h sum_l b_l k_l in place (angles
    wrapped to [0, 2 pi)) and accumulate the moments of the new state.

    Per block of particles, loops free of branches (the stage points and their sin/cos; the
    velocities; the update; the next points' sin/cos) alternate with scalar ones (the arc search
    and the field g_k it selects; the metric; the moments, the arc searched again for the points
    that left theirs, or for all points of the block where many did in the block before).
    """
    # bundles are unpacked before the parallel loop, and the arc table rebuilt inside it from the
    # arrays: a tuple argument read inside the loop measured 20-30% slower
    s, h, a_prev, a_next, b, k_prev, acc = stage
    angles, table, first = arcs
    delta, q_per_r, m_over_alpha_sq, inv_m = metric
    cos_c, sin_c, arc_c, valid = cache
    use_metric = delta.size > 0
    stages = b.size
    final = s == stages - 1
    keep = arc_c.size > 0
    reuse = keep and (valid or s > 0)  # the cache holds this stage's point: the last pass's moments were of it
    for c in prange(work.shape[0]):
        buf, lo, hi = open_chunk(work, c, r.size, chunk)
        sn, cs, r_s, t_s, v_r, v_t, arc = block_scratch()
        g0 = np.empty(BLOCK)
        g1 = np.empty(BLOCK)
        p_r = np.ones(BLOCK)  # the metric's factors P / m (1 without it: exact)
        p_th = np.ones(BLOCK)
        lookup = (angles, table, first)
        moved = 0
        for start in range(lo, hi, BLOCK):
            count = min(BLOCK, hi - start)
            # the block's sin, cos and arcs: the cache's own rows (read, then written over by the
            # moments pass with the next point's), else scratch
            sn_b = sin_c[start:start + count] if keep else sn[:count]
            cs_b = cos_c[start:start + count] if keep else cs[:count]
            arc_b = arc_c[start:start + count] if keep else arc[:count]
            for j in range(count):
                r_s[j] = np.float64(r[start + j])
                if s > 0:
                    r_s[j] += h * a_prev * k_prev[0, start + j]
            if not reuse:
                for j in range(count):
                    tt = np.float64(theta[start + j])
                    if s > 0:
                        tt += h * a_prev * k_prev[1, start + j]
                    t_s[j] = wrap_near(tt)
                settle_block(t_s, count, theta, start, False)
                sincos_block(t_s, 0, count, sn_b, cs_b)
                for j in range(count):
                    arc_b[j] = locate_wrapped(t_s[j], lookup)
            for j in range(count):
                g0[j] = g[arc_b[j], 0]
                g1[j] = g[arc_b[j], 1]
            if use_metric:
                for j in range(count):
                    pr, pt = delta_metric(r_s[j], delta[start + j], q_per_r, m_over_alpha_sq)
                    p_r[j] = pr * inv_m
                    p_th[j] = pt * inv_m
            for j in range(count):
                vr, vt = velocity(g0[j], g1[j], r_s[j], cs_b[j], sn_b[j], tv)
                v_r[j] = vr * p_r[j]
                v_t[j] = vt * p_th[j]
            if final and stages == 1:  # Euler, b = (1): a loop of its own measured 7% faster
                for j in range(count):
                    i = start + j
                    move(r, theta, i, h * (0.0 + b[0] * v_r[j]), h * (0.0 + b[0] * v_t[j]), r_s, t_s, j)
            elif final:
                for j in range(count):
                    i = start + j
                    if stages == 2:
                        sum_r = b[0] * k_prev[0, i] + b[1] * v_r[j]
                        sum_t = b[0] * k_prev[1, i] + b[1] * v_t[j]
                    else:  # the running sum
                        sum_r = acc[0, i] + b[s] * v_r[j]
                        sum_t = acc[1, i] + b[s] * v_t[j]
                    move(r, theta, i, h * sum_r, h * sum_t, r_s, t_s, j)
            else:
                if stages > 2:  # the running sum, in loops of their own (no branch inside)
                    if s == 0:
                        for j in range(count):
                            acc[0, start + j] = 0.0 + b[0] * v_r[j]
                            acc[1, start + j] = 0.0 + b[0] * v_t[j]
                    else:
                        for j in range(count):
                            acc[0, start + j] += b[s] * v_r[j]
                            acc[1, start + j] += b[s] * v_t[j]
                for j in range(count):
                    i = start + j
                    k_prev[0, i] = v_r[j]
                    k_prev[1, i] = v_t[j]
                    r_s[j] = np.float64(r[i]) + h * a_next * v_r[j]
                    t_s[j] = wrap_near(np.float64(theta[i]) + h * a_next * v_t[j])
            settle_block(t_s, count, theta, start, final)
            moved = add_block_moments(buf, r_s, t_s, arc_b, count, lookup, sn_b, cs_b, moved * SEARCH_ALL > count)


@kernel(inline=True)
def _arc_of_neuron(a, b, arcs):
    # theta = atan2(-b, a): the neuron c [a x - b]_+ is |(a, b)| c [x cos th + sin th]_+
    return locate_wrapped(wrap_angle(math.atan2(-b, a)), arcs)


@kernel(inline=True)
def _add_neuron(buf, a, b, c, arcs):
    """Add the moment c (a, -b) of the neuron c [a x - b]_+ to its arc's row of buf."""
    add_moment(buf, _arc_of_neuron(a, b, arcs), c, a, -b)


Descent = namedtuple("Descent", ["step", "shrink", "train_a", "train_b", "train_c"])
Descent.__doc__ = """One gradient-descent step on L(a, b, c) + wd/2 |(a, b, c)|^2: ``step`` = lr / alpha (the loss
gradient's factor), ``shrink`` = lr * wd (the weight decay's), and which layers train."""


@kernel(parallel=True)
def gd_full(a, b, c, arcs, g, descent, chunk, work):
    """One gradient-descent step (:class:`Descent`) on L(a, b, c) + wd/2 sum_i (a_i^2 + b_i^2 + c_i^2)
    with f = (1/alpha) sum_i c_i [a_i x - b_i]_+, in place.

    For neuron i on arc k: dL/dc = <g_k, (a, -b)> / alpha, dL/da = c g_k[0] / alpha,
    dL/db = -c g_k[1] / alpha; the decay adds wd times the parameter. Untrained layers stay fixed.
    Accumulates the per-chunk rows of the moments of the new state,
    M_k = sum_{i in A_k} c_i (a_i, -b_i), so that f(x_j) = <xt_j, sum_{B_j} M> / alpha (with no
    layer trained: the moments of the given state).
    """
    angles, table, first = arcs
    step, shrink, train_a, train_b, train_c = descent
    for ch in prange(work.shape[0]):
        buf, lo, hi = open_chunk(work, ch, a.size, chunk)
        lookup = (angles, table, first)
        for i in range(lo, hi):
            ai = np.float64(a[i])
            bi = np.float64(b[i])
            ci = np.float64(c[i])
            k = _arc_of_neuron(ai, bi, lookup)
            g0 = g[k, 0]
            g1 = g[k, 1]
            if train_a:
                a[i] = ai - step * ci * g0 - shrink * ai
            if train_b:
                b[i] = bi + step * ci * g1 - shrink * bi
            if train_c:
                c[i] = ci - step * (g0 * ai - g1 * bi) - shrink * ci
            _add_neuron(buf, np.float64(a[i]), np.float64(b[i]), np.float64(c[i]), lookup)


@kernel(parallel=True)
def apply_metric(r, metric, vr, vt):
    """Multiply velocities by P_i / m of Proposition 4, in place."""
    delta, q_per_r, m_over_alpha_sq, inv_m = metric
    for i in prange(r.size):
        p_r, p_th = delta_metric(np.float64(r[i]), delta[i], q_per_r, m_over_alpha_sq)
        vr[i] *= p_r * inv_m
        vt[i] *= p_th * inv_m
