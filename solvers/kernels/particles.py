"""Fused particle steps: one pass over the particles per explicit Euler step.

Each pass reads a particle, finds its arc, applies the velocity of that arc, writes the particle
back, and accumulates the per-arc moments of the *new* state into the chunk's row of a workspace
(chunks of ``chunk`` particles, :mod:`meanfield.kernels.field`); the caller reduces the rows in
chunk order (:class:`solvers.shard.Shard`, across MPI ranks too). The next step's residuals and
field then cost O(s). Results do not depend on the thread count.
"""
import math

import numpy as np

from meanfield._compile import kernel, prange
from meanfield.kernels.arcs import locate_wrapped, wrap_angle
from meanfield.kernels.field import BLOCK, chunk_bounds
from meanfield.kernels.primitives import add_block_moments, add_moment, arc_velocity, store_angle
from meanfield.kernels.trig import sincos_block


@kernel(inline=True)
def delta_metric(r, delta, q_per_r, m_over_alpha_sq):
    """Diagonal metric P = (P_r, P_th) of Proposition 4 for one neuron, from (r, delta).

    q = alpha r / m = c n,  n^2 = a^2 + b^2 = (sqrt(delta^2 + 4 q^2) - delta) / 2,
    P_r = (m / alpha)^2 (n^2 + c^2) = (m / alpha)^2 sqrt(delta^2 + 4 q^2),  P_th = 1 / n^2.
    n^2 is evaluated without cancellation. A neuron with n = 0 has P_th = 0 here: its angular
    velocity r <g, t> is 0 as well and the limit of the product is not defined.
    """
    q = q_per_r * r
    root = math.sqrt(delta * delta + 4.0 * q * q)
    if delta <= 0.0:
        n2 = 0.5 * (root - delta)
    else:
        n2 = 2.0 * q * q / (root + delta)
    p_th = 1.0 / n2 if n2 > 0.0 else 0.0
    return m_over_alpha_sq * root, p_th


@kernel(inline=True)
def particle_field(ri, co, si, g, k, tv, use_metric, delta_i, q_per_r, m_over_alpha_sq, inv_m):
    """(dr/dt, dth/dt) of one particle with r = ri, (cos th, sin th) = (co, si), on arc k."""
    vr, vt = arc_velocity(g, k, ri, co, si, tv)
    if use_metric:
        p_r, p_th = delta_metric(ri, delta_i, q_per_r, m_over_alpha_sq)
        vr *= p_r * inv_m
        vt *= p_th * inv_m
    return vr, vt


@kernel(parallel=True)
def euler_canonical(r, theta, angles, table, g, dt, tv, delta, q_per_r, m_over_alpha_sq, inv_m, chunk, work):
    """One explicit Euler step of the canonical flow, in place, and the moments of the new state.

    Without a metric (``delta.size == 0``): dr = -<g_k, d> - tv sign r, dth = -r <g_k, t>, per
    unit of mean-field time. With per-particle ``delta``: the velocity is multiplied by P_i / m
    (Proposition 4; per unit of gradient-flow time of L(a, b, c)). Angles are stored wrapped to
    [0, 2 pi). Per block of particles: sin/cos of the old angles (vectorised), velocity and update,
    sin/cos of the new angles (vectorised), then the moments; the new arc is searched only when a
    particle has left its old one.
    """
    use_metric = delta.size > 0
    for c in prange(work.shape[0]):
        buf = work[c]
        buf[:, :] = 0.0
        sn = np.empty(BLOCK)
        cs = np.empty(BLOCK)
        r_new = np.empty(BLOCK)
        t_new = np.empty(BLOCK)
        arc = np.empty(BLOCK, dtype=np.int64)
        lo, hi = chunk_bounds(c, r.size, chunk)
        for start in range(lo, hi, BLOCK):
            count = min(BLOCK, hi - start)
            sincos_block(theta, start, count, sn, cs)
            for j in range(count):
                i = start + j
                t = wrap_angle(theta[i])
                k = locate_wrapped(t, angles, table)
                ri = float(r[i])
                delta_i = delta[i] if use_metric else 0.0
                vr, vt = particle_field(ri, cs[j], sn[j], g, k, tv, use_metric, delta_i, q_per_r, m_over_alpha_sq, inv_m)
                r[i] = ri + dt * vr
                store_angle(theta, i, t + dt * vt)
                r_new[j] = float(r[i])
                t_new[j] = float(theta[i])
                arc[j] = k
            add_block_moments(buf, r_new, t_new, arc, count, angles, table, sn, cs)


@kernel(parallel=True)
def runge_kutta_stage(r, theta, angles, table, g, s, a_prev, a_next, b, h, tv, delta, q_per_r, m_over_alpha_sq, inv_m, k_prev, acc, chunk, work):
    """Stage s of an explicit Runge-Kutta step whose stage s uses k_{s-1} alone (a[s, l] = 0 for
    l < s - 1: Heun, the classic RK4), one fused pass over the particles.

    Stage point p_s = w + h a_prev k_{s-1} (p_0 = w); its velocity k_s in the field ``g`` of p_s.
    For s < S - 1 (S = b.size): keep k_s in ``k_prev`` (2, m), add b_s k_s to ``acc`` (2, m; unused
    and empty when S = 2) and accumulate the moments of p_{s+1} = w + h a_next k_s. For s = S - 1:
    move to w + h sum_l b_l k_l in place and accumulate the moments of the new state. Each pass
    costs two vectorised sincos blocks and two arc searches per particle, as an Euler step does.
    """
    stages = b.size
    final = s == stages - 1
    use_metric = delta.size > 0
    for c in prange(work.shape[0]):
        buf = work[c]
        buf[:, :] = 0.0
        sn = np.empty(BLOCK)
        cs = np.empty(BLOCK)
        r_s = np.empty(BLOCK)
        t_s = np.empty(BLOCK)
        arc = np.empty(BLOCK, dtype=np.int64)
        lo, hi = chunk_bounds(c, r.size, chunk)
        for start in range(lo, hi, BLOCK):
            count = min(BLOCK, hi - start)
            for j in range(count):
                i = start + j
                rr = float(r[i])
                tt = float(theta[i])
                if s > 0:
                    rr += h * a_prev * k_prev[0, i]
                    tt += h * a_prev * k_prev[1, i]
                r_s[j] = rr
                t_s[j] = wrap_angle(tt)
            sincos_block(t_s, 0, count, sn, cs)
            for j in range(count):
                i = start + j
                k = locate_wrapped(t_s[j], angles, table)
                arc[j] = k
                delta_i = delta[i] if use_metric else 0.0
                vr, vt = particle_field(r_s[j], cs[j], sn[j], g, k, tv, use_metric, delta_i, q_per_r, m_over_alpha_sq, inv_m)
                if final:
                    if stages == 2:
                        sum_r = b[0] * k_prev[0, i] + b[1] * vr
                        sum_t = b[0] * k_prev[1, i] + b[1] * vt
                    else:
                        sum_r = acc[0, i] + b[s] * vr
                        sum_t = acc[1, i] + b[s] * vt
                    r[i] = float(r[i]) + h * sum_r
                    store_angle(theta, i, float(theta[i]) + h * sum_t)
                    r_s[j] = float(r[i])
                    t_s[j] = float(theta[i])
                else:
                    if stages > 2:
                        acc[0, i] = (acc[0, i] if s > 0 else 0.0) + b[s] * vr
                        acc[1, i] = (acc[1, i] if s > 0 else 0.0) + b[s] * vt
                    k_prev[0, i] = vr
                    k_prev[1, i] = vt
                    r_s[j] = float(r[i]) + h * a_next * vr
                    t_s[j] = wrap_angle(float(theta[i]) + h * a_next * vt)
            add_block_moments(buf, r_s, t_s, arc, count, angles, table, sn, cs)


@kernel(inline=True)
def _arc_of_neuron(a, b, angles, table):
    # theta = atan2(-b, a): the neuron c [a x - b]_+ is |(a, b)| c [x cos th + sin th]_+
    return locate_wrapped(wrap_angle(math.atan2(-b, a)), angles, table)


@kernel(inline=True)
def _add_neuron(buf, a, b, c, angles, table):
    """Add the moment c (a, -b) of the neuron c [a x - b]_+ to its arc's row of buf."""
    add_moment(buf, _arc_of_neuron(a, b, angles, table), c, a, -b)


@kernel(parallel=True)
def full_moments(a, b, c, angles, table, chunk, work):
    """Per-chunk rows of the per-arc moments M_k = sum_{i in A_k} c_i (a_i, -b_i), so that
    f(x_j) = <xt_j, sum_{B_j} M> / alpha."""
    for ch in prange(work.shape[0]):
        buf = work[ch]
        buf[:, :] = 0.0
        lo, hi = chunk_bounds(ch, a.size, chunk)
        for i in range(lo, hi):
            _add_neuron(buf, float(a[i]), float(b[i]), float(c[i]), angles, table)


@kernel(parallel=True)
def gd_full(a, b, c, angles, table, g, lr_over_alpha, train_a, train_b, train_c, chunk, work):
    """One gradient-descent step on L(a, b, c) with f = (1/alpha) sum_i c_i [a_i x - b_i]_+, in place.

    For neuron i on arc k: dL/dc = <g_k, (a, -b)> / alpha, dL/da = c g_k[0] / alpha,
    dL/db = -c g_k[1] / alpha. Untrained layers stay fixed. Accumulates the moments of the new state.
    """
    for ch in prange(work.shape[0]):
        buf = work[ch]
        buf[:, :] = 0.0
        lo, hi = chunk_bounds(ch, a.size, chunk)
        for i in range(lo, hi):
            ai = float(a[i])
            bi = float(b[i])
            ci = float(c[i])
            k = _arc_of_neuron(ai, bi, angles, table)
            g0 = g[k, 0]
            g1 = g[k, 1]
            if train_a:
                a[i] = ai - lr_over_alpha * ci * g0
            if train_b:
                b[i] = bi + lr_over_alpha * ci * g1
            if train_c:
                c[i] = ci - lr_over_alpha * (g0 * ai - g1 * bi)
            _add_neuron(buf, float(a[i]), float(b[i]), float(c[i]), angles, table)


@kernel(parallel=True)
def apply_metric(r, delta, q_per_r, m_over_alpha_sq, inv_m, vr, vt):
    """Multiply velocities by P_i / m of Proposition 4, in place."""
    for i in prange(r.size):
        p_r, p_th = delta_metric(float(r[i]), delta[i], q_per_r, m_over_alpha_sq)
        vr[i] *= p_r * inv_m
        vt[i] *= p_th * inv_m
