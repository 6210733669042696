"""One process per run folder: an advisory lock on ``DIR/.lock`` held for the whole job.

``fcntl.flock`` ties the lock to the open file, so the operating system releases it when the
holder exits in any way, SIGKILL included: a folder is never left locked by a dead process. The
file holds the holder's pid, which the refusal names.
"""
from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from meanfield.h5io import FileError

LOCK_NAME = ".lock"


class FolderInUse(FileError):
    """Another process holds the folder (one line naming its pid)."""


class FolderLock:
    """Hold ``folder``'s lock while the context is open; :class:`FolderInUse` when another process
    holds it. ``doing`` names what this process wants to do, for the message."""

    def __init__(self, folder: str | Path, doing: str = "use"):
        self.path = Path(folder) / LOCK_NAME
        self.doing = doing
        self._fd: int | None = None

    def __enter__(self) -> FolderLock:
        # held through a read-only descriptor: an open file for writing would keep the file
        # system from being remounted read-only, which must stay possible (and fail the run cleanly)
        fd = os.open(self.path, os.O_RDONLY | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            raise FolderInUse(f"cannot {self.doing} {self.path.parent}: process {holder} is using it (a run, resume, sweep or plot); "
                              "wait for it to end, or stop it") from None
        try:
            self.path.write_text(f"{os.getpid()}\n")
        except OSError:  # a full disk: the lock holds all the same, only the pid goes unrecorded
            pass
        self._fd = fd
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the lock; the file stays (removing it would race a new holder)
            self._fd = None


def _read_pid(fd: int) -> str:
    try:
        text = os.pread(fd, 32, 0).decode().strip()
    except OSError:
        text = ""
    return text or "(unknown pid)"
