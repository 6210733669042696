"""Kernels of the region-indexed velocity field (eq. 12), O(m + s) per evaluation.

Reductions over particles are split into chunks of consecutive particles whose number and size
depend on m alone (never on the thread count, nor on the number of MPI ranks); each chunk sums
sequentially into its own row of a workspace, and :func:`reduce_chunks` adds the rows in chunk
order. So the same inputs give the same bits for any number of threads, and a process that holds
a run of whole chunks (an MPI rank, :mod:`solvers.shard`) fills exactly the rows a serial run
would: gathering them and reducing in chunk order gives the serial bits.

Particles are processed in blocks of BLOCK: first sin and cos of the whole block (a loop that
vectorises, :mod:`.trig`), then the arc search and the per-particle work, which do not.

Every kernel that reduces over particles has the same frame, here and in :mod:`solvers.kernels`::

    for c in prange(work.shape[0]):               # one chunk per iteration, in any thread
        buf, lo, hi = open_chunk(work, c, m, chunk)
        sn, cs, ... = block_scratch()             # this chunk's own scratch
        for start in range(lo, hi, BLOCK):        # the chunk's particles in order, block by block
            ...                                   # add only into buf

so a chunk's row depends on its particles alone, summed in their order; ``tests/test_threads.py``
checks that every solver gives the same bits on 1 and 3 threads.
"""
from collections import namedtuple

import numpy as np

from .._compile import kernel, prange
from .arcs import in_turn, locate_wrapped, wrap_angle
from .primitives import add_moment, arc_velocity
from .trig import sincos_block

BLOCK = 256
CHUNK_MIN = 16384
CHUNK_MAX_COUNT = 256

SampleArcs = namedtuple("SampleArcs", ["x", "y", "arc_on", "arc_off", "arc_count", "arc_prefix"])
SampleArcs.__doc__ = """What the O(s) kernels need of the samples and their regions: sorted x, y (s,); the run
B_j = arc_on[j] .. arc_off[j] - 1 of each sample; the size of each arc's active set and whether it
is a prefix of the samples (2s,). See :class:`meanfield.Regions`."""


def n_chunks(m):
    """Number of reduction chunks for m particles (a function of m alone)."""
    return int(min(CHUNK_MAX_COUNT, max(1, -(-m // CHUNK_MIN))))


def chunk_size(m):
    """Particles per reduction chunk for m particles, ceil(m / n_chunks(m)); the last chunk holds
    the rest (never none: n_chunks(m) (n_chunks(m) - 1) < m)."""
    return -(-int(m) // n_chunks(m))


@kernel(inline=True)
def chunk_bounds(c, m, size):
    """Particles [lo, hi) of chunk c of ``size`` particles among the m particles of an array."""
    return c * size, min(m, (c + 1) * size)


@kernel(inline=True)
def open_chunk(work, c, m, size):
    """Chunk c of a reducing kernel (the frame of the module docstring): its row of ``work``,
    zeroed, and its particles [lo, hi) among m in chunks of ``size``."""
    buf = work[c]
    buf[:, :] = 0.0
    lo, hi = chunk_bounds(c, m, size)
    return buf, lo, hi


@kernel(inline=True)
def block_scratch():
    """One chunk's scratch for a block pass, allocated inside the parallel loop so that each
    thread has its own: six float64 blocks (sin, cos, and four for radii, angles or velocities)
    and one int32 block of arcs."""
    return (np.empty(BLOCK), np.empty(BLOCK), np.empty(BLOCK), np.empty(BLOCK), np.empty(BLOCK), np.empty(BLOCK),
            np.empty(BLOCK, dtype=np.int32))


@kernel(parallel=True)
def reduce_chunks(work, out):
    """out[k, :] = sum over chunks c (in chunk order) of work[c, k, :]; parallel over arcs."""
    for k in prange(work.shape[1]):
        a0 = 0.0
        a1 = 0.0
        for c in range(work.shape[0]):
            a0 += work[c, k, 0]
            a1 += work[c, k, 1]
        out[k, 0] = a0
        out[k, 1] = a1


@kernel(parallel=True)
def chunk_sums(values, power, chunk, out):
    """out[c] = sum over chunk c of |v_i| (power 1) or v_i^2 (power 2), in float64 and particle
    order: the order in which the sliding step adds |r| as it moves the particles."""
    for c in prange(out.size):
        lo, hi = chunk_bounds(c, values.size, chunk)
        total = 0.0
        for i in range(lo, hi):
            v = np.float64(values[i])
            total += abs(v) if power == 1 else v * v
        out[c] = total


@kernel(parallel=True)
def arc_moments(r, theta, arcs, chunk, work):
    """Per-chunk, per-arc first moments: work[c, k] = sum over particles i of chunk c with th_i in
    A_k of r_i d(th_i); :func:`reduce_chunks` makes them M_k.

    ``work`` is a (chunks, 2s, 2) float64 workspace, chunks of ``chunk`` particles (the last one
    shorter).
    """
    angles, table, first = arcs  # unpacked before the parallel loop (see solvers.kernels.particles)
    for c in prange(work.shape[0]):
        buf, lo, hi = open_chunk(work, c, r.size, chunk)
        sn, cs, t, _, _, _, arc = block_scratch()
        lookup = (angles, table, first)
        for start in range(lo, hi, BLOCK):
            count = min(BLOCK, hi - start)
            sincos_of_state(theta, start, count, sn, cs, t)
            for j in range(count):  # the search apart from the sums: measured faster
                arc[j] = locate_wrapped(wrap_angle(theta[start + j]), lookup)
            for j in range(count):
                add_moment(buf, arc[j], np.float64(r[start + j]), cs[j], sn[j])


@kernel(inline=True)
def sincos_of_state(theta, start, count, sn, cs, t):
    """sin and cos of theta[start:start + count], angles of a state given from outside that may
    lie anywhere: :func:`.trig.sincos_block` is accurate for moderate angles, so a block holding
    an angle outside [0, 2 pi) (rare) is reduced into the scratch ``t`` first."""
    outside = 0
    for j in range(count):  # an integer reduction: vectorises
        outside += not in_turn(np.float64(theta[start + j]))
    if outside:
        for j in range(count):
            t[j] = wrap_angle(theta[start + j])
        sincos_block(t, 0, count, sn, cs)
    else:
        sincos_block(theta, start, count, sn, cs)


@kernel
def run_sums(per_arc, arc_on, arc_off, out):
    """out[j] = sum of per_arc[k] over the arcs k of B_j (the cyclic run arc_on[j] .. arc_off[j]-1).

    Prefix sums over arcs make this O(s) for all samples together.
    """
    n = per_arc.shape[0]
    prefix = np.zeros((n + 1, 2))
    for k in range(n):
        prefix[k + 1, 0] = prefix[k, 0] + per_arc[k, 0]
        prefix[k + 1, 1] = prefix[k, 1] + per_arc[k, 1]
    for j in range(arc_on.size):
        a = arc_on[j]
        b = arc_off[j]
        for d in range(2):
            if a <= b:
                out[j, d] = prefix[b, d] - prefix[a, d]
            else:
                out[j, d] = prefix[n, d] - prefix[a, d] + prefix[b, d]


@kernel
def residuals_from_moments(moments, sa, m, out):
    """rho_j = <xt_j, sum_{k in B_j} M_k> / m - y_j for the samples of ``sa`` (:class:`SampleArcs`)."""
    x, y = sa.x, sa.y
    runs = np.empty((x.size, 2))
    run_sums(moments, sa.arc_on, sa.arc_off, runs)
    for j in range(x.size):
        out[j] = (x[j] * runs[j, 0] + runs[j, 1]) / m - y[j]


@kernel
def field_from_moments(moments, sa, m, rho, g):
    """Residuals ``rho`` (s,) and arc fields ``g`` (2s, 2) of the state with per-arc moments
    ``moments`` and normalisation m, O(s)."""
    residuals_from_moments(moments, sa, m, rho)
    arc_field(rho, sa, g)


@kernel
def arc_field(rho, sa, g):
    """g_k = sum_{j in C_k} rho_j xt_j for every arc, O(s).

    Each active set is a prefix or a suffix of the sorted samples, so g_k is a forward or a
    backward partial sum: exact zeros for the empty set, and no cancellation between added and
    removed terms.
    """
    x, arc_count, arc_prefix = sa.x, sa.arc_count, sa.arc_prefix
    s = rho.size
    forward = np.zeros((s + 1, 2))
    backward = np.zeros((s + 1, 2))
    for j in range(s):
        forward[j + 1, 0] = forward[j, 0] + rho[j] * x[j]
        forward[j + 1, 1] = forward[j, 1] + rho[j]
    for j in range(s - 1, -1, -1):
        backward[j, 0] = backward[j + 1, 0] + rho[j] * x[j]
        backward[j, 1] = backward[j + 1, 1] + rho[j]
    for k in range(g.shape[0]):
        if arc_prefix[k]:
            g[k, 0] = forward[arc_count[k], 0]
            g[k, 1] = forward[arc_count[k], 1]
        else:
            g[k, 0] = backward[s - arc_count[k], 0]
            g[k, 1] = backward[s - arc_count[k], 1]


@kernel(parallel=True)
def particle_velocity(r, theta, arcs, g, tv, dr, dtheta):
    """dr = -<g_k, d(th)> - tv sign(r),  dtheta = -r <g_k, t(th)>  for th in arc k."""
    m = r.size
    nblock = (m + BLOCK - 1) // BLOCK
    angles, table, first = arcs
    for blk in prange(nblock):
        scratch = block_scratch()
        sn, cs, t = scratch[0], scratch[1], scratch[2]
        lookup = (angles, table, first)
        start = blk * BLOCK
        count = min(BLOCK, m - start)
        sincos_of_state(theta, start, count, sn, cs, t)
        for j in range(count):
            i = start + j
            k = locate_wrapped(wrap_angle(theta[i]), lookup)
            dr[i], dtheta[i] = arc_velocity(g, k, np.float64(r[i]), cs[j], sn[j], tv)
