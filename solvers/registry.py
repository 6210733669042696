"""Which solver class runs a configuration or a stored state: one table by kind and method.

Every class declares what it runs (``KIND``, ``METHODS``) and what it can do (``METRICS``,
``SERIAL``), and builds itself from a configuration (``from_config``); this module only looks
the class up and checks the capabilities once (:func:`solvers.evolution.check_capabilities`).
"""
from __future__ import annotations

from typing import Any

from meanfield.samples import Samples

from .evolution import Evolution, check_capabilities
from .histogram import HistogramSolver
from .particles import FullParticleSolver, ParticleSolver
from .sliding import SlidingSolver

CLASSES: tuple[type[Evolution], ...] = (ParticleSolver, SlidingSolver, FullParticleSolver, HistogramSolver)
KINDS = tuple(dict.fromkeys(cls.KIND for cls in CLASSES if cls.KIND))
METHODS = tuple(method for cls in CLASSES for method in cls.METHODS)  # those of solver.kind = "particles"


def solver_class(kind: str, method: str | None = None) -> type[Evolution]:
    """The class that runs ``kind`` (and ``method``, for kinds that have methods)."""
    for cls in CLASSES:
        if cls.KIND == kind and (not cls.METHODS or method in cls.METHODS):
            return cls
    raise ValueError(f"no solver runs kind {kind!r} with method {method!r}")


def class_of(config: dict[str, Any]) -> type[Evolution]:
    """The class a configuration's ``solver`` section names."""
    return solver_class(config["solver"]["kind"], config["solver"]["method"])


def check(config: dict[str, Any], ranks: int = 1) -> type[Evolution]:
    """The class a configuration names, after checking that it runs on ``ranks`` processes with
    the configured metric (ValueError, one line); returns the class."""
    cls, solver = class_of(config), config["solver"]
    metric = solver["metric"] if solver["kind"] == "particles" else "canonical"
    check_capabilities(cls, ranks=ranks, metric=metric, method=solver["method"] if cls.METHODS else None)
    return cls


def build(config: dict[str, Any], samples: Samples, comm: Any = None) -> Evolution:
    """A new solver at t = 0 as the configuration describes it, sharded over the ranks of MPI
    communicator ``comm`` if given (history is left to observers)."""
    cls = check(config, 1 if comm is None else comm.Get_size())
    return cls.from_config(config, samples, comm)  # type: ignore[attr-defined]


def from_state(samples: Samples, state: dict[str, Any], **kwargs: Any) -> Evolution:
    """A solver rebuilt from a stored state (:meth:`solvers.evolution.Evolution.from_state`) by
    the class of its kind and method."""
    kind = state.get("kind")
    if kind not in KINDS:
        raise ValueError(f"unknown solver kind {kind!r} (known: {', '.join(KINDS)})")
    method = state.get("method")
    return solver_class(kind, None if method is None else str(method)).from_state(samples, state, **kwargs)
