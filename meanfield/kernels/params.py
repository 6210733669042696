"""Vectorised parameter maps (the formulas live in :mod:`.primitives`)."""
from .._compile import kernel, prange
from .primitives import layer_norms


@kernel(parallel=True)
def layer_norms_many(q, delta, n2, c2):
    """n2[i], c2[i] = n^2, c^2 of :func:`.primitives.layer_norms` (q[i], delta[i])."""
    for i in prange(q.size):
        n2[i], c2[i], _ = layer_norms(q[i], delta[i])
