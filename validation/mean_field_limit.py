"""Finite particles against the mean-field limit.

Runs the particle solver for several m and seeds (one sweep of run folders, so the same study runs
on a cluster under ``mpiexec``) and the histogram solver from the same initial law, reads the
residuals at common times (mean-field clock) from the runs' files, and reports

    E_seeds max_t max_j |rho_m(t) - rho_inf(t)|

against m with its fitted log-log slope (propagation of chaos predicts -1/2), the seed-to-seed
spread at the largest m, and the histogram's distance to the seed mean of the largest-m runs.
"""
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import solvers
from meanfield.defaults import PRESETS
from meanfield.h5io import read_file
from solvers import sweep as sweeps
from solvers.runfolder import RunFolder


@dataclass
class Case:
    """A comparison problem: samples (a shipped preset), the initial law (configuration keys of
    ``init``, also read for the histogram's density) and a horizon."""

    name: str
    preset: str
    law: dict
    r_max: float
    t_end: float
    grid: tuple = (200, 400)  # histogram taken as rho_inf: (n_r, n_theta), MUSCL
    refine: tuple = ()  # (n_r, n_theta, order) of the refinement table
    record_dt: float = 0.25
    particle_dt: float = 0.01

    @property
    def samples(self):
        return PRESETS[self.preset]()

    def density(self, r, theta):
        return solvers.init.density_of(self.law)(r, theta)

    def settings(self):
        """The sweep's fixed keys (``--set`` items) for the particle runs of this case."""
        keys = {f"init.{k}": v for k, v in self.law.items()}
        keys.update({"samples.preset": self.preset, "solver.method": "heun", "solver.dt": self.particle_dt, "stop.t_end": self.t_end,
                     "output.history": self.record_dt, "output.snapshots": "off", "output.checkpoints": "600 s"})
        return [f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in keys.items()]


def gaussian_case(sigma=0.5):
    """Four samples of alternating sign (preset gaussian4); r ~ N(0, sigma^2), theta ~ U[0, 2 pi)."""
    refine = ((50, 100, 1), (100, 200, 1), (200, 400, 1), (400, 800, 1), (30, 75, 2), (60, 150, 2), (100, 200, 2), (400, 800, 2))
    return Case("gaussian-4", "gaussian4", dict(law="gaussian_uniform", sigma=sigma), r_max=8 * sigma, t_end=6.0, grid=(200, 400), refine=refine)


def biweight_case(width=1.5):
    """The sine8 samples; the law biweight_cosine (:func:`solvers.init.biweight_cosine`): r with
    density (15 / 16 width) (1 - (r / width)^2)^2, theta with density (1 + cos(theta) / 2) / 2 pi."""
    # The fit drives |r| to about 4.4 by t = 3 and upwind diffusion spreads a little further: r_max
    # = 7 keeps the outflow negligible (it is reported). Particles that far out turn fast and cross
    # rays within a step, where every scheme is first order: dt = 0.005 leaves a bias of about 1.5e-3
    # in rho, dt = 0.00125 about 2.5e-4.
    # The residuals are far more sensitive to the theta resolution (mass crossing and gathering on
    # rays) than to the r resolution: the MUSCL grids are elongated.
    refine = ((100, 200, 1), (200, 400, 1), (400, 800, 1), (50, 200, 2), (80, 350, 2), (100, 400, 2), (150, 600, 2), (300, 1200, 2))
    return Case("biweight-sine8", "sine8", dict(law="biweight_cosine", width=width), r_max=7.0, t_end=3.0, particle_dt=0.00125,
                grid=(200, 800), refine=refine)


CASES = {"gaussian-4": gaussian_case, "biweight-sine8": biweight_case}


def record_times(case):
    return np.round(np.arange(0.0, case.t_end + 1e-9, case.record_dt), 12)


def particle_sweep(case, m_values, seeds, out, workers=1, threads=None, mpi=False, stream=None):
    """The particle runs of the study as one sweep (m x seed) into folder ``out``: the same call
    runs them on a local pool or on MPI ranks, and a second call skips finished runs."""
    overrides = case.settings() + [f"init.m={list(map(int, m_values))}", f"init.seed={list(seeds)}"]
    threads = threads or os.cpu_count() or 1
    return sweeps.run(None, out, overrides, workers=workers, threads=threads, stream=stream, mpi=mpi)


def read_sweep(case, out):
    """{(m, seed): (rho at the record times (T, s), wall seconds)} from a sweep's summary and run files."""
    arrays, _ = read_file(Path(out) / "summary.h5", schema=sweeps.SCHEMA_NAME, version=sweeps.SCHEMA_VERSION)
    times = record_times(case)
    runs = {}
    for folder, m, seed, status, wall in zip(*(np.asarray(arrays[f"runs/{c}"]).tolist() for c in ("folder", "init.m", "init.seed", "status", "wall_s"))):
        if status != "complete":
            raise RuntimeError(f"the run {folder} of the sweep in {out} is {status}")
        history = RunFolder(Path(out) / folder).read_run().history
        at = [int(np.argmin(np.abs(history.t - t))) for t in times]
        if not np.allclose(history.t[at], times, atol=1e-9):
            raise RuntimeError(f"{folder}: the history does not hold every record time {case.record_dt:g}")
        runs[int(m), int(seed)] = (history.rho[at], float(wall))
    return runs


def histogram_history(case, n_r, n_theta, order=2, **options):
    """The histogram solver on the case: residuals at the record times (T, s), the solver, and the
    wall seconds of its steps (without building the grid and the initial masses). ``options`` go
    to :class:`solvers.HistogramSolver` (``substeps``, ...)."""
    solver = solvers.HistogramSolver(case.samples, case.density, n_r=n_r, n_theta=n_theta, r_max=case.r_max, order=order, record_every=None,
                                     **options)
    rho = [solver.residuals()]
    start = time.perf_counter()
    for t in record_times(case)[1:]:
        rho.append(solver.run(t_end=t).residuals())
    return np.array(rho), solver, time.perf_counter() - start


@dataclass
class Result:
    case: str
    m_values: list
    errors: dict = field(default_factory=dict)  # m -> list over seeds of max_t max_j |rho_m - rho_inf|
    slope: float = float("nan")
    spread: float = float("nan")
    hist_gap: float = float("nan")
    refinement: list = field(default_factory=list)  # (n_r, n_theta, order, wall s, gap / spread, particle / histogram time)


def run(case_name="gaussian-4", m_values=(10**2, 10**3, 10**4, 10**5, 10**6), seeds=(0, 1, 2), grid=None, refine=None, figure=None, verbose=True,
        out="figures", workers=1, threads=None, mpi=False):
    """Compare particle runs for each m and seed with the histogram solver (module docstring).

    The particle runs are a sweep (:func:`particle_sweep`) into ``out/particles-<case>``, run on
    ``workers`` local processes of ``threads`` threads (default: one process with every core, so
    that the wall times compare with the histogram's) or on MPI ranks (``mpi``); the analysis reads
    its summary and run files. ``grid`` (n_r, n_theta) of the MUSCL histogram taken as rho_inf,
    and ``refine``, the (n_r, n_theta, order) grids of the refinement table, default to the case's.
    Prints the table with wall times, cell updates per second, the distance to the seed mean of the
    largest-m runs in units of their spread, and the particle-to-histogram wall-time ratio;
    returns a Result.
    """
    case = CASES[case_name]()
    grid = tuple(grid or case.grid)
    refine = tuple(refine if refine is not None else case.refine)
    with warnings.catch_warnings():  # a coarse grid leaks: irrelevant to a warm-up
        warnings.simplefilter("ignore", RuntimeWarning)
        for order in (1, 2):
            histogram_history(case, 8, 16, order)  # compile the kernels outside the timings
    start = time.perf_counter()
    rho_inf, hist, _ = histogram_history(case, *grid)
    t_hist = time.perf_counter() - start
    say = print if verbose else (lambda *a, **k: None)
    budget = hist.mass()
    say(f"case {case.name}: s = {case.samples.s}, t_end = {case.t_end} (mean-field clock); histogram {grid[0]} x {grid[1]} (MUSCL) "
        f"in {t_hist:.2f} s, {hist.step} steps; mass on rays {budget['rays']:.3f}, out through r_max {budget['outflow']:.2e}")
    if budget["outflow"] > 1e-6:
        say(f"warning: {budget['outflow']:.2e} of the mass left the grid through |r| = {case.r_max}; increase r_max")
    folder = Path(out) / f"particles-{case.name}"
    particle_sweep(case, m_values, seeds, folder, workers, threads, mpi, stream=None)
    runs = read_sweep(case, folder)
    say(f"particle runs: a sweep of {len(runs)} runs in {folder} (summary.csv)")
    result = Result(case.name, list(m_values))
    largest = {}
    for m in m_values:
        result.errors[m] = []
        for seed in seeds:
            rho_m, elapsed = runs[m, seed]
            result.errors[m].append(float(np.abs(rho_m - rho_inf).max()))
            if m == max(m_values):
                largest[seed] = (rho_m, elapsed)
        say(f"  m = {m:8.0e}: E max_t |rho_m - rho_inf| = {np.mean(result.errors[m]):.3e}  (seeds: {', '.join(f'{e:.2e}' for e in result.errors[m])})")
    logm = np.log(np.array(m_values, dtype=float))
    loge = np.log([np.mean(result.errors[m]) for m in m_values])
    result.slope = float(np.polyfit(logm, loge, 1)[0])
    big = np.array([largest[s][0] for s in seeds])
    mean = big.mean(axis=0)
    result.spread = float(np.mean([np.abs(b - mean).max() for b in big]))
    result.hist_gap = float(np.abs(rho_inf - mean).max())
    t_particles = np.mean([largest[s][1] for s in seeds])
    say(f"fitted slope {result.slope:.3f} (theory -0.5)")
    say(f"m = {max(m_values):.0e}: seed spread E max_t |rho_seed - seed mean| = {result.spread:.2e}; "
        f"histogram vs seed mean {result.hist_gap:.2e} = {result.hist_gap / result.spread:.2f} x spread")
    say(f"particles: m = {max(m_values):.0e}, heun, dt = {case.particle_dt}: {t_particles:.1f} s per run")
    say("grid refinement (histogram against the seed mean of the largest-m runs; order 1 upwind + Euler, 2 MUSCL + Heun):")
    say(f"{'n_r x n_theta':>14} {'order':>5} {'cells':>8} {'steps':>6} {'wall s':>7} {'Mcell-upd/s':>12} {'max|rho - mean|':>16} {'x spread':>9} {'particle/hist time':>19}")
    for n_r, n_theta, order in sorted(set(refine) | {(*grid, 2)}, key=lambda g: (g[2], g[0] * g[1])):
        if (n_r, n_theta, order) == (*grid, 2):
            rho_h, solver, wall = rho_inf, hist, t_hist
        else:
            start = time.perf_counter()
            rho_h, solver, _ = histogram_history(case, n_r, n_theta, order)
            wall = time.perf_counter() - start
        cells = solver.mass_cells.size
        gap = float(np.abs(rho_h - mean).max())
        stages = solver.step * order  # Heun makes two Euler stages per step
        result.refinement.append((solver.grid.rc.size, solver.grid.faces.size, order, wall, gap / result.spread, float(t_particles / wall)))
        say(f"{f'{solver.grid.rc.size} x {solver.grid.faces.size}':>14} {order:5d} {cells:8d} {solver.step:6d} {wall:7.2f} {cells * stages / wall / 1e6:12.1f} "
            f"{gap:16.2e} {gap / result.spread:9.2f} {t_particles / wall:19.0f}")
    within = [row for row in result.refinement if row[4] <= 3.0]
    if within:
        n_r, n_theta, order, wall, ratio, speedup = min(within, key=lambda row: row[3])
        say(f"fastest grid within 3x the seed spread: {n_r} x {n_theta}, order {order}: {ratio:.2f} x spread in {wall:.2f} s, "
            f"{speedup:.0f}x less wall time than one m = {max(m_values):.0e} particle run (goal >= 50x)")
    else:
        say("no grid of the table is within 3x the seed spread")
    if figure:
        _figure(result, figure)
        say(f"figure: {figure}")
    return result


def _figure(result, path):
    import matplotlib.pyplot as plt

    m = np.array(result.m_values, dtype=float)
    mean = np.array([np.mean(result.errors[k]) for k in result.m_values])
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for k in result.m_values:
        ax.plot([k] * len(result.errors[k]), result.errors[k], ".", color="0.6")
    ax.loglog(m, mean, "o-", label=f"mean over seeds (slope {result.slope:.2f})")
    ax.loglog(m, mean[0] * (m / m[0]) ** -0.5, "k--", lw=0.8, label="slope -1/2")
    ax.set_xlabel("number of particles m")
    ax.set_ylabel("max_t max_j |rho_m - rho_inf|")
    ax.set_title(result.case)
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
