"""A run as a job: build the solver a configuration describes, run it into a run folder with its
observers, stop cleanly on SIGINT/SIGTERM, and resume it from its newest checkpoint.

A resumed run continues from the newest checkpoint that verifies, with the run file's history and
snapshots trimmed after it; it then takes the same steps with the same bits as a run that was
never interrupted (``tests/test_runs.py`` kills real processes to show it).

Given an MPI communicator (``mpiexec -n N python -m meanfield run``), a particle run is sharded:
every rank holds a run of whole reduction chunks of the particles (:class:`solvers.shard.Shard`),
takes the same steps and makes the same decisions; each rank writes and reads its own particles in
the state files (:mod:`solvers.shardio`), rank 0 the rest, and rank 0 alone shows progress. Its
particles, its bits and its checkpoints are those of the serial run, so a checkpoint resumes on
any number of ranks.
"""
import signal
import sys
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

import meanfield as mf
from meanfield.defaults import PRESETS
from meanfield.h5io import FileError, WriteError

from . import budget, registry
from . import config as cfg
from .evolution import check_capabilities
from .lock import FolderLock
from .memory import available_memory
from .observers import Cadence, DivergenceGuard, EnergyRise, GapBelow, HistoryRecorder, Interrupt, LossBelow, ProgressBar
from .output import Checkpointer, RunRecord, SnapshotWriter
from .particles import ParticleSolver
from .runfolder import RunFolder, read_checkpoint
from .runs import Run
from .shard import Shard

EXIT_INTERRUPTED = {signal.SIGINT: 130, signal.SIGTERM: 143}
NOTHING_KEPT = "nothing was kept: free space, then run again"  # a new run whose first files could not be written


def build_samples(config):
    """The samples a configuration names (inline x/y, a CSV file, or a preset)."""
    section = config["samples"]
    if section["x"]:
        return mf.Samples(section["x"], section["y"])
    if section["file"]:
        return mf.Samples.from_csv(section["file"])
    return PRESETS[section["preset"]]()


def build_solver(config, samples, comm=None):
    """A new solver at t = 0 as the configuration describes it (:func:`solvers.registry.build`;
    sharded over the ranks of MPI communicator ``comm`` if given)."""
    return registry.build(config, samples, comm)


def _cadence(value, shard):
    """The Cadence of a configured value; under MPI wall-clock cadences read rank 0's clock."""
    unit, amount = cfg.cadence_of(value)
    return Cadence() if unit is None else Cadence(**{unit: amount}, clock=shard.clock if shard else None)


def _is_root(comm):
    """True serially and on rank 0, the process that reads and writes files."""
    return comm is None or comm.Get_rank() == 0


class Outcome:
    """How a job ended: ``status`` is "complete", "stopped" (a stop rule), "interrupted" or
    "diverged"; ``exit_code`` the process exit status it maps to; ``message`` one line; ``config``
    the configuration it ran with; ``solver`` its final state (with its history; of a sharded run
    the whole state on rank 0, None on the other ranks); ``root`` is False on those ranks."""

    def __init__(self, solver, folder, config, status, exit_code, message, wall, root=True):
        self.solver, self.folder, self.config = solver, folder, config
        self.status, self.exit_code, self.message, self.wall = status, exit_code, message, wall
        self.root = root


def start(config, out, *, stream=None, comm=None):
    """Run a new job into folder ``out`` (sharded over the ranks of MPI communicator ``comm`` if
    given), holding the folder's lock (:mod:`solvers.lock`); returns its :class:`Outcome`."""
    config_text = cfg.render(config)
    folder = RunFolder(out)
    samples = build_samples(config)
    root = _is_root(comm)
    existed = folder.path.exists()
    budget.check_memory(config, samples.s, comm.Get_size() if comm is not None else 1)
    if root:
        budget.check_disk(config, samples.s, folder.path)
        try:
            folder.path.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise FileError(f"cannot write the output folder {folder.path}: {err.strerror or err}") from None
    with _lock(folder, "run in", root):
        if root:
            try:
                folder.create(config_text)
            except WriteError as error:  # raised once the folder is known to hold no run: remove what create made
                folder.remove(entirely=not existed)
                error.hint = NOTHING_KEPT
                raise
        try:
            solver = build_solver(config, samples, comm)
        except BaseException:
            if root:
                folder.remove(entirely=not existed)  # nothing ran: leave no half-made run behind
            raise
        try:
            return _execute(folder, config, config_text, solver, [], stream)
        except WriteError as error:
            if root and not folder.checkpoints():  # nothing to resume from: leave no half-made run behind
                folder.remove(entirely=not existed)
                error.hint = NOTHING_KEPT
            raise


def _lock(folder, doing, root):
    """The folder's lock on rank 0 (the process that writes), nothing on the other ranks."""
    return FolderLock(folder.path, doing) if root else nullcontext()


class _Restored:
    """What resuming a run folder starts from: the solver rebuilt from the newest checkpoint that
    verifies, with the run's history trimmed after it; the configuration (dict and text) and the
    checkpoint file it came from, the snapshot index [(t, step)], and the newer checkpoints
    skipped as damaged [(path, reason)], from ``run`` (a :class:`solvers.runs.Run`, given on rank 0).

    With an MPI communicator every rank calls it: rank 0 reads the files and each rank keeps its
    part of the particles (on any number of ranks); the other ranks' history is empty."""

    def __init__(self, path, run=None, comm=None):
        self.folder = RunFolder(path)
        state = history = samples = parted = None
        if _is_root(comm):
            history, self.snapshots = run.history, list(zip(run.snapshots.t.tolist(), run.snapshots.step.tolist()))
            # sharded: a checkpoint written in parts is verified here and read below, each rank its rows
            checkpoint = self.folder.newest_checkpoint(rows=None if comm is None else (0, 0))
            state, self.config_text, samples, self.checkpoint, self.skipped, parted = (
                checkpoint.state, checkpoint.config_text, checkpoint.samples, checkpoint.path, checkpoint.skipped, checkpoint.parted)
        if comm is None:
            self.solver = registry.from_state(samples, state)
        else:
            shared = (state["kind"], state.get("method"), parted or _particles_of(state), parted is not None, self.config_text, samples.x, samples.y,
                      self.snapshots, self.checkpoint, self.skipped) if _is_root(comm) else None
            kind, method, m, in_parts, self.config_text, x, y, self.snapshots, self.checkpoint, self.skipped = comm.bcast(shared, root=0)
            samples = mf.Samples(x, y)
            check_capabilities(registry.solver_class(kind, method), ranks=comm.Get_size(), method=method)
            shard = Shard(m, comm)
            if in_parts:
                self.solver = registry.from_state(samples, _read_rows(self.checkpoint, shard), shard=shard, local=True)
            else:
                self.solver = registry.from_state(samples, state if _is_root(comm) else dict(kind=kind, method=method), shard=shard)
            if history is None:  # a rank other than 0: it records, rank 0 writes
                history = self.solver.history
        self.config = cfg.stored(self.config_text)
        if isinstance(self.solver, ParticleSolver) and self.config["solver"]["trig_cache"] != "auto":
            self.solver.trig_cache = self.config["solver"]["trig_cache"] == "on"
        history.truncate(self.solver.step)
        self.solver.history = history


def _read_rows(path, shard):
    """This rank's part of the state in checkpoint ``path`` (written in parts), read from the
    parts that hold its particles (collective: a failure on any rank is reported by rank 0)."""
    state = error = None
    try:
        state = read_checkpoint(path, rows=(shard.lo, shard.hi)).state
    except FileError as err:
        error = str(err)
    failed = next((e for e in shard.comm.allgather(error) if e is not None), None)
    if failed is not None:
        shard.raise_on_root(FileError(failed))
    return state


def _particles_of(state):
    return next(state[name].size for name in ("r", "a", "mass_cells") if name in state)


def resume(path, *, t_end=None, stream=None, comm=None):
    """Continue the run in folder ``path`` from its newest valid checkpoint (to a new ``t_end``
    if given; sharded over the ranks of ``comm`` if given), holding the folder's lock; returns
    its :class:`Outcome`."""
    folder = RunFolder(path)
    root = _is_root(comm)
    if root and not folder.path.is_dir():
        raise FileError(f"{folder.path}: no such run folder")
    with _lock(folder, "resume", root):  # then read: a run that ended a moment ago has flushed its files
        run = None
        if root:  # what the rest of the run needs, checked before its state is read
            run = Run(path)
            config = run.config
            if t_end is not None:
                config["stop"]["t_end"] = float(t_end)
            budget.check_memory(config, run.samples.s, comm.Get_size() if comm is not None else 1)
            budget.check_disk(config, run.samples.s, folder.path, t_from=float(run.history.t[-1]) if len(run.history) else 0.0)
        return _resume(path, run, t_end, stream, comm)


def _resume(path, stored, t_end, stream, comm):
    run = _Restored(path, stored, comm)
    folder, config, config_text, solver = run.folder, run.config, run.config_text, run.solver
    root = _is_root(comm)
    err = stream or sys.stderr
    if t_end is not None:
        config["stop"]["t_end"] = float(t_end)
        cfg.validate(config, check_files=False)
        config_text = cfg.render(config)
    snapshots = run.snapshots
    if root:
        for bad, reason in run.skipped:
            print(f"warning: skipping checkpoint {bad.name}: {reason}", file=err)
        if t_end is not None:
            folder.write_config(config_text)
        folder.clean_partial_files()
        snapshots = folder.trim(solver.step, run.snapshots)
        print(f"resuming {folder.path} from {run.checkpoint.name} (t = {solver.t:.6g}, step {solver.step})", file=err)
    else:
        snapshots = [(t, s) for t, s in snapshots if s <= solver.step]
    return _execute(folder, config, config_text, solver, snapshots, stream, fresh=False)


def _execute(folder, config, config_text, solver, snapshot_index, stream, fresh=True):
    stop, output = config["stop"], config["output"]
    err = stream or sys.stderr
    shard = solver.shard if solver.shard is not None and solver.shard.sharded else None
    record = RunRecord(folder, solver, config_text, snapshot_index)
    interrupt = Interrupt(agree=shard.agree if shard else None)
    checkpointer = Checkpointer(record, _cadence(output["checkpoints"], shard), output["keep"])
    steps_left = None if not stop["steps"] else max(0, stop["steps"] - solver.step)
    observers = [DivergenceGuard(stop["loss_factor"] or None)]
    observers.append(HistoryRecorder(solver.history, _cadence(output["history"], shard)))
    if record.writer:
        observers.append(EnergyRise(solver.history, solver.REMEDY))
    if stop["loss_below"]:
        observers.append(LossBelow(stop["loss_below"]))
    if stop["gap_below"]:
        observers.append(GapBelow(solver.history, stop["gap_below"]))
    snapshots = SnapshotWriter(record, _cadence(output["snapshots"], shard))
    observers += [snapshots, checkpointer, interrupt]
    if output["progress"] and record.writer:
        observers.append(ProgressBar(t_end=stop["t_end"], stream=err))
    try:
        with _signals(interrupt):  # from here on SIGINT / SIGTERM end the run with a checkpoint
            if fresh:
                solver.history.record_state(solver)
                snapshots.finish(solver, "start")
                checkpointer.write(solver)
            else:
                record.flush()  # the trimmed history and snapshot index
            if solver.t >= stop["t_end"] * (1 - 1e-12) or steps_left == 0:
                return Outcome(_whole(solver), folder, config, "complete", 0, f"the run is complete at t = {solver.t:.6g} (step {solver.step}); "
                               "give a later --t-end to continue it", 0.0, record.writer)
            clock = time.perf_counter()
            try:
                solver.run(t_end=stop["t_end"], steps=steps_left, observers=observers)
            except FloatingPointError as error:  # DivergenceError, on every rank at the same step
                record.flush()
                last = folder.checkpoints()[-1].name if folder.checkpoints() else "none"
                return Outcome(solver if shard is None else None, folder, config, "diverged", 1,
                               f"{error} (solver.dt or solver.lr; stop.loss_factor = 0 turns the loss check off); last good checkpoint: {last}",
                               time.perf_counter() - clock, record.writer)
    except WriteError as error:
        if record.writer:
            last = folder.checkpoints()[-1].name if folder.checkpoints() else None
            error.hint = (f"the run file and the last good checkpoint {last} are intact: free space, then python -m meanfield resume "
                          f"{folder.path}" if last else error.hint)
        raise
    wall = time.perf_counter() - clock
    reason, t, step = solver.stop_reason, solver.t, solver.step
    if reason == "interrupted":
        name = signal.Signals(interrupt.signal).name
        return Outcome(solver if shard is None else None, folder, config, "interrupted", EXIT_INTERRUPTED.get(interrupt.signal, 1),
                       f"{name}: stopped at t = {t:.6g} (step {step}) with a checkpoint; continue with "
                       f"python -m meanfield resume {folder.path}", wall, record.writer)
    status = "complete" if reason in ("t_end", "steps") else "stopped"
    return Outcome(_whole(solver), folder, config, status, 0, f"{'done' if status == 'complete' else reason}: t = {t:.6g}, step {step}", wall, record.writer)


def _whole(solver):
    """The solver itself, or for a sharded run its whole state as one serial solver on rank 0
    (None on the other ranks; collective): what the report and figures read. When the whole
    state would not fit in rank 0's free memory (gathered, then rebuilt: twice its bytes) it is
    not gathered: None on every rank, and the report says so."""
    if solver.shard is None or not solver.shard.sharded:
        return solver
    shard = solver.shard
    per_particle = sum(value.itemsize for name, value in solver.local_state().items() if name in solver.PER_PARTICLE)
    if not shard.bcast(2 * per_particle * shard.m < available_memory() if shard.root else None):
        return None
    state = solver.state()
    if state is None:
        return None
    whole = type(solver).from_state(solver.samples, state)
    whole.history = solver.history
    return whole


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
