"""Finite-volume kernels of the histogram solver (upwind fluxes, unsplit, mass form).

Cell masses M[i, c] (r-cell i, theta-cell c) and ray masses R[i, q] (r-cell i, distinct boundary
ray q). Every transfer is computed from the old state, so a forward-Euler step that satisfies the
CFL condition (each cell loses at most its mass) keeps masses non-negative, and mass is conserved
to rounding. The cell update is parallel over rows i and the ray update over rays q: each thread
writes its own entries, so results do not depend on the thread count. Ray mass moves in r after
the theta pass (a split step), from what stays on the ray, so that mass a ray releases is not also
moved along it.

The velocity is u = r w(theta) in theta, with w = -<g_k, t(theta)> on arc k, and v_c = -<g_k,
mean of d over cell c> in r, which does not depend on r. The upwind state at a face is the cell
average (first order) or, for the second-order scheme, a linear reconstruction with the
monotonised-central (MC) limiter on the cell averages q (per unit length),

    sigma_c = minmod(2 (q_c - q_{c-1}), (q_{c+1} - q_{c-1}) / 2, 2 (q_{c+1} - q_c)),
    q at the faces of c = q_c -+ sigma_c / 2.

The face values lie in [0, 2 q_c] and sum to 2 q_c, so a cell loses at most 2 dt (max |u|) q_c
per unit length: the CFL limit halves. The density may jump across a boundary ray (mass gathers
there), so a cell next to a ray gets no theta-slope.
"""
import math

import numpy as np

from meanfield._compile import kernel, prange
from meanfield.kernels.field import arc_field, residuals_from_moments


@kernel(inline=True)
def mc_slope(left, centre, right):
    """Monotonised-central limited difference of three successive cell values (0 at extrema)."""
    a = centre - left
    b = right - centre
    same = 0.5 * (math.copysign(1.0, a) + math.copysign(1.0, b))  # +-1, or 0 at an extremum
    return same * min(2.0 * abs(a), 0.5 * abs(a + b), 2.0 * abs(b))


@kernel(inline=True)
def _r_slope(M, i, c, n_r):
    """Limited r-difference of column c at row i, with zero mass beyond the grid."""
    below = M[i - 1, c] if i > 0 else 0.0
    above = M[i + 1, c] if i + 1 < n_r else 0.0
    return mc_slope(below, M[i, c], above)


@kernel(inline=True)
def _r_flux(M, i, c, n_r, v, courant, second_order):
    """Mass crossing the face between rows i and i+1 of column c (upward positive); ``courant`` =
    dt / dr, ``v`` the column's radial velocity. Rows outside the grid hold no mass."""
    if v > 0.0:
        if i < 0:
            return 0.0
        face = M[i, c] + (0.5 * _r_slope(M, i, c, n_r) if second_order else 0.0)
    else:
        if i + 1 >= n_r:
            return 0.0
        face = M[i + 1, c] - (0.5 * _r_slope(M, i + 1, c, n_r) if second_order else 0.0)
    return courant * v * face


@kernel(parallel=True)
def euler_step(M, R, new_M, new_R, staying, rc, inv_width, has_slope, ray_face, w, w_ray, v_cell, v_ray, dt, dr, second_order, out_cells, out_rays):
    """One forward-Euler step of the finite-volume scheme, written into ``new_M``, ``new_R``.

    Parameters
    ----------
    M, R : (n_r, n_c), (n_r, n_q) cell and ray masses; not modified.
    new_M, new_R : outputs of the same shapes; ``staying`` (n_r, n_q) is work space.
    rc : (n_r,) r-centres. inv_width : (n_c,) 1 / theta-width of the cells. has_slope : (n_c,)
        1.0 for a cell with no boundary ray on its faces, else 0.0 (no reconstruction across rays).
    ray_face : (n_q,) index of the theta-face on each ray (face f is the left face of cell f).
    w : (n_c,) angular speed per unit r at each face (0 on ray faces); w_ray : (n_q, 2) the speed
        just below and just above each ray (the field jumps there).
    v_cell, v_ray : (n_c,), (n_q,) radial velocities of the columns and of the rays.
    dt, dr : step (mean-field clock) and r-cell size. second_order : MUSCL reconstruction.
    out_cells : (2, n_c) mass leaving each column through r = -r_max (row 0) and r_max (row 1);
    out_rays : (n_q,) the same for the rays, both sides together.

    Ray faces, with u_L, u_R the angular velocities on the two sides:
      both > 0 (or both < 0): the flow crosses; ray mass is released downstream (0 is not in
      the convex hull of the two velocities: no Filippov solution stays on the ray);
      u_L >= 0 >= u_R: the ray attracts (one side may be dead, u = 0): both sides feed R[i, q];
      u_L <= 0 <= u_R: the ray repels; no flux crosses it, and the mass on it stays (0 is in the
      convex hull: staying is a Filippov solution, and it is the one that particle systems converge
      to as the time step goes to 0, since the repelling speeds grow from 0 when a ray turns).
    """
    n_r, n_c = M.shape
    n_q = R.shape[1]
    courant = dt / dr
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
            v = v_cell[c]
            new_M[i, c] = M[i, c] + flux[c] - flux[c + 1] + _r_flux(M, i - 1, c, n_r, v, courant, second_order) - _r_flux(M, i, c, n_r, v, courant, second_order)
        if i == 0:
            for c in range(n_c):
                out_cells[0, c] = -_r_flux(M, -1, c, n_r, v_cell[c], courant, second_order)
        if i == n_r - 1:
            for c in range(n_c):
                out_cells[1, c] = _r_flux(M, i, c, n_r, v_cell[c], courant, second_order)
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
            staying[i, k] = kept
            new_R[i, k] = kept
    for k in prange(n_q):
        v = v_ray[k]
        out = 0.0
        for i in range(-1, n_r):
            x = _r_flux(staying, i, k, n_r, v, courant, second_order)
            if i >= 0:
                new_R[i, k] -= x
            else:
                out -= x
            if i + 1 < n_r:
                new_R[i + 1, k] += x
            else:
                out += x
        out_rays[k] = out


@kernel
def refresh(M, R, rc, cell_arc, mean_d, t_face, inv_width, face_ray, ray_face, ray_arc, ray_d, x, y, arc_on, arc_off, arc_count, arc_prefix, r_out, dr, order, moments, rho, g, w, w_ray, v_cell, v_ray):
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
        k = cell_arc[c]
        moments[k, 0] += column[c] * mean_d[c, 0]
        moments[k, 1] += column[c] * mean_d[c, 1]
    for k in range(R.shape[1]):
        on_ray = 0.0
        for i in range(n_r):
            on_ray += rc[i] * R[i, k]
        moments[ray_arc[k], 0] += on_ray * ray_d[k, 0]
        moments[ray_arc[k], 1] += on_ray * ray_d[k, 1]
    residuals_from_moments(moments, x, y, arc_on, arc_off, 1.0, rho)
    arc_field(rho, x, arc_count, arc_prefix, g)
    return speeds(g, cell_arc, mean_d, t_face, inv_width, face_ray, ray_face, ray_arc, ray_d, r_out, dr, order, w, w_ray, v_cell, v_ray)


@kernel
def speeds(g, cell_arc, mean_d, t_face, inv_width, face_ray, ray_face, ray_arc, ray_d, r_out, dr, order, w, w_ray, v_cell, v_ray):
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
        rate = max(rate, order * abs(v_cell[c]) / dr + r_out * theta * inv_width[c])
    for k in range(ray_face.size):
        f = ray_face[k]
        below = cell_arc[f - 1 if f > 0 else n_c - 1]
        above = cell_arc[f]
        w_ray[k, 0] = -(g[below, 0] * t_face[f, 0] + g[below, 1] * t_face[f, 1])
        w_ray[k, 1] = -(g[above, 0] * t_face[f, 0] + g[above, 1] * t_face[f, 1])
        a = ray_arc[k]
        v_ray[k] = -(g[a, 0] * ray_d[k, 0] + g[a, 1] * ray_d[k, 1])
        rate = max(rate, order * abs(v_ray[k]) / dr)
    return rate


@kernel(parallel=True)
def average(old, new):
    """new <- (old + new) / 2, in place (Heun's last stage)."""
    flat_old = old.reshape(-1)
    flat_new = new.reshape(-1)
    for j in prange(flat_new.size):
        flat_new[j] = 0.5 * (flat_old[j] + flat_new[j])
