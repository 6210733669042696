"""
The kernel regime against its cubic spline
==========================================

Training only the output weights c (the kernel regime, delta -> -inf) with a, b ~ U(-1, 1): the
network approaches the exact random-feature kernel interpolant, a C^2 cubic spline with knots at
the samples (Theorem 5), which is close to, but not equal to, scipy's natural cubic spline.
"""
import matplotlib.pyplot as plt
import numpy as np
from scipy.interpolate import CubicSpline

from meanfield import feature_kernels
from meanfield.defaults import square10_samples

samples = square10_samples()
interpolant = feature_kernels.interpolant(lambda u, v: feature_kernels.rf_kernel(u, v, law="uniform"), samples.x, samples.y)
grid = np.linspace(-1, 1, 400)
spline = CubicSpline(samples.x, samples.y, bc_type="natural")

rng = np.random.default_rng(0)
fig, ax = plt.subplots(figsize=(8, 4.5))
for m in (100, 1000, 10000):
    a, b = rng.uniform(-1, 1, m), rng.uniform(-1, 1, m)
    features = np.maximum(np.outer(samples.x, a) - b, 0.0)  # [a x - b]_+ at the samples
    c = np.linalg.lstsq(features, samples.y, rcond=None)[0]  # the minimum-norm c: the end of training c alone
    f = np.maximum(np.outer(grid, a) - b, 0.0) @ c
    gap = np.abs(f - interpolant(grid)).max()
    print(f"m = {m:5d}: sup distance to the kernel interpolant {gap:.3f}")
    ax.plot(grid, f, lw=1, alpha=0.7, label=f"trained c, m = {m}")
ax.plot(grid, interpolant(grid), "k", lw=2, label="exact kernel interpolant (cubic spline)")
inside = (grid >= samples.x[0]) & (grid <= samples.x[-1])
ax.plot(grid[inside], spline(grid[inside]), "--", color="C4", lw=1.5, label="scipy natural cubic spline")
ax.plot(samples.x, samples.y, "x", color="C3", ms=8, mew=2, label="samples (square wave)")
ax.set_xlabel("x")
ax.set_title("kernel regime: networks trained on c alone")
ax.legend(fontsize="x-small")
fig.tight_layout()
