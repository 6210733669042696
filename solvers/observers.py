"""Observers of a run: what happens beside the steps, each on its own cadence.

A solver's :meth:`~solvers.evolution.Evolution.run` calls every observer after each step, in the
order given; an observer decides by its :class:`Cadence` whether it acts. Observers record the
history, show progress, guard against divergence, stop the run early and (in
:mod:`solvers.output`) write snapshots and checkpoints. Order matters where one observer relies on
another: the divergence guard comes before anything that writes the state.

Protocol (all optional, see :class:`Observer`): ``start(solver)`` before the first step,
``step(solver)`` after each step (return a reason string to stop the run), ``finish(solver, reason)``
when the run ends normally or is stopped, ``close()`` always, last.
"""
from __future__ import annotations

import math
import sys
import time
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from .history import History


class Cadence:
    """When an observer acts: every ``steps`` steps, every ``t`` units of the solver's clock, or
    every ``seconds`` of wall-clock time (exactly one of them; all None: never).

    Time cadences act on the first step that reaches a multiple of ``t`` (to 1e-9 relative), so
    a run resumed from any step acts at the same steps as an uninterrupted one. ``clock`` (seconds,
    default :func:`time.monotonic`) is what wall-clock cadences read: MPI ranks pass rank 0's.
    """

    def __init__(self, steps: int | None = None, t: float | None = None, seconds: float | None = None, clock: Callable[[], float] | None = None):
        given = [v for v in (steps, t, seconds) if v is not None]
        if len(given) > 1:
            raise ValueError("a cadence takes one of steps, t and seconds")
        if steps is not None and (int(steps) != steps or steps < 1):
            raise ValueError(f"a cadence in steps must be a positive integer, got {steps}")
        for name, value in (("t", t), ("seconds", seconds)):
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ValueError(f"a cadence in {name} must be positive and finite, got {value}")
        self.steps = None if steps is None else int(steps)
        self.t = None if t is None else float(t)
        self.seconds = None if seconds is None else float(seconds)
        self._clock = clock or time.monotonic
        self._next = None

    def _after(self, t):
        """The first multiple of the cadence past time t (t itself counts as reached to 1e-9)."""
        return (math.floor(t / self.t * (1 + 1e-9)) + 1) * self.t

    def start(self, solver):
        """Set the next due point from the solver's current clock."""
        if self.t is not None:
            self._next = self._after(solver.t)
        elif self.seconds is not None:
            self._next = self._clock() + self.seconds

    def due(self, solver):
        """True if the observer acts after the step just taken (and moves to the next point)."""
        if self.steps is not None:
            return solver.step % self.steps == 0
        if self.t is not None:
            if solver.t >= self._next * (1 - 1e-9):
                self._next = self._after(solver.t)
                return True
            return False
        if self.seconds is not None:
            now = self._clock()
            if now >= self._next:
                self._next = now + self.seconds
                return True
        return False

    def __repr__(self):
        for name in ("steps", "t", "seconds"):
            if getattr(self, name) is not None:
                return f"Cadence({name}={getattr(self, name):g})"
        return "Cadence(never)"


class Observer:
    """Base class: a cadence and four hooks that do nothing."""

    def __init__(self, cadence: Cadence | None = None):
        self.cadence = cadence or Cadence()

    def start(self, solver):
        self.cadence.start(solver)

    def step(self, solver):
        """Called after every step; returns a reason to stop the run, or None."""
        return None

    def finish(self, solver, reason):
        """Called once when the run ends without an exception; ``reason`` says why."""

    def close(self):
        """Called last, also when the run raised."""


class HistoryRecorder(Observer):
    """Records (t, step, rho, energy) into a :class:`solvers.History` on its cadence, at the start of a
    run whose history is empty, and at the end of a run that was not interrupted."""

    def __init__(self, history: History, cadence: Cadence):
        super().__init__(cadence)
        self.history = history

    def start(self, solver):
        super().start(solver)
        if not len(self.history):
            self.history.record_state(solver)

    def step(self, solver):
        if self.cadence.due(solver):
            self.history.record_state(solver)

    def finish(self, solver, reason):
        if reason != INTERRUPTED:
            self.history.record_state(solver)


class DivergenceGuard(Observer):
    """Stops a run whose state is no longer finite or whose data loss grew past ``factor`` times
    the largest of its value at the start and ``floor`` (raises :class:`DivergenceError`)."""

    def __init__(self, factor: float | None = None, floor: float = 1.0, cadence: Cadence | None = None):
        super().__init__(cadence or Cadence(steps=1))
        if factor is not None and not factor > 1:
            raise ValueError(f"the loss blow-up factor must be > 1, got {factor}")
        self.factor = factor
        self.floor = float(floor)

    def start(self, solver):
        super().start(solver)
        self.limit = None if self.factor is None else self.factor * max(self.floor, solver.loss())

    def step(self, solver):
        if not solver.finite():
            raise DivergenceError(f"the state is no longer finite at step {solver.step} (t = {solver.t:.6g}); reduce the step")
        if self.limit is not None and self.cadence.due(solver):
            loss = solver.loss()
            if not loss <= self.limit:
                raise DivergenceError(
                    f"the loss blew up to {loss:.4g} at step {solver.step} (t = {solver.t:.6g}), over {self.factor:g} times "
                    f"its start; reduce the step"
                )


class LossBelow(Observer):
    """Stops the run once the data loss 1/2 |rho|^2 is below ``value`` (checked on its cadence)."""

    def __init__(self, value: float, cadence: Cadence | None = None):
        super().__init__(cadence or Cadence(steps=1))
        self.value = float(value)

    def step(self, solver):
        if self.cadence.due(solver) and solver.loss() < self.value:
            return f"loss below {self.value:g}"


class _OnRecord(Observer):
    """An observer of the records of ``history`` as they come (their cadence is its cadence):
    :meth:`record` is called once per new record. Place it after the :class:`HistoryRecorder`."""

    def __init__(self, history: History):
        super().__init__()
        self.history = history

    def start(self, solver):
        self._seen = len(self.history)

    def step(self, solver):
        if len(self.history) > self._seen:
            self._seen = len(self.history)
            return self.record(solver)

    def record(self, solver):
        """Called after a new record; returns a reason to stop the run, or None."""


class GapBelow(_OnRecord):
    """Stops the run once the recorded gap (energy - dual value, a bound of the energy's distance to
    its global minimum; :meth:`solvers.evolution.Evolution.gap`) is below ``value``, read at each
    record of ``history``: place it after the :class:`HistoryRecorder`."""

    def __init__(self, history: History, value: float):
        super().__init__(history)
        self.value = float(value)

    def record(self, solver):
        if self.history.last("gap") < self.value:
            return f"gap below {self.value:g}"


class EnergyRise(_OnRecord):
    """Warns (once per run, a :class:`EnergyRiseWarning`) when the energy at a record of ``history``
    exceeds the one before by more than rounding and the scheme's slack for the non-smooth TV term
    (the solver's ``_rise_slack()``: 2 tv^2 dt for particles, tv dr for the histogram): the explicit
    step overshoots, and the energy, which the exact flow never raises, goes up. ``remedy`` says
    what to change. Place it after the :class:`HistoryRecorder`."""

    RELATIVE = 1e-12  # rises up to this share of the energy are rounding

    def __init__(self, history: History, remedy: str):
        super().__init__(history)
        self.remedy = remedy
        self.warned = False

    def record(self, solver):
        h = self.history
        if len(h) < 2 or self.warned:
            return
        before, after = h.last("energy", 2), h.last("energy")
        if after - before > self.RELATIVE * abs(before) + solver._rise_slack():
            self.warned = True
            warnings.warn(
                f"the energy rose from {before:.8g} to {after:.8g} between steps {h.last('step', 2)} and {h.last('step')} "
                f"(t = {h.last('t'):.6g}): the step overshoots; {self.remedy}",
                EnergyRiseWarning, stacklevel=3,
            )


class EnergyRiseWarning(RuntimeWarning):
    """The energy of an explicit scheme rose between two history records."""


class ProgressBar(Observer):
    """Progress to ``t_end`` (or over ``steps``) with t, loss and steps per second.

    A tqdm bar when ``stream`` is a terminal; otherwise a plain line every ``seconds`` of wall
    clock (log files stay readable). Totals are printed with 6 significant digits.
    """

    def __init__(self, t_end: float | None = None, steps: int | None = None, stream: TextIO | None = None, seconds: float = 10.0):
        super().__init__(Cadence(seconds=seconds))
        self.t_end, self.steps = t_end, steps
        self.stream = stream or sys.stderr

    def start(self, solver):
        super().start(solver)
        self._t0, self._step0, self._clock = solver.t, solver.step, time.monotonic()
        self._bar = None
        if _isatty(self.stream):
            from tqdm.auto import tqdm

            total = self.steps if self.steps is not None else self.t_end - solver.t
            fmt = "{l_bar}{bar}| {n:.6g}/{total:.6g} [{elapsed}<{remaining}{postfix}]"
            self._bar = tqdm(total=total, unit="step" if self.steps is not None else "t", file=self.stream, bar_format=fmt, dynamic_ncols=True)
            self._shown = 0.0
            self._next_postfix = 0.0

    def _done(self, solver):
        return solver.step - self._step0 if self.steps is not None else solver.t - self._t0

    def _rate(self, solver):
        elapsed = time.monotonic() - self._clock
        return (solver.step - self._step0) / elapsed if elapsed > 0 else 0.0

    def step(self, solver):
        if self._bar is not None:
            self._draw(solver, time.monotonic() >= self._next_postfix)
        elif self.cadence.due(solver):
            self._line(solver)

    def _draw(self, solver, postfix):
        done = self._done(solver)
        self._bar.update(done - self._shown)
        self._shown = done
        if postfix:  # the loss costs O(s): refresh it a few times a second
            self._bar.set_postfix_str(f"t={solver.t:.6g} {_figures(solver, 4)} {self._rate(solver):.0f} steps/s", refresh=False)
            self._next_postfix = time.monotonic() + 0.25

    def _line(self, solver):
        goal = f"t = {solver.t:.6g}/{self.t_end:.6g}" if self.steps is None else f"step {solver.step - self._step0}/{self.steps}"
        print(f"{goal}, step {solver.step}, {_figures(solver, 6)}, {self._rate(solver):.0f} steps/s", file=self.stream, flush=True)

    def finish(self, solver, reason):
        if self._bar is None:
            self._line(solver)
        else:
            self._draw(solver, True)

    def close(self):
        if self._bar is not None:
            self._bar.close()


INTERRUPTED = "interrupted"


class Interrupt(Observer):
    """Stops the run at the next step once :meth:`request` was called (from a signal handler).

    ``agree`` (MPI ranks: the largest value over the ranks) makes every rank stop at the same step
    when a signal reached any of them. The handler writes only ``received`` and the step writes
    only ``signal``: Python runs a handler between any two bytecodes, for example just as the
    collective returns, and a request stored into the field the step overwrites would be lost.
    """

    def __init__(self, agree=None):
        super().__init__()
        self.received = None
        self.signal = None
        self._agree = agree

    def request(self, signum):
        self.received = signum

    def step(self, solver):
        offered = self.received or 0
        self.signal = (self._agree(offered) if self._agree is not None else offered) or None
        if self.signal is not None:
            return INTERRUPTED


class DivergenceError(FloatingPointError):
    """The run stopped being sound; the message names the step and time and suggests a remedy."""


def _figures(solver, digits):
    """The data loss now and, with a regulariser, the energy and gap at the last history record (the
    energy is an O(m) collective sum for particles: a progress bar on rank 0 cannot take it)."""
    text = f"loss={solver.loss():.{digits}g}"
    if solver.tv and len(solver.history):
        h = solver.history
        text += f" energy={h.last('energy'):.{digits}g} gap={h.last('gap'):.3g} (last record)"
    return text


def _isatty(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
