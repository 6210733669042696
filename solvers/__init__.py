"""Time evolution of the meanfield model: particle integrators, the Eulerian solver, and the run
layer above them (observers, files, :func:`open_run`)."""
from . import init
from .evolution import DivergenceError
from .grid import CylinderGrid
from .histogram import HistogramSolver
from .history import History
from .observers import Cadence, DivergenceGuard, EnergyRise, EnergyRiseWarning, GapBelow, HistoryRecorder, LossBelow, ProgressBar
from .output import Checkpointer, SnapshotWriter
from .particles import FullParticleSolver, ParticleSolver
from .runs import Run, Snapshot, Snapshots, Sweep, open_run
from .sliding import SlidingSolver

__all__ = [
    "ParticleSolver", "SlidingSolver", "FullParticleSolver", "HistogramSolver", "CylinderGrid", "History", "DivergenceError", "init",
    "Cadence", "HistoryRecorder", "DivergenceGuard", "LossBelow", "GapBelow", "EnergyRise", "EnergyRiseWarning", "ProgressBar",
    "SnapshotWriter", "Checkpointer",
    "open_run", "Run", "Snapshot", "Snapshots", "Sweep",
]
