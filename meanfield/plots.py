"""Figures of a network state. Functions take plain arrays (or a solver's ``r``, ``theta``) and an
optional matplotlib Axes, and return the Axes."""
import numpy as np

from . import params, reference

MAX_MARKERS = 3000  # past this, a random subset of neurons is drawn (the curve uses all of them)


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 4))
    return ax


def _subset(m, seed=0):
    if m <= MAX_MARKERS:
        return np.arange(m)
    return np.sort(np.random.default_rng(seed).choice(m, MAX_MARKERS, replace=False))


def plot_network(samples, r, theta, ax=None, n_points=400):
    """The network function f(x) with its knots on the curve and the samples (Figure 1, left)."""
    ax = _axes(ax)
    lo, hi = samples.x[0], samples.x[-1]
    pad = 0.15 * max(hi - lo, 1.0)
    grid = np.linspace(lo - pad, hi + pad, n_points)
    ax.plot(grid, reference.network(grid, r, theta), color="C0", lw=1.5, label="network f(x)")
    e = params.knots(theta)[_subset(np.size(theta))]
    e = e[(e > grid[0]) & (e < grid[-1])]
    ax.plot(e, reference.network(e, r, theta), "o", ms=3, color="C2", alpha=0.6, label="knots")
    ax.plot(samples.x, samples.y, "x", color="C3", ms=8, mew=2, label="samples")
    ax.set_xlabel("x")
    ax.set_ylabel("f(x)")
    ax.legend(loc="best", fontsize="small")
    return ax


def plot_uv(samples, r, theta, ax=None):
    """Neurons as (u, v) = |r| d(theta) coloured by sign(r), with the sample lines u x_j + v = 0
    (Figure 1, right)."""
    ax = _axes(ax)
    idx = _subset(np.size(r))
    u, v = params.uv(np.asarray(r)[idx], np.asarray(theta)[idx])
    positive = np.asarray(r)[idx] >= 0
    ax.scatter(u[positive], v[positive], s=4, color="C3", label="r > 0")
    ax.scatter(u[~positive], v[~positive], s=4, color="C0", label="r < 0")
    extent = 1.1 * max(np.abs(u).max(initial=0), np.abs(v).max(initial=0), 1e-12)
    for xj in samples.x:
        direction = np.array([1.0, -xj]) / np.hypot(1.0, xj)  # the line u x_j + v = 0
        ax.plot(*(np.outer([-extent * 2, extent * 2], direction).T), color="0.6", lw=0.7)
    ax.set_xlim(-extent, extent)
    ax.set_ylim(-extent, extent)
    ax.set_aspect("equal")
    ax.set_xlabel("u = |r| cos th")
    ax.set_ylabel("v = |r| sin th")
    ax.legend(loc="upper right", fontsize="small")
    return ax
