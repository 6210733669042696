"""Inline scalar primitives that the fused kernels share: each formula of the velocity field and
of the per-arc moments is written here once.

A particle w = (r, th) on arc k, with d(th) = (cos th, sin th) and t(th) = (-sin th, cos th):

    dr/dt  = -<g_k, d(th)> - tv sign(r)        (the radial part, continuous across rays)
    dth/dt = -r <g_k, t(th)>                    (the angular part, which jumps across rays)

and the per-arc first moment M_k = sum_{i in A_k} r_i d(th_i) that gives the residuals in O(s).
"""
from .._compile import kernel


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
