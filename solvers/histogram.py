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
from .grid import CylinderGrid
from .kernels import histogram as hk


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
        Put the jumps of a discontinuous density on cell faces (r = -r_max + k * 2 r_max / n_r).
        The checks: :meth:`CylinderGrid.cell_masses`.
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
        sub-steps of the outer rows. First order in time (the field is frozen over a step). The
        default 2 halves the steps at about the unsplit error (``python -m validation
        bench-histogram``).
    leak : float
        Share of the mass whose loss through |r| = r_max (at the start, or flowing out during the
        run) is warned about (RuntimeWarning, once each): enlarge r_max when it shows.
    tv : float
        lambda >= 0 of the regulariser lambda * integral |r| d mu (eq. 16): the radial velocity
        gains -lambda sign(r), and mass that reaches r = 0 where |<g, d>| <= lambda stays there
        (``zero_mass``, per theta-cell then per ray; r = 0 is a face of the grid).

    Clock: mean-field time, as :class:`solvers.ParticleSolver`. Steps are CFL-limited and adaptive;
    ``run(t_end=...)`` lands exactly on t_end.

    Mass on boundary rays is carried explicitly (``mass_rays``, (n_r, distinct rays)): mass that
    reaches an attracting ray stays and slides in r, as the Filippov solution does; a crossing ray
    releases it downstream, a repulsive one to its two sides in the shares of the sliding mode
    (:func:`meanfield.kernels.primitives.ray_transfer`; under Heun's method over a few steps).
    Cost per step: O(n_r n_theta + s), parallel over r-rows, the same bits for any thread count;
    the scheme itself is :class:`FiniteVolumes`.
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
        if not 0 < leak < 1:
            raise ValueError(f"leak must be a share in (0, 1), got {leak}")
        self.order, self.cfl, self.substeps, self.tv = FiniteVolumes.checked(order, cfl, substeps, tv)
        self.grid = CylinderGrid(samples, n_r, n_theta, r_max)
        self._leak_warned = False
        self.leak = float(leak)
        n_c, n_q = self.grid.faces.size, self.grid.ray_angle.size
        self.mass_cells = np.zeros(self.grid.shape)
        self.mass_rays = np.zeros((self.grid.rc.size, n_q))
        self.zero_mass = np.zeros(n_c + n_q)
        self.outflow = 0.0
        self.initial_mass = 1.0
        if density is not None:
            self.mass_cells = self.grid.cell_masses(density, self.leak)
            self.initial_mass = float(self.mass_cells.sum())
        self._scheme = FiniteVolumes(self.samples, self.grid, self._masses, order=self.order, cfl=self.cfl, substeps=self.substeps, tv=self.tv)

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
        solver.grid.warn_leak(1.0 - solver.initial_mass, "of the particles lie beyond", solver.leak, stacklevel=3)
        solver._scheme.refresh(solver.mass_cells, solver.mass_rays)
        return solver

    @property
    def _norm(self):
        return 1.0

    @property
    def _moments(self):
        return self._scheme.now.arrays.moments

    def _field(self):
        return self._scheme.now.arrays.g

    def _abs_r_integral(self):
        """At the cell centres; mass on r = 0 adds nothing."""
        return float(np.abs(self.grid.rc) @ (self.mass_cells.sum(axis=1) + self.mass_rays.sum(axis=1)))

    def _rise_slack(self):
        """tv dr: the upwind transport of -tv sign(r) moves mass between the two cells beside r = 0,
        whose centres count |r| = dr / 2."""
        return self.tv * self.grid.dr

    def stable_step(self):
        """Largest step for which every cell (and ray) loses at most cfl of its mass (split: in
        each of its sub-steps, of which the outer rows take at most ``substeps``)."""
        return self._scheme.stable_step()

    def euler_step(self, g, dt, cells=None, rays=None, zero=None):
        """One forward-Euler step of the scheme (order ``self.order``) in a given field ``g``
        (n_arcs, 2) with step ``dt`` (mean-field clock, not CFL-limited here), from the given masses
        (default: the current state), without touching the solver's state: for tests and for
        studying the scheme. Returns (new_cells, new_rays, new_zero, outflow)."""
        given = (cells, rays, zero)
        masses = hk.Masses(*(np.ascontiguousarray(own if new is None else new, dtype=np.float64) for own, new in zip(self._masses, given)))
        return self._scheme.euler_in(g, float(dt), masses)

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
        solver._scheme.refresh(solver.mass_cells, solver.mass_rays)
        return solver

    def _advance(self, h):
        h, new, out = self._scheme.step(self._masses, min(h, self.stable_step()))
        self.mass_cells, self.mass_rays, self.zero_mass = new
        self.outflow += out
        if not self._leak_warned and self.outflow > self.leak * self.initial_mass:
            self._leak_warned = True
            warnings.warn(
                f"{self.outflow / self.initial_mass:.2%} of the mass has flowed out through |r| = r_max = {self.grid.r_max:g} "
                f"by t = {self.t + h:.6g}; enlarge r_max", RuntimeWarning, stacklevel=4,
            )
        self._scheme.refresh(self.mass_cells, self.mass_rays)
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

    def atoms(self):
        """The cells (at their centres) and the rays as weighted atoms (r, theta, weight); mass
        held at r = 0 and mass that flowed out are left out (they add nothing to f)."""
        return self.grid.atoms(self.mass_cells, self.mass_rays)[:3]

    def network(self, x):
        """f(x) from the cells and rays (:meth:`CylinderGrid.network`)."""
        return self.grid.network(x, self.mass_cells, self.mass_rays)


class FiniteVolumes:
    """The time stepping of :class:`HistogramSolver` on its grid (its parameters ``order``,
    ``cfl``, ``substeps``, ``tv``): what a step needs from the current masses (``now``: moments,
    residuals, field, speeds and stability rates) and from Heun's first stage (``stage``), and the
    buffers the next masses are built in (swapped with the old ones: no allocation per step)."""

    @staticmethod
    def checked(order, cfl, substeps, tv):
        """(order, cfl, substeps, tv) as numbers, or ValueError (one line)."""
        if order not in (1, 2):
            raise ValueError(f"order must be 1 (upwind, forward Euler) or 2 (MUSCL, Heun), got {order}")
        if not 0 < cfl <= 1:
            raise ValueError(f"cfl must be in (0, 1], got {cfl}")
        if substeps is not None and not (int(substeps) == substeps and substeps >= 1):
            raise ValueError(f"substeps must be None (unsplit) or a whole number >= 1, got {substeps}")
        if not (math.isfinite(tv) and tv >= 0):
            raise ValueError(f"tv must be finite and >= 0, got {tv}")
        return int(order), float(cfl), None if substeps is None else int(substeps), float(tv)

    def __init__(self, samples, grid, masses, *, order, cfl, substeps, tv):
        self.samples, self.grid, self.order, self.cfl, self.substeps, self.tv = samples, grid, order, cfl, substeps, tv
        cells, rays = masses[0], masses[1]
        self.next = self._empty(masses)
        self.mid = self._empty(masses) if order == 2 else None
        self.scratch = hk.Scratch(np.empty_like(cells), np.empty_like(rays), np.zeros_like(cells), np.zeros_like(rays),
                                  np.empty((2, grid.faces.size)), np.empty((2, grid.ray_angle.size)))  # slopes stay 0 for order 1
        shape = (samples.regions.n_arcs, samples.s, grid.faces.size, grid.ray_angle.size)
        self.now, self.stage = _StepState(*shape), _StepState(*shape)
        self.refresh(cells, rays)

    @staticmethod
    def _empty(masses):
        return hk.Masses(*(np.empty_like(a) for a in masses))

    def refresh(self, cells, rays, state=None):
        """Moments, residuals, field, speeds and stability rates of (cells, rays) into ``state``
        (default: ``now``)."""
        state = self.now if state is None else state
        state.rates = hk.refresh(cells, rays, self.grid.arrays, self.samples.arcs, self.order, self.tv, state.arrays)

    def euler(self, masses, state, h, new_masses):
        """One forward-Euler step from ``masses`` (cells, rays, r = 0) with the speeds in ``state``,
        written into ``new_masses``; returns the mass that left through |r| = r_max."""
        scratch = self.scratch
        theta_step = 0.0 if self.substeps is None else (self.cfl / state.rates[2] if state.rates[2] > 0 else np.inf)
        hk.euler_step(masses, new_masses, scratch, self.grid.arrays, state.arrays, self.tv, h, self.order == 2, theta_step)
        return float(scratch.out_cells.sum() + scratch.out_rays.sum())

    def euler_in(self, g, dt, masses):
        """:meth:`euler` in a given field g, into new arrays: (new cells, rays, zero, outflow)."""
        state = _StepState(*self.now.shape)
        state.arrays.g[:] = g
        state.rates = hk.speeds(self.grid.arrays, self.order, self.tv, state.arrays)
        new = self._empty(masses)
        out = self.euler(masses, state, dt, new)
        return (*new, out)

    def limit(self, state):
        """The rate that bounds a step from ``state``: a step h is stable when h * rate <= 1
        (unsplit: the whole transport; split: the r-transport, the theta sub-steps adapt)."""
        rate, rate_r, _ = state.rates
        return rate if self.substeps is None else rate_r

    def stable_step(self):
        """Largest stable step from ``now`` (see :meth:`HistogramSolver.stable_step`)."""
        rate = self.limit(self.now)
        if self.substeps is not None:
            rate = max(rate, self.grid.r_out * self.now.rates[2] / self.substeps)
        return np.inf if rate == 0 else self.cfl / rate

    def step(self, masses, h):
        """One step of at most h from ``masses`` (as :meth:`refresh` last saw them): returns the
        step taken, the new masses (a buffer; ``masses`` becomes the next one) and the outflow."""
        if self.order == 1:
            out = self.euler(masses, self.now, h, self.next)
        else:
            # Heun's method (SSP-RK2): the average of the state and two Euler steps, positive
            # whenever both Euler steps are; the second uses the field of the first stage, so its
            # stability limit is checked, and the step retaken shorter if it fails
            while True:
                out_1 = self.euler(masses, self.now, h, self.mid)
                self.refresh(self.mid[0], self.mid[1], self.stage)
                if h * self.limit(self.stage) <= 1.0:
                    break
                h = self.cfl / self.limit(self.stage)
            out_2 = self.euler(self.mid, self.stage, h, self.next)
            for old, new in zip(masses, self.next):
                hk.average(old, new)
            out = 0.5 * (out_1 + out_2)
        new, self.next = self.next, masses
        return h, new, out
