"""Particle integrators: the canonical flow (optionally under the metric of Proposition 4) and
plain gradient descent on the full parameters (a, b, c)."""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from meanfield import field, params
from meanfield.field import data_loss
from meanfield.kernels import field as fk
from meanfield.samples import Samples

from . import init
from .canonical import CanonicalParticles, shard_of
from .evolution import Evolution, check_capabilities, check_finite, check_step
from .kernels import particles as pk
from .memory import available_memory
from .shard import Shard
from .sliding import SlidingSolver

TRIG_CACHE_BYTES = 20  # per particle: cos and sin in float64, the arc in int32


def check_fused(name, a, b):
    """Refuse a Butcher tableau (a, b) that the fused stages cannot run: explicit (a[s, l] = 0 for
    l >= s) and each stage point built from the previous stage's velocity alone (a[s, l] = 0 for
    l < s - 1), with one weight per stage."""
    a, b = np.asarray(a), np.asarray(b)
    stages = b.size
    if a.shape != (stages, stages):
        raise ValueError(f"tableau {name!r}: a must be {stages} x {stages} for {stages} weights, got {a.shape}")
    s, l = np.indices(a.shape)
    if np.any(a[(l >= s) | (l < s - 1)] != 0):
        raise ValueError(f"tableau {name!r}: the fused stages need a[s, l] = 0 except on the first subdiagonal")


def _checked(tableaus):
    for name, (a, b) in tableaus.items():
        check_fused(name, a, b)
    return tableaus


# explicit Runge-Kutta schemes as Butcher coefficients (a, b); the fused stages need a[s, l] = 0
# for l < s - 1 (each stage point uses the previous stage's velocity alone), checked on import
TABLEAUS = _checked({
    "euler": (np.zeros((1, 1)), np.ones(1)),
    "heun": (np.array([[0.0, 0.0], [1.0, 0.0]]), np.array([0.5, 0.5])),
    "rk4": (
        np.array([[0.0, 0, 0, 0], [0.5, 0, 0, 0], [0.0, 0.5, 0, 0], [0.0, 0, 1.0, 0]]),
        np.array([1.0, 2.0, 2.0, 1.0]) / 6.0,
    ),
})
LAYERS = ("a", "b", "c")


class ParticleSolver(CanonicalParticles):
    """Canonical particles w_i = (r_i, theta_i) under dw/dt = -grad V(w; mu_t) (eq. 12), by explicit
    Runge-Kutta steps.

    Parameters
    ----------
    samples : meanfield.Samples
    r, theta : array_like (m,)
        Initial particles (:class:`solvers.canonical.CanonicalParticles`: copied unless
        ``copy=False``, float32 kept, angles wrapped to [0, 2 pi)).
    dt : float
        Time step on the mean-field clock. Gradient descent on L with step eta is ``euler`` with
        dt = eta / m.
    method : {"euler", "heun", "rk4"}
        Explicit Runge-Kutta scheme of order 1, 2, 4: 1, 2 or 4 fused passes over the particles
        per step, each as costly as an Euler pass. Heun keeps 2 and RK4 4 float64 numbers per
        particle between passes (stage velocity and running sum), allocated once. "sliding" and
        "sliding-heun" build a :class:`solvers.sliding.SlidingSolver` instead.
    tv : float
        lambda of the TV regulariser (eq. 16): adds -lambda sign(r) to dr/dt.
    delta, alpha : array_like (m,) and float, optional
        The reduced flow of full-parameter gradient flow (Proposition 4):
        dw_i/dt = -P_i grad_{w_i} L with P_i = diag((m/alpha)^2 (a^2+b^2+c^2), 1/(a^2+b^2)) computed
        from (r_i, delta_i). Its clock is the gradient-flow time of L(a, b, c): gradient descent
        with learning rate lr is ``euler`` with dt = lr. delta -> -inf freezes theta (kernel
        regime); delta -> +inf gives P proportional to diag(1, 1/r^2), the Euclidean metric of the
        uv-plane (adaptive regime).
    record_every : int
        History cadence in steps.
    rng : seed or numpy Generator
        Kept as part of the solver state.
    copy : bool
        False lets the solver own the given arrays (contiguous float32/float64 of one dtype).
    shard : solvers.shard.Shard, optional
        This process's part of a run sharded over MPI ranks: r, theta (and delta) are then the
        particles [shard.lo, shard.hi) of the run's shard.m, and every step is collective.
    trig_cache : bool, optional
        Keep each particle's cos, sin (float64) and arc (int32) from one pass to the next: the
        moments pass of a stage computes them for the point it moves to, and the next pass
        reads them for its velocities instead of computing them again, so a step of S stages
        makes S sin/cos passes and S arc searches instead of 2S. 20 more bytes per particle
        (36 in all for a float64 state, 28 for float32); the same bits either way. None
        (default): keep them when they take under half the memory available.

    Attributes
    ----------
    r, theta : ndarray — the particles (this rank's part when sharded); change them only
    through steps. t : float — time. step : int — steps taken. history : solvers.History.
    trig_cache : bool — whether the cache is kept.
    """

    METHODS = tuple(TABLEAUS)
    METRICS = ("canonical", "delta")

    def __new__(cls, samples, r, theta, *, method="euler", **kwargs):
        if cls is ParticleSolver and method in SlidingSolver.METHODS:  # built whole here: not a ParticleSolver, so not built again
            check_capabilities(SlidingSolver, metric="canonical" if kwargs.pop("delta", None) is None else "delta", method=method)
            kwargs.pop("alpha", None), kwargs.pop("trig_cache", None)
            return SlidingSolver(samples, r, theta, method=method, **kwargs)
        return super().__new__(cls)

    def __init__(self, samples: Samples, r: ArrayLike, theta: ArrayLike, *, dt: float, method: str = "euler", tv: float = 0.0,
                 delta: ArrayLike | None = None, alpha: float | None = None, record_every: int | None = 1,
                 rng: int | np.random.Generator | None = None, copy: bool = True, shard: Shard | None = None,
                 trig_cache: bool | None = None):
        super().__init__(samples, r, theta, dt=dt, method=method, tv=tv, metric="canonical" if delta is None else "delta",
                         record_every=record_every, rng=rng, copy=copy, shard=shard)
        m, local = self.shard.m, self.r.size
        if delta is None:
            if alpha is not None:
                raise ValueError("alpha is only used with delta (the metric of Proposition 4)")
            self.delta = np.empty(0)
            self.alpha = None
        else:
            if alpha is None or not alpha > 0:
                raise ValueError("the delta metric needs a positive alpha")
            delta = np.asarray(delta, dtype=np.float64)
            # writable and contiguous, the type the kernels take without delta: one compiled kernel for both
            self.delta = np.require(delta if delta.shape == (local,) else np.broadcast_to(delta, (local,)), requirements=["C", "W"])
            check_finite(delta=self.delta)
            self.alpha = float(alpha)
        q_per_r, m_over_alpha_sq = (self.alpha / m, (m / self.alpha) ** 2) if self.alpha else (0.0, 0.0)
        self._metric = pk.Metric(self.delta, q_per_r, m_over_alpha_sq, 1.0 / m)
        self._rk = _StageBuffers(TABLEAUS[method][1].size, local, self.samples.regions.n_arcs, self.samples.s)
        self._cache = pk.empty_cache(0)
        self.trig_cache = TRIG_CACHE_BYTES * local < available_memory() / 2 if trig_cache is None else trig_cache

    @classmethod
    def _options(cls, config, alpha):
        """delta and alpha with ``metric = "delta"``; the trigonometric cache."""
        solver = config["solver"]
        delta = solver["delta"] if solver["metric"] == "delta" else None
        return dict(delta=delta, alpha=alpha if delta is not None else None, trig_cache={"on": True, "off": False}.get(solver["trig_cache"]))

    @property
    def trig_cache(self) -> bool:
        """Whether each particle's cos, sin and arc are kept from one pass to the next (the
        ``trig_cache`` parameter); setting it allocates or frees them. The bits of the steps do
        not depend on it."""
        return self._cache.arc.size > 0

    @trig_cache.setter
    def trig_cache(self, keep: bool) -> None:
        local = self.r.size if keep else 0
        if local != self._cache.arc.size:
            self._cache = pk.empty_cache(local)

    def _state(self):
        """That of every canonical solver, with alpha (0 without the metric) and delta with it."""
        state = dict(super()._state(), alpha=self.alpha or 0.0)
        if self.delta.size:
            state["delta"] = self.delta
        return state

    @classmethod
    def _from_state(cls, samples, state, record_every, shard):
        if str(state["method"]) in SlidingSolver.METHODS:
            return SlidingSolver._from_state(samples, state, record_every, shard)
        alpha = float(state["alpha"]) or None
        solver = cls(samples, state["r"], state["theta"], dt=state["dt"], method=str(state["method"]), tv=state["tv"],
                     delta=state.get("delta") if alpha else None, alpha=alpha, record_every=record_every, shard=shard)
        solver._moments[:] = state["moments"]  # as the fused step left them: the same bits onward
        return solver

    def velocity(self, r=None, theta=None):
        """(dr/dt, dtheta/dt) at the current state (this rank's particles when sharded), or at a
        given one, in this solver's flow."""
        r, theta = (self.r, self.theta) if r is None else field.as_particles(r, theta)
        vr, vt = field.velocity(self.samples, r, theta, tv=self.tv)
        if self.delta.size:
            pk.apply_metric(r, self._metric, vr, vt)
        return vr, vt

    def _advance(self, h):
        a, b = TABLEAUS[self.method]
        rk = self._rk
        g = self._field()
        for s in range(b.size):
            final = s == b.size - 1
            stage = pk.Stage(s, h, a[s, s - 1] if s else 0.0, 0.0 if final else a[s + 1, s], b, rk.k_prev, rk.acc)
            pk.runge_kutta_stage(self.r, self.theta, self.samples.regions.lookup, g, self.tv, self._metric, stage, self._cache,
                                 self.shard.chunk, self._work)
            self.shard.reduce(self._work, self._moments if final else rk.moments)
            if not final:  # the field of the next stage point, into preallocated buffers
                fk.field_from_moments(rk.moments, self.samples.arcs, float(self.m), rk.rho, rk.g)
                g = rk.g
        if not self._cache.valid:
            self._cache = self._cache._replace(valid=True)
        return h


class _StageBuffers:
    """Scratch of a Runge-Kutta step, allocated once: the last stage velocity per particle (more
    than one stage), the running sum of b_l k_l (more than two stages), and the stage point's
    moments, residuals and field. Not part of the state: a step starts and ends without them."""

    def __init__(self, stages, m, n_arcs, s):
        self.k_prev = np.empty((2, m if stages > 1 else 0))
        self.acc = np.empty((2, m if stages > 2 else 0))
        self.moments = np.empty((n_arcs, 2))
        self.rho = np.empty(s)
        self.g = np.empty((n_arcs, 2))


class FullParticleSolver(Evolution):
    """Plain gradient descent on L(a, b, c), f(x) = (1/alpha) sum_i c_i [a_i x - b_i]_+.

    Parameters
    ----------
    samples : meanfield.Samples
    a, b, c : array_like (m,)
        Initial parameters (copied; float32 kept).
    alpha : float
        Normalisation alpha(m) (m: mean-field, sqrt(m): the paper's experiments, 1: PyTorch).
    lr : float
        Learning rate eta. The clock ``t`` counts gradient-flow time of L(a, b, c): t = eta * step.
    train : tuple of {"a", "b", "c"}
        Trained layers: ("c",) is the kernel regime of Section 3.3, ("a", "b") the adaptive extreme.
    weight_decay : float
        lambda_wd >= 0 of the penalty lambda_wd / 2 sum_i (a_i^2 + b_i^2 + c_i^2) added to L (on the
        trained layers' gradients). Its minimum equals that of the TV-regularised problem (eq. 16)
        with lambda = lambda_wd * alpha (:mod:`meanfield.convex`): ``tv`` is that lambda, and
        :meth:`energy` the penalised loss, so that :meth:`gap` bounds its distance to the optimum.

    shard : solvers.shard.Shard, optional
        This process's part of a run sharded over MPI ranks (a, b, c its neurons).

    Attributes
    ----------
    a, b, c : ndarray (this rank's part when sharded). t, step, history as for every solver.
    """

    PER_PARTICLE = ("a", "b", "c")

    def __init__(self, samples: Samples, a: ArrayLike, b: ArrayLike, c: ArrayLike, *, alpha: float, lr: float, train: Sequence[str] = LAYERS,
                 weight_decay: float = 0.0, record_every: int | None = 1, rng: int | np.random.Generator | None = None,
                 shard: Shard | None = None):
        super().__init__(samples, record_every=record_every, rng=rng)
        train = tuple(train)
        unknown = set(train) - set(LAYERS)
        if unknown or not train:
            raise ValueError(f"train must name layers among {LAYERS}, got {train}")
        if not (math.isfinite(alpha) and alpha > 0):
            raise ValueError(f"alpha must be positive and finite, got {alpha}")
        check_step("lr", lr)
        if not (math.isfinite(weight_decay) and weight_decay >= 0):
            raise ValueError(f"weight_decay must be finite and >= 0, got {weight_decay}")
        self.weight_decay = float(weight_decay)
        arrays = [np.asarray(v) for v in (a, b, c)]
        if len({v.shape for v in arrays}) != 1 or arrays[0].ndim != 1 or arrays[0].size == 0:
            raise ValueError(f"a, b, c must be non-empty 1-D arrays of one length, got shapes {[v.shape for v in arrays]}")
        check_finite(a=arrays[0], b=arrays[1], c=arrays[2])
        found = np.result_type(*arrays)
        dtype = found if found in (np.float32, np.float64) else np.dtype(np.float64)
        self.a, self.b, self.c = (np.array(v, dtype=dtype) for v in arrays)
        self.alpha = float(alpha)
        self.dt = float(lr)
        self.train = train
        self.shard = shard_of(shard, self.a.size)
        reg = self.samples.regions
        self._work = self.shard.workspace(reg.n_arcs)
        self._moments = np.empty((reg.n_arcs, 2))
        # the moments of the initial state: a step that trains no layer
        pk.gd_full(self.a, self.b, self.c, reg.lookup, np.zeros((reg.n_arcs, 2)), pk.Descent(0.0, 0.0, False, False, False), self.shard.chunk,
                   self._work)
        self.shard.reduce(self._work, self._moments)

    KIND = "full"
    REMEDY = "take a smaller solver.lr"

    @classmethod
    def from_config(cls, config, samples, comm=None):
        """A new solver at t = 0 as a configuration describes it (see
        :meth:`solvers.canonical.CanonicalParticles.from_config`): (a, b, c) drawn by PyTorch's rule,
        or canonical particles of the configured law given the invariant ``solver.delta``."""
        init_, solver = config["init"], config["solver"]
        m, seed = init_["m"], init_["seed"]
        alpha, shard = init.alpha_of(config), Shard(m, comm)
        if init_["law"] == "pytorch_default":
            a, b, c = init.by_blocks(init.pytorch_law(m, alpha), m, seed, shard.lo, shard.hi)
        else:
            r, theta = init.by_blocks(init.canonical_law(init_, np.dtype(init_["dtype"])), m, seed, shard.lo, shard.hi)
            a, b, c = init.given_delta(r, theta, solver["delta"], alpha=alpha)
        return cls(samples, a, b, c, alpha=alpha, lr=solver["lr"], train=tuple(solver["train"]), weight_decay=solver["weight_decay"],
                   record_every=None, rng=seed, shard=shard)

    @property
    def lr(self):
        return self.dt

    def _state(self):
        """a, b, c, the per-arc moments; alpha, lr, train (the trained layers as one string),
        weight_decay."""
        return dict(a=self.a, b=self.b, c=self.c, moments=self._moments, alpha=self.alpha, lr=self.dt, train="".join(self.train),
                    weight_decay=self.weight_decay)

    @classmethod
    def _from_state(cls, samples, state, record_every, shard):
        solver = cls(samples, state["a"], state["b"], state["c"], alpha=state["alpha"], lr=state["lr"], train=tuple(str(state["train"])),
                     weight_decay=float(state.get("weight_decay", 0.0)), record_every=record_every, shard=shard)
        solver._moments[:] = state["moments"]
        return solver

    @property
    def m(self):
        """Neurons in the run (on all ranks together when sharded)."""
        return self.shard.m

    @property
    def tv(self):
        """The lambda of eq. 16 with the same optimum: weight_decay * alpha."""
        return self.weight_decay * self.alpha

    @property
    def _norm(self):  # f = (1/alpha) sum_i c_i [a_i x - b_i]_+
        return self.alpha

    def energy(self, rho=None):
        """What gradient descent minimises: L + weight_decay / 2 sum_i (a_i^2 + b_i^2 + c_i^2)
        (O(m) with weight decay, collective when sharded)."""
        value = data_loss(self.residuals() if rho is None else rho)
        if not self.weight_decay:
            return value
        squares = sum(self.shard.mean_of(v, 2) for v in (self.a, self.b, self.c)) * self.m
        return value + 0.5 * self.weight_decay * squares

    def delta(self):
        """Invariants delta_i = c_i^2 - a_i^2 - b_i^2 (Lemma 3)."""
        return params.invariants(self.a.astype(np.float64), self.b.astype(np.float64), self.c.astype(np.float64))

    def canonical(self):
        """The same network as canonical particles (r, theta)."""
        return params.to_canonical(self.a, self.b, self.c, self.alpha)

    def _advance(self, h):
        descent = pk.Descent(h / self.alpha, h * self.weight_decay, "a" in self.train, "b" in self.train, "c" in self.train)
        pk.gd_full(self.a, self.b, self.c, self.samples.regions.lookup, self._field(), descent, self.shard.chunk, self._work)
        self.shard.reduce(self._work, self._moments)
        return h
