"""A run folder on disk: the resolved configuration, the run file, snapshots and checkpoints.

Layout (every HDF5 file is written atomically and verified on reading, see :mod:`meanfield.h5io`)::

    DIR/config.toml                 the resolved configuration (every key), as run
    DIR/run.h5                      schema "meanfield.run": the run's record (below)
    DIR/snapshots/step_N.h5         schema "meanfield.snapshot": the state at step N (gzip)
    DIR/checkpoints/step_N.h5       schema "meanfield.checkpoint": state + configuration + samples

run.h5::

    /            attrs schema, schema_version, meanfield_version, kind (particles | full |
                 histogram), clock (what t counts), digest
    /config      the configuration as TOML text
    /samples/x, /samples/y
    /history/t, /history/step, /history/loss, /history/energy, /history/gap,
    /history/rho (T, s)
    /snapshots/t, /snapshots/step                                     index of the snapshots
    /snapshots/step_N  -> external link to snapshots/step_N.h5 (its root)

A state file (snapshot or checkpoint) holds the solver's state: arrays as datasets ``state/NAME``
and scalars as attributes of ``state`` (kind, t, step, rng, ...); for particle runs
``state/r`` and ``state/theta``. A checkpoint adds ``/config`` and ``/samples``.

A run sharded over MPI ranks writes its state files in parts (:mod:`solvers.shardio`): beside
``step_N.h5`` the folder ``step_N.parts/`` holds one file per rank with its particles, and in
``step_N.h5`` the per-particle arrays are HDF5 virtual datasets over them, so the file reads as
above (h5py included) as long as its parts folder is beside it: move or copy the two together.

The run file is rewritten whole (atomically) each time it is flushed: it holds the history and the
snapshot index, O(records x s) numbers (``history/energy`` and ``history/gap`` are absent from
files written before they were recorded: reading them gives NaN there); the snapshots themselves are separate files, so flushing
never copies particle arrays.
"""
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import meanfield as mf
from meanfield.field import data_loss
from meanfield.h5io import FileError, parts_of, read_file, require, write_atomically, write_file

from . import shardio
from .history import History

SCHEMA_VERSION = 1
RUN, SNAPSHOT, CHECKPOINT = "meanfield.run", "meanfield.snapshot", "meanfield.checkpoint"
CLOCKS = {
    "particles": "mean-field time (gradient descent on L with step eta is Euler with dt = eta / m); with the delta metric, "
    "gradient-flow time of L(a, b, c)",
    "full": "gradient-flow time of L(a, b, c): t = lr x steps",
    "histogram": "mean-field time",
}


def state_file_contents(state):
    """(arrays, attrs) of a solver state: arrays under ``state/``, scalars as attributes."""
    arrays = {f"state/{k}": v for k, v in state.items() if isinstance(v, np.ndarray)}
    scalars = {k: v for k, v in state.items() if not isinstance(v, np.ndarray)}
    return arrays, {"state": scalars}


def state_from_contents(arrays, attrs, what):
    """The solver state read back from a state file's contents."""
    if "state" not in attrs or "kind" not in attrs["state"]:
        raise FileError(f"{what}: no solver state (group 'state' with its attributes)")
    state = dict(attrs["state"])
    state.update({name.split("/", 1)[1]: value for name, value in arrays.items() if name.startswith("state/")})
    needed = {"particles": ("r", "theta", "moments"), "full": ("a", "b", "c", "moments"), "histogram": ("mass_cells", "ray_mass", "zero_mass")}
    require(arrays, [f"state/{n}" for n in needed.get(state["kind"], ())], what)
    return state


@dataclass(frozen=True)
class RunFile:
    """What run.h5 holds: the solver kind, the configuration text, the samples, the history and
    the snapshot index [(t, step)]."""

    kind: str
    config_text: str
    samples: mf.Samples
    history: History
    snapshots: list


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint that verified: its file, solver state, configuration text and samples, the
    newer checkpoints skipped as damaged [(path, reason)], and for a checkpoint written in parts
    by a sharded run the number of particles (None for one written whole)."""

    path: Path
    state: dict
    config_text: str
    samples: mf.Samples
    skipped: list = field(default_factory=list)
    parted: int | None = None


class RunFolder:
    """The files of one run. ``RunFolder(path)`` opens or prepares the folder; nothing is read
    until asked."""

    def __init__(self, path):
        self.path = Path(path)
        self.config_path = self.path / "config.toml"
        self.run_path = self.path / "run.h5"
        self.snapshot_dir = self.path / "snapshots"
        self.checkpoint_dir = self.path / "checkpoints"

    # -- creating ------------------------------------------------------------------------------
    def create(self, config_text):
        """Make the folder for a new run (refusing one that already holds a run): FileError when
        the folder cannot be made or written to, WriteError when the disk is full."""
        if self.run_path.exists() or self.checkpoint_dir.exists():
            raise FileError(f"{self.path} already holds a run: resume it (python -m meanfield resume {self.path}) or choose another --out")
        try:
            self.snapshot_dir.mkdir(parents=True, exist_ok=True)
            self.checkpoint_dir.mkdir(exist_ok=True)
            probe = self.path / ".write-test"
            probe.write_text("")
            probe.unlink()
        except OSError as err:
            raise FileError(f"cannot write the output folder {self.path}: {err.strerror or err}") from None
        self.write_config(config_text)  # a full disk: WriteError

    def write_config(self, config_text):
        """(Re)write config.toml, atomically."""
        write_atomically(self.config_path, config_text.encode())

    def remove(self, entirely):
        """Undo :meth:`create`: the files it made, and the folder itself if ``entirely``."""
        import shutil

        if entirely:
            shutil.rmtree(self.path, ignore_errors=True)
            return
        self.config_path.unlink(missing_ok=True)
        for folder in (self.snapshot_dir, self.checkpoint_dir):
            shutil.rmtree(folder, ignore_errors=True)

    def clean_partial_files(self):
        """Remove temporary files left by a writer that was killed, and parts no state file
        lists (a sharded write that did not finish)."""
        for folder in (self.path, self.snapshot_dir, self.checkpoint_dir, *self.snapshot_dir.glob("*.parts"),
                       *self.checkpoint_dir.glob("*.parts")):
            for tmp in folder.glob(".*.tmp-*"):
                tmp.unlink()
        shardio.clean(self.snapshot_dir, SNAPSHOT, SCHEMA_VERSION)
        shardio.clean(self.checkpoint_dir, CHECKPOINT, SCHEMA_VERSION)

    # -- the run file --------------------------------------------------------------------------
    def write_run(self, kind, config_text, samples, history, snapshots):
        """(Re)write run.h5 with the given history and snapshot index [(t, step), ...]."""
        t = np.array([s[0] for s in snapshots], dtype=np.float64)
        steps = np.array([s[1] for s in snapshots], dtype=np.int64)
        arrays = {
            "config": config_text, "samples/x": samples.x, "samples/y": samples.y,
            "history/t": history.t, "history/step": history.step, "history/loss": history.loss, "history/energy": history.energy,
            "history/gap": history.gap, "history/rho": history.rho,
            "snapshots/t": t, "snapshots/step": steps,
        }
        links = {f"snapshots/{_name(step)}": (f"snapshots/{_name(step)}.h5", "/") for step in steps}
        attrs = {"/": dict(kind=kind, clock=CLOCKS[kind])}
        write_file(self.run_path, arrays, attrs, schema=RUN, version=SCHEMA_VERSION, links=links)

    def read_run(self):
        """The :class:`RunFile` of run.h5, verified."""
        what = str(self.run_path)
        arrays, attrs = read_file(self.run_path, schema=RUN, version=SCHEMA_VERSION, what=what)
        config, x, y, t, step, rho, snap_t, snap_step = require(
            arrays, ["config", "samples/x", "samples/y", "history/t", "history/step", "history/rho", "snapshots/t", "snapshots/step"], what
        )
        kind = attrs["/"].get("kind")
        if kind not in CLOCKS:
            raise FileError(f"{what}: unknown solver kind {kind!r}")
        samples = mf.Samples(x, y)
        energy = arrays.get("history/energy")
        if energy is None and _tv_of(str(config)) == 0:  # written before the energy was: it is the loss
            energy = data_loss(np.reshape(rho, (len(t), samples.s)))
        history = History.from_arrays(samples, t, step, rho, energy, arrays.get("history/gap"))
        return RunFile(kind, str(config), samples, history, list(zip(np.asarray(snap_t).tolist(), np.asarray(snap_step).tolist())))

    # -- state files ---------------------------------------------------------------------------
    def snapshot_path(self, step):
        return self.snapshot_dir / f"{_name(step)}.h5"

    def write_snapshot(self, state, shard=None, per_particle=()):
        """Write the snapshot of ``state`` (of a sharded run: every rank, each with its
        :meth:`~solvers.evolution.Evolution.local_state`; ``per_particle`` names its arrays that
        hold one value per particle)."""
        self._write_state(self.snapshot_path(state["step"]), state, {}, SNAPSHOT, True, shard, per_particle)

    def read_snapshot(self, step):
        path = self.snapshot_path(step)
        arrays, attrs = read_file(path, schema=SNAPSHOT, version=SCHEMA_VERSION)
        return state_from_contents(arrays, attrs, str(path))

    def write_checkpoint(self, state, config_text, samples, keep, shard=None, per_particle=()):
        """Write the checkpoint of ``state`` (sharded: as :meth:`write_snapshot`) and remove all
        but the ``keep`` newest."""
        extra = {"config": config_text, "samples/x": samples.x, "samples/y": samples.y}
        self._write_state(self.checkpoint_dir / f"{_name(state['step'])}.h5", state, extra, CHECKPOINT, False, shard, per_particle)
        if shard is None or shard.root:
            for old in self.checkpoints()[:-keep]:
                shardio.remove(old)

    def _write_state(self, path, state, extra, schema, compress, shard, per_particle):
        arrays, attrs = state_file_contents(state)
        arrays.update(extra)
        if shard is None or not shard.sharded:
            write_file(path, arrays, attrs, schema=schema, version=SCHEMA_VERSION, compress=compress)
            shardio.remove_parts(path)  # of a file of this step that a sharded leg wrote before
            return
        local = [f"state/{name}" for name in per_particle if name in state]
        shardio.write_in_parts(path, arrays, attrs, schema=schema, version=SCHEMA_VERSION, compress=compress, shard=shard, local=local)

    def checkpoints(self):
        """Checkpoint files, oldest first."""
        return sorted(self.checkpoint_dir.glob("step_*.h5"))

    def newest_checkpoint(self, rows=None):
        """The newest :class:`Checkpoint` that verifies (with the newer ones that did not). A
        checkpoint that vanishes while it is read (a running writer keeps only the newest few) is
        passed over without a word. ``rows=(lo, hi)``: of a checkpoint written in parts read
        only those particles (every part is still verified)."""
        skipped = []
        for path in reversed(self.checkpoints()):
            try:
                return read_checkpoint(path, skipped, rows, check_parts=rows is not None)
            except FileError as err:
                if path.exists():
                    skipped.append((path, str(err)))
        if skipped:
            raise FileError(f"no checkpoint in {self.checkpoint_dir} verifies: {skipped[0][1]}")
        raise FileError(f"{self.path}: no checkpoints (is this a run folder?)")

    def trim(self, step, snapshots):
        """Drop snapshots after ``step`` (files and index entries); returns the kept index."""
        kept = [(t, s) for t, s in snapshots if s <= step]
        for _, s in snapshots:
            if s > step:
                shardio.remove(self.snapshot_path(s))
        return kept


def read_checkpoint(path, skipped=(), rows=None, check_parts=False):
    """The :class:`Checkpoint` of a checkpoint file, verified (``rows``, ``check_parts``: of a
    file in parts, as :func:`meanfield.h5io.read_file`)."""
    what = str(path)
    arrays, attrs = read_file(path, schema=CHECKPOINT, version=SCHEMA_VERSION, what=what, rows=rows, check_parts=check_parts)
    config, x, y = require(arrays, ["config", "samples/x", "samples/y"], what)
    parts = parts_of(arrays, what)
    return Checkpoint(Path(path), state_from_contents(arrays, attrs, what), str(config), mf.Samples(x, y), list(skipped),
                      None if parts is None else parts.length)


def _tv_of(config_text):
    """The TV weight of a stored configuration (0 when it has none)."""
    import tomllib

    try:
        return float(tomllib.loads(config_text).get("solver", {}).get("tv", 0.0))
    except (tomllib.TOMLDecodeError, TypeError, ValueError):
        return float("nan")


def _name(step):
    return f"step_{int(step):012d}"
