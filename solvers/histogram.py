"""Eulerian solver of the continuity equation d_t mu = div(grad V(.; mu) mu) on R x S^1."""
from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np

from meanfield import field
from meanfield.samples import Samples

from . import init
from .evolution import Evolution, check_capabilities, check_finite
from .kernels import histogram as hk

GAUSS3 = (np.array([-np.sqrt(0.6), 0.0, np.sqrt(0.6)]), np.array([5.0, 8.0, 5.0]) / 9.0)
UNRESOLVED = 0.1  # share of the mass inside r_max that the cells may miss before the grid is refused


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


class _StepState:
    """What a step needs from one state (``arrays``: moments, residuals, field, speeds; see
    :class:`solvers.kernels.histogram.StepState`) and its stability rates (unsplit, r alone,
    theta alone per unit |r|; :func:`solvers.kernels.histogram.speeds`)."""

    def __init__(self, n_arcs, s, n_cells, n_rays):
        self.shape = (n_arcs, s, n_cells, n_rays)
        self.arrays = hk.StepState(np.zeros((n_arcs, 2)), np.zeros(s), np.zeros((n_arcs, 2)), np.zeros(n_cells), np.zeros((n_rays, 2)),
                                   np.zeros(n_cells), np.zeros(n_rays))
        self.rates = (0.0, 0.0, 0.0)


class HistogramSolver(Evolution):
    """The mean-field limit m -> infinity on a grid: finite volumes for the continuity equation.

    Parameters
    ----------
    samples : meanfield.Samples
    density : callable
        The initial law as a probability density w.r.t. dr dtheta on R x [0, 2 pi): a vectorised
        ``density(r, theta)`` of broadcast arrays returning non-negative values whose integral is 1
        (for r ~ N(0, sigma^2) and theta uniform: exp(-r^2 / 2 sigma^2) / (sqrt(2 pi) sigma 2 pi)).
        Cell masses are 3 x 3 Gauss-Legendre integrals, exact to high order for smooth densities.
        Put the jumps of a discontinuous density on cell faces (r = -r_max + k * 2 r_max / n_r): a
        jump inside a cell gives that cell's mass an O(1) relative error. The total is checked by
        the same quadrature over |r| < 4 r_max (ValueError unless within 1e-3 of 1), and a warning
        names the share beyond r_max when it passes ``leak``.
    n_r, n_theta, r_max : grid (see :class:`CylinderGrid`).
    order : {1, 2}
        1: first-order upwind fluxes and forward Euler. 2: MUSCL (linear reconstruction with the
        MC limiter, none next to a boundary ray) and Heun's method (SSP-RK2); second order where
        the density is smooth, and half the stability limit per stage.
    cfl : float
        Fraction of the stability limit used by the adaptive time step (<= 1 keeps positivity).
    substeps : int or None
        None: unsplit, each step within the stability limit of the theta- and r-transport
        together, which the angular speed |r| |<g, t>| at the outer rows sets. An integer k >= 1:
        split and sub-cycled, each step first moves every row in theta with as many sub-steps as
        its own |r| needs, then in r; the step is limited by the r-transport, and by k theta
        sub-steps of the outer rows. First order in time (the field is frozen over a step).
        Measured on the validation cases (``python -m validation bench-histogram``): the default 2
        halves the steps at the unsplit error (0.97x to 1.25x of it, 1.5x to 2.5x less wall
        time); 4 adds a time error on the finer grids (up to 2.4x the unsplit error).
    leak : float
        Share of the mass whose loss through |r| = r_max (at the start, or flowing out during the
        run) is warned about (RuntimeWarning, once each): enlarge r_max when it shows.
    tv : float
        lambda >= 0 of the regulariser lambda * integral |r| d mu (eq. 16): the radial velocity
        gains -lambda sign(r), and mass that reaches r = 0 where |<g, d>| <= lambda stays there
        (``zero_mass``, per theta-cell then per ray; r = 0 is a face of the grid).

    Clock: mean-field time, as :class:`solvers.ParticleSolver`. Steps are CFL-limited and adaptive;
    ``run(t_end=...)`` lands exactly on t_end.

    Mass on boundary rays is carried explicitly (``mass_rays``, (n_r, distinct rays)): the angular field jumps there, and
    mass that reaches an attracting ray stays on it and slides in r with the (continuous) radial
    velocity, as the Filippov solution does. A ray whose flow turns to crossing releases its mass
    downstream; a repulsive ray releases it to its two sides in the shares of the sliding mode, as
    particle systems do (see :func:`solvers.kernels.histogram.euler_step`). Under Heun's method a
    release halves the ray's mass each step (the first stage releases all, the average keeps
    half): it takes a few steps instead of one, a first-order effect in time.

    Cost per step: O(n_r n_theta + s) (one or two Euler stages, plus the theta sub-steps),
    parallel over r-rows, the same bits for any thread count. Measured on the validation cases
    (``python -m validation mean-field``), MUSCL reaches the accuracy of upwind with 3.5 to 35
    times fewer cells, in less time.
    """

    KIND = "histogram"
    SERIAL = True

    @classmethod
    def from_config(cls, config, samples, comm=None):
        """A new solver at t = 0 on the grid a configuration describes, from the density of its
        initial law (one process: ``comm`` must be None)."""
        init_, solver = config["init"], config["solver"]
        check_capabilities(cls, ranks=1 if comm is None else comm.Get_size())
        return cls(samples, init.density_of(init_), n_r=solver["n_r"], n_theta=solver["n_theta"], r_max=solver["r_max"], tv=solver["tv"],
                   order=solver["order"], cfl=solver["cfl"], substeps=solver["substeps"] or None, record_every=None, rng=init_["seed"])
    REMEDY = "take a smaller solver.cfl"

    def __init__(self, samples: Samples, density: Callable[[np.ndarray, np.ndarray], np.ndarray] | None, *, n_r: int, n_theta: int, r_max: float,
                 tv: float = 0.0, order: int = 2, cfl: float = 0.9, substeps: int | None = 2, leak: float = 0.01, record_every: int | None = 1,
                 rng: int | np.random.Generator | None = None):
        super().__init__(samples, record_every=record_every, rng=rng)
        if not (math.isfinite(tv) and tv >= 0):
            raise ValueError(f"tv must be finite and >= 0, got {tv}")
        if not 0 < leak < 1:
            raise ValueError(f"leak must be a share in (0, 1), got {leak}")
        if order not in (1, 2):
            raise ValueError(f"order must be 1 (upwind, forward Euler) or 2 (MUSCL, Heun), got {order}")
        if not 0 < cfl <= 1:
            raise ValueError(f"cfl must be in (0, 1], got {cfl}")
        if substeps is not None and not (int(substeps) == substeps and substeps >= 1):
            raise ValueError(f"substeps must be None (unsplit) or a whole number >= 1, got {substeps}")
        self.substeps = None if substeps is None else int(substeps)
        self.grid = CylinderGrid(samples, n_r, n_theta, r_max)
        self.tv = float(tv)
        self.cfl = float(cfl)
        self._leak_warned = False
        self.order = int(order)
        self.leak = float(leak)
        n_c, n_q = self.grid.faces.size, self.grid.ray_angle.size
        self.mass_cells = np.zeros(self.grid.shape)
        self.mass_rays = np.zeros((self.grid.rc.size, n_q))
        self.zero_mass = np.zeros(n_c + n_q)
        self.outflow = 0.0
        self.initial_mass = 1.0
        if density is not None:
            self.mass_cells = self._integrate(density, self.grid.rc)
            self.initial_mass = float(self.mass_cells.sum())
            self._check_total(density)
        # the next state (and Heun's first stage) is built in these buffers, then swapped in: no
        # allocation per step
        self._next = self._empty_masses()
        self._mid = self._empty_masses() if order == 2 else None
        self._scratch = hk.Scratch(np.empty_like(self.mass_cells), np.empty_like(self.mass_rays), np.zeros_like(self.mass_cells),
                                   np.zeros_like(self.mass_rays), np.empty((2, n_c)), np.empty((2, n_q)))  # slopes stay 0 for order 1
        # what a step needs from the current state (``_now``) and from Heun's first stage
        shape = (samples.regions.n_arcs, samples.s, n_c, n_q)
        self._now, self._stage = _StepState(*shape), _StepState(*shape)
        self._refresh(self._now, self.mass_cells, self.mass_rays)

    def _empty_masses(self):
        return hk.Masses(np.empty_like(self.mass_cells), np.empty_like(self.mass_rays), np.empty_like(self.zero_mass))

    @property
    def _masses(self):
        return hk.Masses(self.mass_cells, self.mass_rays, self.zero_mass)

    @classmethod
    def from_particles(cls, samples, r, theta, *, n_r, n_theta, r_max, **kwargs):
        """The empirical measure of canonical particles (mass 1/m each) binned on the grid."""
        r, theta = field.as_particles(r, theta)
        check_finite(r=r, theta=theta)
        solver = cls(samples, None, n_r=n_r, n_theta=n_theta, r_max=r_max, **kwargs)
        i, c, inside = solver.grid.cells_of(r, theta)
        np.add.at(solver.mass_cells, (i[inside], c[inside]), 1.0 / r.size)
        solver.initial_mass = float(np.count_nonzero(inside)) / r.size
        solver._warn_leak(1.0 - solver.initial_mass, "of the particles lie beyond")
        solver._refresh(solver._now, solver.mass_cells, solver.mass_rays)
        return solver

    def _integrate(self, density, rc):
        """Cell masses of ``density`` on r-cells centred at ``rc`` (the grid's widths)."""
        grid = self.grid
        nodes, weights = GAUSS3
        mass = np.zeros((rc.size, grid.faces.size))
        for a, wa in zip(nodes, weights):
            r = rc + 0.5 * grid.dr * a
            for b, wb in zip(nodes, weights):
                theta = np.mod(grid.faces + grid.width * 0.5 * (1 + b), 2 * np.pi)
                values = np.asarray(density(r[:, None], theta[None, :]), dtype=np.float64)
                mass += wa * wb * values
        mass *= 0.25 * grid.dr * grid.width[None, :]
        if np.any(mass < 0) or not np.all(np.isfinite(mass)):
            raise ValueError("the initial density must be finite and non-negative")
        return mass

    def _check_total(self, density):
        """Total mass 1 (over |r| < 4 r_max), a warning when much lies beyond r_max, and a check that
        the cells' quadrature holds the mass inside r_max (a warning beyond ``leak``, an error beyond
        UNRESOLVED).

        The total comes from a quadrature of its own, independent of the grid (a coarse grid's
        cell quadrature can be 1% off for a density with compact support): 2-point Gauss on 8192
        cells in r and the periodic trapezoid rule on 256 angles, in slabs of 512 cells.
        """
        r_max = self.grid.r_max
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
        self._warn_leak(beyond, "of the initial density lies beyond")
        # the cells' own quadrature (three points a side) misses a law much narrower than a cell
        inside, cells = total - beyond, self.initial_mass
        missed = abs(cells - inside)
        unresolved = (f"the grid's cells (dr = {self.grid.dr:.3g}) do not resolve the initial density: their quadrature holds "
                      f"{cells:.4g} of the mass {inside:.4g} inside |r| < r_max; take more cells in r (n_r) or a wider law (sigma, width)")
        if missed > UNRESOLVED:
            raise ValueError(unresolved)
        if missed > self.leak:
            warnings.warn(unresolved, RuntimeWarning, stacklevel=3)

    def _warn_leak(self, share, what):
        if share > self.leak:
            warnings.warn(f"{share:.2%} {what} |r| = r_max = {self.grid.r_max:g} and is lost; enlarge r_max", RuntimeWarning, stacklevel=3)

    @property
    def _norm(self):
        return 1.0

    def _refresh(self, state, cells, rays):
        """Moments, residuals, field, speeds and stability rates of (cells, rays) into ``state``."""
        state.rates = hk.refresh(cells, rays, self.grid.arrays, self.samples.arcs, self.order, self.tv, state.arrays)

    def _euler(self, masses, state, h, new_masses):
        """One forward-Euler step from ``masses`` (cells, rays, r = 0) with the speeds in ``state``,
        written into ``new_masses``; returns the mass that left through |r| = r_max."""
        scratch = self._scratch
        theta_step = 0.0 if self.substeps is None else (self.cfl / state.rates[2] if state.rates[2] > 0 else np.inf)
        hk.euler_step(masses, new_masses, scratch, self.grid.arrays, state.arrays, self.tv, h, self.order == 2, theta_step)
        return float(scratch.out_cells.sum() + scratch.out_rays.sum())

    def euler_step(self, g, dt, cells=None, rays=None, zero=None):
        """One forward-Euler step of the scheme (order ``self.order``) in a given field, without
        touching the solver's state: for tests and for studying the scheme.

        Parameters
        ----------
        g : (n_arcs, 2) arc fields. dt : step (mean-field clock), not CFL-limited here.
        cells, rays, zero : masses to step from (default: the current state).

        Returns
        -------
        new_cells, new_rays, new_zero, outflow
        """
        state = _StepState(*self._now.shape)
        state.arrays.g[:] = g
        state.rates = hk.speeds(self.grid.arrays, self.order, self.tv, state.arrays)
        masses = hk.Masses(*(np.ascontiguousarray(own if given is None else given, dtype=np.float64) for own, given in zip(self._masses, (cells, rays, zero))))
        new = hk.Masses(*(np.empty_like(a) for a in masses))
        out = self._euler(masses, state, float(dt), new)
        return (*new, out)

    @property
    def _moments(self):
        return self._now.arrays.moments

    def _field(self):
        return self._now.arrays.g

    def _abs_r_integral(self):
        """At the cell centres; mass on r = 0 adds nothing."""
        return float(np.abs(self.grid.rc) @ (self.mass_cells.sum(axis=1) + self.mass_rays.sum(axis=1)))

    def _rise_slack(self):
        """tv dr: the upwind transport of -tv sign(r) moves mass between the two cells beside r = 0,
        whose centres count |r| = dr / 2."""
        return self.tv * self.grid.dr

    def _limit(self, state):
        """The rate that bounds a step from ``state``: a step h is stable when h * rate <= 1
        (unsplit: the whole transport; split: the r-transport, the theta sub-steps adapt)."""
        rate, rate_r, _ = state.rates
        return rate if self.substeps is None else rate_r

    def stable_step(self):
        """Largest step for which every cell (and ray) loses at most cfl of its mass (split: in
        each of its sub-steps, of which the outer rows take at most ``substeps``)."""
        rate = self._limit(self._now)
        if self.substeps is not None:
            rate = max(rate, self.grid.r_out * self._now.rates[2] / self.substeps)
        return np.inf if rate == 0 else self.cfl / rate

    _step_size = stable_step

    def _state(self):
        """Cell, ray and r = 0 masses; outflow, initial mass; the grid (n_r, n_theta, r_max) and
        the scheme (order, cfl, substeps (0: unsplit), tv, leak)."""
        n_r, n_c = self.grid.shape
        return dict(
            mass_cells=self.mass_cells, ray_mass=self.mass_rays, zero_mass=self.zero_mass, outflow=self.outflow,
            initial_mass=self.initial_mass, n_r=n_r, n_theta=self.grid.n_theta, r_max=self.grid.r_max, order=self.order,
            cfl=self.cfl, substeps=self.substeps or 0, tv=self.tv, leak=self.leak, leak_warned=self._leak_warned,
        )

    @classmethod
    def _from_state(cls, samples, state, record_every, shard):
        check_capabilities(cls, ranks=1 if shard is None else shard.size)
        solver = cls(samples, None, n_r=int(state["n_r"]), n_theta=int(state["n_theta"]), r_max=float(state["r_max"]), tv=float(state["tv"]),
                     order=int(state["order"]), cfl=float(state["cfl"]), substeps=int(state.get("substeps", 0)) or None, leak=float(state["leak"]),
                     record_every=record_every)
        for name, own in (("mass_cells", solver.mass_cells), ("ray_mass", solver.mass_rays), ("zero_mass", solver.zero_mass)):
            if own.shape != np.shape(state[name]):
                raise ValueError(f"{name} has shape {np.shape(state[name])}, the grid needs {own.shape}")
            own[:] = state[name]
        solver.outflow = float(state["outflow"])
        solver.initial_mass = float(state["initial_mass"])
        solver._leak_warned = bool(state["leak_warned"])
        solver._refresh(solver._now, solver.mass_cells, solver.mass_rays)
        return solver

    def _advance(self, h):
        h = min(h, self.stable_step())
        now, stage = self._now, self._stage
        if self.order == 1:
            out = self._euler(self._masses, now, h, self._next)
        else:
            # Heun's method (SSP-RK2): the average of the state and two Euler steps, positive
            # whenever both Euler steps are; the second uses the field of the first stage, so its
            # stability limit is checked, and the step retaken shorter if it fails
            while True:
                out_1 = self._euler(self._masses, now, h, self._mid)
                self._refresh(stage, *self._mid[:2])
                if h * self._limit(stage) <= 1.0:
                    break
                h = self.cfl / self._limit(stage)
            out_2 = self._euler(self._mid, stage, h, self._next)
            for old, new in zip(self._masses, self._next):
                hk.average(old, new)
            out = 0.5 * (out_1 + out_2)
        masses = self._masses
        self.mass_cells, self.mass_rays, self.zero_mass = self._next
        self._next = masses
        self.outflow += out
        if not self._leak_warned and self.outflow > self.leak * self.initial_mass:
            self._leak_warned = True
            warnings.warn(
                f"{self.outflow / self.initial_mass:.2%} of the mass has flowed out through |r| = r_max = {self.grid.r_max:g} "
                f"by t = {self.t + h:.6g}; enlarge r_max", RuntimeWarning, stacklevel=4,
            )
        self._refresh(now, self.mass_cells, self.mass_rays)
        return h

    def mass(self):
        """Mass budget: on the grid cells, on the rays, on r = 0 (held there by the TV term), out
        through |r| = r_max, and their total, with the mass the grid held at the start
        (``initial``; below 1 when the initial law has mass beyond r_max)."""
        cells = float(self.mass_cells.sum())
        rays = float(self.mass_rays.sum())
        zero = float(self.zero_mass.sum())
        return dict(grid=cells, rays=rays, zero=zero, outflow=self.outflow, total=cells + rays + zero + self.outflow, initial=self.initial_mass)

    def mass_on_distinct_rays(self):
        """Mass on each distinct ray (``grid.ray_angle``) for r > 0 and r < 0, shape (n_rays, 2)."""
        positive = self.grid.rc > 0
        return np.stack([self.mass_rays[positive].sum(axis=0), self.mass_rays[~positive].sum(axis=0)], axis=1)

    def ray_mass(self, eps=None):
        """Mass carried on each boundary ray by sign of r, (2s, 2) (see
        :meth:`solvers.evolution.Evolution.ray_mass`; ``eps`` is not used)."""
        return self.mass_on_distinct_rays()[np.searchsorted(self.grid.ray_angle, self.samples.regions.angles)]

    def _atoms_with_direction(self):
        """Cells and rays as atoms (r, theta, weight) with the direction d each stands for: the
        cell average of d(theta) = (cos, sin), or d on the ray. f at the samples from them is
        exact, since no sample's boundary lies inside a cell."""
        grid = self.grid
        n_r, n_c = self.mass_cells.shape
        n_q = grid.ray_angle.size
        r = np.concatenate([np.repeat(grid.rc, n_c), np.repeat(grid.rc, n_q)])
        theta = np.concatenate([np.tile(np.mod(grid.faces + grid.width / 2, 2 * np.pi), n_r), np.tile(grid.ray_angle, n_r)])
        d = np.concatenate([np.tile(grid.mean_d, (n_r, 1)), np.tile(grid.ray_d, (n_r, 1))])
        return r, theta, np.concatenate([self.mass_cells.ravel(), self.mass_rays.ravel()]), d

    def atoms(self):
        """The cells (at their centres) and the rays as weighted atoms (r, theta, weight); mass
        held at r = 0 and mass that flowed out are left out (they add nothing to f)."""
        return self._atoms_with_direction()[:3]

    def network(self, x):
        """f(x) from the cells and rays, each with its cell-averaged direction (exact at the
        samples: f(x_j) = y_j + rho_j). O(n (cells + rays))."""
        x = np.asarray(x, dtype=np.float64)
        r, _, mass, d = self._atoms_with_direction()
        keep = mass > 0
        pre = np.multiply.outer(x, d[keep, 0]) + d[keep, 1]
        return np.maximum(pre, 0.0) @ (mass[keep] * r[keep])
