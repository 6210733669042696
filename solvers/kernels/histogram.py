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

import numpy as np

from meanfield._compile import kernel, prange
from meanfield.kernels.field import arc_field, residuals_from_moments
from meanfield.kernels.primitives import add_moment


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
def _r_row(M, S, Z, i, v, tv, courant, new, new_Z, out):
    """Adds to ``new[i]`` the r-fluxes through the two r-faces of row i of M (columns c with
    velocity v[c] - tv sign(r), upwind states M +- S / 2), and for the rows next to r = 0 what
    crosses r = 0; writes the masses on r = 0 after the step (``new_Z``, from ``Z``) and, for the
    outer rows, the outflow through r = -r_max (``out[0]``) and r_max (``out[1]``).

    With tv > 0 the face r = 0 holds mass and works like a ray, with the radial velocities v + tv
    below and v - tv above it: both > 0 (v > tv) or both < 0: the flow crosses and releases the
    mass on r = 0 downstream; |v| <= tv: both sides feed r = 0, where the mass stays (its angular
    speed r w is 0) while |v| <= tv.
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
        new[i, c] += use_low * f_low - use_high * f_high
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
        lower, upper = v[c] + tv, v[c] - tv
        if lower > 0.0 and upper > 0.0:
            x = courant * lower * M[half - 1, c]
            d_low, d_high, on_zero = -x, x + Z[c], 0.0
        elif lower < 0.0 and upper < 0.0:
            x = courant * (-upper) * M[half, c]
            d_low, d_high, on_zero = x + Z[c], -x, 0.0
        else:
            x_low = courant * lower * M[half - 1, c]
            x_high = courant * (-upper) * M[half, c]
            d_low, d_high, on_zero = -x_low, -x_high, Z[c] + x_low + x_high
        if i == half - 1:
            new[i, c] += d_low
        else:
            new[i, c] += d_high
            new_Z[c] = on_zero


@kernel(parallel=True)
def euler_step(M, R, Z, new_M, new_R, new_Z, staying, slopes_cells, slopes_rays, rc, inv_width, has_slope, ray_face, w, w_ray, v_cell, v_ray, tv, dt, dr, second_order, out_cells, out_rays):
    """One forward-Euler step of the finite-volume scheme, written into ``new_M``, ``new_R``, ``new_Z``.

    Parameters
    ----------
    M, R : (n_r, n_c), (n_r, n_q) cell and ray masses; Z : (n_c + n_q,) masses on r = 0 of the
        theta-cells, then of the rays (always 0 without the TV term); not modified.
    new_M, new_R, new_Z : outputs of the same shapes; ``staying`` (n_r, n_q) and the r-slopes
        ``slopes_cells``, ``slopes_rays`` (shapes of M and R; left at 0 for first order) are work space.
    rc : (n_r,) r-centres. inv_width : (n_c,) 1 / theta-width of the cells. has_slope : (n_c,)
        1.0 for a cell with no boundary ray on its faces, else 0.0 (no reconstruction across rays).
    ray_face : (n_q,) index of the theta-face on each ray (face f is the left face of cell f).
    w : (n_c,) angular speed per unit r at each face (0 on ray faces); w_ray : (n_q, 2) the speed
        just below and just above each ray (the field jumps there).
    v_cell, v_ray : (n_c,), (n_q,) radial velocities of the columns and of the rays, without the
        TV term tv >= 0, which adds -tv sign(r) (see :func:`_r_row` for r = 0).
    dt, dr : step (mean-field clock) and r-cell size. second_order : MUSCL reconstruction.
    out_cells, out_rays : (2, n_c), (2, n_q) mass leaving each column through r = -r_max (row 0)
        and r_max (row 1).

    Ray faces, with u_L, u_R the angular velocities on the two sides:
      both > 0 (or both < 0): the flow crosses; ray mass is released downstream (0 is not in
      the convex hull of the two velocities: no Filippov solution stays on the ray);
      u_L >= 0 >= u_R: the ray attracts (one side may be dead, u = 0): both sides feed R[i, q];
      u_L <= 0 <= u_R, not both 0: the ray repels; no flux crosses it, and the mass on it leaves to
      the two sides, the share u_R / (u_R - u_L) below and -u_L / (u_R - u_L) above. Staying is a
      Filippov solution too, but particles do not select it: sliding on an attracting ray they
      chatter across it and spend these shares of their time on each side (the sliding mode), and
      when the ray repels (typically after sliding through r = 0, where u = r w flips sign) each
      leaves on the side it is on. Next to a dead side (u = 0) all the mass goes there and stays.
    """
    n_r, n_c = M.shape
    n_q = R.shape[1]
    courant = dt / dr
    if second_order:
        r_slopes(M, tv, slopes_cells)
    for i in prange(n_r):
        r = rc[i]
        q = np.empty(n_c)
        slope = np.zeros(n_c)
        flux = np.zeros(n_c + 1)  # upward flux across face f; faces 0 and n_c (= 0) lie on a ray
        for c in range(n_c):
            q[c] = M[i, c] * inv_width[c]
        if second_order:
            for c in range(1, n_c - 1):  # cells 0 and n_c - 1 touch the ray on face 0
                slope[c] = has_slope[c] * mc_slope(q[c - 1], q[c], q[c + 1])
        for f in range(1, n_c):
            u = r * w[f]
            flux[f] = dt * (max(u, 0.0) * (q[f - 1] + 0.5 * slope[f - 1]) + min(u, 0.0) * (q[f] - 0.5 * slope[f]))
        for c in range(n_c):
            new_M[i, c] = M[i, c] + flux[c] - flux[c + 1]
        for k in range(n_q):
            f = ray_face[k]
            left = f - 1 if f > 0 else n_c - 1
            u_left = r * w_ray[k, 0]
            u_right = r * w_ray[k, 1]
            on_ray = R[i, k]
            kept = on_ray
            if u_left > 0.0 and u_right > 0.0:
                x = dt * u_left * q[left]
                new_M[i, left] -= x
                new_M[i, f] += x + on_ray
                kept = 0.0
            elif u_left < 0.0 and u_right < 0.0:
                x = dt * (-u_right) * q[f]
                new_M[i, f] -= x
                new_M[i, left] += x + on_ray
                kept = 0.0
            elif u_left >= 0.0 and u_right <= 0.0:
                x_left = dt * u_left * q[left]
                x_right = dt * (-u_right) * q[f]
                new_M[i, left] -= x_left
                new_M[i, f] -= x_right
                kept = on_ray + x_left + x_right
            else:  # repulsive: the mass leaves to the two sides in its sliding-mode shares
                to_left = on_ray * u_right / (u_right - u_left)
                new_M[i, left] += to_left
                new_M[i, f] += on_ray - to_left
                kept = 0.0
            staying[i, k] = kept
            new_R[i, k] = kept
        _r_row(M, slopes_cells, Z[:n_c], i, v_cell, tv, courant, new_M, new_Z[:n_c], out_cells)
    # ray mass moves in r from what stays on the rays after the theta pass
    if second_order:
        r_slopes(staying, tv, slopes_rays)
    for i in prange(n_r):
        _r_row(staying, slopes_rays, Z[n_c:], i, v_ray, tv, courant, new_R, new_Z[n_c:], out_rays)


@kernel
def refresh(M, R, rc, cell_arc, mean_d, t_face, inv_width, face_ray, ray_face, ray_arc, ray_d, x, y, arc_on, arc_off, arc_count, arc_prefix, r_out, dr, order, tv, moments, rho, g, w, w_ray, v_cell, v_ray):
    """Everything the next step needs from a state (M, R), O(n_r n_c + s); returns its stability
    rate (see :func:`speeds`).

    Fills ``moments`` (n_arcs, 2): exact cell integrals of r d(theta) times the cell densities,
    plus the rays; ``rho`` (s,) the residuals; ``g`` (n_arcs, 2) the arc fields; and the speeds
    ``w``, ``w_ray``, ``v_cell``, ``v_ray`` of :func:`euler_step`.
    """
    n_r, n_c = M.shape
    column = np.zeros(n_c)
    for i in range(n_r):  # sum_i r_i M[i, c] is exact: M is uniform in r inside a cell
        for c in range(n_c):
            column[c] += rc[i] * M[i, c]
    moments[:] = 0.0
    for c in range(n_c):
        add_moment(moments, cell_arc[c], column[c], mean_d[c, 0], mean_d[c, 1])
    for k in range(R.shape[1]):
        on_ray = 0.0
        for i in range(n_r):
            on_ray += rc[i] * R[i, k]
        add_moment(moments, ray_arc[k], on_ray, ray_d[k, 0], ray_d[k, 1])
    residuals_from_moments(moments, x, y, arc_on, arc_off, 1.0, rho)
    arc_field(rho, x, arc_count, arc_prefix, g)
    return speeds(g, cell_arc, mean_d, t_face, inv_width, face_ray, ray_face, ray_arc, ray_d, r_out, dr, order, tv, w, w_ray, v_cell, v_ray)


@kernel
def speeds(g, cell_arc, mean_d, t_face, inv_width, face_ray, ray_face, ray_arc, ray_d, r_out, dr, order, tv, w, w_ray, v_cell, v_ray):
    """The speeds of :func:`euler_step` for arc fields g; returns the stability rate (the largest
    fraction of its mass a cell or ray with |r| <= r_out can lose per unit time): upwind (order
    1) a cell loses |u| q through each outflow face; with reconstruction (order 2) the two face
    values sum to twice the average."""
    n_c = cell_arc.size
    rate = 0.0
    for c in range(n_c):
        k = cell_arc[c]
        below = cell_arc[c - 1 if c > 0 else n_c - 1]
        w[c] = 0.0 if face_ray[c] >= 0 else -(g[below, 0] * t_face[c, 0] + g[below, 1] * t_face[c, 1])
        v_cell[c] = -(g[k, 0] * mean_d[c, 0] + g[k, 1] * mean_d[c, 1])
        top = c + 1 if c + 1 < n_c else 0
        t_low = abs(g[k, 0] * t_face[c, 0] + g[k, 1] * t_face[c, 1])
        t_high = abs(g[k, 0] * t_face[top, 0] + g[k, 1] * t_face[top, 1])
        theta = t_low + t_high if order == 1 else 2.0 * max(t_low, t_high)
        rate = max(rate, order * (abs(v_cell[c]) + tv) / dr + r_out * theta * inv_width[c])
    for k in range(ray_face.size):
        f = ray_face[k]
        below = cell_arc[f - 1 if f > 0 else n_c - 1]
        above = cell_arc[f]
        w_ray[k, 0] = -(g[below, 0] * t_face[f, 0] + g[below, 1] * t_face[f, 1])
        w_ray[k, 1] = -(g[above, 0] * t_face[f, 0] + g[above, 1] * t_face[f, 1])
        a = ray_arc[k]
        v_ray[k] = -(g[a, 0] * ray_d[k, 0] + g[a, 1] * ray_d[k, 1])
        rate = max(rate, order * (abs(v_ray[k]) + tv) / dr)
    return rate


@kernel(parallel=True)
def average(old, new):
    """new <- (old + new) / 2, in place (Heun's last stage)."""
    flat_old = old.reshape(-1)
    flat_new = new.reshape(-1)
    for j in prange(flat_new.size):
        flat_new[j] = 0.5 * (flat_old[j] + flat_new[j])
