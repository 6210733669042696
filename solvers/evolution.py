"""What every time-evolution solver shares: the clock, the run loop, the history, divergence."""
import math

import numpy as np

from meanfield import field

from .history import History


class DivergenceError(FloatingPointError):
    """The state stopped being finite; the message names the step and time."""


class Evolution:
    """Base of the solvers: owns samples, clock (``t``, ``step``), history and the run loop.

    A subclass implements ``_advance(h)`` (take one step of at most h, return the step taken) and
    ``_moments`` / ``_norm`` (per-arc moments of the current state and the normalisation m or
    alpha, from which the residuals are O(s)).
    """

    def __init__(self, samples, *, record_every=1, rng=None):
        if int(record_every) < 1:
            raise ValueError(f"record_every must be a positive number of steps, got {record_every}")
        self.samples = samples
        self.t = 0.0
        self.step = 0
        self.record_every = int(record_every)
        self.rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        self.history = History(samples.s)

    def residuals(self):
        """Residuals rho_j = f(x_j) - y_j of the current state, shape (s,) (O(s))."""
        return field.residuals_from_moments(self.samples, self._moments, self._norm)

    def loss(self):
        """L = 1/2 |rho|^2 of the current state."""
        rho = self.residuals()
        return 0.5 * float(rho @ rho)

    def _field(self):
        """Per-arc field vectors g_k of the current residuals."""
        return field.arc_fields(self.samples, self.residuals())

    def _record(self):
        self.history.record(self.t, self.step, self.residuals())

    def run(self, t_end=None, steps=None, progress=False):
        """Advance to time ``t_end`` or by ``steps`` steps (exactly one of them).

        With ``t_end``, the last step is shortened to land on t_end. ``progress=True`` shows a
        progress bar. Records the history every ``record_every`` steps and at the end.
        Raises DivergenceError when the state stops being finite.
        """
        if (t_end is None) == (steps is None):
            raise ValueError("give exactly one of t_end and steps")
        if steps is not None and int(steps) < 0:
            raise ValueError(f"steps must be >= 0, got {steps}")
        if t_end is not None and not math.isfinite(t_end):
            raise ValueError(f"t_end must be finite, got {t_end}")
        if not len(self.history):
            self._record()
        bar = _progress(progress, steps if steps is not None else t_end - self.t)
        taken = 0
        while True:
            if steps is not None:
                if taken >= steps:
                    break
                h = self.dt
            else:
                remaining = t_end - self.t
                if remaining <= 1e-12 * max(1.0, abs(t_end)):
                    break
                h = min(self.dt, remaining)
            h = self._advance(h)
            self.t += h
            self.step += 1
            taken += 1
            if not np.all(np.isfinite(self._moments)):
                raise DivergenceError(f"the state is no longer finite at step {self.step} (t = {self.t:.6g}); reduce the step")
            if self.step % self.record_every == 0:
                self._record()
            if bar is not None:
                bar.update(1 if steps is not None else h)
        if bar is not None:
            bar.close()
        self._record()
        return self


def _progress(enabled, total):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="step" if isinstance(total, int) else "t")
