"""Finite-volume kernels of the histogram solver (upwind fluxes, unsplit, mass form).

Cell masses M[i, c] (r-cell i, theta-cell c) and ray masses R[i, q] (r-cell i, distinct boundary
ray q). Every transfer is computed from the old state, so a forward-Euler step that satisfies the
CFL condition (each cell loses at most its mass) keeps masses non-negative, and mass is conserved
to rounding. Every update is parallel over rows i: each thread writes its own row, so results do
not depend on the thread count. Ray mass moves in r after the theta pass (a split step), from what
stays on the ray, so that mass a ray releases is not also moved along it. With the TV term the
face r = 0 carries mass too (``Z``), by the same rules as a ray.

The velocity is u = r w(theta) in theta, with w = -<g_k, t(theta)> on arc k, and v_c - tv sign(r)
in r, with v_c = -<g_k, mean of d over cell c>. The upwind state at a face is the cell
average (first order) or, for the second-order scheme, a linear reconstruction with the
monotonised-central (MC) limiter on the cell averages q (per unit length),

    sigma_c = minmod(2 (q_c - q_{c-1}), (q_{c+1} - q_{c-1}) / 2, 2 (q_{c+1} - q_c)),
    q at the faces of c = q_c -+ sigma_c / 2.

The face values lie in [0, 2 q_c] and sum to 2 q_c, so a cell loses at most 2 dt (max |u|) q_c
per unit length: the CFL limit halves. The density may jump across a boundary ray (mass gathers
there), so a cell next to a ray gets no theta-slope, nor a row next to r = 0 an r-slope when tv > 0.
"""
import math
from collections import namedtuple

import numpy as np

from meanfield._compile import kernel, prange
from meanfield.kernels.field import field_from_moments
from meanfield.kernels.primitives import add_moment, ray_transfer

Grid = namedtuple("Grid", ["rc", "dr", "r_out", "inv_width", "has_slope", "cell_arc", "mean_d", "t_face", "face_ray", "ray_face", "ray_arc", "ray_d"])
Grid.__doc__ = """The arrays of :class:`solvers.histogram.CylinderGrid` that the kernels read: r-centres
``rc`` (n_r,), ``dr``, ``r_out`` (largest |r| of a cell centre); per theta-cell (n_c,):
``inv_width``, ``has_slope`` (1.0 for a cell with no boundary ray on its faces), ``cell_arc``,
``mean_d`` (n_c, 2) the cell average of d(theta), ``t_face`` (n_c, 2) t at the left face,
``face_ray`` (ray on the face, else -1); per distinct ray (n_q,): ``ray_face`` (its face),
``ray_arc`` (the arc starting there), ``ray_d`` (n_q, 2) d at the ray."""

Masses = namedtuple("Masses", ["cells", "rays", "zero"])
Masses.__doc__ = """Cell masses (n_r, n_c), ray masses (n_r, n_q) and the masses on r = 0 (n_c + n_q,):
of the theta-cells, then of the rays (always 0 without the TV term)."""

StepState = namedtuple("StepState", ["moments", "rho", "g", "w", "w_ray", "v_cell", "v_ray"])
StepState.__doc__ = """What a step needs from a state: per-arc ``moments`` and fields ``g`` (n_arcs, 2),
residuals ``rho`` (s,); the speeds: ``w`` (n_c,) angular speed per unit r at each theta-face (0 on
ray faces), ``w_ray`` (n_q, 2) just below and just above each ray, and the radial velocities
``v_cell`` (n_c,), ``v_ray`` (n_q,) without the TV term."""

Scratch = namedtuple("Scratch", ["after_theta", "staying", "slopes_cells", "slopes_rays", "out_cells", "out_rays"])
Scratch.__doc__ = """Work space of a step: cell masses after the theta pass (n_r, n_c) and the ray mass
staying on the rays (n_r, n_q); r-slopes of the cells and of the rays (shapes of the masses); mass
leaving each column and ray through r = -r_max (row 0) and r_max (row 1), (2, n_c) and (2, n_q)."""


@kernel(inline=True)
def mc_slope(left, centre, right):
    """Monotonised-central limited difference of three successive cell values (0 at extrema)."""
    a = centre - left
    b = right - centre
    same = 0.5 * (math.copysign(1.0, a) + math.copysign(1.0, b))  # +-1, or 0 at an extremum
    return same * min(2.0 * abs(a), 0.5 * abs(a + b), 2.0 * abs(b))


@kernel(parallel=True)
def r_slopes(M, tv, S):
    """Limited r-differences S[i, c] of the columns of M (zero mass beyond the grid); 0 on the two
    rows next to r = 0 when tv > 0 (the radial velocity jumps there)."""
    n_r, n = M.shape
    half = n_r // 2
    for i in prange(n_r):
        if tv > 0.0 and (i == half - 1 or i == half):
            S[i, :] = 0.0
            continue
        ghost = np.zeros(n)
        below = M[i - 1] if i > 0 else ghost
        above = M[i + 1] if i + 1 < n_r else ghost
        for c in range(n):
            S[i, c] = mc_slope(below[c], M[i, c], above[c])


@kernel
def _r_row(M, S, Z, i, v, tv, courant, base, new, new_Z, out):
    """Writes ``new[i]`` = ``base[i]`` + the r-fluxes through the two r-faces of row i of M
    (columns c with velocity v[c] - tv sign(r), upwind states M +- S / 2), and for the rows next
    to r = 0 what crosses r = 0; writes the masses on r = 0 after the step (``new_Z``, from
    ``Z``) and, for the outer rows, the outflow through r = -r_max (``out[0]``) and r_max
    (``out[1]``).

    With tv > 0 the face r = 0 holds mass and works like a ray (:func:`ray_transfer`), with the
    radial velocities v + tv below and v - tv above it: both > 0 (v > tv) or both < 0: the flow
    crosses and releases the mass on r = 0 downstream; |v| <= tv: both sides feed r = 0, where the
    mass stays (its angular speed r w is 0) while |v| <= tv.
    """
    n_r, n = M.shape
    half = n_r // 2
    ghost = np.zeros(n)
    below, s_below = (M[i - 1], S[i - 1]) if i > 0 else (ghost, ghost)
    above, s_above = (M[i + 1], S[i + 1]) if i + 1 < n_r else (ghost, ghost)
    here, s_here = M[i], S[i]
    off_low = -tv if i - 1 >= half else tv  # -tv sign(r) on the side of each face
    off_high = -tv if i >= half else tv
    holds = tv > 0.0
    use_low = 0.0 if holds and i == half else 1.0  # r = 0 holding mass is handled below
    use_high = 0.0 if holds and i == half - 1 else 1.0
    for c in range(n):
        v_low = v[c] + off_low
        v_high = v[c] + off_high
        f_low = courant * (max(v_low, 0.0) * (below[c] + 0.5 * s_below[c]) + min(v_low, 0.0) * (here[c] - 0.5 * s_here[c]))
        f_high = courant * (max(v_high, 0.0) * (here[c] + 0.5 * s_here[c]) + min(v_high, 0.0) * (above[c] - 0.5 * s_above[c]))
        new[i, c] = base[i, c] + (use_low * f_low - use_high * f_high)
    if i == 0:
        for c in range(n):
            out[0, c] = -courant * min(v[c] + off_low, 0.0) * (here[c] - 0.5 * s_here[c])
    if i == n_r - 1:
        for c in range(n):
            out[1, c] = courant * max(v[c] + off_high, 0.0) * (here[c] + 0.5 * s_here[c])
    if i != half - 1 and i != half:
        return
    for c in range(n):
        if not holds:
            if i == half:
                new_Z[c] = Z[c]
            continue
        d_low, d_high, on_zero = ray_transfer(v[c] + tv, v[c] - tv, M[half - 1, c], M[half, c], Z[c], courant)
        if i == half - 1:
            new[i, c] += d_low
        else:
            new[i, c] += d_high
            new_Z[c] = on_zero


@kernel(inline=True)
def _theta_pass(cells, rays, r, h, faces, second_order, q, slope, flux, out, out_rays):
    """One forward-Euler step h of the theta-transport of one row (radius r): ``out`` = cells +
    the theta-fluxes, ``out_rays`` = the ray masses kept. ``out`` may be ``cells`` and
    ``out_rays`` ``rays`` (in place). ``faces``: (inv_width, has_slope, ray_face, w, w_ray) of
    :class:`Grid` and :class:`StepState`. q, slope (n_c,) and flux (n_c + 1,) are scratch."""
    inv_width, has_slope, ray_face, w, w_ray = faces
    n_c = cells.size
    for c in range(n_c):
        q[c] = cells[c] * inv_width[c]
    if second_order:
        for c in range(1, n_c - 1):  # cells 0 and n_c - 1 touch the ray on face 0
            slope[c] = has_slope[c] * mc_slope(q[c - 1], q[c], q[c + 1])
    flux[0] = 0.0  # faces 0 and n_c (= 0) lie on a ray
    flux[n_c] = 0.0
    for f in range(1, n_c):
        u = r * w[f]
        flux[f] = h * (max(u, 0.0) * (q[f - 1] + 0.5 * slope[f - 1]) + min(u, 0.0) * (q[f] - 0.5 * slope[f]))
    for c in range(n_c):
        out[c] = cells[c] + flux[c] - flux[c + 1]
    for k in range(ray_face.size):
        f = ray_face[k]
        left = f - 1 if f > 0 else n_c - 1
        d_left, d_right, kept = ray_transfer(r * w_ray[k, 0], r * w_ray[k, 1], q[left], q[f], rays[k], h)
        out[left] += d_left
        out[f] += d_right
        out_rays[k] = kept


@kernel(parallel=True)
def euler_step(masses, new, scratch, grid, state, tv, dt, second_order, theta_step):
    """One forward-Euler step of the finite-volume scheme from ``masses`` into ``new`` (both
    :class:`Masses`), with the speeds of ``state`` (:class:`StepState`) on ``grid``
    (:class:`Grid`); ``scratch`` (:class:`Scratch`) returns the outflow through |r| = r_max.

    ``dt``: the step, mean-field clock; tv >= 0 adds -tv sign(r) to the radial velocities (see
    :func:`_r_row` for r = 0); ``second_order``: MUSCL reconstruction. At the ray faces the mass
    moves by :func:`meanfield.kernels.primitives.ray_transfer`, with the cell averages as the
    upwind states (no reconstruction across a ray).

    ``theta_step`` = 0: unsplit, the theta- and r-fluxes of the cells both from ``masses`` (dt
    within the stability limit of both together). ``theta_step`` > 0, the largest stable theta
    step per unit |r|: split and sub-cycled, row i first takes ceil(dt |r_i| / theta_step) equal
    theta steps, then the r-fluxes come from their result (dt within the r-limit alone). The ray
    masses move in r from what stays on them after the theta pass, in both forms.
    """
    # bundles are unpacked before the parallel loops (see solvers.kernels.particles)
    M, R, Z = masses
    new_M, new_R, new_Z = new
    after_theta, staying, slopes_cells, slopes_rays, out_cells, out_rays = scratch
    rc, inv_width, has_slope, ray_face = grid.rc, grid.inv_width, grid.has_slope, grid.ray_face
    w, w_ray, v_cell, v_ray = state.w, state.w_ray, state.v_cell, state.v_ray
    n_r, n_c = M.shape
    courant = dt / grid.dr
    split = theta_step > 0.0
    for i in prange(n_r):
        r = rc[i]
        q = np.empty(n_c)
        slope = np.zeros(n_c)
        flux = np.empty(n_c + 1)
        faces = (inv_width, has_slope, ray_face, w, w_ray)
        n_sub = max(1, int(math.ceil(dt * abs(r) / theta_step))) if split else 1
        h = dt / n_sub
        _theta_pass(M[i], R[i], r, h, faces, second_order, q, slope, flux, after_theta[i], staying[i])
        for _ in range(n_sub - 1):
            _theta_pass(after_theta[i], staying[i], r, h, faces, second_order, q, slope, flux, after_theta[i], staying[i])
    source = after_theta if split else M
    if second_order:
        r_slopes(source, tv, slopes_cells)
    for i in prange(n_r):
        _r_row(source, slopes_cells, Z[:n_c], i, v_cell, tv, courant, after_theta, new_M, new_Z[:n_c], out_cells)
    # ray mass moves in r from what stays on the rays after the theta pass
    if second_order:
        r_slopes(staying, tv, slopes_rays)
    for i in prange(n_r):
        _r_row(staying, slopes_rays, Z[n_c:], i, v_ray, tv, courant, staying, new_R, new_Z[n_c:], out_rays)


@kernel
def refresh(cells, rays, grid, sa, order, tv, state):
    """Everything the next step needs from the state (cells, rays), O(n_r n_c + s), into
    ``state`` (:class:`StepState`); returns its stability rates (see :func:`speeds`).

    The moments are exact cell integrals of r d(theta) times the cell densities, plus the rays;
    then the residuals and arc fields of the samples ``sa``
    (:class:`meanfield.kernels.field.SampleArcs`), then the speeds.
    """
    n_r, n_c = cells.shape
    rc, moments = grid.rc, state.moments
    column = np.zeros(n_c)
    for i in range(n_r):  # sum_i r_i M[i, c] is exact: M is uniform in r inside a cell
        for c in range(n_c):
            column[c] += rc[i] * cells[i, c]
    moments[:] = 0.0
    for c in range(n_c):
        add_moment(moments, grid.cell_arc[c], column[c], grid.mean_d[c, 0], grid.mean_d[c, 1])
    for k in range(rays.shape[1]):
        on_ray = 0.0
        for i in range(n_r):
            on_ray += rc[i] * rays[i, k]
        add_moment(moments, grid.ray_arc[k], on_ray, grid.ray_d[k, 0], grid.ray_d[k, 1])
    field_from_moments(moments, sa, 1.0, state.rho, state.g)
    return speeds(grid, order, tv, state)


@kernel
def speeds(grid, order, tv, state):
    """The speeds of :func:`euler_step` from the arc fields ``state.g``, into ``state``.

    Returns the stability rates, the largest fractions of its mass a cell or ray can lose per unit
    time: (unsplit, for |r| <= r_out; in r alone; in theta alone per unit |r|). Upwind (order 1) a
    cell loses |u| q through each outflow face; with reconstruction (order 2) the two face values
    sum to twice the average."""
    g, w, w_ray, v_cell, v_ray = state.g, state.w, state.w_ray, state.v_cell, state.v_ray
    cell_arc, t_face, mean_d, ray_d = grid.cell_arc, grid.t_face, grid.mean_d, grid.ray_d
    n_c = cell_arc.size
    rate = 0.0
    rate_r = 0.0
    rate_theta = 0.0
    for c in range(n_c):
        k = cell_arc[c]
        below = cell_arc[c - 1 if c > 0 else n_c - 1]
        w[c] = 0.0 if grid.face_ray[c] >= 0 else -(g[below, 0] * t_face[c, 0] + g[below, 1] * t_face[c, 1])
        v_cell[c] = -(g[k, 0] * mean_d[c, 0] + g[k, 1] * mean_d[c, 1])
        top = c + 1 if c + 1 < n_c else 0
        t_low = abs(g[k, 0] * t_face[c, 0] + g[k, 1] * t_face[c, 1])
        t_high = abs(g[k, 0] * t_face[top, 0] + g[k, 1] * t_face[top, 1])
        theta = t_low + t_high if order == 1 else 2.0 * max(t_low, t_high)
        radial = order * (abs(v_cell[c]) + tv) / grid.dr
        rate = max(rate, radial + grid.r_out * theta * grid.inv_width[c])
        rate_r = max(rate_r, radial)
        rate_theta = max(rate_theta, theta * grid.inv_width[c])
    for k in range(grid.ray_face.size):
        f = grid.ray_face[k]
        below = cell_arc[f - 1 if f > 0 else n_c - 1]
        above = cell_arc[f]
        w_ray[k, 0] = -(g[below, 0] * t_face[f, 0] + g[below, 1] * t_face[f, 1])
        w_ray[k, 1] = -(g[above, 0] * t_face[f, 0] + g[above, 1] * t_face[f, 1])
        a = grid.ray_arc[k]
        v_ray[k] = -(g[a, 0] * ray_d[k, 0] + g[a, 1] * ray_d[k, 1])
        radial = order * (abs(v_ray[k]) + tv) / grid.dr
        rate = max(rate, radial)
        rate_r = max(rate_r, radial)
    return rate, rate_r, rate_theta


@kernel(parallel=True)
def average(old, new):
    """new <- (old + new) / 2, in place (Heun's last stage)."""
    flat_old = old.reshape(-1)
    flat_new = new.reshape(-1)
    for j in prange(flat_new.size):
        flat_new[j] = 0.5 * (flat_old[j] + flat_new[j])
