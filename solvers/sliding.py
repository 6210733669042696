"""Sliding particles: canonical particles that stop on the rays attracting them and slide along
them (the Filippov solution), with an adaptive step under which the energy never rises."""
from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from meanfield import field
from meanfield.field import energy_of
from meanfield.kernels import field as fk
from meanfield.samples import Samples

from .canonical import CanonicalParticles
from .kernels import sliding as sk
from .shard import Shard

MAX_TURN = 0.05  # radians: the largest angular move of a free particle in one sliding step


class SlidingSolver(CanonicalParticles):
    """Canonical particles under dw/dt = -grad V(w; mu_t) (eq. 12) whose steps follow the
    particles onto the rays that attract them (:mod:`solvers.kernels.sliding`).

    Parameters
    ----------
    samples, r, theta, dt, tv, record_every, rng, copy
        As for :class:`solvers.ParticleSolver` (:class:`solvers.canonical.CanonicalParticles`);
        ``dt`` is the largest step, on the mean-field clock.
    method : {"sliding", "sliding-heun"}
        "sliding": Euler steps in which a particle that reaches a ray attracting it stops on the
        ray and then moves in r alone, leaving when the ray stops attracting it. Each step is at
        most twice the last, turns no free particle by more than ``MAX_TURN`` radians, and is
        halved and redone until the energy does not rise, so the energy is non-increasing step by
        step. "sliding-heun": the same with Heun's corrector (two passes per step): second order
        for the particles that stay free or stay on one ray through a step, first order for those
        that land on a ray or leave one within it.

    The canonical metric only, on one process (``ParticleSolver(..., method="sliding")`` builds
    one too).

    Attributes
    ----------
    ray : ndarray of int32 (m,) — -1, or the arc whose starting ray a particle sits on (part of
    the state). step_sizes : list of float — the steps taken. rejected : int — the halvings.
    """

    METHODS = ("sliding", "sliding-heun")
    SERIAL = True

    def __init__(self, samples: Samples, r: ArrayLike, theta: ArrayLike, *, dt: float, method: str = "sliding", tv: float = 0.0,
                 record_every: int | None = 1, rng: int | np.random.Generator | None = None, copy: bool = True, shard: Shard | None = None):
        super().__init__(samples, r, theta, dt=dt, method=method, tv=tv, record_every=record_every, rng=rng, copy=copy, shard=shard)
        reg = self.samples.regions
        self.ray = np.full(self.r.size, -1, dtype=np.int32)  # arc indices: 2s < 2^31
        self._out = self._blank()
        self._euler = sk.no_corrector(self.r.dtype)  # the predictor's (none)
        self._corrector = sk.Corrector(self._blank(), np.empty((reg.n_arcs, 2))) if method == "sliding-heun" else self._euler
        self._rho_pred = np.empty(self.samples.s)  # the predictor's residuals
        self._rays = ray_neighbours(reg)
        self._park = park_offset(self.theta.dtype)
        self._try = np.empty_like(self._moments)
        self._loss_now = self.energy()
        speed = np.abs(self.velocity()[1]).max()
        self._h_next = min(self.dt, MAX_TURN / float(speed)) if speed > 0 else self.dt
        self.step_sizes: list[float] = []
        self.rejected = 0

    def _blank(self):
        return sk.Particles(np.empty_like(self.r), np.empty_like(self.theta), np.empty_like(self.ray))

    def _state(self):
        """That of every canonical solver, with ray, h_next (the next step) and loss_now (the
        energy the next step must not exceed); alpha = 0 (no metric)."""
        return dict(super()._state(), alpha=0.0, ray=self.ray, h_next=self._h_next, loss_now=self._loss_now)

    @classmethod
    def _from_state(cls, samples, state, record_every, shard):
        solver = cls(samples, state["r"], state["theta"], dt=state["dt"], method=str(state["method"]), tv=state["tv"],
                     record_every=record_every, shard=shard)
        solver._moments[:] = state["moments"]
        solver.ray[:] = state["ray"]
        solver._h_next, solver._loss_now = float(state["h_next"]), float(state["loss_now"])
        return solver

    def velocity(self, r=None, theta=None):
        """(dr/dt, dtheta/dt) of the field at the current state or a given one: a particle on a
        ray gets the velocity of the arc that starts there, not its sliding motion."""
        r, theta = (self.r, self.theta) if r is None else field.as_particles(r, theta)
        return field.velocity(self.samples, r, theta, tv=self.tv)

    def _advance(self, h):
        """One accepted sliding step of at most h (the class docstring); returns its size."""
        step = min(h, self._h_next)
        now, out, corrector = sk.Particles(self.r, self.theta, self.ray), self._out, self._corrector
        lookup, chunk = self.samples.regions.lookup, self.shard.chunk
        g = self._field()
        while True:
            move = sk.SlideStep(g, self.tv, step, self._park)
            first = out if corrector.g_pred.size == 0 else corrector.pred
            fastest, abs_r = sk.sliding_step(now, first, lookup, self._rays, move, self._euler, chunk, self._work)
            self.shard.reduce(self._work, self._try)
            speed = float(fastest.max())
            if corrector.g_pred.size:
                fk.field_from_moments(self._try, self.samples.arcs, float(self.m), self._rho_pred, corrector.g_pred)
                fastest, abs_r = sk.sliding_step(now, out, lookup, self._rays, move, corrector, chunk, self._work)
                self.shard.reduce(self._work, self._try)
                speed = max(speed, float(fastest.max()))
            rho = field.residuals_from_moments(self.samples, self._try, self.m)
            loss = energy_of(rho, self.tv, self.shard.mean_from_sums(abs_r))
            if loss <= self._loss_now:  # a step small enough changes nothing and is accepted
                break
            step *= 0.5
            self.rejected += 1
        self._out = now
        self.r, self.theta, self.ray = out
        self._moments, self._try = self._try, self._moments
        self._loss_now = loss
        self._h_next = min(self.dt, 2.0 * step, MAX_TURN / speed if speed > 0 else math.inf)
        self.step_sizes.append(step)
        return step

    def ray_mass(self, eps=1e-3):
        """Mass on each boundary ray by sign of r, (2s, 2): the share of the particles sliding on
        it (row k: the ray at the start of arc k); ``eps`` is not used."""
        mass = np.zeros((self.samples.regions.n_arcs, 2))
        on = self.ray >= 0
        np.add.at(mass, (self.ray[on], (self.r[on] < 0).astype(np.int64)), 1.0 / self.m)
        return mass


def park_offset(dtype):
    """How far below a ray a particle is parked in the dead arc (radians): 16 units of rounding of
    the angle type at 2 pi, so that the stored angle is below the ray in float32 too."""
    return 16 * float(np.finfo(dtype).eps) * 2 * np.pi


def ray_neighbours(regions):
    """:class:`solvers.kernels.sliding.Rays` of the regions: for each arc the non-empty arcs before
    and after it (skipping the empty arcs of duplicated x), whether it is dead (no sample active),
    and the direction of the ray at its start."""
    after = regions.arc_at[(np.arange(regions.n_arcs) + 1) % regions.n_arcs]
    return sk.Rays(regions.arc_before, after, regions.dead, np.cos(regions.angles), np.sin(regions.angles))
