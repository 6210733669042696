"""Time evolution of the meanfield model: particle integrators and the Eulerian solver."""
from . import init
from .evolution import DivergenceError
from .histogram import CylinderGrid, HistogramSolver
from .history import History
from .particles import FullParticleSolver, ParticleSolver

__all__ = ["ParticleSolver", "FullParticleSolver", "HistogramSolver", "CylinderGrid", "History", "DivergenceError", "init"]
