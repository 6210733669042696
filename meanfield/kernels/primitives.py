"""Inline primitives that the fused kernels share: each formula of the velocity field, of the
per-arc moments and of the stored angle is written here once.

A particle w = (r, th) on arc k, with d(th) = (cos th, sin th) and t(th) = (-sin th, cos th):

    dr/dt  = -<g_k, d(th)> - tv sign(r)        (the radial part, continuous across rays)
    dth/dt = -r <g_k, t(th)>                    (the angular part, which jumps across rays)

and the per-arc first moment M_k = sum_{i in A_k} r_i d(th_i) that gives the residuals in O(s).
"""
from .._compile import kernel
from .arcs import TWO_PI, in_arc, locate_wrapped, wrap_angle
from .trig import sincos_block


@kernel(inline=True)
def sign(v):
    """sign(v) with sign(0) = 0, as in the TV subgradient."""
    return (v > 0) - (v < 0)


@kernel(inline=True)
def arc_velocity(g, k, r, co, si, tv):
    """(dr/dt, dth/dt) of a particle with radius r and (cos th, sin th) = (co, si) on arc k, in the
    field g (n_arcs, 2); mean-field clock."""
    vr = -(g[k, 0] * co + g[k, 1] * si) - tv * sign(r)
    vt = -r * (g[k, 1] * co - g[k, 0] * si)
    return vr, vt


@kernel(inline=True)
def add_moment(buf, k, r, co, si):
    """buf[k] += r (co, si): a particle's (or a cell's, a ray's) share of the moment of arc k."""
    buf[k, 0] += r * co
    buf[k, 1] += r * si


@kernel(inline=True)
def store_angle(theta, i, value):
    """theta[i] = value wrapped to [0, 2 pi), in theta's float type (float32 can round up to 2 pi)."""
    theta[i] = wrap_angle(value)
    if theta[i] >= TWO_PI:
        theta[i] = 0.0


@kernel(inline=True)
def add_block_moments(buf, r_blk, t_blk, arc, count, angles, table, sn, cs):
    """Add the moments of a block of ``count`` positions (r_blk, t_blk in [0, 2 pi)) to buf.

    ``arc`` holds an arc near each position (where it was before a small move): it is searched
    again only for positions that left it. ``sn``, ``cs`` are scratch of the block's size.
    """
    sincos_block(t_blk, 0, count, sn, cs)
    for j in range(count):
        k = arc[j]
        if not in_arc(t_blk[j], k, angles):
            k = locate_wrapped(t_blk[j], angles, table)
        add_moment(buf, k, r_blk[j], cs[j], sn[j])
