"""The record of a run: (t, step, loss, rho) at a chosen cadence, the same for every solver."""
import numpy as np


class History:
    """Residual history of a run, kept as growing arrays.

    Attributes (arrays, one entry per record)
    ----------
    t : float64 — time on the solver's clock (see the solver's docstring).
    step : int64 — number of steps taken.
    loss : float64 — data loss 1/2 |rho|^2 (without any regulariser).
    rho : float64, shape (T, s) — residuals f(x_j) - y_j.
    """

    def __init__(self, s):
        self._t, self._step, self._rho = [], [], []
        self.s = s

    @classmethod
    def from_arrays(cls, t, step, rho):
        """A history holding the given records (as read from a run file)."""
        rho = np.asarray(rho, dtype=np.float64)
        history = cls(rho.shape[1])
        history._t = [float(v) for v in t]
        history._step = [int(v) for v in step]
        history._rho = list(rho)
        return history

    def record(self, t, step, rho):
        if self._step and self._step[-1] == step:
            return  # already recorded at this step
        self._t.append(float(t))
        self._step.append(int(step))
        self._rho.append(np.array(rho, dtype=np.float64))

    def truncate(self, step):
        """Drop the records after ``step``."""
        keep = int(np.searchsorted(np.asarray(self._step, dtype=np.int64), step, side="right"))
        del self._t[keep:], self._step[keep:], self._rho[keep:]

    @property
    def t(self):
        return np.array(self._t, dtype=np.float64)

    @property
    def step(self):
        return np.array(self._step, dtype=np.int64)

    @property
    def rho(self):
        return np.array(self._rho, dtype=np.float64).reshape(len(self._rho), self.s)

    @property
    def loss(self):
        rho = self.rho
        return 0.5 * np.einsum("ts,ts->t", rho, rho)

    def __len__(self):
        return len(self._t)
