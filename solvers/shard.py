"""Which particles a process holds, and how its partial sums become the run's totals.

The particles of a run are cut into reduction chunks whose number and size depend on m alone
(:func:`meanfield.kernels.field.n_chunks`); every fused step leaves one row of per-arc moments per
chunk, and the rows are added in chunk order. A :class:`Shard` gives a process a run of whole
chunks: serially all of them; under MPI, rank k of N the chunks [k C / N, (k + 1) C / N) of the C
chunks. Per step the ranks exchange only their chunk rows (C x 2s x 2 numbers in all, an
``Allgatherv``) and every rank adds all rows in chunk order, so every rank holds the same moments,
with the same bits as a serial run, whatever N.

Collectives (:meth:`Shard.reduce`, :meth:`gather`, :meth:`distribute`, :meth:`agree`,
:meth:`clock`) must be called by every rank at the same point; the solvers and the run layer do so
because every rank takes the same steps and makes the same decisions from the same moments.
"""
import os
import time

import numpy as np

from meanfield.kernels import field as fk


class ReportedElsewhere(Exception):
    """An error that another rank reports (rank 0, with the message): this rank only ends."""


class Shard:
    """The particles [lo, hi) of m that this process holds, on MPI communicator ``comm`` (None:
    serial, all of them).

    Attributes
    ----------
    m : int — particles in the run. lo, hi : int — this process's global index range.
    chunk : int — particles per reduction chunk. chunks : int — chunks of the run.
    rank, size : int — this process's rank and the number of ranks (0 and 1 serially).
    """

    def __init__(self, m, comm=None):
        m = int(m)
        if m < 1:
            raise ValueError(f"a run needs at least one particle, got m = {m}")
        self.m, self.comm = m, comm
        self.rank = 0 if comm is None else comm.Get_rank()
        self.size = 1 if comm is None else comm.Get_size()
        self.chunks, self.chunk = fk.n_chunks(m), fk.chunk_size(m)
        if self.size > self.chunks:
            raise ValueError(
                f"m = {m} particles form {self.chunks} reduction chunk(s) of {self.chunk}; a run of them can use at most "
                f"{self.chunks} MPI rank(s), not {self.size} (each chunk has at least {fk.CHUNK_MIN} particles, and there are at "
                f"most {fk.CHUNK_MAX_COUNT} chunks)"
            )
        edges = [k * self.chunks // self.size for k in range(self.size + 1)]
        self.chunk_counts = np.diff(edges)
        self.counts = np.array([min(m, edges[k + 1] * self.chunk) - edges[k] * self.chunk for k in range(self.size)])
        self.lo = edges[self.rank] * self.chunk
        self.hi = self.lo + int(self.counts[self.rank])
        self._full = None

    @property
    def sharded(self):
        return self.size > 1

    @property
    def root(self):
        """True on the process that owns output (rank 0)."""
        return self.rank == 0

    @property
    def local_m(self):
        return self.hi - self.lo

    def workspace(self, n_arcs):
        """A float64 workspace for this process's chunk rows, (chunks held, n_arcs, 2)."""
        return np.empty((int(self.chunk_counts[self.rank]), n_arcs, 2))

    def reduce(self, work, out):
        """out = the sum of all chunk rows of the run in chunk order (collective under MPI)."""
        if not self.sharded:
            fk.reduce_chunks(work, out)
            return out
        full = self._full
        if full is None or full.shape[1:] != work.shape[1:]:
            full = self._full = np.empty((self.chunks, *work.shape[1:]))
        per_row = work.shape[1] * work.shape[2]
        self.comm.Allgatherv(work, [full, self.chunk_counts * per_row])
        fk.reduce_chunks(full, out)
        return out

    def mean_abs(self, values):
        """(1/m) sum_i |v_i| over the run's particles (:meth:`mean_of`)."""
        return self.mean_of(values, 1)

    def mean_of(self, values, power):
        """(1/m) sum_i |v_i| (power 1) or v_i^2 (power 2) over the run's particles: float64 sums
        chunk by chunk in particle order (the same bits for any N; collective when sharded)."""
        sums = np.empty(int(self.chunk_counts[self.rank]))
        fk.chunk_sums(values, power, self.chunk, sums)
        return self.mean_from_sums(sums)

    def mean_from_sums(self, sums):
        """(1/m) times the sum, in chunk order, of per-chunk sums (this process's chunks; collective
        when sharded)."""
        if self.sharded:
            full = np.empty(self.chunks)
            self.comm.Allgatherv(sums, [full, self.chunk_counts])
            sums = full
        total = 0.0
        for v in sums:
            total += v
        return total / self.m

    def gather(self, local):
        """The run's whole array on rank 0 (None on the others) from each rank's part."""
        if not self.sharded:
            return local
        full = np.empty(self.m, dtype=local.dtype) if self.root else None
        self.comm.Gatherv(np.ascontiguousarray(local), [full, self.counts] if self.root else None, root=0)
        return full

    def distribute(self, state, per_particle):
        """Each rank's part of a state held by rank 0: the arrays named in ``per_particle`` are
        cut into the ranks' index ranges (``Scatterv``); everything else is broadcast."""
        if not self.sharded:
            return state
        small = {k: v for k, v in state.items() if k not in per_particle} if self.root else None
        names = [(k, state[k].dtype.str) for k in per_particle if k in state] if self.root else None
        small, names = self.comm.bcast((small, names), root=0)
        local = dict(small)
        for name, dtype in names:
            part = np.empty(self.local_m, dtype=np.dtype(dtype))
            full = np.ascontiguousarray(state[name]) if self.root else None
            self.comm.Scatterv([full, self.counts] if self.root else None, part, root=0)
            local[name] = part
        return local

    def agree(self, value):
        """The largest of the ranks' values (a signal number, a flag); the value itself serially."""
        return value if not self.sharded else self.comm.allreduce(value, op=_max())

    def bcast(self, value):
        """Rank 0's value on every rank."""
        return value if not self.sharded else self.comm.bcast(value, root=0)

    def raise_on_root(self, error):
        """End a collective step that failed: rank 0 raises ``error`` (and reports it), the other
        ranks :class:`ReportedElsewhere`."""
        if self.root:
            raise error
        raise ReportedElsewhere(f"rank {self.rank}: {error}; rank 0 reports it")

    def clock(self):
        """Rank 0's monotonic clock, in seconds, on every rank (wall-clock cadences must agree)."""
        return self.bcast(time.monotonic())


def _max():
    from mpi4py import MPI

    return MPI.MAX


def world():
    """MPI's world communicator when this process was started by an MPI launcher with more than
    one rank (mpiexec -n N, N > 1), else None. Needs mpi4py (``pip install meanfield[mpi]``)."""
    launched = any(os.environ.get(name, "1") not in ("", "1") for name in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE"))
    if not launched:
        return None
    try:
        from mpi4py import MPI
    except ImportError:
        raise ValueError("this process runs under an MPI launcher with several ranks, but mpi4py is not installed: "
                         "pip install 'meanfield[mpi]' (or run without mpiexec)") from None
    comm = MPI.COMM_WORLD
    return comm if comm.Get_size() > 1 else None

