"""Finite-volume kernels of the histogram solver (first-order upwind, unsplit, mass form).

Cell masses M[i, c] (r-cell i, theta-cell c) and ray masses R[i, q] (r-cell i, distinct boundary
ray q). Every transfer is computed from the old state and applied to copies, so a time step that
satisfies the CFL condition (each cell loses at most its mass) keeps masses non-negative, and mass
is conserved to rounding. The theta pass is parallel over rows i, the r pass over columns c and
rays q: no two threads write the same entry, so results do not depend on the thread count.
Ray mass moves in r after the theta pass (a split step), from what stays on the ray, so that mass a
ray releases is not also moved along it.
"""
from meanfield._compile import kernel, prange


@kernel(parallel=True)
def theta_transport(M, R, new_M, new_R, rc, width, cell_arc, face_ray, t_face, g, dt):
    """Fluxes across theta-faces (face f is the left face of cell f; cell f-1 lies below it).

    Interior faces: upwind. Faces on a boundary ray q, with u_L, u_R the angular velocities on the
    two sides (-r <g, t> with the g of each side):
      both > 0 (or both < 0): the flow crosses; ray mass is released downstream (0 is not in
      the convex hull of the two velocities: no Filippov solution stays on the ray);
      u_L >= 0 >= u_R: the ray attracts (one side may be dead, u = 0): both sides feed R[i, q];
      u_L <= 0 <= u_R: the ray repels; no flux crosses it, and the mass on it stays (0 is in the
      convex hull: staying is a Filippov solution, and it is the one that particle systems converge
      to as the time step goes to 0, since the repelling speeds grow from 0 when a ray turns).
    """
    n_r, n_c = M.shape
    for i in prange(n_r):
        r = rc[i]
        for f in range(n_c):
            left = f - 1 if f > 0 else n_c - 1
            k_left = cell_arc[left]
            u_left = -r * (g[k_left, 0] * t_face[f, 0] + g[k_left, 1] * t_face[f, 1])
            q = face_ray[f]
            if q < 0:
                if u_left > 0.0:
                    x = dt * u_left / width[left] * M[i, left]
                    new_M[i, left] -= x
                    new_M[i, f] += x
                elif u_left < 0.0:
                    x = dt * (-u_left) / width[f] * M[i, f]
                    new_M[i, f] -= x
                    new_M[i, left] += x
                continue
            k_right = cell_arc[f]
            u_right = -r * (g[k_right, 0] * t_face[f, 0] + g[k_right, 1] * t_face[f, 1])
            on_ray = R[i, q]
            if u_left > 0.0 and u_right > 0.0:
                x = dt * u_left / width[left] * M[i, left]
                new_M[i, left] -= x
                new_M[i, f] += x + on_ray
                new_R[i, q] -= on_ray
            elif u_left < 0.0 and u_right < 0.0:
                x = dt * (-u_right) / width[f] * M[i, f]
                new_M[i, f] -= x
                new_M[i, left] += x + on_ray
                new_R[i, q] -= on_ray
            elif u_left >= 0.0 and u_right <= 0.0:
                x_left = dt * u_left / width[left] * M[i, left]
                x_right = dt * (-u_right) / width[f] * M[i, f]
                new_M[i, left] -= x_left
                new_M[i, f] -= x_right
                new_R[i, q] += x_left + x_right


@kernel
def _column_transport(M, new_M, col, v, dt_over_dr):
    """Upwind transport of one column in r with velocity v; returns the mass leaving the grid."""
    n_r = M.shape[0]
    out = 0.0
    if v > 0.0:
        for i in range(n_r):
            x = dt_over_dr * v * M[i, col]
            new_M[i, col] -= x
            if i + 1 < n_r:
                new_M[i + 1, col] += x
            else:
                out += x
    elif v < 0.0:
        for i in range(n_r):
            x = dt_over_dr * (-v) * M[i, col]
            new_M[i, col] -= x
            if i > 0:
                new_M[i - 1, col] += x
            else:
                out += x
    return out


@kernel(parallel=True)
def r_transport(M, new_M, velocity, dt_over_dr, out):
    """Fluxes across r-faces: column c moves with its own radial velocity ``velocity[c]`` (for a
    theta-cell, -<g_k, mean of d over the cell>, exact; for a ray, -<g_k, d(phi)>), which does
    not depend on r. ``out[c]`` receives the mass leaving through |r| = r_max."""
    for c in prange(M.shape[1]):
        out[c] = _column_transport(M, new_M, c, velocity[c], dt_over_dr)
