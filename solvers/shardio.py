"""State files of a run sharded over MPI ranks, written and read by every rank, never gathered.

Each rank writes its particles (the per-particle arrays, rows [lo, hi) of the run) to a part file
and rank 0 writes the state file that joins them (:mod:`meanfield.h5io`, "files in parts"): no
rank ever holds more than its share. The file reads with the serial layout (h5py, :func:`open_run`,
``info``) and a run resumes from it on any number of ranks, each rank reading only the parts that
hold its rows (:func:`read_rows`).

A write is one collective step: every rank writes its part; rank 0 learns whether all parts are
on disk, writes the joining file (atomically, as every file) and tells the others. If any write
fails (a full disk, a quota, an I/O error), every rank removes its part, rank 0 raises the
:class:`meanfield.h5io.WriteError` of the first rank that failed (naming its file), and the other
ranks raise :class:`solvers.shard.ReportedElsewhere` (:meth:`solvers.shard.Shard.raise_on_root`); the
previous state files are untouched.
"""
from __future__ import annotations

import secrets
import shutil
from pathlib import Path

from meanfield import h5io
from meanfield.h5io import WriteError

from .shard import Shard


def write_in_parts(path: Path, arrays: dict, attrs: dict, *, schema: str, version: int, compress: bool, shard: Shard, local: list[str]) -> None:
    """Write the state file ``path`` from every rank (collective): the datasets named in
    ``local`` are this rank's rows [shard.lo, shard.hi), the rest (the same on every rank) are
    written by rank 0 alone."""
    path = Path(path)
    folder = h5io.parts_folder(path)
    token = shard.bcast(secrets.token_hex(4) if shard.root else None)  # this write's parts: never a part of an older file
    name = f"{token}-{shard.rank:05d}.h5"
    mine = {key: arrays.pop(key) for key in local}
    sha = failure = None
    try:
        try:
            folder.mkdir(exist_ok=True)
        except OSError as err:
            raise WriteError(folder, err) from None
        sha = h5io.write_part(folder / name, mine, lo=shard.lo, hi=shard.hi, compress=compress)
    except WriteError as err:
        failure = (str(err.path), err.errno, err.strerror)
    entries = shard.comm.gather((name, shard.lo, shard.hi, sha, failure), root=0)
    if shard.root:
        failure = next((entry[4] for entry in entries if entry[4] is not None), None)
        if failure is None:
            parts = h5io.Parts(
                datasets=tuple(mine), dtypes=tuple(value.dtype.str for value in mine.values()),
                files=tuple(f"{folder.name}/{entry[0]}" for entry in entries),
                lo=tuple(int(entry[1]) for entry in entries), hi=tuple(int(entry[2]) for entry in entries),
                sha256=tuple(entry[3] for entry in entries),
            )
            try:
                h5io.write_file(path, arrays, attrs, schema=schema, version=version, compress=compress, parts=parts)
            except WriteError as err:
                failure = (str(err.path), err.errno, err.strerror)
        if failure is None:  # parts of an earlier write of this file (the same step written again)
            for old in folder.glob("*.h5"):
                if not old.name.startswith(token):
                    old.unlink(missing_ok=True)
    failure = shard.bcast(failure)
    if failure is None:
        return
    (folder / name).unlink(missing_ok=True)
    shard.comm.Barrier()  # every rank has removed its part
    if shard.root:
        try:
            folder.rmdir()  # only if empty: an older file of the same name keeps its parts
        except OSError:
            pass
    shard.raise_on_root(WriteError(failure[0], OSError(failure[1], failure[2])))


def remove(path: Path) -> None:
    """Remove a state file and its parts folder (if it has one)."""
    Path(path).unlink(missing_ok=True)
    remove_parts(path)


def remove_parts(path: Path) -> None:
    """Remove the parts folder of the state file ``path`` (if it has one)."""
    shutil.rmtree(h5io.parts_folder(path), ignore_errors=True)


def clean(folder: Path, schema: str, version: int) -> None:
    """Remove what a writer that died left in a folder of state files (of ``schema``): parts
    folders without their file, and in the others the parts their file does not list (the run's
    lock is held: nobody is writing)."""
    for parts in Path(folder).glob("*.parts"):
        path = parts.with_suffix(".h5")
        try:
            listed = h5io.parts_of(h5io.read_file(path, schema=schema, version=version, rows=(0, 0))[0]) if path.exists() else None
        except h5io.FileError:
            continue  # a damaged file: leave it and its parts for the reader to report
        if listed is None:  # no file, or one written whole
            shutil.rmtree(parts, ignore_errors=True)
            continue
        keep = {Path(f).name for f in listed.files}
        for part in parts.iterdir():
            if part.name not in keep:
                part.unlink(missing_ok=True)
