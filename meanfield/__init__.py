"""meanfield — mean-field gradient dynamics of wide shallow univariate ReLU networks.

The model, without a clock: samples, the arcs cut by their boundary rays, residuals and the
region-indexed velocity field of the canonical particles w = (r, theta), and the maps to full
parameters (a, b, c). Time evolution lives in the ``solvers`` package.
"""
from .attractors import classify_rays
from .field import arc_fields, arc_moments, loss, residual_rate, residuals, velocity
from .params import from_canonical, invariants, knots, to_canonical, uv
from .regions import Regions, boundary_angles
from .samples import Samples

__all__ = [
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
