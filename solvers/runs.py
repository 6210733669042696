"""A finished (or running) run read back from its folder: :func:`open_run` and :class:`Run`.

Reading never writes to the folder. A run folder (see :mod:`solvers.runfolder`) opens as a
:class:`Run`; a sweep folder (one holding ``summary.h5``) opens as a :class:`Sweep`, a sequence
of runs with the sweep's summary as a table.

Example::

    run = open_run("runs/a")
    run.history.to_xarray()              # rho over (time, sample), loss, energy
    snap = run.snapshots.at(50.0)        # the snapshot nearest t = 50
    snap.ray_mass()                      # (2s, 2): mass on each ray, by sign of r
    solver = run.solver(snapshot=0)      # continue it, evaluate it
"""
from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar, overload

import numpy as np

from meanfield import attractors, params
from meanfield.h5io import FileError, read_file
from meanfield.samples import Samples

from . import config as cfg
from . import registry
from .evolution import Evolution
from .history import History
from .runfolder import Checkpoint, RunFolder

Item = TypeVar("Item")

def open_run(path: str | Path) -> Run | Sweep:
    """Open a run folder as a :class:`Run`, or a sweep folder as a :class:`Sweep`, read-only.

    Raises :class:`meanfield.h5io.FileError` (one line) when the folder holds neither or its
    files are damaged."""
    path = Path(path)
    if not path.is_dir():
        raise FileError(f"{path}: no such run folder")
    if (path / "summary.h5").exists():
        return Sweep(path)
    return Run(path)


def _solver_from(kind: str, samples: Samples, state: dict, history: History | None, record_every: int | None) -> Evolution:
    """A solver of ``kind`` rebuilt from ``state``, with ``history`` up to its step."""
    solver = registry.from_state(samples, dict(state, kind=kind), record_every=record_every)
    if history is not None:
        solver.history = History.from_arrays(samples, history.t, history.step, history.rho, history.energy, history.gap)
        solver.history.truncate(solver.step)
    return solver


class Snapshot:
    """One snapshot of a run: ``t``, ``step`` and the solver ``state`` as stored (a dict of arrays
    and scalars, read from its file when first asked for: ``state["r"]``, ``state["theta"]`` for
    particles, ``state["mass_cells"]`` for the histogram).

    A snapshot is a state in the sense of :mod:`meanfield.plots`: it has ``samples``,
    ``atoms()``, ``ray_mass()``, ``network(x)`` and ``residuals()``, computed by the solver that
    :meth:`solver` rebuilds (once per snapshot object)."""

    def __init__(self, run: Run, index: int, t: float, step: int):
        self.run, self.index, self.t, self.step = run, index, float(t), int(step)
        self.samples = run.samples

    def __repr__(self) -> str:
        return f"Snapshot({self.index}: t = {self.t:.6g}, step {self.step})"

    @functools.cached_property
    def state(self) -> dict[str, Any]:
        return self.run.folder.read_snapshot(self.step)

    def solver(self, *, record_every: int | None = None) -> Evolution:
        """A new solver in this snapshot's state, with the run's history up to it; continuing it
        as the run did (``solver.run(t_end=run.t_end, steps=...)``) gives the run's bits."""
        return _solver_from(self.run.kind, self.samples, self.state, self.run.history, record_every)

    @functools.cached_property
    def _evaluator(self) -> Evolution:
        return _solver_from(self.run.kind, self.samples, self.state, None, None)

    def atoms(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The state as weighted atoms (r, theta, weight) (:meth:`solvers.evolution.Evolution.atoms`)."""
        return self._evaluator.atoms()

    def ray_mass(self, eps: float = 1e-3) -> np.ndarray:
        """Mass on each boundary ray by sign of r, (2s, 2) (:meth:`solvers.evolution.Evolution.ray_mass`)."""
        return self._evaluator.ray_mass(eps)

    def network(self, x) -> np.ndarray:
        """f(x) of this state at the points x."""
        return self._evaluator.network(x)

    def residuals(self) -> np.ndarray:
        """Residuals rho_j = f(x_j) - y_j of this state, (s,)."""
        return self._evaluator.residuals()

    def knots(self) -> np.ndarray:
        """The knots -tan(theta_i) of the atoms that carry mass (x where a neuron switches)."""
        _, theta, weight = self.atoms()
        return params.knots(np.asarray(theta)[np.asarray(weight) > 0])


class _Lazy(Sequence[Item]):
    """A sequence whose items are made when asked for: indexing (negative too), slices (lists)
    and iteration over ``_item(k)``, 0 <= k < len."""

    what = "item"

    def __len__(self) -> int:
        raise NotImplementedError

    def _item(self, k: int) -> Item:
        raise NotImplementedError

    @overload
    def __getitem__(self, i: int) -> Item: ...

    @overload
    def __getitem__(self, i: slice) -> list[Item]: ...

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self._item(k) for k in range(*i.indices(len(self)))]
        k = int(i)
        if not -len(self) <= k < len(self):
            raise IndexError(f"{self.what} {i} of {len(self)}")
        return self._item(k % len(self))

    def __iter__(self) -> Iterator[Item]:
        return (self._item(k) for k in range(len(self)))


class Snapshots(_Lazy[Snapshot]):
    """The snapshots of a run, oldest first: ``len``, indexing (negative too), iteration and
    :meth:`at`; arrays ``t`` and ``step`` of all of them. Nothing is read until a snapshot's
    ``state`` is asked for."""

    what = "snapshot"

    def __init__(self, run: Run, index: list[tuple[float, int]]):
        self._run = run
        self.t = np.array([t for t, _ in index], dtype=np.float64)
        self.step = np.array([s for _, s in index], dtype=np.int64)

    def __len__(self) -> int:
        return self.t.size

    def _item(self, k: int) -> Snapshot:
        return Snapshot(self._run, k, self.t[k], self.step[k])

    def at(self, t: float) -> Snapshot:
        """The snapshot whose time is nearest ``t`` (the earlier one at a tie)."""
        if not len(self):
            raise IndexError("the run has no snapshots")
        return self[int(np.argmin(np.abs(self.t - float(t))))]


class Run:
    """A run folder, read-only.

    Attributes
    ----------
    path : pathlib.Path
    kind : str
        "particles", "full" or "histogram".
    config : dict
        The configuration the run was made with (every key; ``config["solver"]["dt"]``, ...).
    config_text : str
        The same as TOML text.
    samples : meanfield.Samples
    history : solvers.History
        t, step, loss, energy, rho of every record, ``to_xarray()``.
    snapshots : Snapshots
        Lazy sequence of :class:`Snapshot`.
    t_end : float
        The configured end time; continuing a rebuilt solver to it takes the run's steps.
    """

    def __init__(self, path: str | Path):
        self.folder = RunFolder(path)
        self.path = self.folder.path
        if not self.path.is_dir():
            raise FileError(f"{self.path}: no such run folder")
        if not self.folder.run_path.exists():
            raise FileError(f"{self.path}: no run file run.h5 (is this a run folder?)")
        record = self.folder.read_run()
        self.kind = record.kind
        self.config_text = record.config_text
        self.config = cfg.stored(record.config_text)
        self.samples = record.samples
        self.history = record.history
        self.snapshots = Snapshots(self, record.snapshots)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}: {self.describe()})"

    @property
    def t_end(self) -> float:
        return float(self.config["stop"]["t_end"])

    def checkpoints(self) -> list[Path]:
        """The checkpoint files, oldest first."""
        return self.folder.checkpoints()

    def newest_checkpoint(self) -> Checkpoint:
        """The newest checkpoint that verifies (newer damaged ones in its ``skipped``)."""
        return self.folder.newest_checkpoint()

    def solver(self, snapshot: int | None = None, *, record_every: int | None = None) -> Evolution:
        """A new solver, ready to continue or evaluate: at snapshot ``snapshot`` (an index into
        :attr:`snapshots`), or at the newest checkpoint that verifies when None. Its history is
        the run's up to its step; ``record_every`` (steps) makes it record more as it runs.

        Continuing it as the run did, ``solver.run(t_end=run.t_end, steps=n)``, takes the same
        steps with the same bits: after ``n = snapshots[i + 1].step - snapshots[i].step`` steps
        from snapshot i it equals snapshot i + 1."""
        if snapshot is not None:
            return self.snapshots[snapshot].solver(record_every=record_every)
        checkpoint = self.newest_checkpoint()
        return _solver_from(self.kind, checkpoint.samples, checkpoint.state, self.history, record_every)

    def describe(self) -> str:
        """One line: solver and size of the run."""
        solver, kind = self.config["solver"], self.config["solver"]["kind"]
        if kind == "particles":
            return f"particles, {solver['method']}, dt = {solver['dt']:g}, m = {self.config['init']['m']}"
        if kind == "full":
            return f"full (a, b, c), lr = {solver['lr']:g}, alpha = {solver['alpha']}, m = {self.config['init']['m']}"
        return f"histogram {solver['n_r']} x {solver['n_theta']} (order {solver['order']})"

    def attractor_report(self, snapshot: int | None = None, eps: float = 1e-3) -> list[str]:
        """Lines of text: every ray's state over the history up to snapshot ``snapshot`` (None:
        the newest checkpoint), its changes, and the mass on it there
        (what ``python -m meanfield attractors`` prints)."""
        from .report import attractor_report

        return attractor_report(self, eps, None if snapshot is None else self.snapshots[snapshot])

    def ray_timeline(self) -> tuple[attractors.RayClassification, list[attractors.Event]]:
        """The state of every ray over the history and its changes
        (:func:`meanfield.attractors.ray_timeline`)."""
        return attractors.ray_timeline(self.samples, self.history.rho, self.history.t)


class Sweep(_Lazy[Run]):
    """A sweep folder, read-only: a sequence of its runs (:class:`Run`, in run order) and
    ``summary``, the table of summary.h5 as a dict of column arrays (``index``, ``folder``, the
    swept keys, ``status``, ``t``, ``step``, ``loss``, ``max_abs_rho``, ``wall_s``, and ``rho``
    of shape (runs, s))."""

    def __init__(self, path: str | Path):
        from .sweep import SCHEMA_NAME, SCHEMA_VERSION

        self.path = Path(path)
        arrays, attrs = read_file(self.path / "summary.h5", schema=SCHEMA_NAME, version=SCHEMA_VERSION)
        self.swept = [name for name in str(attrs["/"]["swept"]).split(",") if name]
        self.summary = {name.split("/", 1)[1]: np.asarray(value) for name, value in arrays.items() if name.startswith("runs/")}
        self.summary = {k: (v.astype(str) if v.dtype.kind in "SO" else v) for k, v in self.summary.items()}

    what = "run"

    def __len__(self) -> int:
        return len(self.summary["folder"])

    def _item(self, k: int) -> Run:
        return Run(self.path / str(self.summary["folder"][k]))

    def to_xarray(self):
        """The summary as an :class:`xarray.Dataset` over dim ``run`` (rho over (run, sample))."""
        import xarray as xr

        columns = {k: ("run", v) for k, v in self.summary.items() if k != "rho"}
        columns["rho"] = (("run", "sample"), self.summary["rho"])
        return xr.Dataset(columns)
