"""Memory and disk a run will need, estimated from its configuration before anything is allocated
or written, and refused in one line when the machine has less.

The estimates are upper bounds of the large terms (arrays of m particles, of the grid's cells,
files of the state); the small ones (per-arc moments, O(s) vectors) are left out.
"""
from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

from . import config as cfg
from .memory import available_memory
from .particles import TABLEAUS, TRIG_CACHE_BYTES
from .sliding import SlidingSolver

GB = 1e9


def state_bytes(config: dict[str, Any], s: int, ranks: int = 1) -> float:
    """Bytes of the arrays a solver's state holds (one rank's share of the particles); ``s``
    samples."""
    init_, solver = config["init"], config["solver"]
    if solver["kind"] == "histogram":
        return 8.0 * _cells(config, s)
    m = math.ceil(init_["m"] / ranks)
    item = 4 if init_["dtype"] == "float32" else 8
    if solver["kind"] == "full":
        return 3.0 * item * m
    per = 2 * item + (8 if solver["metric"] == "delta" else 0) + (4 if solver["method"] in SlidingSolver.METHODS else 0)
    return float(per * m)


def memory_needed(config: dict[str, Any], s: int, ranks: int = 1) -> dict[str, float]:
    """Bytes one process needs, by part: ``state``, ``workspace`` (what the step keeps besides the
    state) and ``files`` (a state file is built whole in memory before it is written; with MPI
    ranks, each rank builds the image of its own part)."""
    init_, solver = config["init"], config["solver"]
    state = state_bytes(config, s, ranks)
    if solver["kind"] == "histogram":
        workspace = 8.0 * 13 * _cells(config, s)  # next masses, scratch and fluxes (4); the initial quadrature's 3 x 3 points (9)
    else:
        m = math.ceil(init_["m"] / ranks)
        stages = TABLEAUS[solver["method"]][1].size if solver["method"] in TABLEAUS else 1
        kept = stages if stages > 1 else 0  # float64 numbers per particle kept between Runge-Kutta passes
        sliding = {"sliding": 1, "sliding-heun": 2}.get(solver["method"], 0)  # copies of the state the sliding step writes into
        draw = 3 * 8.0 * m if init_["law"] == "pytorch_default" else 0.0  # (a, b, c) drawn before the canonical map
        cache = TRIG_CACHE_BYTES * m if solver["trig_cache"] == "on" and not sliding else 0.0  # "auto" leaves it out when memory is short
        workspace = 8.0 * kept * m + sliding * state + draw + cache
    return {"state": state, "workspace": workspace, "files": state}


def check_memory(config: dict[str, Any], s: int, ranks: int = 1, *, runs: int = 1, available: float | None = None) -> None:
    """ValueError (one line, both numbers) when the run (``runs`` of them at once) needs more
    memory than is available."""
    parts = {name: runs * value for name, value in memory_needed(config, s, ranks).items()}
    need, have = sum(parts.values()), available_memory() if available is None else available
    if need > have:
        what = "init.m" if config["solver"]["kind"] != "histogram" else "solver.n_r and solver.n_theta"
        per_rank = f" per process ({ranks} MPI ranks)" if ranks > 1 else f" ({runs} runs at once)" if runs > 1 else ""
        raise ValueError(f"this run needs about {need / GB:.3g} GB of memory{per_rank} (state {parts['state'] / GB:.3g} GB, workspace "
                         f"{parts['workspace'] / GB:.3g} GB, file images {parts['files'] / GB:.3g} GB) but {have / GB:.3g} GB are available; "
                         f"lower {what}")


def disk_needed(config: dict[str, Any], s: int, t_from: float = 0.0) -> dict[str, float]:
    """Bytes a run's files will take at most from time ``t_from`` on, by part: ``snapshots``
    (each a state file; the count from the cadence, or just the first and last for step and
    wall-clock cadences, whose count the configuration cannot tell), ``checkpoints`` (``keep`` of
    them and the one being written) and ``history`` (the run file, rewritten beside its old copy)."""
    output, stop, solver = config["output"], config["stop"], config["solver"]
    state = state_bytes(config, s, 1)
    t_end, most = stop["t_end"], math.inf  # most: steps the run takes at most (records are made after steps)
    if solver["kind"] != "histogram":  # no step is longer than dt (lr): the steps bound the time reached
        step = solver["lr"] if solver["kind"] == "full" else solver["dt"]
        if stop["steps"]:
            t_end, most = min(t_end, stop["steps"] * step), stop["steps"]
        if solver["kind"] == "full" or solver["method"] not in SlidingSolver.METHODS:  # fixed steps
            most = min(most, math.ceil((t_end - t_from) / step))
    count = {name: min(_records(output[name], t_from, t_end), most + 2) for name in ("snapshots", "history")}
    return {
        "snapshots": count["snapshots"] * state,
        "checkpoints": (output["keep"] + 1) * state,
        "history": 2 * count["history"] * 8.0 * (s + 4),
    }


def check_disk(config: dict[str, Any], s: int, folder: str | Path, *, t_from: float = 0.0, free: float | None = None) -> None:
    """ValueError (one line, the numbers and the key to change) when the run's files would not fit
    in the free space of ``folder``'s file system."""
    _refuse_disk(disk_needed(config, s, t_from), folder, free)


def check_sweep(runs: list[tuple[dict[str, Any], int]], folder: str | Path, workers: int) -> None:
    """The memory of the largest of the (configuration, s) runs, ``workers`` of them at once, and
    the disk of all of them: ValueError (one line) when the machine has less."""
    largest = max(runs, key=lambda run: sum(memory_needed(*run).values()))
    check_memory(*largest, runs=min(workers, len(runs)))
    parts = [disk_needed(*run) for run in runs]
    _refuse_disk({name: sum(p[name] for p in parts) for name in parts[0]}, folder, None)


def _refuse_disk(parts: dict[str, float], folder: str | Path, free: float | None) -> None:
    need = sum(parts.values())
    if free is None:
        folder = Path(folder)
        existing = next(p for p in (folder, *folder.parents) if p.exists())
        free = float(shutil.disk_usage(existing).free)
    if need > free:
        raise ValueError(f"this run would write about {need / GB:.3g} GB (snapshots {parts['snapshots'] / GB:.3g} GB, checkpoints "
                         f"{parts['checkpoints'] / GB:.3g} GB, history {parts['history'] / GB:.3g} GB) but {free / GB:.3g} GB are free in "
                         f"{folder}; set a longer output.snapshots (or 'off'), a smaller output.keep or init.m")


def _records(cadence: Any, t_from: float, t_end: float) -> float:
    """How many records a cadence makes from t_from to t_end: time cadences one per multiple of
    their period, and the first and the last always."""
    unit, amount = cfg.cadence_of(cadence)
    return 2 + (math.floor(t_end / amount) - math.floor(t_from / amount) if unit == "t" else 0)


def _cells(config: dict[str, Any], s: int) -> float:
    """Cells of the histogram's grid: n_r (made even) rows of at most n_theta + 2s cells."""
    solver = config["solver"]
    return float((solver["n_r"] + solver["n_r"] % 2) * (solver["n_theta"] + 2 * s))
