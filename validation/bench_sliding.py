"""Sliding particles (``sliding``, ``sliding-heun``) against explicit Runge-Kutta steps: the
error of the residual trajectory against a very-small-step reference, plotted against wall time
(``python -m validation bench-sliding``).

Per case, the same particles run with euler, heun and rk4 at several fixed steps and with the
sliding step at several largest steps; each run is timed and its residuals rho(t) are compared at
the case's record times (mean-field clock) with a reference: ``sliding-heun`` with a largest step of
``REF_DT`` (its gap to the same with twice that step bounds its own error; RK4 at ten times the
step is shown beside it, to see how far an explicit method with a small step is from it). Errors
are max over times and samples of |rho - rho_ref|, over the whole run and over the part where at
least 10% of the particles sit on rays in the reference. At equal wall time (log-log
interpolation of each explicit method's error curve at the sliding runs' wall times), the report
gives how many times smaller the sliding error is than the best explicit method's.
"""
import time
from pathlib import Path

import numba
import numpy as np

import solvers
from meanfield.defaults import PRESETS
from solvers.sliding import SlidingSolver

from .claims import save
from .mean_field_limit import CASES, record_times

REF_DT = 2e-4
STEPS = {"euler": (0.1, 0.05, 0.02, 0.01, 0.005), "heun": (0.1, 0.05, 0.02, 0.01), "rk4": (0.1, 0.05, 0.02), "sliding": (0.2, 0.1, 0.05, 0.02, 0.01),
         "sliding-heun": (0.2, 0.1, 0.05, 0.02, 0.01)}
SLIDING = SlidingSolver.METHODS


def problems(quick):
    """(name, samples, r, theta, times) of the default problem and the gaussian-4 validation case."""
    m = 2000 if quick else 20000
    tent = PRESETS["tent8"]()
    r, theta = solvers.init.gaussian_uniform(m, rng=0)
    yield "default (tent8)", tent, r, theta, np.linspace(0.0, 10.0 if quick else 30.0, 31)
    case = CASES["gaussian-4"]()
    r, theta = solvers.init.gaussian_uniform(m, sigma=0.5, rng=1)
    yield "gaussian-4", case.samples, r, theta, record_times(case)


def trajectory(samples, r, theta, times, method, dt):
    """rho at ``times``, the wall time of the run (s), the solver, and the share of particles on
    rays at ``times`` (NaN for the explicit methods)."""
    solver = solvers.ParticleSolver(samples, r, theta, dt=dt, method=method, record_every=None)
    rows, shares = [solver.residuals()], [0.0]
    began = time.perf_counter()
    for t in times[1:]:
        solver.run(t_end=float(t))
        rows.append(solver.residuals())
        shares.append(float((solver.ray >= 0).mean()) if method in SLIDING else float("nan"))
    wall = time.perf_counter() - began
    return np.array(rows), wall, solver, np.array(shares)


def run(quick=False, out="figures", cases=("default", "gaussian-4"), say=print):
    """Print the tables and write ``out/bench_sliding.png``; returns {case: rows}, a row
    (method, dt, steps, wall s, error, late error)."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    Path(out).mkdir(parents=True, exist_ok=True)
    tent = PRESETS["tent8"]()
    for method in STEPS:  # compile outside the timings
        trajectory(tent, *solvers.init.gaussian_uniform(300, rng=0), np.array([0.0, 0.2]), method, 0.1)
    steps = {k: v[1:4] for k, v in STEPS.items()} if quick else STEPS
    cases = [case for case in problems(quick) if case[0].split()[0] in cases]
    fig, axes = plt.subplots(1, len(cases), figsize=(6 * len(cases), 4.5), squeeze=False)
    results = {}
    for ax, (name, samples, r, theta, times) in zip(axes[0], cases):
        ref, _, _, share = trajectory(samples, r, theta, times, "sliding-heun", REF_DT)
        double = trajectory(samples, r, theta, times, "sliding-heun", 2 * REF_DT)[0]
        rk4_ref = trajectory(samples, r, theta, times, "rk4", 10 * REF_DT)[0]
        late = share >= 0.1
        say(f"case {name}: m = {r.size}, t_end = {times[-1]:g}; reference: sliding-heun, largest step {REF_DT:g}: {np.abs(double - ref).max():.1e} "
            f"from the same with twice the step, {np.abs(rk4_ref - ref).max():.1e} from RK4 at ten times the step; "
            f"{share[-1]:.0%} of the particles on rays at the end, >= 10% from t = {times[late][0] if late.any() else float('nan'):g}")
        say(f"{'method':>8} {'dt':>6} {'steps':>6} {'wall s':>7} {'error':>9} {'late error':>10} {'on rays':>7}")
        rows = []
        for method, values in steps.items():
            for dt in values:
                rho, wall, solver, on = trajectory(samples, r, theta, times, method, dt)
                on = on[-1]
                error = float(np.abs(rho - ref).max())
                late_error = float(np.abs(rho - ref)[late].max()) if late.any() else error
                rows.append((method, dt, solver.step, wall, error, late_error))
                say(f"{method:>8} {dt:6g} {solver.step:6d} {wall:7.2f} {error:9.2e} {late_error:10.2e} {on:7.1%}")
        results[name] = rows
        for method in SLIDING:
            ratios = _equal_wall_ratios(rows, method)
            if ratios:
                say(f"at equal wall time the {method} error is {min(ratios):.2g}x to {max(ratios):.2g}x smaller than the best explicit "
                    "method's (late errors; its runs inside an explicit method's wall-time range)")
        for method in steps:
            mine = [row for row in rows if row[0] == method]
            ax.loglog([row[3] for row in mine], [row[5] for row in mine], "o-" if method in SLIDING else "s--", label=method)
        # labels at 1, 2, 5 per decade: matplotlib's minor labels overlap on a range under a decade
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(f"wall time (s, {numba.get_num_threads()} threads)")
        ax.set_ylabel("max |rho - rho_ref| once >= 10% sit on rays")
        ax.set_title(f"{name}: m = {r.size}, t_end = {times[-1]:g}")
        ax.legend(fontsize="small")
    save(fig, out, "bench_sliding.png")
    say(f"figure: {Path(out) / 'bench_sliding.png'}")
    return results


def _equal_wall_ratios(rows, sliding):
    """For each run of the ``sliding`` method: the smallest late error of the explicit methods
    whose wall-time range holds its wall time (log-log interpolation) over its own late error."""
    curves = {}
    for method, _, _, wall, _, late in rows:
        curves.setdefault(method, []).append((wall, late))
    mine = curves.get(sliding, [])
    explicit = [points for method, points in curves.items() if method not in SLIDING]
    ratios = []
    for wall, late in mine:
        best = np.inf
        for points in explicit:
            points = sorted(points)
            walls, errors = np.log([p[0] for p in points]), np.log([p[1] for p in points])
            if walls[0] <= np.log(wall) <= walls[-1]:
                best = min(best, float(np.exp(np.interp(np.log(wall), walls, errors))))
        if np.isfinite(best):
            ratios.append(best / late)
    return ratios
