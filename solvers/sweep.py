"""Sweeps: one configuration whose values may be lists, run as the product of its runs.

``m = [1e2, 1e3]`` and ``seed = [0, 1, 2]`` give six runs, each in its own run folder under the
sweep folder, executed by a pool of worker processes (:mod:`concurrent.futures`). A summary of each
run's parameters and final figures is written as ``summary.csv`` and ``summary.h5`` (schema
``meanfield.sweep``). Run again, a sweep skips the runs that are complete and resumes the others
from their newest checkpoints; since a run's bits do not depend on the thread count, the results
do not depend on how the pool is sized, nor on whether it is local or MPI (``mpi4py.futures``).
"""
import copy
import csv
import itertools
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from meanfield.field import data_loss
from meanfield.h5io import write_file

from . import budget
from . import config as cfg
from .lock import FolderLock

LIST_KINDS = ("floats", "strs")  # keys whose single value is already a list
SCHEMA_NAME, SCHEMA_VERSION = "meanfield.sweep", 1


def axes(given):
    """The swept keys of a parsed configuration: [(section, name, values)], in schema order.

    A key sweeps when its value is a list (a list of lists for keys whose value is a list)."""
    found = []
    for section, keys in cfg.SCHEMA.items():
        for name, key in keys.items():
            value = given.get(section, {}).get(name)
            if not isinstance(value, list) or not value:
                continue
            if key.kind in LIST_KINDS and not all(isinstance(v, list) for v in value):
                continue
            found.append((section, name, value))
    return found


def expand(path=None, overrides=()):
    """The runs of a sweep configuration: a list of (parameters, configuration) pairs, each
    configuration complete and validated (errors name the key and the run's parameters)."""
    base = cfg.defaults()
    given = {} if path is None else cfg.read(path)
    cfg.merge(base, given)
    for item in overrides:
        cfg.set_key(base, item)
        section, name = cfg.resolve(item.split("=", 1)[0].strip())
        given.setdefault(section, {})[name] = base[section][name]
    swept = axes(given)
    runs = []
    for values in itertools.product(*(v for _, _, v in swept)) if swept else [()]:
        config = copy.deepcopy(base)
        params = {}
        for (section, name, _), value in zip(swept, values):
            config[section][name] = value
            params[f"{section}.{name}"] = value
        try:
            runs.append((params, cfg.validate(config)))
        except cfg.ConfigError as err:
            where = ", ".join(f"{k}={v}" for k, v in params.items())
            raise cfg.ConfigError(f"{err} (in the run {where})") from None
    return runs


def folder_name(index, params):
    """``000_m=100_seed=0``: the index, then the swept values (short keys)."""
    parts = [f"{key.split('.')[-1]}={_short(value)}" for key, value in params.items()]
    name = "_".join([f"{index:03d}", *parts])
    return "".join(c if c.isalnum() or c in "=._-" else "-" for c in name)


def _short(value):
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return "-".join(_short(v) for v in value)
    return str(value)


def _one(config, out, threads):
    """Run (or resume, or skip) one run in a worker process; returns its summary row."""
    import numba

    from . import job

    if threads:
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    out = Path(out)
    clock = time.perf_counter()
    with open(os.devnull, "w") as quiet:
        if (out / "checkpoints").is_dir() and any((out / "checkpoints").glob("step_*.h5")):
            outcome = job.resume(out, stream=quiet)
            started = "resumed" if outcome.wall else "skipped"
        else:
            if out.exists():  # made, but killed before its first checkpoint
                import shutil

                with FolderLock(out, "restart"):
                    shutil.rmtree(out)
            outcome = job.start(config, out, stream=quiet)
            started = "new"
    rho = outcome.solver.residuals()
    return dict(status=outcome.status, started=started, t=float(outcome.solver.t), step=int(outcome.solver.step),
                loss=data_loss(rho), max_abs_rho=float(np.abs(rho).max()), rho=rho.tolist(),
                wall_s=time.perf_counter() - clock if started != "skipped" else 0.0, message=outcome.message)


def executor(workers, mpi):
    """The pool that runs a sweep: local worker processes, or with ``mpi`` the ranks of an
    ``mpiexec -n N python -m mpi4py.futures -m meanfield sweep ... --mpi`` launch (rank 0 runs the
    sweep, the N - 1 others the runs)."""
    if not mpi:
        return ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"))
    try:
        from mpi4py.futures import MPIPoolExecutor
    except ImportError:
        raise cfg.ConfigError("--mpi needs mpi4py and an MPI library: pip install \".[mpi]\"") from None
    return MPIPoolExecutor()


def run(path, out, overrides=(), workers=None, threads=1, stream=None, mpi=False):
    """Run a sweep into folder ``out``; returns the summary rows (dicts), in run order."""
    runs = expand(path, overrides)
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise cfg.ConfigError(f"cannot write the output folder {out}: {err.strerror or err}") from None
    workers = workers or os.cpu_count() or 1
    from .job import build_samples

    budget.check_sweep([(config, build_samples(config).s) for _, config in runs], out, 1 if mpi else workers)
    rows = [None] * len(runs)
    say = (lambda text: print(text, file=stream, flush=True)) if stream else (lambda text: None)
    pool = "MPI ranks" if mpi else f"{workers} workers"
    say(f"sweep of {len(runs)} runs over {', '.join(runs[0][0]) or 'nothing'} in {out}, {pool} x {threads} threads")
    jobs = []
    for index, (params, config) in enumerate(runs):
        config["output"]["progress"] = False
        config["output"]["figures"] = False
        jobs.append((index, params, config, out / folder_name(index, params)))
    with FolderLock(out, "sweep into"), executor(workers, mpi) as pool:
        futures = {pool.submit(_one, config, str(folder), threads): (index, params, folder) for index, params, config, folder in jobs}
        for done, future in enumerate(as_completed(futures), 1):
            index, params, folder = futures[future]
            row = future.result()
            rows[index] = dict(index=index, folder=folder.name, **params, **row)
            say(f"[{done}/{len(runs)}] {folder.name}: {row['started']}, {row['status']}, t = {row['t']:.6g}, loss {row['loss']:.6g}")
        write_summary(out, rows, list(runs[0][0]))
    return rows


def write_summary(out, rows, swept):
    """summary.csv and summary.h5 of the rows (parameters, status, t, step, loss, max |rho|, rho_j, wall)."""
    s = len(rows[0]["rho"])
    columns = ["index", "folder", *swept, "status", "t", "step", "loss", "max_abs_rho", *[f"rho_{j + 1}" for j in range(s)], "wall_s"]
    with open(out / "summary.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row, c) for c in columns])
    arrays = {f"runs/{c}": np.array([_cell(row, c) for row in rows]) for c in columns if not c.startswith("rho_")}
    arrays["runs/rho"] = np.array([row["rho"] for row in rows], dtype=np.float64)
    write_file(out / "summary.h5", arrays, {"/": dict(columns=",".join(columns), swept=",".join(swept))}, schema=SCHEMA_NAME, version=SCHEMA_VERSION)


def _cell(row, column):
    if column.startswith("rho_"):
        return row["rho"][int(column[4:]) - 1]
    value = row[column]
    return _short(value) if isinstance(value, list) else value
