"""Brute-force O(m s) integrators: the oracle of the solver tests and the benchmark baseline.

They use only :mod:`meanfield.reference` (pre-activations and their signs) and the definitions;
the metric of Proposition 4 is formed from n^2 = a^2 + b^2 and c^2 computed here, in a form of
their own, not from the kernels' primitive.
"""
import numpy as np

from meanfield import reference as ref


def _velocity(samples, r, theta, tv, delta, alpha):
    """The canonical velocity, times P_i / m of Proposition 4 when ``delta`` is given."""
    dr, dth = ref.velocity(samples, r, theta, tv=tv)
    if delta is not None:
        m = r.size
        n2, c2 = _squared_norms(alpha * r / m, delta)
        dr = dr * (m / alpha) ** 2 * (n2 + c2) / m
        dth = dth / n2 / m
    return dr, dth


def _squared_norms(q, delta):
    """n^2 = a^2 + b^2 and c^2 of neurons with c n = q and c^2 - n^2 = delta, written apart from the
    kernels' form: the larger of the two from the quadratic formula (no cancellation), the other
    as q^2 over it."""
    root = np.sqrt(delta * delta + 4 * q * q)
    larger = (root + np.abs(delta)) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        smaller = q * q / larger
    return np.where(delta <= 0, larger, smaller), np.where(delta <= 0, smaller, larger)


def euler_canonical(samples, r, theta, *, dt, steps, tv=0.0, delta=None, alpha=None):
    """``steps`` explicit Euler steps of the canonical flow (or its delta-metric version)."""
    return runge_kutta(samples, r, theta, a=np.zeros((1, 1)), b=np.ones(1), dt=dt, steps=steps, tv=tv, delta=delta, alpha=alpha)


def runge_kutta(samples, r, theta, *, a, b, dt, steps, tv=0.0, delta=None, alpha=None):
    """``steps`` steps of the explicit Runge-Kutta scheme with Butcher coefficients (a, b),
    evaluated stage by stage: k_s = v(w + dt sum_l a[s, l] k_l), w += dt sum_s b_s k_s."""
    w = np.array([r, theta], dtype=np.float64)
    for _ in range(steps):
        ks = []
        for stage in range(b.size):
            point = w + dt * sum((a[stage, l] * ks[l] for l in range(stage)), np.zeros_like(w))
            ks.append(np.array(_velocity(samples, point[0], point[1], tv, delta, alpha)))
        w = w + dt * sum(b[s] * ks[s] for s in range(b.size))
    return w[0], np.mod(w[1], 2 * np.pi)


def full_gradient(samples, a, b, c, alpha):
    """dL/da, dL/db, dL/dc for f = (1/alpha) sum c [a x - b]_+ (active where a x - b >= 0)."""
    pre = np.multiply.outer(a, samples.x) - b[:, None]  # (m, s)
    active = pre >= 0
    rho = (c @ np.maximum(pre, 0)) / alpha - samples.y
    da = c * ((active * rho) @ samples.x) / alpha
    db = -c * (active @ rho) / alpha
    dc = (np.maximum(pre, 0) @ rho) / alpha
    return da, db, dc


def gd_full(samples, a, b, c, *, alpha, lr, steps, train=("a", "b", "c"), weight_decay=0.0):
    """``steps`` gradient-descent steps on L(a, b, c) + weight_decay / 2 |(a, b, c)|^2."""
    a, b, c = (np.array(v, dtype=np.float64) for v in (a, b, c))
    for _ in range(steps):
        da, db, dc = full_gradient(samples, a, b, c, alpha)
        if "a" in train:
            a = a - lr * (da + weight_decay * a)
        if "b" in train:
            b = b - lr * (db + weight_decay * b)
        if "c" in train:
            c = c - lr * (dc + weight_decay * c)
    return a, b, c


def _limited(left, centre, right):
    """MC-limited difference, written out branch by branch."""
    a, b = centre - left, right - centre
    if a > 0 and b > 0:
        return min(2 * a, (a + b) / 2, 2 * b)
    if a < 0 and b < 0:
        return max(2 * a, (a + b) / 2, 2 * b)
    return 0.0


def _theta_transport(grid, cells, rays, g, dt, order, rows):
    """The theta-fluxes of one forward-Euler step dt of the rows ``rows``, face by face: new cell
    and ray masses (the other rows unchanged)."""
    n_c = cells.shape[1]
    new_cells, new_rays = cells.astype(np.float64), rays.astype(np.float64)
    dens = cells / grid.width  # per unit theta
    ray_at = {int(f): int(q) for f, q in enumerate(grid.face_ray) if q >= 0}

    def theta_slope(i, c):
        if c in ray_at or (c + 1) % n_c in ray_at or order == 1:
            return 0.0
        return _limited(dens[i, c - 1], dens[i, c], dens[i, (c + 1) % n_c])

    for i in rows:
        r = grid.rc[i]
        for f in range(n_c):
            below, above = (f - 1) % n_c, f
            t = grid.t_face[f]
            u_below = -r * g[grid.cell_arc[below]] @ t
            u_above = -r * g[grid.cell_arc[above]] @ t
            from_below = dt * u_below * (dens[i, below] + theta_slope(i, below) / 2)
            from_above = dt * -u_above * (dens[i, above] - theta_slope(i, above) / 2)
            if f not in ray_at:
                moved = from_below if u_below > 0 else (-from_above if u_below < 0 else 0.0)
                new_cells[i, below] -= moved
                new_cells[i, above] += moved
                continue
            q = ray_at[f]
            if u_below > 0 and u_above > 0:  # crossing upward: the ray's mass goes along
                new_cells[i, below] -= from_below
                new_cells[i, above] += from_below + rays[i, q]
                new_rays[i, q] -= rays[i, q]
            elif u_below < 0 and u_above < 0:
                new_cells[i, above] -= from_above
                new_cells[i, below] += from_above + rays[i, q]
                new_rays[i, q] -= rays[i, q]
            elif u_below >= 0 and u_above <= 0:  # attracting: both sides feed the ray
                new_cells[i, below] -= from_below
                new_cells[i, above] -= from_above
                new_rays[i, q] += from_below + from_above
            else:  # repulsive: the share u_R / (u_R - u_L) of the mass goes below, the rest above
                new_cells[i, below] += rays[i, q] * u_above / (u_above - u_below)
                new_cells[i, above] += rays[i, q] * -u_below / (u_above - u_below)
                new_rays[i, q] -= rays[i, q]
    return new_cells, new_rays


def histogram_step(grid, cells, rays, zero, g, dt, order, tv=0.0, substeps=None):
    """One forward-Euler step of the histogram solver's finite-volume scheme, face by face.

    Speeds come straight from g: u = -r <g_k, t(phi)> at a theta-face phi with the g of the arc on
    each side, v = -<g_k, cell average of d> - tv sign(r) in r (a ray: -<g_k, d(ray)> - tv sign(r)).
    ``zero``: masses on r = 0 of the theta-cells, then of the rays. ``substeps`` None: the theta-
    and r-fluxes of the cells both from the given state; else (n_r,) counts: row i first takes
    substeps[i] theta steps of dt / substeps[i], and the r-fluxes come from their result. Returns
    the new cell, ray and r = 0 masses and the mass that left through |r| = r_max. Python loops:
    small grids only.
    """
    n_r, n_c = cells.shape
    if substeps is None:
        new_cells, new_rays = _theta_transport(grid, cells, rays, g, dt, order, range(n_r))
        source = cells
    else:
        new_cells, new_rays = cells, rays
        for i in range(n_r):
            for _ in range(int(substeps[i])):
                new_cells, new_rays = _theta_transport(grid, new_cells, new_rays, g, dt / substeps[i], order, [i])
        source = new_cells.copy()

    half = n_r // 2  # rows half - 1 and half meet at r = 0

    def r_slope(padded, row, c):
        if order == 1 or (tv > 0 and row in (half - 1, half)):
            return 0.0  # the velocity jumps across r = 0 when tv > 0
        return _limited(padded[row + 1, c], padded[row + 2, c], padded[row + 3, c])

    def r_step(mass, velocity, on_zero, out_mass, out_zero):
        """Upwind in r for every column of ``mass`` into ``out_mass``; returns the outflow."""
        outflow = 0.0
        padded = np.zeros((n_r + 4, mass.shape[1]))  # row j of mass is row j + 2
        padded[2:-2] = mass
        for c in range(mass.shape[1]):
            for face in range(-1, n_r):  # between rows face and face + 1
                below, above = velocity[c] + tv, velocity[c] - tv  # velocities for r < 0, r > 0
                if face == half - 1 and tv > 0:  # r = 0 holds mass: the rules of a ray
                    x_below = dt / grid.dr * below * mass[face, c]
                    x_above = dt / grid.dr * -above * mass[face + 1, c]
                    if below > 0 and above > 0:
                        out_mass[face, c] -= x_below
                        out_mass[face + 1, c] += x_below + on_zero[c]
                        out_zero[c] = 0.0
                    elif below < 0 and above < 0:
                        out_mass[face + 1, c] -= x_above
                        out_mass[face, c] += x_above + on_zero[c]
                        out_zero[c] = 0.0
                    else:
                        out_mass[face, c] -= x_below
                        out_mass[face + 1, c] -= x_above
                        out_zero[c] = on_zero[c] + x_below + x_above
                    continue
                v = above if face >= half else below
                if v > 0:
                    moved = dt / grid.dr * v * (padded[face + 2, c] + r_slope(padded, face, c) / 2)
                else:
                    moved = dt / grid.dr * v * (padded[face + 3, c] - r_slope(padded, face + 1, c) / 2)
                if face >= 0:
                    out_mass[face, c] -= moved
                else:
                    outflow -= moved
                if face + 1 < n_r:
                    out_mass[face + 1, c] += moved
                else:
                    outflow += moved
        return outflow

    v_cells = np.array([-g[grid.cell_arc[c]] @ grid.mean_d[c] for c in range(n_c)])
    v_rays = np.array([-g[grid.ray_arc[q]] @ grid.ray_d[q] for q in range(rays.shape[1])])
    new_zero = np.array(zero, dtype=np.float64)
    outflow = r_step(source, v_cells, zero[:n_c], new_cells, new_zero[:n_c])
    staying = new_rays.copy()  # ray mass moves in r after the theta pass
    outflow += r_step(staying, v_rays, zero[n_c:], new_rays, new_zero[n_c:])
    return new_cells, new_rays, new_zero, outflow


SIDE = 1e-9  # radians beside a ray at which its one-sided active sets are read
GOLDEN = 0.6180339887498949


def _one_sided(samples, rho, r, phi, side, tv):
    """(dr/dt, dtheta/dt) at angle phi in the field of the active set just beside it (side = +-1),
    from the definition g = sum over active j of rho_j (x_j, 1)."""
    active = ref.preactivation(samples.x, np.atleast_1d(phi + side * SIDE))[0] >= 0
    g = np.array([np.sum(rho * samples.x * active), np.sum(rho * active)])
    d, t = np.array([np.cos(phi), np.sin(phi)]), np.array([-np.sin(phi), np.cos(phi)])
    return -(g @ d) - tv * np.sign(r), -r * (g @ t)


def sliding_euler(samples, r, theta, on_ray, rho, h, tv=0.0, park=1e-12):
    """One sliding Euler step (:mod:`solvers.kernels.sliding`) written from the definitions, one
    particle at a time: velocities of the brute-force field in the residuals ``rho``, rays from the
    boundary angles -arctan x_j and pi - arctan x_j, one-sided fields read 1e-9 rad beside a ray.

    ``on_ray``: bool (m,), which particles slide (their theta is the ray's angle); ``park``: how
    far below a ray a particle that leaves into a dead arc below stays. Returns
    (r, theta, on_ray) after the step and a ``margin`` per particle: how far its decisions (does
    the move reach the ray, the signs of the one-sided velocities) were from a tie, so that a test
    can leave out the particles that rounding may send either way.
    """
    rays = np.unique(np.mod(np.concatenate([-np.arctan(samples.x), np.pi - np.arctan(samples.x)]), 2 * np.pi))
    m = r.size
    r_new, theta_new, slide_new, margin = np.array(r, dtype=np.float64), np.array(theta, dtype=np.float64), np.zeros(m, bool), np.full(m, np.inf)
    for i in range(m):
        ri, ti = float(r[i]), float(theta[i])
        if on_ray[i]:
            vr_b, vt_b = _one_sided(samples, rho, ri, ti, -1, tv)
            vr_a, vt_a = _one_sided(samples, rho, ri, ti, +1, tv)
            margin[i] = min(abs(vt_b), abs(vt_a))
            if vt_b >= 0 >= vt_a:
                r_new[i], slide_new[i] = ri + h * _live_radial(samples, rho, ri, ti, tv), True
                continue
            if vt_b > 0 and vt_a > 0:
                up = True
            elif vt_b < 0 and vt_a < 0:
                up = False
            else:
                share = vt_a / (vt_a - vt_b)
                up = (i * GOLDEN) % 1.0 >= share
                margin[i] = min(margin[i], abs((i * GOLDEN) % 1.0 - share))
            vr, vt = (vr_a, vt_a) if up else (vr_b, vt_b)
            r_new[i], theta_new[i] = ri + h * vr, np.mod(ti + h * vt, 2 * np.pi)
            if not up and not np.any(ref.preactivation(samples.x, [ti - SIDE])[0] >= 0):
                theta_new[i] = np.mod(ti - park, 2 * np.pi)  # parked in the dead arc below
            continue
        dr, dth = ref.velocity(samples, np.array([ri]), np.array([ti]), rho=rho, tv=tv)
        r_new[i] = ri + h * float(dr[0])
        theta_new[i], slide_new[i], margin[i] = _free_move(samples, rho, rays, ri, ti, float(dth[0]), h, tv)
    return r_new, theta_new, slide_new, margin


def _free_move(samples, rho, rays, ri, ti, vt, h, tv):
    """A free particle's move by h vt from ti, stopping on the nearest ray ahead when the move
    reaches it and the ray attracts the particle: (theta, lands, margin of the decisions)."""
    moved = np.mod(ti + h * vt, 2 * np.pi)
    gaps = np.abs(np.angle(np.exp(1j * (ti - rays))))
    if vt == 0:
        return moved, False, gaps.min()
    ahead = np.mod(rays - ti, 2 * np.pi) if vt > 0 else np.mod(ti - rays, 2 * np.pi)
    if vt > 0:
        ahead[ahead == 0] = 2 * np.pi  # a ray at the particle is behind it when it moves up
    nearest = int(np.argmin(ahead))
    margin = abs(h * abs(vt) - ahead[nearest])
    if h * abs(vt) >= ahead[nearest]:
        phi = rays[nearest]
        _, vt_b = _one_sided(samples, rho, ri, phi, -1, tv)
        _, vt_a = _one_sided(samples, rho, ri, phi, +1, tv)
        margin = min(margin, abs(vt_b), abs(vt_a))
        if vt_b >= 0 >= vt_a:
            return phi, True, margin
    return moved, False, margin


def _live_radial(samples, rho, r, phi, tv):
    """The radial velocity on a ray: that of the side above, or below when no sample is active above."""
    side = +1 if np.any(ref.preactivation(samples.x, [phi + SIDE])[0] >= 0) else -1
    return _one_sided(samples, rho, r, phi, side, tv)[0]


def sliding_heun(samples, r, theta, on_ray, rho, h, tv=0.0, park=1e-12):
    """One sliding Heun step (:func:`solvers.kernels.sliding.sliding_step` with a corrector) from the definitions:
    the predictor is :func:`sliding_euler`, the predictor's residuals come from the brute-force
    network, and each particle takes the corrector's rule by hand. Returns (r, theta, on_ray,
    margin) as :func:`sliding_euler`."""
    rays = np.unique(np.mod(np.concatenate([-np.arctan(samples.x), np.pi - np.arctan(samples.x)]), 2 * np.pi))
    r1, t1, s1, margin = sliding_euler(samples, r, theta, on_ray, rho, h, tv, park)
    rho1 = ref.residuals(samples, r1, t1)
    r_new, theta_new, slide_new = r1.copy(), t1.copy(), s1.copy()
    for i in range(r.size):
        ri, ti = float(r[i]), float(theta[i])
        if on_ray[i] and s1[i]:
            _, vt_b = _one_sided(samples, rho1, r1[i], ti, -1, tv)
            _, vt_a = _one_sided(samples, rho1, r1[i], ti, +1, tv)
            margin[i] = min(margin[i], abs(vt_b), abs(vt_a))
            if vt_b >= 0 >= vt_a:
                r_new[i] = ri + 0.5 * h * (_live_radial(samples, rho, ri, ti, tv) + _live_radial(samples, rho1, r1[i], ti, tv))
        elif not on_ray[i] and not s1[i]:
            dr0, dt0 = ref.velocity(samples, np.array([ri]), np.array([ti]), rho=rho, tv=tv)
            dr1, dt1 = ref.velocity(samples, r1[i:i + 1], t1[i:i + 1], rho=rho1, tv=tv)
            r_new[i] = ri + 0.5 * h * float(dr0[0] + dr1[0])
            theta_new[i], slide_new[i], decided = _free_move(samples, rho, rays, ri, ti, 0.5 * float(dt0[0] + dt1[0]), h, tv)
            margin[i] = min(margin[i], decided, np.abs(np.angle(np.exp(1j * (t1[i] - rays)))).min())
    return r_new, theta_new, slide_new, margin
