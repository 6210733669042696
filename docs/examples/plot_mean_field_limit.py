"""
Finite m against the mean-field limit
=====================================

Particles at growing m against the histogram solver (the mean-field limit on a grid): the
largest residual gap over time falls roughly like m^(-1/2).
"""
import matplotlib.pyplot as plt
import numpy as np

import solvers
from meanfield.defaults import gaussian4_samples

samples = gaussian4_samples()
t_end = 3.0


def density(r, theta):  # r ~ N(0, 1), theta uniform, as a density in dr dtheta
    return np.exp(-(r**2) / 2) / np.sqrt(2 * np.pi) / (2 * np.pi) + 0 * theta


limit = solvers.HistogramSolver(samples, density, n_r=60, n_theta=240, r_max=6.0, record_every=1).run(t_end=t_end)
gaps = {}
for m in (100, 1000, 10000, 100000):
    runs = []
    for seed in range(3):
        r, theta = solvers.init.gaussian_uniform(m, rng=seed)
        runs.append(solvers.ParticleSolver(samples, r, theta, dt=0.01, record_every=10).run(t_end=t_end))
    gaps[m] = np.mean([np.abs(np.array([np.interp(limit.history.t, p.history.t, p.history.rho[:, j]) for j in range(samples.s)]).T
                              - limit.history.rho).max() for p in runs])
    print(f"m = {m:6d}: max over t and j of |rho_m - rho_limit| = {gaps[m]:.4f} (mean of 3 seeds)")
slope = np.polyfit(np.log(list(gaps)), np.log(list(gaps.values())), 1)[0]
print(f"slope {slope:.2f}")

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
left.loglog(list(gaps), list(gaps.values()), "o-", label=f"particles (slope {slope:.2f})")
ms = np.array(list(gaps))
left.loglog(ms, gaps[100] * (ms / 100) ** -0.5, "k--", label="m^-1/2")
left.set_xlabel("m")
left.set_ylabel("max |rho_m - rho_limit|")
left.legend()
left.set_title("finite m against the mean-field limit")
for j in range(samples.s):
    right.plot(limit.history.t, limit.history.rho[:, j], color=f"C{j}", label=f"rho_{j + 1}, limit")
    right.plot(runs[0].history.t, runs[0].history.rho[:, j], ":", color=f"C{j}")
right.set_xlabel("t (mean-field time)")
right.set_title("residuals: histogram (solid), m = 1e5 particles (dotted)")
right.legend(fontsize="x-small")
fig.tight_layout()
