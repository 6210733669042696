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
    """Residuals of a random network on the samples, and one figure of its state."""
    from . import field
    from .defaults import default_particles

    if args.m < 1:
        raise UsageError(f"--m must be a positive number of particles, got {args.m}")
    samples = _load_samples(args.samples)
    r, theta = default_particles(args.m, seed=args.seed)
    start = time.perf_counter()
    rho = field.residuals(samples, r, theta)
    dr, dtheta = field.velocity(samples, r, theta, rho=rho)
    elapsed = time.perf_counter() - start
    print(f"samples: s = {samples.s}; particles: m = {args.m} (r ~ N(0, 1), theta ~ U[0, 2 pi), seed {args.seed})")
    print(f"{'x':>10} {'y':>10} {'f(x)':>10} {'rho':>10}")
    for xj, yj, rj in zip(samples.x, samples.y, rho):
        print(f"{xj:10.4f} {yj:10.4f} {yj + rj:10.4f} {rj:10.4f}")
    print(f"loss L = 1/2 |rho|^2 = {0.5 * rho @ rho:.6g}")
    print(f"max |velocity|: dr {np.abs(dr).max():.4g}, dtheta {np.abs(dtheta).max():.4g}")
    print(f"residuals + velocity: {elapsed * 1e3:.1f} ms (first call includes loading compiled kernels)")
    _figure(samples, r, theta, args.out)
    print(f"figure: {args.out}")


def _figure(samples, r, theta, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .plots import plot_network, plot_uv

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    plot_network(samples, r, theta, ax=left)
    plot_uv(samples, r, theta, ax=right)
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=110)
    except OSError as err:
        raise UsageError(f"cannot write the figure {path}: {err}") from None
    finally:
        plt.close(fig)


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m meanfield", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    demo = sub.add_parser("demo", help="residuals of a random network and a figure (the default)")
    demo.add_argument("--samples", help="CSV file of samples x, y (default: the embedded sine8 set)")
    demo.add_argument("--m", type=int, default=100_000, help="number of particles (default 1e5)")
    demo.add_argument("--seed", type=int, default=0)
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
