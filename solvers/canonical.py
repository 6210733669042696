"""What the solvers of canonical particles share: the particles (r, theta), their per-arc moments
and reduction chunks, the TV weight, the clock's largest step, and building one from a
configuration."""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from meanfield import field, params
from meanfield.kernels import field as fk
from meanfield.samples import Samples

from . import init
from .evolution import Evolution, check_capabilities, check_finite, check_step
from .shard import Shard


class CanonicalParticles(Evolution):
    """Canonical particles w_i = (r_i, theta_i) of the mean-field flow (eq. 12): the state and its
    bookkeeping, for :class:`solvers.ParticleSolver` (explicit Runge-Kutta steps) and
    :class:`solvers.sliding.SlidingSolver` (the Filippov steps), which add their steps.

    r and theta are copied (``copy=False`` lets the solver own contiguous float32/float64 arrays
    of one dtype: at m = 1e8 a copy is 1.6 GB; theta is then wrapped in place); float32 keeps a
    float32 state with float64 arithmetic; angles are kept in [0, 2 pi). ``dt`` is the step on
    the mean-field clock (the largest step for adaptive methods), ``tv`` the lambda of the TV
    regulariser (eq. 16), ``shard`` this process's part of a run sharded over MPI ranks.
    Change r and theta only through steps: the per-arc moments describe them.
    """

    KIND = "particles"
    shard: Shard
    PER_PARTICLE = ("r", "theta", "delta", "ray")
    REMEDY = 'set solver.method = "sliding" (its steps never raise the energy) or a smaller solver.dt'

    def __init__(self, samples: Samples, r: ArrayLike, theta: ArrayLike, *, dt: float, method: str, tv: float = 0.0,
                 metric: str = "canonical", record_every: int | None = 1, rng: int | np.random.Generator | None = None, copy: bool = True,
                 shard: Shard | None = None):
        super().__init__(samples, record_every=record_every, rng=rng)
        if method not in self.METHODS:
            raise ValueError(f"method must be one of {self.METHODS}, got {method!r}")
        check_step("dt", dt)
        if not (math.isfinite(tv) and tv >= 0):
            raise ValueError(f"tv must be finite and >= 0, got {tv}")
        r, theta = field.as_particles(r, theta)
        check_finite(r=r, theta=theta)
        self.shard = shard_of(shard, r.size)
        check_capabilities(type(self), ranks=self.shard.size, metric=metric, method=method)
        self.r = r.copy() if copy else r
        self.theta = theta.copy() if copy else theta
        np.mod(self.theta, 2 * np.pi, out=self.theta)
        self.theta[self.theta >= 2 * np.pi] = 0.0  # float32 rounding
        self.dt, self.method, self.tv = float(dt), method, float(tv)
        n_arcs = self.samples.regions.n_arcs
        self._work = self.shard.workspace(n_arcs)
        self._moments = np.empty((n_arcs, 2))
        fk.arc_moments(self.r, self.theta, self.samples.regions.lookup, self.shard.chunk, self._work)
        self.shard.reduce(self._work, self._moments)

    @classmethod
    def from_config(cls, config: dict[str, Any], samples: Samples, comm: Any = None) -> CanonicalParticles:
        """A new solver at t = 0 as a configuration describes it, its particles drawn block by
        block (:func:`solvers.init.by_blocks`) so that they do not depend on the MPI communicator
        ``comm`` that shares them out (None: one process). History is left to observers."""
        init_, solver = config["init"], config["solver"]
        m, seed, dtype = init_["m"], init_["seed"], np.dtype(init_["dtype"])
        shard = Shard(m, comm)
        alpha = init.alpha_of(config)
        if init_["law"] == "pytorch_default":
            a, b, c = init.by_blocks(init.pytorch_law(m, alpha), m, seed, shard.lo, shard.hi)
            r, theta = (v.astype(dtype) for v in params.to_canonical(a, b, c, alpha))
        else:
            r, theta = init.by_blocks(init.canonical_law(init_, dtype), m, seed, shard.lo, shard.hi)
        return cls(samples, r, theta, dt=solver["dt"], method=solver["method"], tv=solver["tv"], record_every=None, rng=seed, copy=False,
                   shard=shard, **cls._options(config, alpha))

    @classmethod
    def _options(cls, config: dict[str, Any], alpha: float) -> dict[str, Any]:
        """The keyword arguments of this class's constructor that a configuration sets beyond
        those of every canonical solver."""
        return {}

    @property
    def m(self):
        """Particles in the run (on all ranks together when sharded)."""
        return self.shard.m

    @property
    def _norm(self):
        return self.m

    def _state(self):
        """r, theta, the per-arc moments; dt, method, tv."""
        return dict(r=self.r, theta=self.theta, moments=self._moments, dt=self.dt, method=self.method, tv=self.tv)

    def _abs_r_integral(self):
        return self.shard.mean_abs(self.r)

    def _rise_slack(self):
        """2 tv^2 dt: a particle with |<g, d>| < tv steps across r = 0 and back at a speed below
        2 tv, holding |r| <= 2 tv dt, so such particles add at most 2 tv^2 dt to the energy."""
        return 2.0 * self.tv * self.tv * self.dt

    def canonical(self):
        """(r, theta): the particles themselves (this rank's part when sharded)."""
        return self.r, self.theta


def shard_of(shard, local):
    """The given shard, checked against the local particle count, or the serial one."""
    if shard is None:
        return Shard(local)
    if shard.local_m != local:
        raise ValueError(f"this rank holds particles [{shard.lo}, {shard.hi}) of the run, {shard.local_m} of them, but was given {local}")
    return shard
