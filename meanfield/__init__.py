"""meanfield — mean-field gradient dynamics of wide shallow univariate ReLU networks.

The model, without a clock: samples, the arcs cut by their boundary rays, residuals and the
region-indexed velocity field of the canonical particles w = (r, theta), and the maps to full
parameters (a, b, c). Time evolution lives in the ``solvers`` package; :func:`open_run`, the
front door to a run's files, hands over to it.
"""
from .attractors import classify_rays
from .field import arc_fields, arc_moments, loss, residual_rate, residuals, velocity
from .params import from_canonical, invariants, knots, to_canonical, uv
from .regions import Regions, boundary_angles
from .samples import Samples


def open_run(path):
    """Open a run folder written by ``python -m meanfield run`` (a :class:`solvers.runs.Run`) or a
    sweep folder (a :class:`solvers.runs.Sweep`), read-only: configuration, samples, history,
    snapshots, and solvers rebuilt at any snapshot. See :func:`solvers.runs.open_run`.

    This is one of the two places where the model hands over to the run layer (the other is
    ``python -m meanfield``): the import happens on the call, so ``import meanfield`` does not
    import ``solvers``."""
    from solvers.runs import open_run as open_in_run_layer

    return open_in_run_layer(path)


__all__ = [
    "open_run",
    "Samples",
    "Regions",
    "boundary_angles",
    "residuals",
    "velocity",
    "residual_rate",
    "loss",
    "arc_fields",
    "arc_moments",
    "to_canonical",
    "from_canonical",
    "invariants",
    "knots",
    "uv",
    "classify_rays",
]
__version__ = "0.1.0"
