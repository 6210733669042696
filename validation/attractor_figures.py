"""An adaptive-regime run on a few samples: which rays attract, and the pictures that show it.

Canonical flow (mean-field clock), m particles from the Gaussian-uniform preset. Prints the
predicted attractors against the observed concentration of particles near each ray, and writes the
figures of :mod:`meanfield.plots` to ``out``.
"""
from pathlib import Path

import meanfield as mf
import solvers
from meanfield import plots
from meanfield.attractors import concentration_report

SAMPLES = ([-0.8, -0.3, 0.2, 0.7], [0.6, -0.4, 0.5, -0.3])


def run(out="figures", m=20_000, t_end=20.0, dt=0.01, eps=1e-3, seed=0, progress=True):
    import matplotlib.pyplot as plt

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    samples = mf.Samples(*SAMPLES)
    r0, th0 = solvers.init.gaussian_uniform(m, sigma=0.5, rng=seed)
    solver = solvers.ParticleSolver(samples, r0, th0, dt=dt, record_every=5).run(t_end=t_end, progress=progress)
    print(f"m = {m}, t = {solver.t:g} (mean-field clock), loss {solver.history.loss[0]:.4f} -> {solver.loss():.4f}")
    rows = concentration_report(samples, solver.history.rho, (r0, th0), (solver.r, solver.theta), eps)
    print(f"share of particles within {eps:g} rad of each ray (start -> end), and the detector's calls:")
    print(f"{'ray':>4} {'x':>6} {'side':>4} {'sign':>5} {'final':>10} {'ever attr.':>10} {'start':>7} {'end':>7}")
    for row in rows:
        side = "on" if samples.regions.switches_on[row["ray"]] else "off"
        print(f"{row['ray']:4d} {samples.x[row['sample']]:6.2f} {side:>4} {row['sign']:+5d} {row['final']:>10} {str(row['ever']):>10} {row['mass_start']:7.4f} {row['mass_end']:7.4f}")
    figures = {
        "network.png": lambda ax: plots.plot_network(solver, ax=ax),
        "uv.png": lambda ax: plots.plot_uv(solver, ax=ax),
        "field_positive.png": lambda ax: plots.plot_field_uv(solver, sign=1, ax=ax, extent=1.5),
        "field_negative.png": lambda ax: plots.plot_field_uv(solver, sign=-1, ax=ax, extent=1.5),
        "residuals.png": lambda ax: plots.plot_residuals(solver.history, ax=ax),
        "rays_positive.png": lambda ax: plots.plot_ray_timeline(samples, solver.history, sign=1, ax=ax),
    }
    for name, draw in figures.items():
        fig, ax = plt.subplots(figsize=(6, 5) if "field" in name or "uv" in name else (7, 4))
        draw(ax)
        fig.tight_layout()
        fig.savefig(out / name, dpi=100)
        plt.close(fig)
    print(f"figures in {out}/: {', '.join(figures)}")
    return solver, rows
