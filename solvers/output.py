"""Observers that write a run to its folder: snapshots and checkpoints (see :mod:`solvers.runfolder`).

Both flush the run file (history and snapshot index) before they write, so that a checkpoint at
step k always finds every history record up to k in the run file; resuming from it trims what
came after. In a run sharded over MPI ranks every rank calls them: each rank writes its
particles and rank 0 the rest (:mod:`solvers.shardio`, a collective); rank 0 alone writes the run
file.
"""
from __future__ import annotations

from .observers import INTERRUPTED, Cadence, Observer


class RunRecord:
    """What the run file holds besides the solver: kind, configuration text, samples, the history
    (the solver's) and the snapshot index [(t, step)]."""

    def __init__(self, folder, solver, config_text, snapshots=()):
        self.folder = folder
        self.solver = solver
        self.config_text = config_text
        self.snapshots = list(snapshots)
        self.writer = solver.shard is None or solver.shard.root

    def flush(self):
        if not self.writer:
            return
        s = self.solver
        self.folder.write_run(s.KIND, self.config_text, s.samples, s.history, self.snapshots)


class SnapshotWriter(Observer):
    """Writes the state to ``snapshots/`` on its cadence, and at the end of a run that was not
    interrupted."""

    def __init__(self, record: RunRecord, cadence: Cadence):
        super().__init__(cadence)
        self.record = record

    def _write(self, solver):
        if self.record.snapshots and self.record.snapshots[-1][1] == solver.step:
            return
        self.record.snapshots.append((float(solver.t), int(solver.step)))
        self.record.folder.write_snapshot(solver.local_state(), solver.shard, solver.PER_PARTICLE)
        self.record.flush()

    def step(self, solver):
        if self.cadence.due(solver):
            self._write(solver)

    def finish(self, solver, reason):
        if reason != INTERRUPTED:
            self._write(solver)


class Checkpointer(Observer):
    """Writes a checkpoint on its cadence and at the end (also of an interrupted run), keeping the
    ``keep`` newest."""

    def __init__(self, record: RunRecord, cadence: Cadence, keep: int):
        super().__init__(cadence)
        self.record = record
        self.keep = int(keep)
        self._written = None  # the step of the checkpoint this observer wrote last

    def write(self, solver):
        self.record.flush()
        if self._written == solver.step:  # the end of a run on a step its cadence wrote: the same state
            return
        self._written = solver.step
        self.record.folder.write_checkpoint(solver.local_state(), self.record.config_text, solver.samples, self.keep, solver.shard,
                                            solver.PER_PARTICLE)

    def step(self, solver):
        if self.cadence.due(solver):
            self.write(solver)

    def finish(self, solver, reason):
        self.write(solver)
