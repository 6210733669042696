"""Baseline kernels of the benchmarks (arrays and scalars only)."""
import numpy as np

from meanfield._compile import kernel, prange
from meanfield.kernels.field import BLOCK
from meanfield.kernels.trig import sincos_block


@kernel(parallel=True)
def stream_pass(r, theta, scale):
    """Read and write every particle once, in parallel: the streaming floor of a fused step.

    ``scale`` is a run-time number (1.0 in the benchmark), so the compiler cannot drop the pass."""
    for i in prange(r.size):
        r[i] = r[i] * scale
        theta[i] = theta[i] * scale


@kernel(parallel=True)
def sincos_pass(theta, out):
    """sin and cos of every angle, by the blocks the fused steps use; out[b] sums block b's values
    (so that nothing is dropped). The trigonometry share of a step: a step takes two such passes."""
    for blk in prange(out.size):
        sn = np.empty(BLOCK)
        cs = np.empty(BLOCK)
        start = blk * BLOCK
        count = min(BLOCK, theta.size - start)
        sincos_block(theta, start, count, sn, cs)
        total = 0.0
        for j in range(count):
            total += sn[j] + cs[j]
        out[blk] = total
