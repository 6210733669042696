"""Baseline kernels of the benchmarks (arrays and scalars only)."""
from meanfield._compile import kernel, prange


@kernel(parallel=True)
def stream_pass(r, theta, scale):
    """Read and write every particle once, in parallel: the streaming floor of a fused step.

    ``scale`` is a run-time number (1.0 in the benchmark), so the compiler cannot drop the pass."""
    for i in prange(r.size):
        r[i] = r[i] * scale
        theta[i] = theta[i] * scale
