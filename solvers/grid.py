"""The grid of the histogram solver: cells of [-r_max, r_max] x S^1 with a face on every boundary
ray, the masses of an initial density on its cells, and its cells and rays as atoms."""
from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np

from .kernels import histogram as hk

GAUSS3 = (np.array([-np.sqrt(0.6), 0.0, np.sqrt(0.6)]), np.array([5.0, 8.0, 5.0]) / 9.0)
UNRESOLVED = 0.1  # share of the mass inside r_max that the cells may miss before the grid is refused
Density = Callable[[np.ndarray, np.ndarray], np.ndarray]


class CylinderGrid:
    """Cells of [-r_max, r_max] x S^1 with a theta-face on every boundary angle of the samples.

    r: ``n_r`` (made even, so r = 0 is a face) uniform cells. theta: each arc between distinct
    boundary angles is cut into max(1, round(n_theta * length / 2 pi)) equal cells, so the field is
    smooth inside every cell and its cell averages are exact.

    Attributes: ``rc`` r-centres, ``dr``; ``faces`` (n_c,) left theta-face of each cell (starting at
    the first boundary angle, increasing, possibly past 2 pi), ``width``, ``cell_arc`` (the arc of
    :class:`meanfield.Regions` holding the cell), ``face_ray`` (ray index of a face on a boundary
    angle, else -1), ``ray_angle``, ``ray_arc`` (the arc starting at the ray), ``ray_face`` (the
    face on each ray), ``mean_d`` (the cell average of d(theta)), ``t_face`` (t at each face),
    ``inv_width``, ``has_slope`` (1.0 for a cell with no ray on its faces), ``r_out`` (largest |r|
    of a cell centre); ``arrays``, all of them as the kernels take them
    (:class:`solvers.kernels.histogram.Grid`).
    """

    def __init__(self, samples, n_r, n_theta, r_max):
        if not r_max > 0:
            raise ValueError(f"r_max must be positive, got {r_max}")
        if int(n_r) < 2 or int(n_theta) < 1:
            raise ValueError(f"need n_r >= 2 and n_theta >= 1, got {n_r}, {n_theta}")
        n_r = int(n_r) + int(n_r) % 2
        self.n_theta = int(n_theta)
        self.r_max = float(r_max)
        self.dr = 2 * self.r_max / n_r
        self.rc = -self.r_max + self.dr * (np.arange(n_r) + 0.5)
        self.r_out = self.rc[-1]  # the largest |r| of a cell centre, which sets the angular CFL limit
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
        self.ray_d = np.stack([np.cos(rays), np.sin(rays)], axis=1)
        self.ray_face = np.flatnonzero(self.face_ray >= 0)
        self.inv_width = 1.0 / self.width
        on_ray = self.face_ray >= 0
        self.has_slope = (~on_ray & ~np.roll(on_ray, -1)).astype(np.float64)
        self.arrays = hk.Grid(self.rc, self.dr, self.r_out, self.inv_width, self.has_slope, self.cell_arc, self.mean_d, self.t_face,
                              self.face_ray, self.ray_face, self.ray_arc, self.ray_d)

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

    def cell_masses(self, density: Density, leak: float) -> np.ndarray:
        """The masses of the initial law ``density`` (w.r.t. dr dtheta, total 1) on the cells:
        3 x 3 Gauss-Legendre points per cell. Checked: finite and non-negative, total 1 within
        1e-3 by a quadrature of its own over |r| < 4 r_max, and the cells' quadrature holding the
        mass inside r_max (ValueError beyond UNRESOLVED missed; a warning beyond ``leak``, as for
        the share beyond r_max)."""
        nodes, weights = GAUSS3
        mass = np.zeros(self.shape)
        for a, wa in zip(nodes, weights):
            r = self.rc + 0.5 * self.dr * a
            for b, wb in zip(nodes, weights):
                theta = np.mod(self.faces + self.width * 0.5 * (1 + b), 2 * np.pi)
                values = np.asarray(density(r[:, None], theta[None, :]), dtype=np.float64)
                mass += wa * wb * values
        mass *= 0.25 * self.dr * self.width[None, :]
        if np.any(mass < 0) or not np.all(np.isfinite(mass)):
            raise ValueError("the initial density must be finite and non-negative")
        self._check_total(density, float(mass.sum()), leak)
        return mass

    def _check_total(self, density, cells, leak):
        """The total of ``density`` by a quadrature independent of the grid (a coarse grid's cell
        quadrature can be 1% off for a density with compact support): 2-point Gauss on 8192 cells
        in r over |r| < 4 r_max and the periodic trapezoid rule on 256 angles, in slabs."""
        r_max = self.r_max
        edges = np.linspace(-4 * r_max, 4 * r_max, 8193)
        half = 0.5 * np.diff(edges)
        nodes, weights = np.polynomial.legendre.leggauss(2)
        r = (0.5 * (edges[1:] + edges[:-1])[:, None] + half[:, None] * nodes[None, :]).ravel()
        w_r = (half[:, None] * weights[None, :]).ravel()
        theta = np.arange(256) * (2 * np.pi / 256)
        per_r = np.concatenate([np.asarray(density(r[i:i + 1024, None], theta[None, :]), dtype=np.float64).sum(axis=1)
                                for i in range(0, r.size, 1024)]) * (2 * np.pi / 256) * w_r
        total = float(per_r.sum())
        beyond = float(per_r[np.abs(r) > r_max].sum())
        if not abs(total - 1.0) <= 1e-3:
            raise ValueError(
                f"the initial density integrates to {total:.6g} over |r| < {4 * r_max:g}, theta in [0, 2 pi); it must be "
                f"a probability density w.r.t. dr dtheta (total mass 1)"
            )
        self.warn_leak(beyond, "of the initial density lies beyond", leak)
        # the cells' own quadrature (three points a side) misses a law much narrower than a cell
        inside = total - beyond
        unresolved = (f"the grid's cells (dr = {self.dr:.3g}) do not resolve the initial density: their quadrature holds "
                      f"{cells:.4g} of the mass {inside:.4g} inside |r| < r_max; take more cells in r (n_r) or a wider law (sigma, width)")
        if abs(cells - inside) > UNRESOLVED:
            raise ValueError(unresolved)
        if abs(cells - inside) > leak:
            warnings.warn(unresolved, RuntimeWarning, stacklevel=4)

    def warn_leak(self, share, what, leak, stacklevel=5):
        """A warning when ``share`` of the mass (``what``) |r| = r_max and is lost, above ``leak``
        (``stacklevel``: where the user's call is, counted from here)."""
        if share > leak:
            warnings.warn(f"{share:.2%} {what} |r| = r_max = {self.r_max:g} and is lost; enlarge r_max", RuntimeWarning, stacklevel=stacklevel)

    def atoms(self, cells: np.ndarray, rays: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Cell masses ``cells`` and ray masses ``rays`` as atoms (r, theta, weight) with the
        direction d each stands for: the cell average of d(theta) = (cos, sin), or d on the ray.
        f at the samples from them is exact, since no sample's boundary lies inside a cell."""
        n_r, n_c = cells.shape
        n_q = self.ray_angle.size
        r = np.concatenate([np.repeat(self.rc, n_c), np.repeat(self.rc, n_q)])
        theta = np.concatenate([np.tile(np.mod(self.faces + self.width / 2, 2 * np.pi), n_r), np.tile(self.ray_angle, n_r)])
        d = np.concatenate([np.tile(self.mean_d, (n_r, 1)), np.tile(self.ray_d, (n_r, 1))])
        return r, theta, np.concatenate([cells.ravel(), rays.ravel()]), d

    def network(self, x: np.ndarray, cells: np.ndarray, rays: np.ndarray) -> np.ndarray:
        """f(x) of the masses, each cell and ray with its cell-averaged direction (exact at the
        samples: f(x_j) = y_j + rho_j). O(n (cells + rays))."""
        x = np.asarray(x, dtype=np.float64)
        r, _, mass, d = self.atoms(cells, rays)
        keep = mass > 0
        pre = np.multiply.outer(x, d[keep, 0]) + d[keep, 1]
        return np.maximum(pre, 0.0) @ (mass[keep] * r[keep])
