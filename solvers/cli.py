"""Command line: ``python -m meanfield COMMAND`` (also the ``meanfield`` console script).

    run [CONFIG] [--out DIR] [--set key=value ...]   start a run (no CONFIG: the embedded default)
    resume DIR [--t-end T]                            continue a run from its newest checkpoint
    sweep CONFIG --out DIR [--set key=value ...]      the product of runs over the list values, and a summary
    plot DIR [--out DIR]                              figures of a run, from its files alone
    attractors DIR                                    which rays attract or repel, and the mass near them
    animate DIR [--out FILE]                          a movie from the run's snapshots (GIF; MP4 with ffmpeg)
    info FILE_OR_DIR                                  what a run folder or file (or a sweep summary) holds
    config                                            the default configuration, commented
    --version

With no command, ``run``. Problems with the input (configuration, files, arguments) are one line
on stderr and exit status 2, never a traceback. A run that diverges exits 1 and keeps its last
good checkpoint; SIGINT / SIGTERM checkpoint and exit 130 / 143; a file that cannot be written (a
full disk) is one line and exit 74, and the run keeps its run file and last good checkpoint.

Under ``mpiexec -n N`` (N > 1), ``run`` and ``resume`` shard the particles over the N ranks: rank 0
writes the files and the output, and an error on any rank ends all of them with its message.
"""
import argparse
import sys
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np

EXIT_WRITE = 74  # sysexits.h EX_IOERR: a file could not be written
COMMANDS = ("run", "resume", "sweep", "plot", "attractors", "animate", "info", "config")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse's own usage block is noise here)
        print(f"error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)


def build_parser():
    import meanfield

    parser = _Parser(prog="python -m meanfield", description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--version", action="version", version=f"meanfield {meanfield.__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    run = sub.add_parser("run", help="start a run")
    run.add_argument("config", nargs="?", help="TOML configuration (default: the embedded default problem)")
    run.add_argument("--out", help="run folder (default: runs/<config name>-<date-time>)")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a key, e.g. --set m=1e6 --set solver.method=heun")
    resume = sub.add_parser("resume", help="continue a run from its newest valid checkpoint")
    resume.add_argument("dir")
    resume.add_argument("--t-end", type=float, help="new end time (default: the configured one)")
    sweep = sub.add_parser("sweep", help="run the product of a configuration's list values, each in its own folder, with a summary")
    sweep.add_argument("config", nargs="?", help="TOML configuration whose values may be lists (m = [1e3, 1e4], seed = [0, 1])")
    sweep.add_argument("--out", required=True, help="sweep folder: one run folder per run, summary.csv and summary.h5")
    sweep.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a key; a list sweeps it: --set 'seed=[0, 1, 2]'")
    sweep.add_argument("--workers", type=int, help="worker processes (default: the number of cores)")
    sweep.add_argument("--threads", type=int, default=1, help="numba threads per worker (default 1; results do not depend on it)")
    sweep.add_argument("--mpi", action="store_true", help="run on MPI ranks: mpiexec -n N python -m mpi4py.futures -m meanfield sweep ... --mpi")
    plot = sub.add_parser("plot", help="write the figures of a run (PNG)")
    plot.add_argument("dir")
    plot.add_argument("--out", help="folder for the figures (default: the run folder)")
    plot.add_argument("--snapshot", type=int, help="draw snapshot I (0 the first, -1 the last; default: the newest checkpoint)")
    att = sub.add_parser("attractors", help="which rays attract or repel over time, and the mass near them")
    att.add_argument("dir")
    att.add_argument("--eps", type=float, default=1e-3, help="window around a ray for particles, in rad (default 1e-3)")
    att.add_argument("--snapshot", type=int, help="the rays up to snapshot I and the mass on them there (default: the newest checkpoint)")
    anim = sub.add_parser("animate", help="a movie from the run's snapshots: uv-plane, network, loss so far")
    anim.add_argument("dir")
    anim.add_argument("--out", help="a .gif or .mp4 file (default: animation.gif in the run folder, and animation.mp4 where ffmpeg is found)")
    anim.add_argument("--fps", type=int, default=4, help="frames per second (default 4)")
    info = sub.add_parser("info", help="describe a run folder or a run, checkpoint or snapshot file")
    info.add_argument("path")
    sub.add_parser("config", help="print the default configuration, commented")
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] not in COMMANDS and argv[0] not in ("-h", "--help", "--version"):
        argv = ["run", *argv]
    args = build_parser().parse_args(argv)
    from meanfield.h5io import FileError

    from .config import ConfigError

    try:
        with _quiet_numerics():
            return COMMAND[args.command](args)
    except (ConfigError, FileError, ValueError, OSError) as err:
        from .shard import world

        comm = world() if args.command in ("run", "resume") else None
        quiet = comm is not None and comm.Get_rank() > 0  # every rank saw the same input: rank 0 says it
        return _report_error(err, quiet=quiet)


@contextmanager
def _quiet_numerics():
    """While a command runs: numpy's floating-point warnings off (a state that overflows is the
    divergence guard's one line, not a warning per operation), and every Python warning one line
    ``warning: ...`` without a source location."""
    def one_line(message, category, filename, lineno, file=None, line=None):
        print(f"warning: {message}", file=sys.stderr, flush=True)

    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.showwarning = one_line
        yield


def _report_error(err, prefix="", quiet=False):
    """Print one line for an error and return its exit status: 2 for the input (configuration,
    files, arguments), EXIT_WRITE when a file could not be written (a full disk, a quota, an I/O
    error), 1 for anything else the machine did (a vanished folder)."""
    from meanfield.h5io import FileError, WriteError

    from .config import ConfigError

    if isinstance(err, WriteError):
        text, code = str(err), EXIT_WRITE
    elif isinstance(err, (ConfigError, FileError, ValueError)):
        text, code = str(err), 2
    elif isinstance(err, OSError):
        text, code = f"{err.strerror or err}{f': {err.filename}' if err.filename else ''}", 1
    else:
        text, code = f"{type(err).__name__}: {err}", 1
    if not quiet:
        print(f"error: {prefix}{text}", file=sys.stderr, flush=True)
    return code


def cmd_run(args):
    from . import config as cfg
    from . import job, registry
    from .shard import Shard, world

    config = cfg.load(args.config, args.set)
    comm = world()
    if comm is None:
        out = job.resolve_out(args.out, args.config)
        print(f"run folder: {out}")
        return _finish(job.start(config, out))
    registry.check(config, comm.Get_size())
    Shard(config["init"]["m"], comm)  # the rank count fits m, or one error line from each rank
    out = comm.bcast(job.resolve_out(args.out, args.config), root=0)
    if comm.Get_rank() == 0:
        print(f"run folder: {out} ({comm.Get_size()} MPI ranks)")
    return _on_all_ranks(comm, lambda: _finish(job.start(config, out, comm=comm)))


def cmd_resume(args):
    from . import job
    from .shard import world

    if args.t_end is not None and not np.isfinite(args.t_end):
        raise ValueError(f"--t-end must be finite, got {args.t_end}")
    comm = world()
    if comm is None:
        return _finish(job.resume(args.dir, t_end=args.t_end))
    return _on_all_ranks(comm, lambda: _finish(job.resume(args.dir, t_end=args.t_end, comm=comm)))


def _on_all_ranks(comm, work):
    """Run ``work`` on every rank; an error on one rank ends all of them (MPI_Abort) with its
    message and the exit status :func:`main` gives that error."""
    from .shard import ReportedElsewhere

    try:
        return work()
    except ReportedElsewhere:
        time.sleep(30)  # the reporting rank's MPI_Abort ends this one first
        comm.Abort(1)
    except Exception as err:
        code = _report_error(err, prefix=f"rank {comm.Get_rank()}: " if comm.Get_size() > 1 else "")
        # the line goes through the launcher's output forwarding, which the abort tears down: give
        # it a moment to get there (CI once saw exit status 2 and an empty stderr)
        time.sleep(0.5)
        comm.Abort(code)


def _finish(outcome):
    from . import report

    if not outcome.root:
        return outcome.exit_code  # a rank other than 0 of a sharded run: rank 0 reports
    stream = sys.stdout if outcome.exit_code == 0 else sys.stderr
    print(("" if outcome.exit_code == 0 else "error: ") + outcome.message, file=stream)
    if outcome.status in ("complete", "stopped") and outcome.solver is None:  # a sharded run too large to gather on rank 0
        print(f"report: the whole state does not fit in rank 0's free memory: no summary of the neurons and no figures here; "
              f"python -m meanfield plot {outcome.folder.path} draws them on a machine where it fits")
    elif outcome.status in ("complete", "stopped"):
        run = report.open_run(outcome.folder.path)
        for line in summary(run, outcome.solver, outcome.wall):
            print(line)
        if run.config["output"]["figures"]:
            paths = report.write_figures(run, state=outcome.solver)
            print(f"figures: {', '.join(p.name for p in paths)} in {outcome.folder.path}")
    return outcome.exit_code


def summary(run, solver, wall):
    """What a finished run shows: fit at the samples, loss (and energy), attracting rays."""
    from meanfield.attractors import ATTRACTOR, classify_rays
    from meanfield.field import data_loss

    samples, h = run.samples, run.history
    rho = solver.residuals()
    lines = [f"{run.describe()}, t = {solver.t:.4g} ({solver.step} steps in all; this leg {wall:.1f} s)",
             f"{'x':>9} {'y':>9} {'f(x)':>9} {'rho':>9}"]
    lines += [f"{x:9.4f} {y:9.4f} {y + r:9.4f} {r:9.4f}" for x, y, r in zip(samples.x, samples.y, rho)]
    lines.append(f"loss 1/2 |rho|^2: {h.loss[0]:.6g} at t = {h.t[0]:.4g} -> {data_loss(rho):.6g} at t = {solver.t:.4g}; max |rho| = {np.abs(rho).max():.4g}")
    if solver.tv:
        lines.append(f"energy (loss + regulariser): {h.energy[0]:.6g} -> {h.energy[-1]:.6g}; gap {h.gap[-1]:.3g} "
                     "(energy - dual value, >= energy - min energy)")
    if data_loss(rho) > h.loss[0]:
        print("warning: the loss increased; the step is probably too large (large steps throw neurons into the arc where "
              "no sample is active, where they stop)", file=sys.stderr)
    cls = classify_rays(samples, rho)
    near = solver.ray_mass()
    reg = samples.regions
    for which, sign in ((0, 1), (1, -1)):
        seen, rays = set(), []
        for k in np.flatnonzero(cls.state(sign) == ATTRACTOR):
            if reg.angles[k] in seen:
                continue  # duplicated x: one ray
            seen.add(reg.angles[k])
            rays.append(f"x={samples.x[cls.sample[k]]:.3g} {'on' if reg.switches_on[k] else 'off'} ({near[k, which]:.1%})")
        lines.append(f"attracting rays for r {'>' if sign > 0 else '<'} 0 (mass near each): {', '.join(rays) or 'none'}")
    return lines


def cmd_sweep(args):
    from . import sweep

    for name in ("workers", "threads"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError(f"--{name} must be a positive number, got {value}")
    rows = sweep.run(args.config, args.out, args.set, workers=args.workers, threads=args.threads, stream=sys.stdout, mpi=args.mpi)
    failed = [row for row in rows if row["status"] not in ("complete", "stopped")]
    print(f"summary: {args.out}/summary.csv, {args.out}/summary.h5 ({len(rows)} runs, {len(failed)} not complete)")
    for row in failed:
        print(f"error: {row['folder']}: {row['message']}", file=sys.stderr)
    return 1 if failed else 0


def cmd_plot(args):
    from . import report

    run = _one_run(report.open_run(args.dir), "plot")
    with _writing_into(run, args.out, "plot"):
        paths = report.write_figures(run, args.out, state=_snapshot(run, args.snapshot))
    print(f"wrote {', '.join(p.name for p in paths)} in {paths[0].parent}")
    return 0


def cmd_attractors(args):
    from . import report

    if not args.eps > 0:
        raise ValueError(f"--eps must be positive, got {args.eps}")
    run = _one_run(report.open_run(args.dir), "attractors")
    print("\n".join(report.attractor_report(run, eps=args.eps, state=_snapshot(run, args.snapshot))))
    return 0


def cmd_animate(args):
    from . import report
    from .animate import animate

    if args.fps < 1:
        raise ValueError(f"--fps must be positive, got {args.fps}")
    run = _one_run(report.open_run(args.dir), "animate")
    with _writing_into(run, args.out and Path(args.out).parent, "animate"):
        paths = animate(run, args.out, fps=args.fps)
    print(f"wrote {', '.join(str(p) for p in paths)}")
    return 0


def _writing_into(run, out, verb):
    """The run folder's lock when the files go into it (``out`` None or the folder itself): a
    command does not write beside a run in progress; reading needs no lock."""
    from contextlib import nullcontext

    from .lock import FolderLock

    if out is not None and Path(out).resolve() != run.path.resolve():
        return nullcontext()
    return FolderLock(run.path, f"{verb} into")


def _snapshot(run, index):
    """Snapshot ``index`` of a run (None: None, the newest checkpoint); one error line when the run
    has no such snapshot."""
    if index is None:
        return None
    if not -len(run.snapshots) <= index < len(run.snapshots):
        raise ValueError(f"--snapshot {index}: {run.path} has {len(run.snapshots)} snapshots (0 to {len(run.snapshots) - 1}, or -1 for the last)")
    return run.snapshots[index]


def _one_run(run, verb):
    """A run, not a sweep folder (whose runs are its subfolders)."""
    from .runs import Sweep

    if isinstance(run, Sweep):
        raise ValueError(f"{run.path} is a sweep folder: {verb} one of its runs ({run.path}/{run.summary['folder'][0]}, ...)")
    return run


def cmd_info(args):
    from . import report

    print("\n".join(report.info(args.path)))
    return 0


def cmd_config(args):
    from . import config as cfg

    print(cfg.render(), end="")
    return 0


COMMAND = {"run": cmd_run, "resume": cmd_resume, "sweep": cmd_sweep, "plot": cmd_plot, "attractors": cmd_attractors, "animate": cmd_animate, "info": cmd_info, "config": cmd_config}
