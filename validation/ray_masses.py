"""Mass on the rays: sliding particles against the histogram solver (``python -m validation
ray-masses``).

On each validation case of :mod:`validation.mean_field_limit`, the histogram solver carries the
mass that collects on boundary rays explicitly (``mass_on_distinct_rays``), and sliding particles
(``ParticleSolver(method="sliding-heun")`` by default) sit exactly on rays (``ray_mass``). Both are read at the
case's record times (mean-field clock) per distinct ray and sign of r; the report gives, over time,
the largest gap between the seed mean of the particles and the histogram beside the seed-to-seed
spread (the standard deviation over seeds), and the share within 1e-3 rad of each ray that
:func:`meanfield.attractors.ray_mass` counts for the same particles.
"""
import time
from pathlib import Path

import numpy as np

import solvers
from meanfield.attractors import ray_mass as near_ray_mass

from .claims import save
from .mean_field_limit import CASES, record_times


def _by_ray(samples, angles, per_arc):
    """Sum the (2s, 2) masses of the arcs' starting rays onto the distinct ray ``angles``."""
    out = np.zeros((angles.size, 2))
    index = np.argmin(np.abs(np.angle(np.exp(1j * (samples.regions.angles[:, None] - angles[None, :])))), axis=1)
    np.add.at(out, index, per_arc)
    return out


def run(cases=tuple(CASES), m=1_000_000, seeds=(0, 1, 2), quick=False, out="figures", method="sliding-heun", grid=None, say=print):
    """Print the comparison per case and write ``out/ray_masses_<case>.png``; returns
    {case: (times, histogram (T, rays, 2), particles (seeds, T, rays, 2), near (seeds, T, rays, 2))}.
    ``grid`` (n_r, n_theta) replaces the case's histogram grid (``quick``: 60 x 160)."""
    import matplotlib.pyplot as plt

    Path(out).mkdir(parents=True, exist_ok=True)
    results = {}
    for name in cases:
        case = CASES[name]()
        samples, times = case.samples, record_times(case)
        n_r, n_theta = grid or ((60, 160) if quick else case.grid)
        began = time.perf_counter()
        hist = solvers.HistogramSolver(samples, case.density, n_r=n_r, n_theta=n_theta, r_max=case.r_max, record_every=None)
        angles = hist.grid.ray_angle
        on_grid = []
        for t in times:
            if t > 0:
                hist.run(t_end=float(t))
            on_grid.append(hist.mass_on_distinct_rays())
        on_grid = np.array(on_grid)
        wall_hist = time.perf_counter() - began
        sliding, near = [], []
        began = time.perf_counter()
        for seed in seeds:
            r, theta = solvers.init.by_blocks(solvers.init.canonical_law(case.law), m, seed)
            particles = solvers.ParticleSolver(samples, r, theta, dt=case.particle_dt, method=method, record_every=None)
            rows, close = [], []
            for t in times:
                if t > 0:
                    particles.run(t_end=float(t))
                rows.append(_by_ray(samples, angles, particles.ray_mass()))
                close.append(_by_ray(samples, angles, near_ray_mass(samples, particles.r, particles.theta, 1e-3)))
            sliding.append(rows)
            near.append(close)
        sliding, near = np.array(sliding), np.array(near)
        wall_particles = time.perf_counter() - began
        mean, spread = sliding.mean(axis=0), sliding.std(axis=0)
        gap = np.abs(mean - on_grid).max(axis=(1, 2))
        worst_spread = spread.max(axis=(1, 2))
        late = times >= times[-1] / 2
        say(f"case {name}: m = {m}, {len(seeds)} seeds ({method}, largest step {case.particle_dt:g}; {wall_particles:.0f} s) against the "
            f"histogram {n_r} x {n_theta} ({wall_hist:.0f} s); mass on rays at t = {times[-1]:g}: particles {mean[-1].sum():.4f}, "
            f"histogram {on_grid[-1].sum():.4f}")
        say(f"{'t':>6} {'on rays':>8} {'histogram':>9} {'max gap':>9} {'max spread':>10} {'gap/spread':>10}")
        for k in np.unique(np.linspace(0, times.size - 1, 7).astype(int)):
            ratio = gap[k] / worst_spread[k] if worst_spread[k] > 0 else np.nan
            say(f"{times[k]:6.2f} {mean[k].sum():8.4f} {on_grid[k].sum():9.4f} {gap[k]:9.2e} {worst_spread[k]:10.2e} {ratio:10.2f}")
        say(f"over t >= {times[-1] / 2:g}: largest gap {gap[late].max():.2e}, largest seed spread {worst_spread[late].max():.2e}; "
            f"within 1e-3 rad of the rays (meanfield.attractors.ray_mass) {near.mean(axis=0)[-1].sum():.4f} at the end")
        fig, ax = plt.subplots(figsize=(7, 4.5))
        heavy = np.argsort(on_grid.max(axis=0).ravel())[::-1][:4]  # the rays that ever hold the most
        for n, flat in enumerate(heavy):
            ray, sign = np.unravel_index(flat, on_grid[-1].shape)
            label = f"ray at {angles[ray]:.3f} rad, r {'> 0' if sign == 0 else '< 0'}"
            ax.plot(times, on_grid[:, ray, sign], color=f"C{n}", lw=2, alpha=0.5, label=f"histogram: {label}")
            ax.errorbar(times, mean[:, ray, sign], yerr=spread[:, ray, sign], color=f"C{n}", fmt=".", ms=3, lw=0.8,
                        label=f"{method} particles (seed mean +- spread): {label}")
        ax.set_xlabel("t (mean-field clock)")
        ax.set_ylabel("share of the mass on the ray")
        ax.set_title(f"{name}: mass on rays, m = {m}, {len(seeds)} seeds, histogram {n_r} x {n_theta}")
        ax.legend(fontsize="x-small")
        save(fig, out, f"ray_masses_{name}.png")
        results[name] = (times, on_grid, sliding, near)
    return results
