"""The sliding Euler step: canonical particles that stop on attracting rays and slide along them.

The velocity field jumps across every boundary ray (its angular part; the radial part is
continuous there). Where both sides point into a ray, the Filippov solution keeps a particle on the
ray and moves it in r alone; explicit steps instead chatter across the ray. Here each particle
carries ``ray[i]``: -1 when free, else the index k of the boundary angle it sits on, taken as the
arc that starts there (the project's tie rule), so theta_i = angles[k] (exactly in float64; a
float32 theta holds it rounded, and the moments use angles[k] itself).

One step of size h, per particle, with the velocities of the field g (see
:func:`meanfield.kernels.primitives.arc_velocity`) at the start of the step:

- free, on arc k: the Euler move (r + h dr/dt, theta + h dtheta/dt). If the move reaches the ray
  at the end of arc k in the direction of motion and that ray attracts this particle (the angular
  velocity just below it >= 0 >= the one just above it, for this r; a dead side, g = 0, counts as
  pointing in), the particle stops on the ray instead: theta = the ray's angle, r + h dr/dt.
- sliding on ray k: while the ray attracts it, r + h dr/dt with the radial velocity of the live
  side, theta unchanged. Otherwise it leaves with an Euler move in the velocity of the side it goes
  to: the side both velocities point to when the flow crosses; at a repulsive ray the share
  u_above / (u_above - u_below) of the particles goes below (the histogram solver's rule,
  :func:`meanfield.kernels.primitives.ray_transfer`), particle i when frac(i phi) < that share
  (phi the golden ratio: deterministic, spread evenly over the particles, and independent of the
  thread count). Beside a dead side (u = 0) that rule sends every particle to the dead side, as
  the histogram solver sends the mass: it stays there, at theta = the ray's angle when the dead
  arc is above (the tie rule puts the ray in it) and ``park`` radians below it when the dead arc is
  below.

A move may step over a ray narrower than h |dtheta/dt| without looking at it; the caller bounds the
angular move (:class:`solvers.particles.ParticleSolver`, method "sliding").

The step writes its result to separate arrays (the caller accepts it only when the loss does not
rise), accumulates the moments of the result per chunk into ``work`` and, per chunk, the largest
angular speed among the particles that are free after the step and the sum of |r|. It runs in
blocks of particles: sin and cos of the free particles' angles, before and after the move, in
vectorised passes (:func:`meanfield.kernels.trig.sincos_block`), the decisions per particle in
between; a particle on a ray takes the ray's direction from ``Rays``.
"""
import math
from collections import namedtuple

import numpy as np

from meanfield._compile import kernel, prange
from meanfield.kernels.arcs import TWO_PI, locate_wrapped, wrap_angle
from meanfield.kernels.field import BLOCK, block_scratch, open_chunk
from meanfield.kernels.primitives import ATTRACTS, CROSSES_UP, REPELS, add_moment, arc_velocity, ray_rule, store_wrapped
from meanfield.kernels.trig import sincos_block

Rays = namedtuple("Rays", ["below", "after", "dead", "co", "si"])
Rays.__doc__ = """Neighbours of each arc k, skipping empty arcs (duplicated x): ``below[k]`` the last
non-empty arc that ends where arc k starts, ``after[k]`` the first non-empty arc that starts where
arc k ends; ``dead[k]`` whether no sample is active on arc k (its g is 0); ``co[k]``, ``si[k]``
the direction (cos, sin) of the ray at the start of arc k. See
:func:`solvers.sliding.ray_neighbours`."""

GOLDEN = 0.6180339887498949


@kernel(inline=True)
def attracts(g, rays, k, r, tv):
    """Whether the ray at the start of arc k attracts a particle of radius r there: the angular
    velocity just below is >= 0 and just above <= 0 (a dead side counts as pointing in).
    Returns (attracts, vr_below, vt_below, vr_above, vt_above), the angular velocities 0 on a
    dead side (:func:`meanfield.kernels.primitives.ray_rule`)."""
    below, _, dead, co, si = rays
    vr_b, vt_b = arc_velocity(g, below[k], r, co[k], si[k], tv)
    vr_a, vt_a = arc_velocity(g, k, r, co[k], si[k], tv)
    if dead[below[k]]:
        vt_b = 0.0
    if dead[k]:
        vt_a = 0.0
    return ray_rule(vt_b, vt_a) == ATTRACTS, vr_b, vt_b, vr_a, vt_a


@kernel(inline=True)
def turn_ahead(d):
    """d % 2 pi for the difference d of two angles in [0, 2 pi) (so |d| < 2 pi): the same value as
    Python's modulo, without its fmod (7% of a sliding step)."""
    return d + TWO_PI if d < 0.0 else d


@kernel(inline=True)
def free_move(g, neighbours, arcs, arc, rr, tt, vt, h, tv):
    """The angle after a free particle at tt on arc ``arc`` moves by h vt, and the ray it stops on
    (-1 for none): the ray ahead (the end of the arc for vt > 0, its start for vt < 0) when the
    move reaches it and it attracts the particle (radius rr) in the field g."""
    angles = arcs[0]
    after = neighbours[1]
    target = -1
    if vt > 0.0:
        nxt = after[arc]
        if h * vt >= turn_ahead(angles[nxt] - tt):
            target = nxt
    elif vt < 0.0:
        if h * -vt >= turn_ahead(tt - angles[arc]):
            target = arc
    if target >= 0 and attracts(g, neighbours, target, rr, tv)[0]:
        return angles[target], target
    return wrap_angle(tt + h * vt), -1


@kernel(inline=True)
def on_ray_move(g, neighbours, arcs, k, i, rr, h, park, tv):
    """The step of a particle (index i, radius rr) sliding on the ray at the start of arc k:
    (new r, new theta, new ray, |dtheta/dt| of a leaver or 0)."""
    below, _, dead, _, _ = neighbours
    phi = arcs[0][k]
    stays, vr_b, vt_b, vr_a, vt_a = attracts(g, neighbours, k, rr, tv)
    if stays:
        return rr + h * (vr_b if dead[k] else vr_a), phi, k, 0.0
    rule = ray_rule(vt_b, vt_a)
    if rule == REPELS:  # vt_b <= 0 <= vt_a, not both 0
        up = (i * GOLDEN) % 1.0 >= vt_a / (vt_a - vt_b)
    else:
        up = rule == CROSSES_UP
    vr = vr_a if up else vr_b
    vt = vt_a if up else vt_b
    new_t = wrap_angle(phi + h * vt)
    if not up and dead[below[k]]:
        new_t = wrap_angle(phi - park)  # into the dead arc below, where it stays
    return rr + h * vr, new_t, -1, abs(vt)


@kernel(inline=True)
def store_particle(i, j, new_r, new_t, new_k, out, r_new, t_new):
    """Write particle i's new state into out = (r, theta, ray), new_t in [0, 2 pi) (each move
    wraps its own), and its stored r and theta (as float64) into r_new[j], t_new[j] for
    :func:`add_stored_moments`."""
    r_out, theta_out, ray_out = out
    r_out[i] = new_r
    t_new[j] = store_wrapped(theta_out, i, new_t)
    ray_out[i] = new_k
    r_new[j] = np.float64(r_out[i])


@kernel(inline=True)
def add_stored_moments(buf, r_new, t_new, ray_out, start, count, arcs, rays, sn, cs, total):
    """Add the moments of a block's new state (:func:`store_particle`) to buf; returns total plus
    the sum of its |r|. A particle on a ray counts on the arc that starts there, in the ray's
    direction (which a float32 theta only approximates)."""
    co, si = rays[3], rays[4]
    sincos_block(t_new, 0, count, sn, cs)
    for j in range(count):
        k = ray_out[start + j]
        if k >= 0:
            add_moment(buf, k, r_new[j], co[k], si[k])
        else:
            add_moment(buf, locate_wrapped(t_new[j], arcs), r_new[j], cs[j], sn[j])
        total += abs(r_new[j])
    return total


Particles = namedtuple("Particles", ["r", "theta", "ray"])
Particles.__doc__ = """A sliding state: radii, angles and the ray each particle sits on (-1: free), (m,) each."""

SlideStep = namedtuple("SlideStep", ["g", "tv", "h", "park"])
SlideStep.__doc__ = """A step of size ``h`` in the field ``g`` (2s, 2) with TV weight ``tv``; ``park`` is how far
below a ray a particle is parked in a dead arc (radians, :func:`solvers.sliding.park_offset`)."""

Corrector = namedtuple("Corrector", ["pred", "g_pred"])
Corrector.__doc__ = """Heun's corrector: ``pred`` the :class:`Particles` after the sliding Euler step,
``g_pred`` the field of that predicted state. Empty arrays (:func:`no_corrector`) for an Euler step."""

def no_corrector(m_dtype=np.float64):
    """The :class:`Corrector` of a sliding Euler step (none)."""
    empty = Particles(np.empty(0, dtype=m_dtype), np.empty(0, dtype=m_dtype), np.empty(0, dtype=np.int32))
    return Corrector(empty, np.empty((0, 2)))


@kernel(inline=True)
def euler_particle(g, neighbours, lookup, i, rr, tt, k, arc, v_r, v_t, h, park, tv):
    """The sliding Euler step of particle i (radius rr, angle tt, on ray k or free on arc ``arc``
    with velocity (v_r, v_t)): (new r, new theta, new ray, |dtheta/dt| if free after it, else 0)."""
    if k >= 0:
        return on_ray_move(g, neighbours, lookup, k, i, rr, h, park, tv)
    new_t, new_k = free_move(g, neighbours, lookup, arc, rr, tt, v_t, h, tv)
    return rr + h * v_r, new_t, new_k, abs(v_t) if new_k < 0 else 0.0


@kernel(inline=True)
def heun_particle(g, g_pred, neighbours, lookup, rr, tt, k, rp, tp, kp, trig, h, tv):
    """Heun's corrector for one particle (radius rr, angle tt, ray k at the start; rp, tp, kp
    after the Euler predictor; ``trig`` = (cos, sin) of tt and of tp): the rules of
    :func:`sliding_step`; returns (new r, new theta, new ray, |dtheta/dt| if free after it)."""
    angles, dead = lookup[0], neighbours[2]
    if k >= 0 and kp == k:
        later = attracts(g_pred, neighbours, k, rp, tv)
        if later[0]:
            now = attracts(g, neighbours, k, rr, tv)
            vr0 = now[1] if dead[k] else now[3]
            vr1 = later[1] if dead[k] else later[3]
            return rr + 0.5 * h * (vr0 + vr1), angles[k], kp, 0.0
    elif k < 0 and kp < 0:
        co, si, co_p, si_p = trig
        arc = locate_wrapped(tt, lookup)
        vr0, vt0 = arc_velocity(g, arc, rr, co, si, tv)
        vr1, vt1 = arc_velocity(g_pred, locate_wrapped(tp, lookup), rp, co_p, si_p, tv)
        vt = 0.5 * (vt0 + vt1)
        new_t, new_k = free_move(g, neighbours, lookup, arc, rr, tt, vt, h, tv)
        return rr + 0.5 * h * (vr0 + vr1), new_t, new_k, abs(vt) if new_k < 0 else 0.0
    elif kp < 0:  # a leaver: its angular speed over the step
        return rp, tp, kp, abs(wrap_angle(tp - angles[k] + math.pi) - math.pi) / h
    return rp, tp, kp, 0.0


@kernel(parallel=True)
def sliding_step(now, out, arcs, rays, step, corrector, chunk, work):
    """One sliding step (:class:`SlideStep`) from ``now`` into ``out`` (:class:`Particles`); the
    moments of the result per chunk into ``work`` (chunks, 2s, 2). Returns, per chunk, the largest
    |dtheta/dt| of the particles free after the step and the sum of |r| of the result.

    Without a corrector (:func:`no_corrector`): the sliding Euler step of the module docstring.
    With one, the corrector of a sliding Heun step whose Euler predictor gave ``pred`` in the same
    step:

    - free at both ends: Heun, w + h (v(w) + v_pred(w_pred)) / 2, and the particle stops on the ray
      ahead if that move reaches it and it attracts (as in the Euler step, with the mean velocity);
    - sliding on one ray at both ends while it attracts in both fields: r + h (vr + vr_pred) / 2;
    - otherwise (it landed on a ray, or left one, within the step): the predicted state (first
      order where the field jumps).
    """
    r, theta, ray = now
    (r_pred, theta_pred, ray_pred), g_pred = corrector
    g, tv, h, park = step
    # returned, not passed in a bundle: numba 0.68 drops stores inside prange into an array
    # unpacked from a tuple argument when nothing reads that array
    fastest, abs_r = np.empty(work.shape[0]), np.empty(work.shape[0])
    angles, table, first = arcs
    below, after, dead, co, si = rays
    r_out, theta_out, ray_out = out
    heun = r_pred.size > 0
    for c in prange(work.shape[0]):
        buf, lo, hi = open_chunk(work, c, r.size, chunk)
        sn, cs, r_new, t_new, v_r, v_t, arc = block_scratch()
        sn_p = np.empty(BLOCK)
        cs_p = np.empty(BLOCK)
        lookup = (angles, table, first)
        neighbours = (below, after, dead, co, si)
        top = 0.0
        total = 0.0
        for start in range(lo, hi, BLOCK):
            count = min(BLOCK, hi - start)
            # sin and cos of every angle, in vectorised passes (a particle on a ray gets values it
            # does not use)
            sincos_block(theta, start, count, sn, cs)
            if heun:
                sincos_block(theta_pred, start, count, sn_p, cs_p)
            else:  # the free particles' arcs and velocities, in passes without branches
                for j in range(count):
                    arc[j] = locate_wrapped(np.float64(theta[start + j]), lookup)
                for j in range(count):
                    v_r[j], v_t[j] = arc_velocity(g, arc[j], np.float64(r[start + j]), cs[j], sn[j], tv)
            for j in range(count):
                i = start + j
                rr, tt = np.float64(r[i]), np.float64(theta[i])
                if heun:
                    trig = (cs[j], sn[j], cs_p[j], sn_p[j])
                    moved = heun_particle(g, g_pred, neighbours, lookup, rr, tt, ray[i], np.float64(r_pred[i]), np.float64(theta_pred[i]),
                                          ray_pred[i], trig, h, tv)
                else:
                    moved = euler_particle(g, neighbours, lookup, i, rr, tt, ray[i], arc[j], v_r[j], v_t[j], h, park, tv)
                new_r, new_t, new_k, speed = moved
                top = max(top, speed)
                store_particle(i, j, new_r, new_t, new_k, (r_out, theta_out, ray_out), r_new, t_new)
            total = add_stored_moments(buf, r_new, t_new, ray_out, start, count, lookup, neighbours, sn, cs, total)
        fastest[c] = top
        abs_r[c] = total
    return fastest, abs_r
