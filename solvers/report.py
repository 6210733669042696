"""Looking at a run from its files alone (a :class:`solvers.runs.Run`): draw it, report its rays,
describe a folder or a file.

The functions take the run and, where a state is drawn or counted, any state in the sense of
:mod:`meanfield.plots` (a solver, a :class:`solvers.runs.Snapshot`); by default the solver
rebuilt from the newest checkpoint.
"""
from pathlib import Path

import numpy as np

from meanfield import attractors, plots
from meanfield.h5io import FileError, peek_schema, read_file

from .runfolder import CHECKPOINT, RUN, SCHEMA_VERSION, SNAPSHOT, state_from_contents
from .runs import Sweep, open_run


def write_figures(run, out=None, state=None):
    """The run's figures as PNGs in ``out`` (default: the run folder); returns their paths.
    ``state``: what the state figures draw (default: the newest checkpoint's solver)."""
    import matplotlib.pyplot as plt

    out = Path(out or run.path)
    out.mkdir(parents=True, exist_ok=True)
    solver = run.solver() if state is None else state
    label = f"{run.describe()}, t = {solver.t:.4g}"
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


def attractor_report(run, eps=1e-3, state=None):
    """Lines of text: the state of every ray (distinct angles once) over the history up to
    ``state``, its changes, and the mass on it at ``state`` (default: the newest checkpoint's
    solver; a :class:`solvers.runs.Snapshot` too; see :meth:`solvers.evolution.Evolution.ray_mass`
    for what counts as on the ray)."""
    samples = run.samples
    reg = samples.regions
    state = run.solver() if state is None else state
    upto = run.history.step <= state.step
    t = run.history.t[upto]
    cls, events = attractors.ray_timeline(samples, run.history.rho[upto], t)
    near = state.ray_mass(eps)
    _, first = np.unique(reg.angles, return_index=True)  # duplicated x: one line per ray
    lines = [f"rays of {run.path} ({run.describe()}, mass at t = {state.t:.4g}: on the ray, or within {eps:g} rad for explicit particle steps)",
             f"{'angle':>7} {'x':>8} {'side':>4} {'sign':>5} {'now':>10} {'attracting for':>15} {'mass':>8}"]
    span = t[-1] - t[0] if t.size > 1 else 0.0
    for k in sorted(first, key=lambda k: reg.angles[k]):
        xs = f"{samples.x[reg.sample_of[k]]:.4g}"
        for which, sign in ((0, 1), (1, -1)):
            states = cls.state(sign)[:, k]
            attracting = np.sum(np.diff(t) * (states[:-1] == attractors.ATTRACTOR)) if t.size > 1 else 0.0
            share = f"{attracting / span:.0%} of t" if span else "-"
            side = "on" if reg.switches_on[k] else "off"
            lines.append(f"{reg.angles[k]:7.4f} {xs:>8} {side:>4} {'+' if sign > 0 else '-':>5} {str(states[-1]):>10} {share:>15} {near[k, which]:8.4f}")
    if events:
        lines.append("changes (t, ray at x, sign of r: before -> after):")
        for e in events:
            lines.append(f"  t = {e.t:.4g}: x = {samples.x[e.sample]:.4g} {'on' if reg.switches_on[e.ray] else 'off'}, r {'>' if e.sign > 0 else '<'} 0: {e.before} -> {e.after}")
    else:
        lines.append("no ray changed state during the recorded history")
    return lines


def _sizes(folder):
    """Bytes of a folder's files: (total, count)."""
    files = [p for p in Path(folder).rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files), len(files)


def _run_info(run):
    h = run.history
    checkpoint = run.newest_checkpoint()
    state = checkpoint.state
    regularised = run.config["solver"]["tv"] or run.config["solver"].get("weight_decay")
    energy = f", energy {h.energy[0]:.6g} -> {h.energy[-1]:.6g}, gap {h.gap[-1]:.3g}" if regularised else ""
    lines = [
        f"run folder {run.path}: {run.describe()}, t = {float(state['t']):.4g}",
        f"samples: s = {run.samples.s}, x in [{run.samples.x[0]:.4g}, {run.samples.x[-1]:.4g}]",
        f"history: {len(h)} records, t = {h.t[0]:.6g} .. {h.t[-1]:.6g}, loss {h.loss[0]:.6g} -> {h.loss[-1]:.6g}{energy}",
        f"state: step {int(state['step'])}, t = {float(state['t']):.6g} (checkpoint {checkpoint.path.name})",
        f"stop: t_end = {run.t_end:g}; checkpoints: {', '.join(p.name for p in run.checkpoints())}",
    ]
    for bad, reason in checkpoint.skipped:
        lines.append(f"warning: checkpoint {bad.name} does not verify: {reason}")
    size, count = _sizes(run.folder.snapshot_dir)
    lines.append(f"snapshots: {len(run.snapshots)} in {run.folder.snapshot_dir} ({count} files, {size / 1e6:.3g} MB)")
    size, count = _sizes(run.path)
    lines.append(f"files: {count}, {size / 1e6:.3g} MB in all")
    return lines


def info(path):
    """Lines of text describing a run folder or one of its files."""
    path = Path(path)
    if path.is_dir():
        run = open_run(path)
        if isinstance(run, Sweep):
            table = run.summary
            statuses = ", ".join(f"{n} {v}" for v, n in zip(*np.unique(table["status"], return_counts=True)))
            return [f"sweep folder {path}: {len(run)} runs over {', '.join(run.swept) or 'nothing'} ({statuses})",
                    *(f"  {f}: {st}, t = {t:.6g}, loss {loss:.6g}" for f, st, t, loss in zip(table["folder"], table["status"], table["t"], table["loss"]))]
        return _run_info(run)
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
