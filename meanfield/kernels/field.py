"""Kernels of the region-indexed velocity field (eq. 12), O(m + s) per evaluation.

Reductions over particles are split into a number of chunks that depends on m alone (never on the
thread count); each chunk sums sequentially into its own row of a workspace, and the rows are added
in chunk order. So the same inputs give the same bits for any number of threads.
"""
import math

import numpy as np

from .._compile import kernel, prange
from .arcs import locate_wrapped, wrap_angle

CHUNK_MIN = 16384
CHUNK_MAX_COUNT = 256


def n_chunks(m):
    """Number of reduction chunks for m particles (a function of m alone)."""
    return int(min(CHUNK_MAX_COUNT, max(1, -(-m // CHUNK_MIN))))


@kernel
def reduce_chunks(work, out):
    """out[k, :] = sum over chunks c (in order) of work[c, k, :]."""
    out[:, :] = 0.0
    for c in range(work.shape[0]):
        for k in range(work.shape[1]):
            out[k, 0] += work[c, k, 0]
            out[k, 1] += work[c, k, 1]


@kernel(parallel=True)
def arc_moments(r, theta, angles, table, work, out):
    """Per-arc first moments M_k = sum_{i: th_i in A_k} r_i d(th_i), shape (2s, 2), float64.

    ``work`` is a (n_chunks(m), 2s, 2) float64 workspace.
    """
    m = r.size
    nchunk = work.shape[0]
    size = (m + nchunk - 1) // nchunk
    for c in prange(nchunk):
        buf = work[c]
        buf[:, :] = 0.0
        for i in range(c * size, min(m, (c + 1) * size)):
            t = wrap_angle(theta[i])
            k = locate_wrapped(t, angles, table)
            ri = float(r[i])
            buf[k, 0] += ri * math.cos(t)
            buf[k, 1] += ri * math.sin(t)
    reduce_chunks(work, out)


@kernel
def run_sums(per_arc, arc_on, arc_off, out):
    """out[j] = sum of per_arc[k] over the arcs k of B_j (the cyclic run arc_on[j] .. arc_off[j]-1).

    Prefix sums over arcs make this O(s) for all samples together.
    """
    n = per_arc.shape[0]
    prefix = np.zeros((n + 1, 2))
    for k in range(n):
        prefix[k + 1, 0] = prefix[k, 0] + per_arc[k, 0]
        prefix[k + 1, 1] = prefix[k, 1] + per_arc[k, 1]
    for j in range(arc_on.size):
        a = arc_on[j]
        b = arc_off[j]
        for d in range(2):
            if a <= b:
                out[j, d] = prefix[b, d] - prefix[a, d]
            else:
                out[j, d] = prefix[n, d] - prefix[a, d] + prefix[b, d]


@kernel
def residuals_from_moments(moments, x, y, arc_on, arc_off, m, out):
    """rho_j = <xt_j, sum_{k in B_j} M_k> / m - y_j."""
    runs = np.empty((x.size, 2))
    run_sums(moments, arc_on, arc_off, runs)
    for j in range(x.size):
        out[j] = (x[j] * runs[j, 0] + runs[j, 1]) / m - y[j]


@kernel
def arc_field(rho, x, arc_on, arc_off, g):
    """g_k = sum_{j in C_k} rho_j xt_j for every arc, by a cyclic difference array (O(s))."""
    n = g.shape[0]
    diff = np.zeros((n + 1, 2))
    for j in range(rho.size):
        v0 = rho[j] * x[j]
        v1 = rho[j]
        a = arc_on[j]
        b = arc_off[j]
        diff[a, 0] += v0
        diff[a, 1] += v1
        diff[b, 0] -= v0
        diff[b, 1] -= v1
        if a > b:
            diff[0, 0] += v0
            diff[0, 1] += v1
    acc0 = 0.0
    acc1 = 0.0
    for k in range(n):
        acc0 += diff[k, 0]
        acc1 += diff[k, 1]
        g[k, 0] = acc0
        g[k, 1] = acc1


@kernel
def sign(v):
    """sign(v) with sign(0) = 0, as in the TV subgradient."""
    return (v > 0) - (v < 0)


@kernel(parallel=True)
def particle_velocity(r, theta, angles, table, g, tv, dr, dtheta):
    """dr = -<g_k, d(th)> - tv sign(r),  dtheta = -r <g_k, t(th)>  for th in arc k."""
    for i in prange(r.size):
        t = wrap_angle(theta[i])
        k = locate_wrapped(t, angles, table)
        c = math.cos(t)
        s = math.sin(t)
        ri = float(r[i])
        dr[i] = -(g[k, 0] * c + g[k, 1] * s) - tv * sign(ri)
        dtheta[i] = -ri * (g[k, 1] * c - g[k, 0] * s)
