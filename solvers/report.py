"""Looking at a run from its files alone: load it, draw it, report its rays, describe a file."""
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from meanfield import attractors, plots
from meanfield.h5io import FileError, peek_schema, read_file

from .history import History
from .runfolder import CHECKPOINT, RUN, SCHEMA_VERSION, SNAPSHOT, RunFolder, state_from_contents

FIGURES = ("network.png", "uv.png", "density.png", "residuals.png", "rays.png")


@dataclass
class Run:
    """A run read back from its folder: the configuration (dict), samples, history, and the
    solver rebuilt from the newest checkpoint that verifies (its state at ``solver.t``)."""

    folder: RunFolder
    config: dict
    samples: object
    history: History
    solver: object
    checkpoint: Path

    def describe(self):
        """One line: solver, size and clock of the run."""
        solver, kind = self.config["solver"], self.config["solver"]["kind"]
        if kind == "particles":
            what = f"particles, {solver['method']}, dt = {solver['dt']:g}, m = {self.config['init']['m']}"
        elif kind == "full":
            what = f"full (a, b, c), lr = {solver['lr']:g}, alpha = {solver['alpha']}, m = {self.config['init']['m']}"
        else:
            what = f"histogram {self.solver.grid.shape[0]} x {self.solver.grid.shape[1]} (order {solver['order']})"
        return f"{what}, t = {self.solver.t:.4g}"


def load(path):
    """A :class:`Run` from a run folder (FileError when its files are missing or damaged)."""
    from .job import Restored

    run = Restored(path)
    return Run(run.folder, run.config, run.solver.samples, run.solver.history, run.solver, run.checkpoint)


def from_outcome(outcome):
    """The :class:`Run` a job just finished, from its solver in memory (no file is read again)."""
    solver = outcome.solver
    return Run(outcome.folder, outcome.config, solver.samples, solver.history, solver, outcome.folder.checkpoints()[-1])


def write_figures(run, out=None):
    """The run's figures as PNGs in ``out`` (default: the run folder); returns their paths."""
    import matplotlib.pyplot as plt

    out = Path(out or run.folder.path)
    out.mkdir(parents=True, exist_ok=True)
    solver, label = run.solver, run.describe()
    paths = []

    def save(fig, name):
        fig.tight_layout()
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        paths.append(out / name)

    fig, ax = plt.subplots(figsize=(7, 4.5))
    plots.plot_network(solver, ax=ax)
    ax.set_title(f"network and knots\n{label}", fontsize="medium")
    save(fig, "network.png")

    fig, ax = plt.subplots(figsize=(6.5, 6.5))
    plots.plot_uv(solver, ax=ax)
    ax.set_title(f"neurons in the uv-plane\n{label}", fontsize="medium")
    save(fig, "uv.png")

    fig, ax = plt.subplots(figsize=(8, 4.5))
    plots.plot_density(solver, ax=ax)
    ax.set_title(f"density on the cylinder (boundary rays grey)\n{label}", fontsize="medium")
    save(fig, "density.png")

    fig, ax = plt.subplots(figsize=(8, 4.5))
    plots.plot_residuals(run.history, ax=ax)
    ax.set_title(f"residuals over time\n{label}", fontsize="medium")
    save(fig, "residuals.png")

    fig, axes = plt.subplots(2, 1, figsize=(8, 7), sharex=True)
    for sign, ax in zip((1, -1), axes):
        plots.plot_ray_timeline(run.samples, run.history, sign=sign, ax=ax)
    fig.suptitle(f"attracting and repelling rays over time\n{label}", fontsize="medium")
    save(fig, "rays.png")
    return paths


def ray_masses(run, eps=1e-3):
    """Mass near each boundary ray at the run's final state, for r > 0 and r < 0: two (2s,)
    arrays. Particles: the share within eps rad; histogram: the mass carried on the ray."""
    solver = run.solver
    if hasattr(solver, "ray_mass_by_sign"):
        positive, negative = solver.ray_mass_by_sign()
        index = np.searchsorted(solver.grid.ray_angle, run.samples.regions.angles)
        return positive[index], negative[index]
    r, theta = solver.canonical() if hasattr(solver, "canonical") else (solver.r, solver.theta)
    return attractors.ray_mass(run.samples, r, theta, eps)


def attractor_report(run, eps=1e-3):
    """Lines of text: the state of every ray (distinct angles once) over the history, its changes,
    and the mass near it at the end."""
    samples = run.samples
    reg = samples.regions
    cls, events = attractors.ray_timeline(samples, run.history.rho, run.history.t)
    near = ray_masses(run, eps)
    _, first = np.unique(reg.angles, return_index=True)  # duplicated x: one line per ray
    what = "mass carried on the ray" if hasattr(run.solver, "ray_mass_by_sign") else f"share of neurons within {eps:g} rad"
    lines = [f"rays of {run.folder.path} ({run.describe()}); mass = {what}",
             f"{'angle':>7} {'x':>8} {'side':>4} {'sign':>5} {'now':>10} {'attracting for':>15} {'mass':>8}"]
    t = run.history.t
    span = t[-1] - t[0] if t.size > 1 else 0.0
    for k in sorted(first, key=lambda k: reg.angles[k]):
        xs = f"{samples.x[reg.sample_of[k]]:.4g}"
        for which, sign in ((0, 1), (1, -1)):
            states = cls.state(sign)[:, k]
            attracting = np.sum(np.diff(t) * (states[:-1] == attractors.ATTRACTOR)) if t.size > 1 else 0.0
            share = f"{attracting / span:.0%} of t" if span else "-"
            side = "on" if reg.switches_on[k] else "off"
            lines.append(f"{reg.angles[k]:7.4f} {xs:>8} {side:>4} {'+' if sign > 0 else '-':>5} {str(states[-1]):>10} {share:>15} {near[which][k]:8.4f}")
    if events:
        lines.append("changes (t, ray at x, sign of r: before -> after):")
        for e in events:
            lines.append(f"  t = {e.t:.4g}: x = {samples.x[e.sample]:.4g} {'on' if reg.switches_on[e.ray] else 'off'}, r {'>' if e.sign > 0 else '<'} 0: {e.before} -> {e.after}")
    else:
        lines.append("no ray changed state during the recorded history")
    return lines


def info(path):
    """Lines of text describing a run folder or one of its files."""
    path = Path(path)
    if path.is_dir():
        run = load(path)
        h = run.history
        folder = run.folder
        lines = [
            f"run folder {path}: {run.describe()}",
            f"samples: s = {run.samples.s}, x in [{run.samples.x[0]:.4g}, {run.samples.x[-1]:.4g}]",
            f"history: {len(h)} records, t = {h.t[0]:.6g} .. {h.t[-1]:.6g}, loss {h.loss[0]:.6g} -> {h.loss[-1]:.6g}",
            f"state: step {run.solver.step}, t = {run.solver.t:.6g}, loss {run.solver.loss():.6g} (checkpoint {run.checkpoint.name})",
            f"stop: t_end = {run.config['stop']['t_end']:g}; checkpoints: {', '.join(p.name for p in folder.checkpoints())}",
            f"snapshots: {len(list(folder.snapshot_dir.glob('step_*.h5')))} in {folder.snapshot_dir}",
        ]
        return lines
    from .sweep import SCHEMA_NAME as SWEEP

    schema = peek_schema(path)
    if schema not in (RUN, CHECKPOINT, SNAPSHOT, SWEEP):
        raise FileError(f"{path}: a {schema!r} file, not a meanfield run, checkpoint, snapshot or sweep summary file")
    arrays, attrs = read_file(path, schema=schema, version=SCHEMA_VERSION)
    root = attrs["/"]
    lines = [f"{path}: {schema} (schema version {root['schema_version']}, written by meanfield {root['meanfield_version']}), digest verified"]
    if schema in (CHECKPOINT, SNAPSHOT):
        state = state_from_contents(arrays, attrs, str(path))
        lines.append(f"state: {state['kind']}, t = {float(state['t']):.6g}, step {int(state['step'])}")
    if schema == SWEEP:
        lines.append(f"sweep over {root['swept'] or 'nothing'}: {len(arrays['runs/index'])} runs, status {', '.join(sorted(set(arrays['runs/status'])))}")
    for name, value in sorted(arrays.items()):
        value = np.asarray(value)
        kind = ("text" if value.ndim == 0 else f"text {value.shape}") if value.dtype.kind in "US" else f"{value.dtype} {value.shape}"
        lines.append(f"  {name}: {kind}")
    return lines
