"""What every time-evolution solver shares: the clock, the run loop with its observers, the
residuals of the current state, and the state as named arrays and scalars."""
from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from meanfield import attractors, convex, field
from meanfield.field import data_loss, energy_of
from meanfield.samples import Samples, as_samples

from .history import History

if TYPE_CHECKING:
    from .shard import Shard
from .observers import Cadence, DivergenceError, DivergenceGuard, EnergyRise, HistoryRecorder, Observer, ProgressBar

__all__ = ["Evolution", "DivergenceError", "check_finite", "check_step", "data_loss", "energy_of"]


class Evolution:
    """Base of the solvers: owns samples, clock (``t``, ``step``), history and the run loop.

    A subclass implements ``_advance(h)`` (take one step of at most h, return the step taken),
    ``_moments`` / ``_norm`` (per-arc moments of the current state and the normalisation m or
    alpha, from which the residuals are O(s)), ``_state()`` and the classmethod
    ``_from_state(samples, state, record_every, shard)`` (its own named arrays and scalars, see
    :meth:`state`), ``KIND`` (the name of the solver in files) and ``PER_PARTICLE`` (the state's
    arrays that hold one value per particle: what MPI ranks share out, :mod:`solvers.shard`), and
    declares ``METHODS`` (its ``solver.method`` values), ``METRICS`` and ``SERIAL`` (one process).
    """

    KIND: str | None = None
    METHODS: tuple[str, ...] = ()
    METRICS: tuple[str, ...] = ("canonical",)
    SERIAL = False
    PER_PARTICLE: tuple[str, ...] = ()
    REMEDY = "take a smaller step"  # what the energy-rise warning suggests
    shard: Shard | None = None
    tv = 0.0
    dt: float
    _moments: Any  # what a subclass provides: an array, or a property giving one
    _norm: Any

    def _advance(self, h: float) -> float:
        raise NotImplementedError

    def _state(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def _from_state(cls, samples: Samples, state: dict[str, Any], record_every: int | None, shard: Shard | None) -> Evolution:
        raise NotImplementedError

    def __init__(self, samples, *, record_every=1, rng=None):
        if record_every is not None and (int(record_every) != record_every or int(record_every) < 1):
            raise ValueError(f"record_every must be a positive number of steps or None, got {record_every}")
        self.samples = as_samples(samples)
        self.t = 0.0
        self.step = 0
        self.record_every = None if record_every is None else int(record_every)
        self.rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        self.history = History(self.samples)

    def residuals(self) -> np.ndarray:
        """Residuals rho_j = f(x_j) - y_j of the current state, shape (s,) (O(s))."""
        return field.residuals_from_moments(self.samples, self._moments, self._norm)

    def loss(self) -> float:
        """The data loss L = 1/2 |rho|^2 of the current state (O(s))."""
        return data_loss(self.residuals())

    def energy(self, rho: np.ndarray | None = None) -> float:
        """What the flow minimises: L + tv * integral |r| dmu (eq. 16; L without the TV
        regulariser). ``rho``: the current residuals, when the caller has them. With tv > 0 a
        particle solver sums |r| over its particles (O(m), collective when sharded)."""
        return energy_of(self.residuals() if rho is None else rho, self.tv, self._abs_r_integral() if self.tv else 0.0)

    def gap(self, rho: np.ndarray | None = None, energy: float | None = None) -> float:
        """energy - D(p): an upper bound of how far :meth:`energy` is above the global minimum of
        the regularised problem (eq. 16 with lambda = ``tv``), from the dual point of the residuals
        (:func:`meanfield.convex.dual_value`, O(s)). ``rho``, ``energy``: the current ones, when
        the caller has them (the energy of a particle solver with tv > 0 costs O(m))."""
        rho = self.residuals() if rho is None else rho
        energy = self.energy(rho) if energy is None else energy
        return energy - convex.dual_value(self.samples, rho, self.tv)

    def _rise_slack(self):
        """How much a step may raise the energy without overshooting: an explicit scheme of the
        non-smooth tv |r| moves a particle near r = 0 across it and back (0 for smooth energies)."""
        return 0.0

    def _abs_r_integral(self):
        """integral |r| dmu of the current state (solvers with a TV regulariser)."""
        raise NotImplementedError

    def finite(self):
        """False once the state (seen through its per-arc moments) is no longer finite."""
        return bool(np.all(np.isfinite(self._moments)))

    def _field(self):
        """Per-arc field vectors g_k of the current residuals."""
        return field.arc_fields(self.samples, self.residuals())

    def _step_size(self):
        """The step the solver takes when nothing bounds it (a fixed dt, or its stability limit)."""
        return self.dt

    # -- what figures and reports read: the same for every solver and for a snapshot -----------
    def canonical(self) -> tuple[np.ndarray, np.ndarray]:
        """The particles as canonical (r, theta) arrays, shape (m,) each (particle solvers)."""
        raise NotImplementedError

    def atoms(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The state as a weighted measure: ``(r, theta, weight)``, arrays of one length, with
        mu = sum_i weight_i delta_(r_i, theta_i) (weights sum to 1 up to mass lost at the grid's
        edge); particles have weight 1/m each (a broadcast view, not a copy)."""
        r, theta = self.canonical()
        return r, theta, np.broadcast_to(1.0 / r.size, r.shape)

    def ray_mass(self, eps: float = 1e-3) -> np.ndarray:
        """Mass on each boundary ray by sign of r, shape (2s, 2): row k is the ray where arc k
        starts (the angle ``samples.regions.angles[k]``; duplicated inputs give equal rows),
        column 0 r > 0, column 1 r < 0. Particles count the share within ``eps`` radians of the
        ray; the sliding methods and the histogram, which hold mass on the ray itself, give that
        mass (``eps`` is then not used)."""
        r, theta = self.canonical()
        return attractors.ray_mass(self.samples, r, theta, eps)

    def network(self, x: ArrayLike) -> np.ndarray:
        """f(x) of the current state at the points ``x`` (any shape of floats, O(m + n))."""
        r, theta = self.canonical()
        return field.network(x, r, theta)

    # -- state -------------------------------------------------------------------------------
    def state(self) -> dict[str, Any] | None:
        """The whole state as a dict of named numpy arrays and scalars (str, int, float, bool).

        ``kind`` names the solver, ``t`` and ``step`` the clock, ``rng`` the generator's state (as
        JSON text); the rest is the solver's own (see its ``_state``). :meth:`from_state` rebuilds
        a solver that continues with the same bits. Arrays are the solver's own (not copies).
        A sharded solver gathers the run's whole state on rank 0 (collective) and returns None on
        the other ranks; :meth:`local_state` gives each rank its part without gathering.
        """
        state = self.local_state()
        if self.shard is not None and self.shard.sharded:
            gathered = {name: self.shard.gather(state[name]) for name in self.PER_PARTICLE if name in state}
            if not self.shard.root:
                return None
            state.update(gathered)
        return state

    def local_state(self) -> dict[str, Any]:
        """:meth:`state` as this process holds it: in a sharded run the arrays named in
        ``PER_PARTICLE`` hold its particles [shard.lo, shard.hi) only (serially, the whole state)."""
        state = dict(kind=self.KIND, t=float(self.t), step=int(self.step), rng=json.dumps(self.rng.bit_generator.state))
        state.update(self._state())
        return state

    @classmethod
    def from_state(cls, samples: Samples, state: dict[str, Any], *, record_every: int | None = None, shard: Shard | None = None,
                   local: bool = False) -> Evolution:
        """A solver rebuilt from :meth:`state` (arrays are copied). Its history starts empty.

        With a sharded ``shard`` every rank calls it: rank 0 passes the run's whole state (the
        others None) and each rank keeps its part of the per-particle arrays; with ``local`` each
        rank passes its own part, as :meth:`local_state` gives it.
        """
        if shard is not None and shard.sharded and not local:
            state = shard.distribute(state, cls.PER_PARTICLE)
        if state.get("kind") != cls.KIND:
            raise ValueError(f"this state is of a {state.get('kind')!r} solver, not {cls.KIND!r}")
        solver = cls._from_state(samples, state, record_every, shard)
        solver.t = float(state["t"])
        solver.step = int(state["step"])
        rng_state = json.loads(state["rng"])
        solver.rng = np.random.Generator(getattr(np.random, rng_state["bit_generator"])())
        solver.rng.bit_generator.state = rng_state
        return solver

    # -- the run loop ------------------------------------------------------------------------
    def run(self, t_end: float | None = None, steps: int | None = None, progress: bool = False, observers: Sequence[Observer] = ()) -> Evolution:
        """Advance to time ``t_end`` or by ``steps`` steps (at least one of them; with both, the
        first reached), calling the observers after each step.

        With ``t_end`` the last step is shortened to land on it. The solver's own history is
        recorded every ``record_every`` steps, at the start of an empty history and at the end
        (not at all with ``record_every=None``: give a HistoryRecorder of another cadence); an
        energy that rises between two records is an :class:`solvers.observers.EnergyRiseWarning`.
        ``progress=True`` shows a progress bar. An observer may stop the run early; the reason
        is kept in ``stop_reason`` ("t_end", "steps" or the observer's).
        Raises DivergenceError when the state stops being finite (or a guard says so).
        """
        _check_run(t_end, steps, self.t)
        end_step = None if steps is None else self.step + int(steps)
        chain = _chain(self, t_end, steps, progress, observers)
        reason = None
        try:
            for obs in chain:
                obs.start(self)
            while reason is None:
                if end_step is not None and self.step >= end_step:
                    reason = "steps"
                    break
                h, remaining = self._step_size(), math.inf
                if t_end is not None:
                    remaining = t_end - self.t
                    if remaining <= 1e-12 * max(1.0, abs(t_end)):
                        self.t = float(t_end)  # a solver made a hair short of t_end
                        reason = "t_end"
                        break
                    h = min(h, remaining)
                if not math.isfinite(h):
                    raise ValueError("the step is unbounded (the field vanishes); give a t_end")
                taken = self._advance(h)
                self.t = self.t + taken if t_end is None or taken != remaining else float(t_end)
                if t_end is not None and t_end - self.t <= 1e-12 * max(1.0, abs(t_end)):
                    self.t = float(t_end)  # the sum of steps rounded short of t_end: the observers see t_end
                self.step += 1
                for obs in chain:
                    reason = obs.step(self) or reason
            self.stop_reason = reason
            for obs in chain:
                obs.finish(self, reason)
        finally:
            for obs in chain:
                obs.close()
        return self


def _check_run(t_end, steps, t):
    """ValueError (one line) unless (t_end, steps) is a valid end of a run from time t."""
    if t_end is None and steps is None:
        raise ValueError("give t_end or steps (or both)")
    if steps is not None and (int(steps) != steps or steps < 0):
        raise ValueError(f"steps must be a non-negative integer, got {steps}")
    if t_end is not None:
        if not math.isfinite(t_end):
            raise ValueError(f"t_end must be finite, got {t_end}")
        if t_end < t:
            raise ValueError(f"t_end = {t_end:g} is before the solver's time t = {t:g}")


def _chain(solver, t_end, steps, progress, observers):
    """The observers of a run, in the order they see each step: the divergence guard, the
    solver's own history and energy-rise check (every ``record_every`` steps), the progress bar,
    then the caller's."""
    chain: list[Observer] = [DivergenceGuard()]
    if solver.record_every is not None:
        chain.append(HistoryRecorder(solver.history, Cadence(steps=solver.record_every)))
        chain.append(EnergyRise(solver.history, solver.REMEDY))
    if progress:
        chain.append(ProgressBar(t_end=t_end, steps=steps if t_end is None else None))
    return chain + list(observers)


def check_capabilities(cls: type[Evolution], *, ranks: int = 1, metric: str = "canonical", method: str | None = None) -> None:
    """ValueError (one line) when solver class ``cls`` cannot run ``method`` with ``metric`` on
    ``ranks`` processes: the one place the classes' declared capabilities are checked."""
    what = f"solver.method = {method!r}" if method else f"the {cls.KIND} solver"
    if ranks > 1 and cls.SERIAL:
        raise ValueError(f"{what} runs on one process; run it without mpiexec (or shard a particle solver)")
    if metric not in cls.METRICS:
        raise ValueError(f"{what} runs the {' or '.join(cls.METRICS)} flow, not {metric!r}: set solver.metric = {cls.METRICS[0]!r}")


def check_step(name, value):
    """A clear error unless ``value`` is a positive finite time step."""
    if not (isinstance(value, (int, float, np.floating, np.integer)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite time step, got {value}")


def check_finite(**arrays):
    """A clear error naming the first array (keyword name) that holds NaN or inf."""
    for name, values in arrays.items():
        bad = ~np.isfinite(values)
        if bad.any():
            raise ValueError(f"{name} has {int(bad.sum())} non-finite value(s) (NaN or inf), first at index {int(np.argmax(bad))}")
