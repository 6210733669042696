"""Figures of a network state and of a run.

Every function takes either a state or plain ``samples, r, theta`` arrays, an optional matplotlib
Axes, and returns the Axes. A state is anything with ``samples``, ``atoms()`` (the measure as
weighted atoms ``(r, theta, weight)``), ``network(x)`` and ``residuals()``: every solver, and
every snapshot of a run read with :func:`meanfield.open_run`. Markers are drawn for at most
MAX_MARKERS atoms (a fixed random subset of equal atoms, else drawn by weight); curves use all
of them. Nothing here selects a matplotlib backend.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from . import attractors, field, params

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from numpy.typing import ArrayLike

    from .samples import Samples

MAX_MARKERS = 3000
RAY_COLOURS = {attractors.ATTRACTOR: "C3", attractors.REPULSOR: "C0", attractors.CROSSING: "0.75"}


def _axes(ax, figsize=(6, 4.5)):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=figsize)
    return ax


def _atoms(obj: Any, r: ArrayLike | None, theta: ArrayLike | None) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
    """(samples, r, theta, weight): explicit arrays (weight 1/m each), or the atoms of anything
    that has ``samples`` and ``atoms()`` (a solver, a snapshot of a run)."""
    if r is not None:
        r = np.asarray(r)
        return obj, r, np.asarray(theta), np.broadcast_to(1.0 / max(r.size, 1), r.shape)
    return (obj.samples, *obj.atoms())


def _markers(weight, seed=0):
    """Indices of at most MAX_MARKERS atoms to draw as markers: a fixed random subset of equal
    atoms, or atoms drawn with probability proportional to their weight."""
    weight = np.asarray(weight)
    if weight.size and np.all(weight == weight.flat[0]):
        if weight.size <= MAX_MARKERS:
            return np.arange(weight.size)
        return np.sort(np.random.default_rng(seed).choice(weight.size, MAX_MARKERS, replace=False))
    total = weight.sum()
    if not total > 0:
        return np.zeros(0, dtype=np.int64)
    return np.random.default_rng(seed).choice(weight.size, MAX_MARKERS, p=weight / total)


def network_values(obj: Any, x: ArrayLike) -> np.ndarray:
    """f(x) of a state (anything with ``network(x)``: a solver, a snapshot) at the points x."""
    return obj.network(np.atleast_1d(np.asarray(x, dtype=np.float64)))


def plot_network(obj: Any, r: ArrayLike | None = None, theta: ArrayLike | None = None, ax: Axes | None = None, n_points: int = 400) -> Axes:
    """The network function f(x) with its knots on the curve and the samples (Figure 1, left).

    ``obj``: anything with ``samples``, ``atoms()`` and ``network(x)`` (a solver, a snapshot),
    or samples with explicit ``r, theta``. Knots are drawn for at most MAX_MARKERS atoms."""
    explicit = r is not None
    samples, r, theta, weight = _atoms(obj, r, theta)
    ax = _axes(ax)
    lo, hi = samples.x[0], samples.x[-1]
    pad = 0.15 * max(hi - lo, 1.0)
    grid = np.linspace(lo - pad, hi + pad, n_points)

    def f(x):
        return field.network(x, r, theta) if explicit else network_values(obj, x)

    ax.plot(grid, f(grid), color="C0", lw=1.5, label="network f(x)")
    e = params.knots(theta[_markers(weight)])
    e = e[(e > grid[0]) & (e < grid[-1])]
    ax.plot(e, f(e), "o", ms=3, color="C2", alpha=0.5, label=f"knots -tan(theta) ({e.size} shown)")
    ax.plot(samples.x, samples.y, "x", color="C3", ms=8, mew=2, label="samples")
    ax.set_xlabel("x")
    ax.set_ylabel("f(x)")
    ax.legend(loc="best", fontsize="small")
    return ax


def _sample_lines(ax, samples, extent):
    for xj in samples.x:
        direction = np.array([1.0, -xj]) / np.hypot(1.0, xj)  # the line u x_j + v = 0
        ax.plot(*(np.outer([-2 * extent, 2 * extent], direction).T), color="0.5", lw=0.7, zorder=1)


def _activation_regions(ax, samples, extent):
    """Shade each arc's wedge by the size of its active set."""
    from matplotlib.patches import Wedge

    reg = samples.regions
    counts = reg.arc_count / max(samples.s, 1)
    ends = np.append(reg.angles[1:], reg.angles[0] + 2 * np.pi)
    for start, end, share in zip(reg.angles, ends, counts):
        if end > start:
            ax.add_patch(Wedge((0, 0), 3 * extent, np.degrees(start), np.degrees(end), color=(1 - 0.25 * share, 1 - 0.12 * share, 1.0), lw=0, zorder=0))


def _square(ax, extent, label=True):
    ax.set_xlim(-extent, extent)
    ax.set_ylim(-extent, extent)
    ax.set_aspect("equal")
    if label:
        ax.set_xlabel("u = |r| cos th")
        ax.set_ylabel("v = |r| sin th")


def plot_uv(obj: Any, r: ArrayLike | None = None, theta: ArrayLike | None = None, ax: Axes | None = None, extent: float | None = None) -> Axes:
    """Neurons as (u, v) = |r| d(theta) coloured by sign(r), with the sample lines u x_j + v = 0 and
    the activation regions shaded by the number of active samples (Figure 1, right)."""
    samples, r, theta, weight = _atoms(obj, r, theta)
    ax = _axes(ax, (5.5, 5.5))
    idx = _markers(weight)
    u, v = params.uv(r[idx], theta[idx])
    positive = r[idx] >= 0
    if extent is None:
        extent = 1.1 * max(np.quantile(np.hypot(u, v), 0.99) if u.size else 1.0, 1e-12)
    _activation_regions(ax, samples, extent)
    _sample_lines(ax, samples, extent)
    ax.scatter(u[positive], v[positive], s=4, color="C3", label="neuron, r > 0", zorder=2)
    ax.scatter(u[~positive], v[~positive], s=4, color="C0", label="neuron, r < 0", zorder=2)
    _square(ax, extent)
    ax.legend(handles=[*ax.get_legend_handles_labels()[0], *_region_legend()], loc="upper right", fontsize="x-small")
    return ax


def _region_legend():
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    return [
        Line2D([], [], color="0.5", lw=0.7, label="sample line u x_j + v = 0"),
        Patch(color=(0.75, 0.88, 1.0), label="activation region (darker: more active samples)"),
    ]


def plot_field_uv(obj: Any, rho: ArrayLike | None = None, sign: int = 1, ax: Axes | None = None, extent: float = 2.0, n: int = 21) -> Axes:
    """The velocity field felt by one particle of the given sign of r in the uv-plane, with the
    boundary rays coloured by their state for that sign (Figure 9): red attractor, blue
    repulsor, grey crossing. ``obj`` is a solver (its current residuals) or samples with ``rho``."""
    samples = obj if rho is not None else obj.samples
    rho = np.asarray(rho) if rho is not None else obj.residuals()
    ax = _axes(ax, (5.5, 5.5))
    grid = np.linspace(-extent, extent, n)
    u, v = np.meshgrid(grid, grid)
    radius = np.hypot(u, v).ravel()
    theta = np.arctan2(v, u).ravel()
    r = sign * radius
    dr, dth = field.velocity(samples, r, theta, rho=rho)
    c, s = np.cos(theta), np.sin(theta)
    du = sign * dr * c - radius * s * dth
    dv = sign * dr * s + radius * c * dth
    _activation_regions(ax, samples, extent)
    ax.quiver(u.ravel(), v.ravel(), du, dv, angles="xy", color="0.2", width=0.003, zorder=2)
    cls = attractors.classify_rays(samples, rho)
    states = cls.state(sign)
    for phi, state in zip(cls.angle, states):
        ax.plot([0, 2 * extent * np.cos(phi)], [0, 2 * extent * np.sin(phi)], color=RAY_COLOURS[str(state)], lw=2.2 if state != attractors.CROSSING else 1.0, zorder=3)
    _square(ax, extent)
    ax.set_title(f"field felt by a particle with r {'>' if sign > 0 else '<'} 0")
    return ax


def plot_density(obj: Any, r: ArrayLike | None = None, theta: ArrayLike | None = None, ax: Axes | None = None, bins: tuple[int, int] = (240, 120),
                 r_max: float | None = None) -> Axes:
    """Density of the neurons on the cylinder: theta in [0, 2 pi) across, r up (log colour
    scale), boundary rays as thin vertical lines.

    ``obj``: anything with ``samples`` and ``atoms()`` (a solver, a snapshot), or samples with
    explicit ``r, theta``. Atoms are binned with their weights in ``bins`` (theta, r) cells over
    |r| <= r_max (default: the largest |r| carrying mass); atoms on a lattice (the cell centres of
    a histogram solver) are binned on their own lattice instead, one bin per cell. Atoms that sit exactly on a boundary
    ray (the sliding methods' particles on rays, the histogram's ray masses) are not spread over
    a cell: they are drawn as dots on their ray, one per r-bin, of area proportional to mass.
    """
    from matplotlib.colors import LogNorm

    ax = _axes(ax, (7, 4.5))
    samples, r, theta, weight = _atoms(obj, r, theta)
    theta = np.mod(np.asarray(theta, dtype=np.float64), 2 * np.pi)
    rays = np.unique(np.mod(samples.regions.angles, 2 * np.pi))
    carrying = weight > 0
    if r_max is None:
        r_max = float(np.abs(r[carrying]).max()) if carrying.any() else 1.0
    r_max = max(float(r_max), 1e-12)
    at = np.clip(np.searchsorted(rays, theta), 0, rays.size - 1)
    on_ray = carrying & (rays[at] == theta)
    free = carrying & ~on_ray
    edges = [_lattice_edges(theta[free]), _lattice_edges(r[free])]
    edges = [found if found is not None else np.linspace(lo, hi, n + 1) for found, lo, hi, n in zip(edges, (0, -r_max), (2 * np.pi, r_max), bins)]
    counts, theta_faces, r_faces = np.histogram2d(theta[free], r[free], bins=edges, weights=weight[free])
    density = counts.T / (np.diff(theta_faces)[None, :] * np.diff(r_faces)[:, None])
    positive = density[density > 0]
    norm = LogNorm(vmin=max(positive.min(), positive.max() * 1e-4), vmax=positive.max()) if positive.size else None
    mesh = ax.pcolormesh(theta_faces, r_faces, np.where(density > 0, density, np.nan), norm=norm, cmap="viridis", shading="flat")
    ax.figure.colorbar(mesh, ax=ax, label="density (per unit r per radian)")
    for angle in rays:
        ax.axvline(angle, color="0.5", lw=0.5, zorder=1)
    if on_ray.any():
        per_ray, _, _ = np.histogram2d(at[on_ray], r[on_ray], bins=(np.arange(rays.size + 1) - 0.5, r_faces), weights=weight[on_ray])
        q, row = np.nonzero(per_ray > 1e-6)
        mass = per_ray[q, row]
        centres = (r_faces[:-1] + r_faces[1:]) / 2
        ax.scatter(rays[q], centres[row], s=60 * mass / mass.max(), color="C3", alpha=0.7, label=f"mass on rays: {weight[on_ray].sum():.3f}", zorder=3)
        ax.legend(loc="upper right", fontsize="x-small")
    ax.set_xlim(0, 2 * np.pi)
    ax.set_xlabel("theta")
    ax.set_ylabel("r")
    return ax


def _lattice_edges(values, most=2000):
    """Bin edges midway between the distinct values when the atoms sit on a lattice (a grid's
    cell centres: at most ``most`` distinct values, each shared by several atoms), else None."""
    distinct = np.unique(values)
    if not (2 <= distinct.size <= min(most, values.size // 4)):
        return None
    middle = (distinct[1:] + distinct[:-1]) / 2
    return np.concatenate([[2 * distinct[0] - middle[0]], middle, [2 * distinct[-1] - middle[-1]]])


def plot_residuals(history: Any, ax: Axes | None = None) -> Axes:
    """Residuals rho_j(t) of a run's history (:class:`solvers.History`, or anything with ``t``,
    ``rho``, ``loss``, ``energy``, ``gap`` and ``s``), and on a second axis (log scale) the loss,
    dashed, and where a regulariser makes the energy differ, the energy and the gap (energy - dual
    value, a bound of the energy's distance to its global minimum)."""
    ax = _axes(ax, (7, 4))
    t = history.t
    for j in range(history.s):
        ax.plot(t, history.rho[:, j], lw=1, label=f"rho_{j + 1}" if history.s <= 10 else None)
    ax.axhline(0, color="0.6", lw=0.6)
    ax.set_xlabel("t")
    ax.set_ylabel("residual rho_j")
    loss_ax = ax.twinx()
    loss_ax.semilogy(t, history.loss, color="k", lw=1.5, ls="--", label="loss 1/2 |rho|^2 (right axis)")
    energy, drawn = history.energy, ["loss 1/2 |rho|^2"]
    if np.any(np.isfinite(energy) & (np.abs(energy - history.loss) > 1e-9 * np.abs(history.loss))):  # a TV term, beyond rounding
        loss_ax.semilogy(t, energy, color="C1", lw=1.5, ls="-.", label="energy, loss + tv int |r| (right axis)")
        drawn.append("energy")
        gap = getattr(history, "gap", np.full(t.shape, np.nan))
        if np.any(np.isfinite(gap) & (gap > 0)):
            loss_ax.semilogy(t, np.where(gap > 0, gap, np.nan), color="navy", lw=1.8, ls=":", label="gap, >= energy - min energy (right axis)")
            drawn.append("gap")
    loss_ax.set_ylabel(", ".join(drawn))
    handles = (ax.get_legend_handles_labels()[0] if history.s <= 10 else []) + loss_ax.get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="upper right", fontsize="x-small", ncol=2)
    return ax


def plot_ray_timeline(samples: Samples, history: Any, sign: int = 1, ax: Axes | None = None) -> Axes:
    """State of every ray over a run for the given sign of r (red attractor, blue repulsor,
    grey crossing), with a legend."""
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    ax = _axes(ax, (7, 3.5))
    cls = attractors.classify_rays(samples, history.rho)
    states = cls.state(sign)
    code = np.select([states == attractors.ATTRACTOR, states == attractors.REPULSOR], [2, 0], 1)
    cmap = ListedColormap([RAY_COLOURS[attractors.REPULSOR], RAY_COLOURS[attractors.CROSSING], RAY_COLOURS[attractors.ATTRACTOR]])
    t = history.t
    ax.pcolormesh(np.append(t, t[-1] + (t[-1] - t[-2] if t.size > 1 else 1.0)), np.arange(cls.angle.size + 1), code.T, cmap=cmap, vmin=0, vmax=2, shading="flat")
    labels = [f"x{cls.sample[k] + 1} {'on' if samples.regions.switches_on[k] else 'off'}" for k in range(cls.angle.size)]
    ax.set_yticks(np.arange(cls.angle.size) + 0.5, labels, fontsize="x-small")
    ax.set_xlabel("t")
    ax.set_title(f"ray states for r {'>' if sign > 0 else '<'} 0")
    ax.legend(handles=[Patch(color=RAY_COLOURS[k], label=k) for k in (attractors.ATTRACTOR, attractors.REPULSOR, attractors.CROSSING)],
              loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="x-small")
    return ax
