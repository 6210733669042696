"""The record of a run: (t, step, rho, energy, gap) at a chosen cadence, the same for every solver."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from meanfield.field import data_loss
from meanfield.samples import Samples

if TYPE_CHECKING:
    import xarray


class History:
    """Residual history of a run, kept as growing arrays.

    Parameters
    ----------
    samples : meanfield.Samples
        The samples the residuals are taken at (their x and y label :meth:`to_xarray`).

    Attributes
    ----------
    t : ndarray of float64, shape (T,)
        Time on the solver's clock (mean-field time, or gradient-flow time of L(a, b, c) for
        full parameters and the delta metric).
    step : ndarray of int64, shape (T,)
        Number of steps taken.
    rho : ndarray of float64, shape (T, s)
        Residuals rho_j = f(x_j) - y_j.
    loss : ndarray of float64, shape (T,)
        Data loss L = 1/2 |rho|^2.
    energy : ndarray of float64, shape (T,)
        What the flow minimises: L + tv * integral |r| dmu (equal to ``loss`` without the TV
        regulariser). NaN where a run file written before the energy was recorded cannot
        tell it.
    gap : ndarray of float64, shape (T,)
        energy - D, with D the dual value of the residuals (:func:`meanfield.convex.dual_value`):
        an upper bound of how far the energy is above its global minimum F* (with no regulariser
        D = 0 and the gap is the loss). NaN where the energy is unknown.
    """

    def __init__(self, samples: Samples):
        self.samples = samples
        self._t: list[float] = []
        self._step: list[int] = []
        self._rho: list[np.ndarray] = []
        self._energy: list[float] = []
        self._gap: list[float] = []

    @property
    def s(self) -> int:
        """Number of samples."""
        return self.samples.s

    @classmethod
    def from_arrays(cls, samples: Samples, t, step, rho, energy=None, gap=None) -> History:
        """A history holding the given records (as read from a run file); ``energy`` or ``gap``
        None gives NaN (unknown)."""
        rho = np.reshape(np.asarray(rho, dtype=np.float64), (len(t), samples.s))
        history = cls(samples)
        history._t = [float(v) for v in t]
        history._step = [int(v) for v in step]
        history._rho = list(rho)
        history._energy = [float("nan")] * len(t) if energy is None else [float(v) for v in energy]
        history._gap = [float("nan")] * len(t) if gap is None else [float(v) for v in gap]
        return history

    def record(self, t: float, step: int, rho, energy: float, gap: float = float("nan")) -> None:
        """Append one record (nothing when ``step`` is already the last one recorded)."""
        if self._step and self._step[-1] == step:
            return
        self._t.append(float(t))
        self._step.append(int(step))
        self._rho.append(np.array(rho, dtype=np.float64))
        self._energy.append(float(energy))
        self._gap.append(float(gap))

    def record_state(self, solver: Any) -> None:
        """Record a solver's current time, step, residuals, energy and gap (collective when
        sharded)."""
        rho = solver.residuals()
        energy = solver.energy(rho)
        self.record(solver.t, solver.step, rho, energy, solver.gap(rho, energy))

    def truncate(self, step: int) -> None:
        """Drop the records after ``step``."""
        keep = int(np.searchsorted(np.asarray(self._step, dtype=np.int64), step, side="right"))
        del self._t[keep:], self._step[keep:], self._rho[keep:], self._energy[keep:], self._gap[keep:]

    @property
    def t(self) -> np.ndarray:
        return np.array(self._t, dtype=np.float64)

    @property
    def step(self) -> np.ndarray:
        return np.array(self._step, dtype=np.int64)

    @property
    def rho(self) -> np.ndarray:
        return np.array(self._rho, dtype=np.float64).reshape(len(self._rho), self.s)

    @property
    def loss(self) -> np.ndarray:
        return data_loss(self.rho)

    @property
    def energy(self) -> np.ndarray:
        return np.array(self._energy, dtype=np.float64)

    @property
    def gap(self) -> np.ndarray:
        return np.array(self._gap, dtype=np.float64)

    def last(self, name: str, back: int = 1) -> float:
        """The value of ``name`` (t, step, energy or gap) at the ``back``-th record from the end
        (1: the newest), without building the arrays."""
        values: dict[str, list[float] | list[int]] = {"t": self._t, "step": self._step, "energy": self._energy, "gap": self._gap}
        return values[name][-back]

    def __len__(self) -> int:
        return len(self._t)

    def to_xarray(self) -> xarray.Dataset:
        """The history as an :class:`xarray.Dataset`: ``rho`` over dims (time, sample), ``loss``,
        ``energy``, ``gap`` and ``step`` over time; coordinates ``time`` (t), ``x`` and ``y`` (of each
        sample). Needs xarray (``pip install "meanfield-relu[analysis]"``)."""
        try:
            import xarray as xr
        except ImportError:
            raise ImportError('History.to_xarray needs xarray: pip install "meanfield-relu[analysis]"') from None
        return xr.Dataset(
            {
                "rho": (("time", "sample"), self.rho, {"long_name": "residual f(x_j) - y_j"}),
                "loss": ("time", self.loss, {"long_name": "data loss 1/2 |rho|^2"}),
                "energy": ("time", self.energy, {"long_name": "loss + tv * integral |r| dmu"}),
                "gap": ("time", self.gap, {"long_name": "energy - dual value: a bound of energy - min energy"}),
                "step": ("time", self.step),
            },
            coords={"time": self.t, "x": ("sample", self.samples.x), "y": ("sample", self.samples.y)},
        )

