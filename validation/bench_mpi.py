"""Sharded particle steps on 1, 2, ... MPI ranks: throughput per rank and the cost of the exchange.

``python -m validation bench-mpi`` launches ``mpiexec -n N python -m validation.bench_mpi`` for each
N (cores split evenly into numba threads per rank) and prints, per (m, s, N): ms per Euler step,
particle-steps per second in all and per rank, the time per step of the exchange of chunk rows
(``Allgatherv`` of C x 2s x 2 float64 plus the in-order sum; what keeps the serial bits), and for
comparison a plain ``Allreduce`` of the 2s x 2 moments (what a reduction that gives up the serial
bits would cost). At the largest m it also writes a checkpoint, every rank its own particles
(:mod:`solvers.shardio`), and prints each rank's peak of traced memory (``tracemalloc``: numpy
arrays and the file image) while writing it, against the bytes of the rank's state.
"""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def _worker(m, s, steps, checkpoint=False):
    """Runs on every rank: time Euler steps and the exchange (and with ``checkpoint`` the
    writing of a checkpoint); rank 0 prints one JSON line."""
    from mpi4py import MPI

    import solvers
    from meanfield.samples import Samples
    from solvers.shard import Shard

    comm = MPI.COMM_WORLD
    shard = Shard(m, comm if comm.Get_size() > 1 else None)
    x = np.linspace(-1, 1, s)
    samples = Samples(x, np.sin(3 * x))
    r, theta = solvers.init.by_blocks(lambda n, rng: solvers.init.gaussian_uniform(n, rng=rng), m, 0, shard.lo, shard.hi)
    solver = solvers.ParticleSolver(samples, r, theta, dt=0.05 / s, record_every=None, copy=False, shard=shard)
    solver.run(steps=2)  # compile (or load) outside the timings
    comm.Barrier()
    start = time.perf_counter()
    solver.run(steps=steps)
    comm.Barrier()
    step = (time.perf_counter() - start) / steps
    work, out = solver._work, np.empty_like(solver._moments)
    repeat = 200
    comm.Barrier()
    start = time.perf_counter()
    for _ in range(repeat):
        shard.reduce(work, out)
    exchange = (time.perf_counter() - start) / repeat
    plain = np.empty_like(out)
    comm.Barrier()
    start = time.perf_counter()
    for _ in range(repeat):
        comm.Allreduce(out, plain)
    allreduce = (time.perf_counter() - start) / repeat
    row = dict(m=m, s=s, ranks=comm.Get_size(), chunks=shard.chunks, step=step, exchange=exchange, allreduce=allreduce,
               bytes=shard.chunks * work.shape[1] * 2 * 8)
    if checkpoint:
        row.update(checkpoint_memory(solver, comm))
    if comm.Get_rank() == 0:
        print(json.dumps(row), flush=True)


def checkpoint_memory(solver, comm):
    """Every rank writes a checkpoint of ``solver`` (sharded over ``comm``) into a temporary run
    folder; returns (on rank 0) each rank's peak traced memory while writing it (``peak``, bytes),
    the bytes of each rank's state arrays (``state``) and the wall time of the write."""
    import tempfile
    import tracemalloc

    from solvers.runfolder import RunFolder

    top = comm.bcast(tempfile.mkdtemp(prefix="bench-mpi-") if comm.Get_rank() == 0 else None)
    folder = RunFolder(Path(top) / "run")
    if comm.Get_rank() == 0:
        folder.checkpoint_dir.mkdir(parents=True)
    state = solver.local_state()
    own = sum(v.nbytes for k, v in state.items() if k in solver.PER_PARTICLE)
    comm.Barrier()
    tracemalloc.start()
    start = time.perf_counter()
    folder.write_checkpoint(state, "", solver.samples, 1, solver.shard, solver.PER_PARTICLE)
    comm.Barrier()
    wall = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    peaks, owns = comm.gather(peak, root=0), comm.gather(own, root=0)
    comm.Barrier()
    if comm.Get_rank() == 0:
        shutil.rmtree(top)
    return dict(peak=peaks, state=owns, write=wall)


def run(m_values=(10**6, 10**7), s_values=(10, 1000), ranks=(1, 2), steps=20, stream=None):
    """Launch the worker under mpiexec for each rank count; print the table; return the rows."""
    out = stream or sys.stdout
    mpiexec = shutil.which("mpiexec") or str(Path(sys.executable).parent / "mpiexec")
    if not Path(mpiexec).exists():
        raise SystemExit("bench-mpi needs mpiexec: pip install '.[mpi]'")
    from meanfield.kernels.field import n_chunks

    for m in m_values:
        if max(ranks) > n_chunks(m):
            raise SystemExit(f"bench-mpi: m = {m} makes {n_chunks(m)} reduction chunk(s), too few for {max(ranks)} ranks; give a larger --m")
    cores = os.cpu_count() or 1
    rows, largest = [], max(m_values)
    print(f"Euler steps sharded over MPI ranks ({cores} cores; numba threads per rank = cores / ranks); the exchange keeps the serial bits", file=out)
    print(f"{'m':>9} {'s':>5} {'ranks':>5} {'thr':>4} {'ms/step':>8} {'Mp-steps/s':>11} {'per rank':>9} {'exchange ms':>12} {'% of step':>9} "
          f"{'bytes':>9} {'Allreduce ms':>13}", file=out)
    for m in m_values:
        for s in s_values:
            for n in ranks:
                threads = max(1, cores // n)
                env = dict(os.environ, NUMBA_NUM_THREADS=str(threads))
                cmd = [mpiexec, "-n", str(n), sys.executable, "-m", "validation.bench_mpi", str(m), str(s), str(steps),
                       str(int(m == largest and s == s_values[0]))]
                done = subprocess.run(cmd, capture_output=True, text=True, env=env)
                if done.returncode != 0:
                    raise SystemExit(f"bench-mpi: {' '.join(cmd)} failed:\n{done.stderr}")
                row = json.loads(done.stdout.strip().splitlines()[-1])
                row["threads"] = threads
                rows.append(row)
                rate = m / row["step"]
                print(f"{m:9.0e} {s:5d} {n:5d} {threads:4d} {row['step'] * 1e3:8.2f} {rate / 1e6:11.1f} {rate / n / 1e6:9.1f} "
                      f"{row['exchange'] * 1e3:12.3f} {100 * row['exchange'] / row['step']:8.1f}% {row['bytes']:9d} {row['allreduce'] * 1e3:13.4f}", file=out)
    print(f"checkpoint at m = {largest:.0e}, every rank writing its own particles: peak traced memory per rank while writing "
          "(numpy arrays and the file image) against the rank's state", file=out)
    print(f"{'ranks':>5} {'rank':>5} {'state MB':>9} {'peak MB':>8} {'peak/state':>10} {'write s':>8}", file=out)
    for row in rows:
        for rank, (peak, own) in enumerate(zip(row.get("peak", ()), row.get("state", ()))):
            print(f"{row['ranks']:5d} {rank:5d} {own / 1e6:9.1f} {peak / 1e6:8.1f} {peak / own:10.2f} {row['write']:8.2f}", file=out)
    return rows


if __name__ == "__main__":
    _worker(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:] == ["1"])
