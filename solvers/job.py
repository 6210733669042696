"""A run as a job: build the solver a configuration describes, run it into a run folder with its
observers, stop cleanly on SIGINT/SIGTERM, and resume it from its newest checkpoint.

A resumed run continues from the newest checkpoint that verifies, with the run file's history and
snapshots trimmed after it; it then takes the same steps with the same bits as a run that was
never interrupted (``tests/test_runs.py`` kills real processes to show it).
"""
import math
import signal
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

import meanfield as mf
from meanfield.defaults import PRESETS
from meanfield.h5io import FileError

from . import config as cfg
from . import init
from .histogram import HistogramSolver
from .observers import Cadence, DivergenceGuard, HistoryRecorder, Interrupt, LossBelow, ProgressBar
from .output import Checkpointer, RunRecord, SnapshotWriter
from .particles import FullParticleSolver, ParticleSolver
from .runfolder import RunFolder

SOLVERS = {cls.KIND: cls for cls in (ParticleSolver, FullParticleSolver, HistogramSolver)}
EXIT_INTERRUPTED = {signal.SIGINT: 130, signal.SIGTERM: 143}


def build_samples(config):
    """The samples a configuration names (inline x/y, a CSV file, or a preset)."""
    section = config["samples"]
    if section["x"]:
        return mf.Samples(section["x"], section["y"])
    if section["file"]:
        return mf.Samples.from_csv(section["file"])
    return PRESETS[section["preset"]]()


def alpha_of(config):
    """The normalisation alpha(m) of the configuration as a number."""
    alpha, m = config["solver"]["alpha"], config["init"]["m"]
    return {"m": float(m), "sqrt(m)": math.sqrt(m)}.get(alpha, alpha) if isinstance(alpha, str) else float(alpha)


def build_solver(config, samples):
    """A new solver at t = 0 as the configuration describes it (history recorded by observers)."""
    init_, solver = config["init"], config["solver"]
    m, seed, kind = init_["m"], init_["seed"], solver["kind"]
    dtype = np.dtype(init_["dtype"])
    if kind == "histogram":
        return HistogramSolver(
            samples, init.gaussian_uniform_density(init_["sigma"]), n_r=solver["n_r"], n_theta=solver["n_theta"], r_max=solver["r_max"],
            tv=solver["tv"], order=solver["order"], cfl=solver["cfl"], record_every=None, rng=seed,
        )
    alpha = alpha_of(config)
    if init_["law"] == "pytorch_default":
        a, b, c = init.pytorch_default(m, alpha=alpha, rng=seed)
    else:
        r, theta = init.gaussian_uniform(m, sigma=init_["sigma"], rng=seed, dtype=dtype)
        if kind == "full":
            a, b, c = init.given_delta(r, theta, solver["delta"], alpha=alpha)
    if kind == "full":
        return FullParticleSolver(samples, a, b, c, alpha=alpha, lr=solver["lr"], train=tuple(solver["train"]), record_every=None, rng=seed)
    if init_["law"] == "pytorch_default":
        r, theta = mf.to_canonical(a, b, c, alpha)
        r, theta = r.astype(dtype), theta.astype(dtype)
    delta = solver["delta"] if solver["metric"] == "delta" else None
    return ParticleSolver(
        samples, r, theta, dt=solver["dt"], method=solver["method"], tv=solver["tv"], delta=delta,
        alpha=alpha if delta is not None else None, record_every=None, rng=seed, copy=False,
    )


def _cadence(value):
    unit, amount = cfg.cadence_of(value)
    return Cadence() if unit is None else Cadence(**{unit: amount})


class Outcome:
    """How a job ended: ``status`` is "complete", "stopped" (a stop rule), "interrupted" or
    "diverged"; ``exit_code`` the process exit status it maps to; ``message`` one line; ``config``
    the configuration it ran with; ``solver`` its final state (with its history)."""

    def __init__(self, solver, folder, config, status, exit_code, message, wall):
        self.solver, self.folder, self.config = solver, folder, config
        self.status, self.exit_code, self.message, self.wall = status, exit_code, message, wall


def start(config, out, *, stream=None):
    """Run a new job into folder ``out``; returns its :class:`Outcome`."""
    config_text = cfg.render(config)
    folder = RunFolder(out)
    samples = build_samples(config)
    existed = folder.path.exists()
    folder.create(config_text)
    try:
        solver = build_solver(config, samples)
    except BaseException:
        folder.remove(entirely=not existed)  # nothing ran: leave no half-made run behind
        raise
    return _execute(folder, config, config_text, solver, [], stream)


class Restored:
    """A run folder's newest state: the solver rebuilt from the newest checkpoint that verifies,
    with the run file's history trimmed after it; the configuration (dict and text) and the
    checkpoint it came from, the run file's snapshot index, and the newer checkpoints skipped
    as damaged [(path, reason)]."""

    def __init__(self, path):
        self.folder = RunFolder(path)
        if not self.folder.path.is_dir():
            raise FileError(f"{self.folder.path}: no such run folder")
        _, _, _, history, self.snapshots = self.folder.read_run()
        state, self.config_text, samples, self.checkpoint, self.skipped = self.folder.newest_checkpoint()
        self.config = _config_of(self.config_text)
        self.solver = SOLVERS[state["kind"]].from_state(samples, state)
        history.truncate(self.solver.step)
        self.solver.history = history


def resume(path, *, t_end=None, stream=None):
    """Continue the run in folder ``path`` from its newest valid checkpoint (to a new ``t_end``
    if given); returns its :class:`Outcome`."""
    run = Restored(path)
    folder, config, config_text, solver = run.folder, run.config, run.config_text, run.solver
    err = stream or sys.stderr
    for bad, reason in run.skipped:
        print(f"warning: skipping checkpoint {bad.name}: {reason}", file=err)
    if t_end is not None:
        config["stop"]["t_end"] = float(t_end)
        cfg.validate(config, check_files=False)
        config_text = cfg.render(config)
        folder.config_path.write_text(config_text)
    folder.clean_partial_files()
    snapshots = folder.trim(solver.step, run.snapshots)
    print(f"resuming {folder.path} from {run.checkpoint.name} (t = {solver.t:.6g}, step {solver.step})", file=err)
    return _execute(folder, config, config_text, solver, snapshots, stream, fresh=False)


def _config_of(text):
    """The configuration stored with a run (its sample file need not exist any more)."""
    config = cfg.defaults()
    cfg.merge(config, cfg.parse(text, "the stored configuration"))
    return cfg.validate(config, check_files=False)


def _execute(folder, config, config_text, solver, snapshot_index, stream, fresh=True):
    stop, output = config["stop"], config["output"]
    err = stream or sys.stderr
    record = RunRecord(folder, solver, config_text, snapshot_index)
    interrupt = Interrupt()
    checkpointer = Checkpointer(record, _cadence(output["checkpoints"]), output["keep"])
    steps_left = None if not stop["steps"] else max(0, stop["steps"] - solver.step)
    observers = [DivergenceGuard(stop["loss_factor"] or None)]
    observers.append(HistoryRecorder(solver.history, _cadence(output["history"])))
    if stop["loss_below"]:
        observers.append(LossBelow(stop["loss_below"]))
    snapshots = SnapshotWriter(record, _cadence(output["snapshots"]))
    observers += [snapshots, checkpointer, interrupt]
    if output["progress"]:
        observers.append(ProgressBar(t_end=stop["t_end"], stream=err))
    with _signals(interrupt):  # from here on SIGINT / SIGTERM end the run with a checkpoint
        if fresh:
            solver.history.record(solver.t, solver.step, solver.residuals())
            snapshots.finish(solver, "start")
            checkpointer.write(solver)
        else:
            record.flush()  # the trimmed history and snapshot index
        if solver.t >= stop["t_end"] * (1 - 1e-12) or steps_left == 0:
            return Outcome(solver, folder, config, "complete", 0, f"the run is complete at t = {solver.t:.6g} (step {solver.step}); "
                           "give a later --t-end to continue it", 0.0)
        clock = time.perf_counter()
        try:
            solver.run(t_end=stop["t_end"], steps=steps_left, observers=observers)
        except FloatingPointError as error:  # DivergenceError
            record.flush()
            last = folder.checkpoints()[-1].name if folder.checkpoints() else "none"
            return Outcome(solver, folder, config, "diverged", 1, f"{error} (solver.dt or solver.lr; stop.loss_factor = 0 turns the loss check off); last good checkpoint: {last}",
                           time.perf_counter() - clock)
    wall = time.perf_counter() - clock
    reason = solver.stop_reason
    if reason == "interrupted":
        name = signal.Signals(interrupt.signal).name
        return Outcome(solver, folder, config, "interrupted", EXIT_INTERRUPTED.get(interrupt.signal, 1),
                       f"{name}: stopped at t = {solver.t:.6g} (step {solver.step}) with a checkpoint; continue with "
                       f"python -m meanfield resume {folder.path}", wall)
    status = "complete" if reason in ("t_end", "steps") else "stopped"
    return Outcome(solver, folder, config, status, 0, f"{'done' if status == 'complete' else reason}: t = {solver.t:.6g}, step {solver.step}", wall)


@contextmanager
def _signals(interrupt):
    """SIGINT and SIGTERM ask the run to stop after the current step (then it checkpoints)."""
    handler = lambda signum, frame: interrupt.request(signum)  # noqa: E731
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def resolve_out(out, config_path=None):
    """The run folder: ``out`` if given, else runs/<config name>-<date-time> in the current folder."""
    if out is not None:
        return Path(out)
    name = Path(config_path).stem if config_path else "default"
    return Path("runs") / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
