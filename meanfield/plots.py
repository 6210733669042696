"""Figures of a network state and of a run.

Every function takes either a solver (anything with ``samples`` and ``r``/``theta``,
``canonical()`` for full parameters, or a histogram solver's ``grid`` and masses) or plain
``samples, r, theta`` arrays, an optional matplotlib Axes, and returns the Axes. Markers are drawn
for at most MAX_MARKERS neurons (a fixed random subset; for a histogram, points drawn from its
masses); curves use all of them. Nothing here selects a matplotlib backend.
"""
import numpy as np

from . import attractors, field, params

MAX_MARKERS = 3000
RAY_COLOURS = {attractors.ATTRACTOR: "C3", attractors.REPULSOR: "C0", attractors.CROSSING: "0.75"}


def _axes(ax, figsize=(6, 4.5)):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=figsize)
    return ax


def _state(obj, r, theta):
    """(samples, r, theta) from a solver or from explicit arrays; a histogram solver gives
    MAX_MARKERS points drawn from its masses."""
    if r is not None:
        return obj, np.asarray(r), np.asarray(theta)
    if hasattr(obj, "canonical"):
        r, theta = obj.canonical()
        return obj.samples, r, theta
    if _is_histogram(obj):
        return (obj.samples, *histogram_points(obj))
    return obj.samples, obj.r, obj.theta


def _is_histogram(obj):
    return hasattr(obj, "mass_cells") and hasattr(obj, "grid")


def _histogram_atoms(hist):
    """The histogram's measure as weighted atoms: r, angle theta (cell centre or ray), direction d
    (the cell average of d(theta), or d on the ray) and mass. Exact for f at the samples (no
    sample's boundary lies inside a cell)."""
    grid = hist.grid
    n_r, n_c = hist.mass_cells.shape
    n_q = grid.ray_angle.size
    r = np.concatenate([np.repeat(grid.rc, n_c), np.repeat(grid.rc, n_q)])
    theta = np.concatenate([np.tile(np.mod(grid.faces + grid.width / 2, 2 * np.pi), n_r), np.tile(grid.ray_angle, n_r)])
    d = np.concatenate([np.tile(grid.mean_d, (n_r, 1)), np.tile(grid.ray_d, (n_r, 1))])
    mass = np.concatenate([hist.mass_cells.ravel(), hist.ray_mass.ravel()])
    return r, theta, d, mass


def histogram_points(hist, n=MAX_MARKERS, seed=0):
    """n points (r, theta) drawn from a histogram solver's cell and ray masses (cell centres)."""
    r, theta, _, mass = _histogram_atoms(hist)
    if mass.sum() <= 0:
        return np.zeros(0), np.zeros(0)
    pick = np.random.default_rng(seed).choice(mass.size, n, p=mass / mass.sum())
    return r[pick], theta[pick]


def network_values(obj, x):
    """f(x) of a solver's network (particles, full parameters or histogram) at the points x."""
    x = np.atleast_1d(np.asarray(x, dtype=np.float64))
    if _is_histogram(obj):
        r, _, d, mass = _histogram_atoms(obj)
        keep = mass > 0
        pre = np.outer(x, d[keep, 0]) + d[keep, 1]
        return np.maximum(pre, 0.0) @ (mass[keep] * r[keep])
    _, r, theta = _state(obj, None, None)
    return field.network(x, r, theta)


def _subset(m, seed=0):
    if m <= MAX_MARKERS:
        return np.arange(m)
    return np.sort(np.random.default_rng(seed).choice(m, MAX_MARKERS, replace=False))


def plot_network(obj, r=None, theta=None, ax=None, n_points=400):
    """The network function f(x) with its knots on the curve and the samples (Figure 1, left).

    For a histogram solver, f is computed from its cells and rays, and the knots drawn are
    points drawn from its masses."""
    histogram = r is None and _is_histogram(obj)
    samples, r, theta = _state(obj, r, theta)
    ax = _axes(ax)
    lo, hi = samples.x[0], samples.x[-1]
    pad = 0.15 * max(hi - lo, 1.0)
    grid = np.linspace(lo - pad, hi + pad, n_points)

    def f(x):
        return network_values(obj, x) if histogram else field.network(x, r, theta)

    ax.plot(grid, f(grid), color="C0", lw=1.5, label="network f(x)")
    e = params.knots(theta)[_subset(np.size(theta))]
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


def plot_uv(obj, r=None, theta=None, ax=None, extent=None):
    """Neurons as (u, v) = |r| d(theta) coloured by sign(r), with the sample lines u x_j + v = 0 and
    the activation regions shaded by the number of active samples (Figure 1, right)."""
    samples, r, theta = _state(obj, r, theta)
    ax = _axes(ax, (5.5, 5.5))
    idx = _subset(np.size(r))
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


def plot_field_uv(obj, rho=None, sign=1, ax=None, extent=2.0, n=21):
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


def plot_density(obj, r=None, theta=None, ax=None, bins=(240, 120), r_max=None):
    """Density of the neurons on the cylinder: theta in [0, 2 pi) across, r up, boundary rays as
    thin vertical lines.

    A histogram solver (anything with ``grid``, ``mass_cells``, ``ray_mass``) is drawn cell by
    cell (mass / (dr dtheta), log colour scale), its ray masses as dots on the rays (area ~ mass)
    and its mass on r = 0 (TV term) as dots on r = 0. Particles are binned in ``bins`` (theta, r)
    cells over |r| <= r_max (default: the largest |r|), each of mass 1/m.
    """
    from matplotlib.colors import LogNorm

    ax = _axes(ax, (7, 4.5))
    if hasattr(obj, "mass_cells"):
        samples, grid = obj.samples, obj.grid
        theta_faces = np.append(grid.faces, grid.faces[0] + 2 * np.pi)
        r_faces = np.append(grid.rc - grid.dr / 2, grid.rc[-1] + grid.dr / 2)
        density = obj.mass_cells / (grid.dr * grid.width[None, :])
        shifts = (0.0, -2 * np.pi)  # the cells start at the first boundary angle: draw a turn back too
        rc = grid.rc
        dots = [(np.repeat(grid.ray_angle, rc.size), np.tile(rc, grid.ray_angle.size), obj.ray_mass.T.ravel(), "C3", "on rays")]
        zero = getattr(obj, "zero_mass", np.zeros(0))
        if zero.sum() > 0:
            angles = np.concatenate([grid.faces + grid.width / 2, grid.ray_angle])
            dots.append((angles, np.zeros(angles.size), zero, "C2", "on r = 0"))
    else:
        samples, r, theta = _state(obj, r, theta)
        r_max = float(np.abs(r).max()) if r_max is None else float(r_max)
        counts, theta_faces, r_faces = np.histogram2d(
            np.mod(theta, 2 * np.pi), r, bins=bins, range=[[0, 2 * np.pi], [-r_max, r_max]]
        )
        density = counts.T / r.size / (np.diff(theta_faces)[None, :] * np.diff(r_faces)[:, None])
        shifts, dots = (0.0,), []
    positive = density[density > 0]
    norm = LogNorm(vmin=max(positive.min(), positive.max() * 1e-4), vmax=positive.max()) if positive.size else None
    for shift in shifts:
        mesh = ax.pcolormesh(theta_faces + shift, r_faces, np.where(density > 0, density, np.nan), norm=norm, cmap="viridis", shading="flat")
    ax.figure.colorbar(mesh, ax=ax, label="density (per unit r per radian)")
    for angle in np.unique(samples.regions.angles):
        ax.axvline(np.mod(angle, 2 * np.pi), color="0.5", lw=0.5, zorder=1)
    for x, y, mass, colour, label in dots:
        keep = mass > 1e-6
        if keep.any():
            ax.scatter(np.mod(x[keep], 2 * np.pi), y[keep], s=60 * mass[keep] / mass.max(), color=colour, alpha=0.7, label=f"mass {label}: {mass.sum():.3f}", zorder=3)
    if dots:
        ax.legend(loc="upper right", fontsize="x-small")
    ax.set_xlim(0, 2 * np.pi)
    ax.set_xlabel("theta")
    ax.set_ylabel("r")
    return ax


def plot_residuals(history, ax=None):
    """Residuals rho_j(t) of a run's history (a History or a solver holding one), and the loss
    on a second axis (dashed, log scale)."""
    history = getattr(history, "history", history)
    ax = _axes(ax, (7, 4))
    t = history.t
    for j in range(history.s):
        ax.plot(t, history.rho[:, j], lw=1, label=f"rho_{j + 1}" if history.s <= 10 else None)
    ax.axhline(0, color="0.6", lw=0.6)
    ax.set_xlabel("t")
    ax.set_ylabel("residual rho_j")
    loss_ax = ax.twinx()
    loss_ax.semilogy(t, history.loss, color="k", lw=1.5, ls="--", label="loss 1/2 |rho|^2 (right axis)")
    loss_ax.set_ylabel("loss 1/2 |rho|^2")
    handles = (ax.get_legend_handles_labels()[0] if history.s <= 10 else []) + loss_ax.get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="upper right", fontsize="x-small", ncol=2)
    return ax


def plot_ray_timeline(samples, history, sign=1, ax=None):
    """State of every ray over a run for the given sign of r (red attractor, blue repulsor,
    grey crossing), with a legend."""
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    history = getattr(history, "history", history)
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
