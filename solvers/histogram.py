"""Eulerian solver of the continuity equation d_t mu = div(grad V(.; mu) mu) on R x S^1."""
import numpy as np

from meanfield import field

from .evolution import Evolution
from .kernels import histogram as hk

GAUSS3 = (np.array([-np.sqrt(0.6), 0.0, np.sqrt(0.6)]), np.array([5.0, 8.0, 5.0]) / 9.0)


class CylinderGrid:
    """Cells of [-r_max, r_max] x S^1 with a theta-face on every boundary angle of the samples.

    r: ``n_r`` (made even, so r = 0 is a face) uniform cells. theta: each arc between distinct
    boundary angles is cut into max(1, round(n_theta * length / 2 pi)) equal cells, so the field is
    smooth inside every cell and its cell averages are exact.

    Attributes: ``rc`` r-centres, ``dr``; ``faces`` (n_c,) left theta-face of each cell (starting at
    the first boundary angle, increasing, possibly past 2 pi), ``width``, ``cell_arc`` (the arc of
    :class:`meanfield.Regions` holding the cell), ``face_ray`` (ray index of a face on a boundary
    angle, else -1), ``ray_angle``, ``ray_arc`` (the arc starting at the ray), ``mean_d`` (the cell
    average of d(theta)), ``t_face`` (t at each face).
    """

    def __init__(self, samples, n_r, n_theta, r_max):
        if not r_max > 0:
            raise ValueError(f"r_max must be positive, got {r_max}")
        if int(n_r) < 2 or int(n_theta) < 1:
            raise ValueError(f"need n_r >= 2 and n_theta >= 1, got {n_r}, {n_theta}")
        n_r = int(n_r) + int(n_r) % 2
        self.r_max = float(r_max)
        self.dr = 2 * self.r_max / n_r
        self.rc = -self.r_max + self.dr * (np.arange(n_r) + 0.5)
        reg = samples.regions
        rays = np.unique(reg.angles)
        lengths = np.diff(np.append(rays, rays[0] + 2 * np.pi))
        counts = np.maximum(1, np.rint(n_theta * lengths / (2 * np.pi)).astype(np.int64))
        faces, face_ray = [], []
        for q, (start, length, count) in enumerate(zip(rays, lengths, counts)):
            faces.append(start + length * np.arange(count) / count)
            face_ray.append(np.r_[q, -np.ones(count - 1, dtype=np.int64)])
        self.faces = np.concatenate(faces)
        self.face_ray = np.concatenate(face_ray).astype(np.int64)
        ends = np.append(self.faces[1:], rays[0] + 2 * np.pi)
        self.width = ends - self.faces
        self.cell_arc = reg.locate(np.mod(self.faces, 2 * np.pi))
        self.ray_angle = rays
        self.ray_arc = reg.locate(rays)
        self.mean_d = np.stack([np.sin(ends) - np.sin(self.faces), np.cos(self.faces) - np.cos(ends)], axis=1) / self.width[:, None]
        self.t_face = np.stack([-np.sin(self.faces), np.cos(self.faces)], axis=1)
        self.t_face_right = np.roll(self.t_face, -1, axis=0)  # t at the right face of each cell
        self.ray_d = np.stack([np.cos(rays), np.sin(rays)], axis=1)

    @property
    def shape(self):
        return self.rc.size, self.faces.size

    def cells_of(self, r, theta):
        """(i, c) indices of the cells holding points (r, theta), and a mask of those inside."""
        i = np.floor((np.asarray(r, dtype=np.float64) + self.r_max) / self.dr).astype(np.int64)
        inside = (i >= 0) & (i < self.rc.size)
        shifted = np.mod(np.asarray(theta, dtype=np.float64) - self.faces[0], 2 * np.pi)
        c = np.searchsorted(self.faces - self.faces[0], shifted, side="right") - 1
        return np.clip(i, 0, self.rc.size - 1), c, inside


class HistogramSolver(Evolution):
    """The mean-field limit m -> infinity on a grid: finite volumes for the continuity equation.

    Parameters
    ----------
    samples : meanfield.Samples
    density : callable
        Vectorised initial probability density w.r.t. dr dtheta, ``density(r, theta)``; cell masses
        are 3 x 3 Gauss-Legendre integrals, exact to high order for smooth densities. Put the jumps
        of a discontinuous density on cell faces (r = -r_max + k * 2 r_max / n_r): a jump inside a
        cell gives that cell's mass an O(1) relative error. Mass outside |r| < r_max is reported.
    n_r, n_theta, r_max : grid (see :class:`CylinderGrid`).
    cfl : float
        Fraction of the stability limit used by the adaptive time step (<= 1 keeps positivity).
    tv : float
        Only 0 is supported (the TV term makes r = 0 sticky, which this grid does not carry).

    Clock: mean-field time, as :class:`solvers.ParticleSolver`. Steps are CFL-limited and adaptive;
    ``run(t_end=...)`` lands exactly on t_end.

    Mass on boundary rays is carried explicitly (``ray_mass``): the angular field jumps there, and
    mass that reaches an attracting ray stays on it and slides in r with the (continuous) radial
    velocity, as the Filippov solution does. A ray whose flow turns to crossing releases its mass
    downstream; a ray that turns repulsive keeps it (see
    :func:`solvers.kernels.histogram.theta_transport` for why).
    """

    def __init__(self, samples, density, *, n_r, n_theta, r_max, tv=0.0, cfl=0.9, record_every=1, rng=None):
        super().__init__(samples, record_every=record_every, rng=rng)
        if tv != 0.0:
            raise ValueError("the histogram solver supports tv = 0 only (the TV term makes r = 0 sticky)")
        if not 0 < cfl <= 1:
            raise ValueError(f"cfl must be in (0, 1], got {cfl}")
        self.grid = CylinderGrid(samples, n_r, n_theta, r_max)
        self.cfl = float(cfl)
        self.dt = np.inf  # steps are CFL-limited; run(t_end) shortens the last one
        self.mass_cells = np.zeros(self.grid.shape) if density is None else self._integrate(density)
        self.ray_mass = np.zeros((self.grid.rc.size, self.grid.ray_angle.size))
        self.outflow = 0.0
        self.initial_mass = 1.0 if density is None else float(self.mass_cells.sum())
        # the next state is built in these buffers, then swapped in: no allocation per step
        self._next_cells = np.empty_like(self.mass_cells)
        self._next_rays = np.empty_like(self.ray_mass)
        self._staying = np.empty_like(self.ray_mass)
        self._out_cell = np.empty(self.grid.faces.size)
        self._out_ray = np.empty(self.grid.ray_angle.size)
        self._moments = self._compute_moments()

    @classmethod
    def from_particles(cls, samples, r, theta, *, n_r, n_theta, r_max, **kwargs):
        """The empirical measure of canonical particles (mass 1/m each) binned on the grid."""
        r, theta = field.as_particles(r, theta)
        solver = cls(samples, None, n_r=n_r, n_theta=n_theta, r_max=r_max, **kwargs)
        i, c, inside = solver.grid.cells_of(r, theta)
        np.add.at(solver.mass_cells, (i[inside], c[inside]), 1.0 / r.size)
        solver.initial_mass = float(np.count_nonzero(inside)) / r.size
        solver._moments = solver._compute_moments()
        return solver

    def _integrate(self, density):
        grid = self.grid
        nodes, weights = GAUSS3
        mass = np.zeros(grid.shape)
        for a, wa in zip(nodes, weights):
            r = grid.rc + 0.5 * grid.dr * a
            for b, wb in zip(nodes, weights):
                theta = grid.faces + grid.width * 0.5 * (1 + b)
                values = np.asarray(density(r[:, None], theta[None, :]), dtype=np.float64)
                mass += wa * wb * values
        mass *= 0.25 * grid.dr * grid.width[None, :]
        if np.any(mass < 0) or not np.all(np.isfinite(mass)):
            raise ValueError("the initial density must be finite and non-negative")
        return mass

    @property
    def _norm(self):
        return 1.0

    def _compute_moments(self):
        """Per-arc moments: exact cell integrals of r d(theta) times the cell density, plus rays."""
        grid = self.grid
        n_arcs = self.samples.regions.n_arcs
        column = grid.rc @ self.mass_cells  # sum_i M[i, c] r_i (exact: integral of r over a cell / dr)
        on_rays = grid.rc @ self.ray_mass
        moments = np.empty((n_arcs, 2))
        for d in range(2):
            moments[:, d] = np.bincount(grid.cell_arc, column * grid.mean_d[:, d], minlength=n_arcs)
            moments[:, d] += np.bincount(grid.ray_arc, on_rays * grid.ray_d[:, d], minlength=n_arcs)
        return moments

    def _velocities(self, g):
        grid = self.grid
        v_cell = -np.einsum("cd,cd->c", g[grid.cell_arc], grid.mean_d)
        v_ray = -np.einsum("qd,qd->q", g[grid.ray_arc], grid.ray_d)
        return v_cell, v_ray

    def stable_step(self):
        """Largest step for which every cell (and ray) loses at most cfl of its mass."""
        g = self._field()
        return self._stable_step(g, *self._velocities(g))

    def _stable_step(self, g, v_cell, v_ray):
        grid = self.grid
        g_cell = g[grid.cell_arc]
        t_left = np.abs(np.einsum("cd,cd->c", g_cell, grid.t_face))
        t_right = np.abs(np.einsum("cd,cd->c", g_cell, grid.t_face_right))
        r_out = grid.r_max - 0.5 * grid.dr
        rate = np.abs(v_cell) / grid.dr + r_out * (t_left + t_right) / grid.width
        rate_max = max(rate.max(), np.abs(v_ray).max() / grid.dr if v_ray.size else 0.0)
        return np.inf if rate_max == 0 else self.cfl / rate_max

    def _advance(self, h):
        g = self._field()
        v_cell, v_ray = self._velocities(g)
        h = min(h, self._stable_step(g, v_cell, v_ray))
        grid = self.grid
        new_cells, new_rays, staying = self._next_cells, self._next_rays, self._staying
        np.copyto(new_cells, self.mass_cells)
        np.copyto(new_rays, self.ray_mass)
        hk.theta_transport(self.mass_cells, self.ray_mass, new_cells, new_rays, grid.rc, grid.width, grid.cell_arc, grid.face_ray, grid.t_face, g, h)
        hk.r_transport(self.mass_cells, new_cells, v_cell, h / grid.dr, self._out_cell)
        np.copyto(staying, new_rays)
        hk.r_transport(staying, new_rays, v_ray, h / grid.dr, self._out_ray)
        self._next_cells, self.mass_cells = self.mass_cells, new_cells
        self._next_rays, self.ray_mass = self.ray_mass, new_rays
        self.outflow += float(self._out_cell.sum() + self._out_ray.sum())
        self._moments = self._compute_moments()
        return h

    def mass(self):
        """Mass budget: on the grid cells, on the rays, out through |r| = r_max, and their total,
        with the mass the grid held at the start (``initial``; below 1 when the initial law has
        mass beyond r_max)."""
        cells = float(self.mass_cells.sum())
        rays = float(self.ray_mass.sum())
        return dict(grid=cells, rays=rays, outflow=self.outflow, total=cells + rays + self.outflow, initial=self.initial_mass)

    def ray_mass_by_sign(self):
        """Mass on each distinct ray for r > 0 and r < 0: two arrays (n_rays,)."""
        positive = self.grid.rc > 0
        return self.ray_mass[positive].sum(axis=0), self.ray_mass[~positive].sum(axis=0)
