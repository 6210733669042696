"""
A regularised run and its exact optimum
=======================================

With the TV regulariser (eq. 16), the flow converges to the global minimum F* of a convex problem
in disguise. ``meanfield.convex.optimum`` gives F*, the optimal measure (at most s atoms) and its
network as a linear spline; every run records its energy and the gap, an upper bound of how far
the energy is above F* that costs O(s) per record. Here: tent8, tv = 0.02, 2000 neurons from
r ~ N(0, 0.01^2), explicit Euler with dt = 0.01.
"""
import tempfile

import matplotlib.pyplot as plt
import numpy as np

import meanfield as mf
from meanfield.convex import optimum
from solvers import cli

folder = tempfile.mkdtemp() + "/run"
cli.main(["run", "--out", folder, "--set", "tv=0.02", "--set", "sigma=0.01", "--set", "m=2000", "--set", "t_end=400", "--set", "history=1",
          "--set", "progress=false", "--set", "figures=false"])
run = mf.open_run(folder)
best = optimum(run.samples, 0.02)
h = run.history
print(f"F* = {best.energy:.10f} with {best.weights.size} atoms; the run ends at energy {h.energy[-1]:.10f} "
      f"({(h.energy[-1] - best.energy) / best.energy:.1e} above F*), gap {h.gap[-1]:.2e}")
print("optimal knots:", np.round(best.knots, 4), "distance to the nearest sample:", np.round(best.distances_to_samples(), 4))

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
x = np.linspace(-1.1, 1.1, 400)
left.plot(x, run.solver().network(x), lw=2, label=f"network at t = {h.t[-1]:g}")
left.plot(x, best.network(x), "k--", lw=1.2, label="optimum f* (linear spline)")
inside = np.abs(best.knots) <= 1.1
left.plot(best.knots[inside], best.values[inside], "kx", ms=9, label="knots of f*")
left.plot(run.samples.x, run.samples.y, "o", color="C3", label="samples")
left.set_xlabel("x")
left.set_ylabel("f(x)")
left.set_title("the run's network and the exact optimum")
left.legend(fontsize="small")
right.loglog(h.t[1:], (h.energy[1:] - best.energy) / best.energy, label="(F - F*) / F*: the true excess")
right.loglog(h.t[1:], h.gap[1:] / best.energy, ":", label="gap / F*: recorded, an upper bound of it")
right.set_xlabel("t (mean-field clock)")
right.set_ylabel("relative to F*")
right.set_title("distance to the global minimum")
right.legend(fontsize="small")
fig.suptitle("tent8 with the TV regulariser, tv = 0.02")
fig.tight_layout()
