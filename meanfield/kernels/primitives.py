"""Inline primitives that the fused kernels share: each formula of the velocity field, of the
per-arc moments, of the stored angle, of the ray (Filippov) rule and of the metric of
Proposition 4 is written here once.

A particle w = (r, th) on arc k, with d(th) = (cos th, sin th) and t(th) = (-sin th, cos th):

    dr/dt  = -<g_k, d(th)> - tv sign(r)        (the radial part, continuous across rays)
    dth/dt = -r <g_k, t(th)>                    (the angular part, which jumps across rays)

and the per-arc first moment M_k = sum_{i in A_k} r_i d(th_i) that gives the residuals in O(s).

Kernels read a stored value as ``np.float64(x[i])``, not ``float(x[i])``: numba's float()
keeps a float32 a float32, and math.cos, math.atan2 or a product of two such values would then run
in float32. A float32 state is stored in float32 and computed on in float64.
"""
import math

from .._compile import kernel
from .arcs import TWO_PI, in_arc, in_turn, locate_wrapped, wrap_angle
from .trig import sincos_block


@kernel(inline=True)
def sign(v):
    """sign(v) with sign(0) = 0, as in the TV subgradient."""
    return int(v > 0) - int(v < 0)


@kernel(inline=True)
def velocity(g0, g1, r, co, si, tv):
    """(dr/dt, dth/dt) of a particle with radius r and (cos th, sin th) = (co, si) on an arc whose
    field is g_k = (g0, g1); mean-field clock."""
    vr = -(g0 * co + g1 * si) - tv * sign(r)
    vt = -r * (g1 * co - g0 * si)
    return vr, vt


@kernel(inline=True)
def arc_velocity(g, k, r, co, si, tv):
    """:func:`velocity` on arc k of the field g (n_arcs, 2)."""
    return velocity(g[k, 0], g[k, 1], r, co, si, tv)


@kernel(inline=True)
def add_moment(buf, k, r, co, si):
    """buf[k] += r (co, si): a particle's (or a cell's, a ray's) share of the moment of arc k."""
    buf[k, 0] += r * co
    buf[k, 1] += r * si


@kernel(inline=True)
def store_wrapped(theta, i, t):
    """theta[i] = t, an angle in [0, 2 pi), in theta's float type, and 0 where that type rounds
    it up to 2 pi (float32 just below 2 pi); returns the stored value as a float. No branch."""
    theta[i] = t
    # float() keeps a float32 here, harmlessly (compared, then widened); np.float64() gave numba
    # code 25% slower for the steps at s >= 100
    stored = float(theta[i])
    stored = 0.0 if stored >= TWO_PI else stored
    theta[i] = stored
    return stored


@kernel(inline=True)
def store_angle(theta, i, value):
    """theta[i] = value wrapped to [0, 2 pi) (:func:`store_wrapped`); returns the stored value."""
    return store_wrapped(theta, i, wrap_angle(value))


@kernel(inline=True)
def settle_block(t_blk, count, theta, start, stored):
    """Wrap the angles of a block that :func:`.arcs.wrap_near` left outside [0, 2 pi) (moved by
    more than a turn, or NaN) with :func:`.arcs.wrap_angle`; with ``stored``, store them as the
    new theta[start + j] (:func:`store_angle`) and read them back. Rare: a predictable pass."""
    for j in range(count):
        t = t_blk[j]
        if not in_turn(t):
            t_blk[j] = store_angle(theta, start + j, t) if stored else wrap_angle(t)


@kernel(inline=True)
def add_block_moments(buf, r_blk, t_blk, arc, count, arcs, sn, cs, search_all):
    """Add the moments of a block of ``count`` positions (r_blk, t_blk in [0, 2 pi)) to buf;
    return how many left the arc given for them in ``arc`` (which then holds their arcs).

    ``arc`` holds an arc near each position (where it was before a small move). With
    ``search_all`` every position is searched (the faster choice when many moved: no
    mispredicted branch), else only those that left their arc. Both give the same arcs.
    ``sn``, ``cs`` are scratch of the block's size.
    """
    sincos_block(t_blk, 0, count, sn, cs)
    moved = 0
    if search_all:
        for j in range(count):
            k = locate_wrapped(t_blk[j], arcs)
            moved += k != arc[j]
            arc[j] = k
    else:
        for j in range(count):
            if not in_arc(t_blk[j], arc[j], arcs):
                arc[j] = locate_wrapped(t_blk[j], arcs)
                moved += 1
    for j in range(count):  # the sums apart from the searches: measured faster
        add_moment(buf, arc[j], r_blk[j], cs[j], sn[j])
    return moved


ATTRACTS, REPELS, CROSSES_UP, CROSSES_DOWN = 0, 1, 2, 3


@kernel(inline=True)
def ray_rule(u_low, u_high):
    """How the flow meets a ray where the velocity across it jumps from ``u_low`` just below to
    ``u_high`` just above (a dead side, with no field, counts as u = 0): Filippov's rule, the one
    the attractor detector, the sliding particles and the histogram's ray transfer all follow.

    CROSSES_UP when both > 0 and CROSSES_DOWN when both < 0 (0 is not in the convex hull of the
    two velocities); ATTRACTS when u_low >= 0 >= u_high (both sides point into the ray or rest:
    ties attract); REPELS otherwise (u_low <= 0 <= u_high, not both 0; NaN too)."""
    if u_low > 0.0 and u_high > 0.0:
        return CROSSES_UP
    if u_low < 0.0 and u_high < 0.0:
        return CROSSES_DOWN
    if u_low >= 0.0 and u_high <= 0.0:
        return ATTRACTS
    return REPELS


@kernel
def ray_rules(u_low, u_high, out):
    """out[i] = :func:`ray_rule` (u_low[i], u_high[i]) for arrays of velocity pairs."""
    for i in range(u_low.size):
        out[i] = ray_rule(u_low[i], u_high[i])


@kernel(inline=True)
def ray_transfer(u_low, u_high, q_low, q_high, on_ray, scale):
    """One upwind step of the mass at a ray (a theta-face on a boundary angle, or r = 0 under the
    TV term), where the velocity jumps from ``u_low`` just below to ``u_high`` just above.

    ``q_low``, ``q_high``: upwind states of the cells on the two sides (mass per unit length);
    ``on_ray``: the mass on the ray; ``scale``: the step over the unit of q (dt, or dt / dr).
    Returns (change below, change above, mass left on the ray), by :func:`ray_rule`:

    - crossing: the ray releases its mass downstream;
    - attracting: both sides feed it;
    - repelling: nothing crosses, and its mass leaves to the two sides, the share
      u_high / (u_high - u_low) below. Staying is a Filippov solution
      too, but particles do not select it: sliding on an attracting ray they chatter across it
      and spend these shares of their time on each side (the sliding mode), and when the ray
      turns repulsive each leaves on the side it is on. Next to a dead side (u = 0) all of it
      goes there.
    """
    rule = ray_rule(u_low, u_high)
    if rule == CROSSES_UP:
        x = scale * u_low * q_low
        return -x, x + on_ray, 0.0
    if rule == CROSSES_DOWN:
        x = scale * (-u_high) * q_high
        return x + on_ray, -x, 0.0
    if rule == ATTRACTS:
        x_low = scale * u_low * q_low
        x_high = scale * (-u_high) * q_high
        return -x_low, -x_high, on_ray + x_low + x_high
    to_low = on_ray * (u_high / (u_high - u_low))  # a share <= 1 first: to_low <= on_ray exactly
    return to_low, on_ray - to_low, 0.0


@kernel(inline=True)
def layer_norms(q, delta):
    """(n^2, c^2, sqrt(delta^2 + 4 q^2)) of a neuron with c n = q and c^2 - n^2 = delta
    (n = |(a, b)|; Lemma 3's invariant), from n^4 + delta n^2 = q^2:

        n^2 = (sqrt(delta^2 + 4 q^2) - delta) / 2,   c^2 = (sqrt(delta^2 + 4 q^2) + delta) / 2,

    each evaluated in the form free of cancellation (2 q^2 / (root +- delta) where the sum would
    cancel), the root by hypot and q^2 / x as q (q / x) (squares below 1e-308 would underflow).
    """
    root = math.hypot(delta, 2.0 * q)  # no underflow or overflow of the squares
    if delta <= 0.0:
        n2 = 0.5 * (root - delta)
    else:
        n2 = 2.0 * q * (q / (root + delta))
    if delta >= 0.0:
        c2 = 0.5 * (delta + root)
    else:
        c2 = 2.0 * q * (q / (root - delta))
    return n2, c2, root


@kernel(inline=True)
def delta_metric(r, delta, q_per_r, m_over_alpha_sq):
    """Diagonal metric P = (P_r, P_th) of Proposition 4 for one neuron, from (r, delta), q = alpha r / m:

    P_r = (m / alpha)^2 (n^2 + c^2) = (m / alpha)^2 sqrt(delta^2 + 4 q^2),  P_th = 1 / n^2.

    A neuron with n = 0 has P_th = 0 here: its angular velocity r <g, t> is 0 as well and the
    limit of the product is not defined.
    """
    n2, _, root = layer_norms(q_per_r * r, delta)
    p_th = 1.0 / n2 if n2 > 0.0 else 0.0
    return m_over_alpha_sq * root, p_th
