"""Fused particle steps: one pass over the particles per explicit Euler step.

Each pass reads a particle, finds its arc, applies the velocity of that arc, writes the particle
back, and accumulates the per-arc moments of the *new* state into the chunk's row of a workspace.
The next step's residuals and field then cost O(s). Chunking follows
:mod:`meanfield.kernels.field`: it depends on m alone, so results do not depend on the thread count.
"""
import math

import numpy as np

from meanfield._compile import kernel, prange
from meanfield.kernels.arcs import TWO_PI, in_arc, locate_wrapped, wrap_angle
from meanfield.kernels.field import BLOCK, chunk_bounds, reduce_chunks, sign
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
    vr = -(g[k, 0] * co + g[k, 1] * si) - tv * sign(ri)
    vt = -ri * (g[k, 1] * co - g[k, 0] * si)
    if use_metric:
        p_r, p_th = delta_metric(ri, delta_i, q_per_r, m_over_alpha_sq)
        vr *= p_r * inv_m
        vt *= p_th * inv_m
    return vr, vt


@kernel(parallel=True)
def euler_canonical(r, theta, angles, table, g, dt, tv, delta, q_per_r, m_over_alpha_sq, inv_m, work, moments):
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
        lo, hi = chunk_bounds(c, r.size, work.shape[0])
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
                theta[i] = wrap_angle(t + dt * vt)
                if theta[i] >= TWO_PI:  # float32 storage can round up to 2 pi
                    theta[i] = 0.0
                r_new[j] = float(r[i])
                t_new[j] = float(theta[i])
                arc[j] = k
            sincos_block(t_new, 0, count, sn, cs)
            for j in range(count):
                k = arc[j]
                if not in_arc(t_new[j], k, angles):
                    k = locate_wrapped(t_new[j], angles, table)
                buf[k, 0] += r_new[j] * cs[j]
                buf[k, 1] += r_new[j] * sn[j]
    reduce_chunks(work, moments)


@kernel(parallel=True)
def runge_kutta_pass(r, theta, angles, table, g_stages, a, b, known, h, tv, delta, q_per_r, m_over_alpha_sq, inv_m, work, moments):
    """One fused pass of an explicit Runge-Kutta step (Butcher coefficients ``a``, ``b``).

    ``g_stages[s]`` is the arc field of stage s for s < ``known``. Each particle recomputes its
    stage velocities k_0 .. k_{known-1} from its state (bitwise the same in every pass), then
      known < S: accumulates the moments of the stage point w + h sum_l a[known, l] k_l;
      known == S: moves to w + h sum_l b_l k_l in place and accumulates the new moments.
    An S-stage step is S passes and needs no per-particle storage.
    """
    stages = b.size
    use_metric = delta.size > 0
    for c in prange(work.shape[0]):
        buf = work[c]
        buf[:, :] = 0.0
        sn = np.empty(BLOCK)
        cs = np.empty(BLOCK)
        r_s = np.empty(BLOCK)
        t_s = np.empty(BLOCK)
        k_r = np.empty((stages, BLOCK))
        k_t = np.empty((stages, BLOCK))
        lo, hi = chunk_bounds(c, r.size, work.shape[0])
        for start in range(lo, hi, BLOCK):
            count = min(BLOCK, hi - start)
            for s in range(known + 1):
                final = s == stages
                for j in range(count):
                    i = start + j
                    rr = float(r[i])
                    tt = float(theta[i])
                    for l in range(s):
                        coef = b[l] if final else a[s, l]
                        rr += h * coef * k_r[l, j]
                        tt += h * coef * k_t[l, j]
                    tt = wrap_angle(tt)
                    if final:
                        r[i] = rr
                        theta[i] = tt
                        if theta[i] >= TWO_PI:  # float32 storage can round up to 2 pi
                            theta[i] = 0.0
                        rr = float(r[i])
                        tt = float(theta[i])
                    r_s[j] = rr
                    t_s[j] = tt
                sincos_block(t_s, 0, count, sn, cs)
                if s == known:  # the point whose moments this pass computes
                    for j in range(count):
                        k = locate_wrapped(t_s[j], angles, table)
                        buf[k, 0] += r_s[j] * cs[j]
                        buf[k, 1] += r_s[j] * sn[j]
                else:
                    for j in range(count):
                        k = locate_wrapped(t_s[j], angles, table)
                        delta_i = delta[start + j] if use_metric else 0.0
                        vr, vt = particle_field(r_s[j], cs[j], sn[j], g_stages[s], k, tv, use_metric, delta_i, q_per_r, m_over_alpha_sq, inv_m)
                        k_r[s, j] = vr
                        k_t[s, j] = vt
    reduce_chunks(work, moments)


@kernel(inline=True)
def _arc_of_neuron(a, b, angles, table):
    # theta = atan2(-b, a): the neuron c [a x - b]_+ is |(a, b)| c [x cos th + sin th]_+
    return locate_wrapped(wrap_angle(math.atan2(-b, a)), angles, table)


@kernel(inline=True)
def _add_neuron(buf, a, b, c, angles, table):
    """Add the moment c (a, -b) of the neuron c [a x - b]_+ to its arc's row of buf."""
    k = _arc_of_neuron(a, b, angles, table)
    buf[k, 0] += c * a
    buf[k, 1] -= c * b


@kernel(parallel=True)
def full_moments(a, b, c, angles, table, work, moments):
    """Per-arc moments M_k = sum_{i in A_k} c_i (a_i, -b_i), so that f(x_j) = <xt_j, sum_{B_j} M> / alpha."""
    for ch in prange(work.shape[0]):
        buf = work[ch]
        buf[:, :] = 0.0
        lo, hi = chunk_bounds(ch, a.size, work.shape[0])
        for i in range(lo, hi):
            _add_neuron(buf, float(a[i]), float(b[i]), float(c[i]), angles, table)
    reduce_chunks(work, moments)


@kernel(parallel=True)
def gd_full(a, b, c, angles, table, g, lr_over_alpha, train_a, train_b, train_c, work, moments):
    """One gradient-descent step on L(a, b, c) with f = (1/alpha) sum_i c_i [a_i x - b_i]_+, in place.

    For neuron i on arc k: dL/dc = <g_k, (a, -b)> / alpha, dL/da = c g_k[0] / alpha,
    dL/db = -c g_k[1] / alpha. Untrained layers stay fixed. Accumulates the moments of the new state.
    """
    for ch in prange(work.shape[0]):
        buf = work[ch]
        buf[:, :] = 0.0
        lo, hi = chunk_bounds(ch, a.size, work.shape[0])
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
    reduce_chunks(work, moments)


@kernel(parallel=True)
def apply_metric(r, delta, q_per_r, m_over_alpha_sq, inv_m, vr, vt):
    """Multiply velocities by P_i / m of Proposition 4, in place."""
    for i in prange(r.size):
        p_r, p_th = delta_metric(float(r[i]), delta[i], q_per_r, m_over_alpha_sq)
        vr[i] *= p_r * inv_m
        vt[i] *= p_th * inv_m
