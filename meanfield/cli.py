"""Command line: ``python -m meanfield COMMAND``.

Errors in the input are reported as one line on stderr with exit status 2, never a traceback.
"""
import argparse
import sys
import time

import numpy as np


class UsageError(Exception):
    """An input problem to report without a traceback."""


def _load_samples(path):
    from .defaults import default_samples
    from .samples import Samples

    return default_samples() if path is None else Samples.from_csv(path)


def cmd_demo(args):
    """Train a random network on the samples (canonical flow), report residuals and rays, draw it."""
    import solvers

    from . import field
    from .attractors import ATTRACTOR, classify_rays, ray_mass
    from .defaults import default_particles

    if args.m < 1:
        raise UsageError(f"--m must be a positive number of particles, got {args.m}")
    if not args.t_end > 0 or not args.dt > 0:
        raise UsageError(f"--t-end and --dt must be positive, got {args.t_end} and {args.dt}")
    samples = _load_samples(args.samples)
    r, theta = default_particles(args.m, seed=args.seed)
    rho0 = field.residuals(samples, r, theta)
    solver = solvers.ParticleSolver(samples, r, theta, dt=args.dt, record_every=max(1, int(0.05 / args.dt)))
    start = time.perf_counter()
    try:
        solver.run(t_end=args.t_end, progress=not args.quiet)
    except solvers.DivergenceError as err:
        raise UsageError(f"{err} (try a smaller --dt)") from None
    elapsed = time.perf_counter() - start
    rho = solver.residuals()
    print(f"samples: s = {samples.s}; particles: m = {args.m} (r ~ N(0, 1), theta ~ U[0, 2 pi), seed {args.seed})")
    print(f"canonical flow, Euler, dt = {args.dt} (= gradient descent with step {args.dt * args.m:g}), "
          f"t = {solver.t:g} mean-field time in {solver.step} steps, {elapsed:.2f} s")
    print(f"{'x':>9} {'y':>9} {'rho(t=0)':>10} {'f(x)':>9} {'rho':>9}")
    for xj, yj, a, b in zip(samples.x, samples.y, rho0, rho):
        print(f"{xj:9.4f} {yj:9.4f} {a:10.4f} {yj + b:9.4f} {b:9.4f}")
    print(f"loss L = 1/2 |rho|^2: {0.5 * rho0 @ rho0:.6g} -> {0.5 * rho @ rho:.6g}")
    if rho @ rho > rho0 @ rho0:
        print("warning: the loss increased; dt is probably too large (large steps throw particles into "
              "the arc where no sample is active, where they stop)", file=sys.stderr)
    cls = classify_rays(samples, rho)
    near = ray_mass(samples, solver.r, solver.theta, eps=1e-3)
    for sign, mass in ((1, near[0]), (-1, near[1])):
        side = np.where(samples.regions.switches_on, "on", "off")
        rays = [f"x={samples.x[cls.sample[k]]:.2f} {side[k]} ({mass[k]:.1%})" for k in np.flatnonzero(cls.state(sign) == ATTRACTOR)]
        print(f"attracting rays for r {'>' if sign > 0 else '<'} 0 (share of particles within 1e-3 rad): {', '.join(rays) or 'none'}")
    _figure(solver, args.out)
    print(f"figure: {args.out}")


def _figure(solver, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .plots import plot_field_uv, plot_network, plot_residuals, plot_uv

    fig, axes = plt.subplots(2, 2, figsize=(11, 9))
    plot_network(solver, ax=axes[0, 0])
    plot_uv(solver, ax=axes[0, 1])
    plot_residuals(solver.history, ax=axes[1, 0])
    plot_field_uv(solver, sign=1, ax=axes[1, 1], extent=float(np.quantile(np.abs(solver.r), 0.99)))
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=100)
    except OSError as err:
        raise UsageError(f"cannot write the figure {path}: {err}") from None
    finally:
        plt.close(fig)


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m meanfield", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    demo = sub.add_parser("demo", help="train a random network on the samples and draw it (the default)")
    demo.add_argument("--samples", help="CSV file of samples x, y (default: the embedded sine8 set)")
    demo.add_argument("--m", type=int, default=100_000, help="number of particles (default 1e5)")
    demo.add_argument("--t-end", type=float, default=30.0, help="mean-field time to run (default 30)")
    demo.add_argument("--dt", type=float, default=0.01, help="Euler time step, mean-field clock (default 0.01)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    demo.add_argument("--out", default="meanfield_demo.png", help="figure path (default meanfield_demo.png)")
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv=None):
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        argv = ["demo", *argv]
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except (UsageError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
