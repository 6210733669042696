"""Particle integrators: the canonical flow (optionally under the metric of Proposition 4) and
plain gradient descent on the full parameters (a, b, c)."""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from meanfield import field, params
from meanfield.kernels import field as fk
from meanfield.samples import Samples

from .evolution import Evolution, check_finite, check_step, data_loss, energy_of
from .kernels import particles as pk
from .kernels import sliding as sk
from .memory import available_memory
from .shard import Shard

METHODS = ("euler", "heun", "rk4", "sliding", "sliding-heun")
SLIDING = ("sliding", "sliding-heun")
MAX_TURN = 0.05  # radians: the largest angular move of a free particle in one sliding step
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


class ParticleSolver(Evolution):
    """Canonical particles w_i = (r_i, theta_i) under dw/dt = -grad V(w; mu_t) (eq. 12).

    Parameters
    ----------
    samples : meanfield.Samples
    r, theta : array_like (m,)
        Initial particles (copied). float32 input keeps a float32 state; angles are kept in [0, 2 pi).
    dt : float
        Time step on the mean-field clock. Gradient descent on L with step eta is ``euler`` with
        dt = eta / m.
    method : {"euler", "heun", "rk4", "sliding", "sliding-heun"}
        Explicit Runge-Kutta scheme of order 1, 2, 4: 1, 2 or 4 fused passes over the particles
        per step, each as costly as an Euler pass. Heun keeps 2 and RK4 4 float64 numbers per
        particle between passes (stage velocity and running sum), allocated once.

        "sliding": Euler steps in which a particle that reaches a ray attracting it stops on the
        ray and then moves in r alone (the Filippov solution), leaving when the ray stops
        attracting it (:mod:`solvers.kernels.sliding`). The step is adaptive, and ``dt`` is its
        largest value: each step is at most twice the last, turns no free particle by more than
        ``MAX_TURN`` radians, and is halved and redone until the loss does not rise, so the loss
        is non-increasing step by step. ``ray`` (-1 or the arc whose starting ray a particle
        sits on) and the next step are part of the state; ``step_sizes`` lists the steps taken
        and ``rejected`` counts the halvings. The canonical metric only (no ``delta``), one
        process (no ``shard``).

        "sliding-heun": the same with Heun's corrector (two passes per step): second order for
        the particles that stay free or stay on one ray through a step, first order for those
        that land on a ray or leave one within it.
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
        False lets the solver own the given arrays (when they are contiguous float32/float64 of one
        dtype) instead of copying them: at m = 1e8 a copy is 1.6 GB. theta is wrapped in place.
    shard : solvers.shard.Shard, optional
        This process's part of a run sharded over MPI ranks: r, theta (and delta) are then the
        particles [shard.lo, shard.hi) of the run's shard.m, and every step is collective.
    trig_cache : bool, optional
        Keep each particle's cos, sin (float64) and arc (int32) from one pass to the next: the
        moments pass of a stage computes them for the point it moves to, and the next pass
        reads them for its velocities instead of computing them again, so a step of S stages
        makes S sin/cos passes and S arc searches instead of 2S. 20 more bytes per particle
        (36 in all for a float64 state, 28 for float32); the same bits either way. None
        (default): keep them when they take under half the memory available. Not used by the
        sliding methods.

    Attributes
    ----------
    r, theta : ndarray — the particles (this rank's part when sharded); change them only
    through steps: the per-arc moments and the cache describe them. t : float — time.
    step : int — steps taken. history : solvers.History. trig_cache : bool — whether the cache
    is kept.
    """

    PER_PARTICLE = ("r", "theta", "delta", "ray")

    def __init__(self, samples: Samples, r: ArrayLike, theta: ArrayLike, *, dt: float, method: str = "euler", tv: float = 0.0,
                 delta: ArrayLike | None = None, alpha: float | None = None, record_every: int | None = 1,
                 rng: int | np.random.Generator | None = None, copy: bool = True, shard: Shard | None = None,
                 trig_cache: bool | None = None):
        super().__init__(samples, record_every=record_every, rng=rng)
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        check_step("dt", dt)
        if not (math.isfinite(tv) and tv >= 0):
            raise ValueError(f"tv must be finite and >= 0, got {tv}")
        r, theta = field.as_particles(r, theta)
        check_finite(r=r, theta=theta)
        self.r = r.copy() if copy else r
        self.theta = theta.copy() if copy else theta
        np.mod(self.theta, 2 * np.pi, out=self.theta)
        self.theta[self.theta >= 2 * np.pi] = 0.0  # float32 rounding
        self.dt = float(dt)
        self.method = method
        self.tv = float(tv)
        self.shard = _shard_of(shard, self.r.size)
        m, local = self.shard.m, self.r.size
        if delta is None:
            if alpha is not None:
                raise ValueError("alpha is only used with delta (the metric of Proposition 4)")
            self.delta = np.empty(0)
            self.alpha = None
        else:
            if alpha is None or not alpha > 0:
                raise ValueError("the delta metric needs a positive alpha")
            self.delta = np.ascontiguousarray(np.broadcast_to(np.asarray(delta, dtype=np.float64), (local,)))
            check_finite(delta=self.delta)
            self.alpha = float(alpha)
        q_per_r, m_over_alpha_sq = (self.alpha / m, (m / self.alpha) ** 2) if self.alpha else (0.0, 0.0)
        self._metric = pk.Metric(self.delta, q_per_r, m_over_alpha_sq, 1.0 / m)
        reg = self.samples.regions
        self._work = self.shard.workspace(reg.n_arcs)
        self._moments = np.empty((reg.n_arcs, 2))
        fk.arc_moments(self.r, self.theta, reg.lookup, self.shard.chunk, self._work)
        self.shard.reduce(self._work, self._moments)
        if method in SLIDING:
            if self.delta.size or self.shard.sharded:
                raise ValueError(f"method {method!r} runs the canonical flow on one process: no delta metric, no shard")
            self.ray = np.full(local, -1, dtype=np.int32)  # arc indices: 2s < 2^31
            self._out = (np.empty_like(self.r), np.empty_like(self.theta), np.empty_like(self.ray))
            self._pred = (np.empty_like(self.r), np.empty_like(self.theta), np.empty_like(self.ray)) if method == "sliding-heun" else None
            self._rho_pred, self._g_pred = np.empty(samples.s), np.empty((reg.n_arcs, 2))  # the predictor's residuals and field
            self._rays = ray_neighbours(reg)
            self._park = park_offset(self.theta.dtype)
            self._try = np.empty_like(self._moments)
            self._fastest, self._abs_r = np.empty(self.shard.chunks), np.empty(self.shard.chunks)
            self._loss_now = self.energy()
            speed = np.abs(self.velocity()[1]).max()
            self._h_next = min(self.dt, MAX_TURN / float(speed)) if speed > 0 else self.dt
            self.step_sizes: list[float] = []
            self.rejected = 0
        else:
            self._rk = _StageBuffers(TABLEAUS[method][1].size, local, reg.n_arcs, samples.s)
        self._cache = pk.empty_cache(0)
        self.trig_cache = TRIG_CACHE_BYTES * local < available_memory() / 2 if trig_cache is None else trig_cache

    KIND = "particles"
    REMEDY = 'set solver.method = "sliding" (its steps never raise the energy) or a smaller solver.dt'

    @property
    def m(self):
        """Particles in the run (on all ranks together when sharded)."""
        return self.shard.m

    @property
    def trig_cache(self) -> bool:
        """Whether each particle's cos, sin and arc are kept from one pass to the next (the
        ``trig_cache`` parameter); setting it allocates or frees them (never for the sliding
        methods, which keep none). The bits of the steps do not depend on it."""
        return self._cache.arc.size > 0

    @trig_cache.setter
    def trig_cache(self, keep: bool) -> None:
        local = self.r.size if keep and self.method not in SLIDING else 0
        if local != self._cache.arc.size:
            self._cache = pk.empty_cache(local)

    @property
    def _norm(self):
        return self.m

    def _state(self):
        """r, theta (and delta with the metric), the per-arc moments; dt, method, tv, alpha
        (0 without the metric)."""
        state = dict(r=self.r, theta=self.theta, moments=self._moments, dt=self.dt, method=self.method, tv=self.tv, alpha=self.alpha or 0.0)
        if self.delta.size:
            state["delta"] = self.delta
        if self.method in SLIDING:
            state.update(ray=self.ray, h_next=self._h_next, loss_now=self._loss_now)
        return state

    @classmethod
    def _from_state(cls, samples, state, record_every, shard):
        alpha = float(state["alpha"]) or None
        solver = cls(samples, state["r"], state["theta"], dt=state["dt"], method=str(state["method"]), tv=state["tv"],
                     delta=state.get("delta") if alpha else None, alpha=alpha, record_every=record_every, shard=shard)
        solver._moments[:] = state["moments"]  # as the fused step left them: the same bits onward
        if solver.method in SLIDING:
            solver.ray[:] = state["ray"]
            solver._h_next, solver._loss_now = float(state["h_next"]), float(state["loss_now"])
        return solver

    def _abs_r_integral(self):
        return self.shard.mean_abs(self.r)

    def _rise_slack(self):
        """2 tv^2 dt: a particle with |<g, d>| < tv steps across r = 0 and back at a speed below
        2 tv, holding |r| <= 2 tv dt, so such particles add at most 2 tv^2 dt to the energy."""
        return 2.0 * self.tv * self.tv * self.dt

    def velocity(self, r=None, theta=None):
        """(dr/dt, dtheta/dt) at the current state (this rank's particles when sharded), or at a
        given one, in this solver's flow. For the sliding methods this is the field itself: a
        particle on a ray gets the velocity of the arc that starts there, not its sliding motion."""
        r, theta = (self.r, self.theta) if r is None else field.as_particles(r, theta)
        vr, vt = field.velocity(self.samples, r, theta, tv=self.tv)
        if self.delta.size:
            pk.apply_metric(r, self._metric, vr, vt)
        return vr, vt

    def _advance(self, h):
        if self.method in SLIDING:
            return self._slide(h)
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

    def _slide(self, h):
        """One accepted sliding step of at most h (the class docstring); returns its size."""
        g = self._field()
        step = min(h, self._h_next)
        out = self._out
        lookup, chunk = self.samples.regions.lookup, self.shard.chunk
        while True:
            first = out if self._pred is None else self._pred
            sk.sliding_euler(self.r, self.theta, self.ray, first, lookup, self._rays, g, self.tv, step, self._park, chunk, self._work,
                             self._fastest, self._abs_r)
            self.shard.reduce(self._work, self._try)
            speed = float(self._fastest.max())
            if self._pred is not None:
                fk.field_from_moments(self._try, self.samples.arcs, float(self.m), self._rho_pred, self._g_pred)
                sk.sliding_heun(self.r, self.theta, self.ray, self._pred, out, lookup, self._rays, g, self._g_pred, self.tv, step, self._park, chunk,
                                self._work, self._fastest, self._abs_r)
                self.shard.reduce(self._work, self._try)
                speed = max(speed, float(self._fastest.max()))
            rho = field.residuals_from_moments(self.samples, self._try, self.m)
            loss = energy_of(rho, self.tv, self.shard.mean_from_sums(self._abs_r))
            if loss <= self._loss_now:  # a step small enough changes nothing and is accepted
                break
            step *= 0.5
            self.rejected += 1
        self._out = (self.r, self.theta, self.ray)
        self.r, self.theta, self.ray = out
        self._moments, self._try = self._try, self._moments
        self._loss_now = loss
        self._h_next = min(self.dt, 2.0 * step, MAX_TURN / speed if speed > 0 else math.inf)
        self.step_sizes.append(step)
        return step

    def canonical(self):
        """(r, theta): the particles themselves (this rank's part when sharded)."""
        return self.r, self.theta

    def ray_mass(self, eps=1e-3):
        """Mass on each boundary ray by sign of r, (2s, 2) (see
        :meth:`solvers.evolution.Evolution.ray_mass`): for the sliding methods the share of the
        particles sliding on it (row k: the ray at the start of arc k), otherwise the share within
        ``eps`` radians of it."""
        if self.method not in SLIDING:
            return super().ray_mass(eps)
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
        self.shard = _shard_of(shard, self.a.size)
        reg = self.samples.regions
        self._work = self.shard.workspace(reg.n_arcs)
        self._moments = np.empty((reg.n_arcs, 2))
        # the moments of the initial state: a step that trains no layer
        pk.gd_full(self.a, self.b, self.c, reg.lookup, np.zeros((reg.n_arcs, 2)), pk.Descent(0.0, 0.0, False, False, False), self.shard.chunk,
                   self._work)
        self.shard.reduce(self._work, self._moments)

    KIND = "full"
    REMEDY = "take a smaller solver.lr"

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
    def _norm(self):
        return self.alpha

    @property
    def tv(self):
        """The lambda of eq. 16 with the same optimum: weight_decay * alpha."""
        return self.weight_decay * self.alpha

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


def _shard_of(shard, local):
    """The given shard, checked against the local particle count, or the serial one."""
    if shard is None:
        return Shard(local)
    if shard.local_m != local:
        raise ValueError(f"this rank holds particles [{shard.lo}, {shard.hi}) of the run, {shard.local_m} of them, but was given {local}")
    return shard

