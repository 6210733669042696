"""``python -m validation COMMAND``: benchmarks and paper reproductions."""
import argparse
import sys
from pathlib import Path


def positive(kind):
    """An argparse type: a number of ``kind`` (int or float) that must be > 0."""
    def parse(text):
        try:
            value = kind(float(text)) if kind is int and float(text).is_integer() else kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value

    parse.__name__ = f"positive {kind.__name__}"
    return parse


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m validation", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    field = sub.add_parser("bench-field", help="residuals + velocity vs the reference (model core)")
    field.add_argument("--m", type=positive(int), default=10**6)
    field.add_argument("--s", type=positive(int), nargs="+", default=[10, 100, 1000])
    field.add_argument("--ref-m", type=positive(int), default=10**5)
    bench = sub.add_parser("bench", help="particle steps (Euler, Heun, RK4, float32) vs the streaming floor, copy, reference, PyTorch")
    bench.add_argument("--m", type=positive(int), nargs="+", default=[10**5, 10**6, 10**7])
    bench.add_argument("--s", type=positive(int), nargs="+", default=[10, 100, 1000])
    bench.add_argument("--no-torch", action="store_true", help="skip the PyTorch baseline")
    big = sub.add_parser("bench-big", help="Euler steps at m = 1e8 with peak memory")
    big.add_argument("--m", type=positive(int), default=10**8)
    big.add_argument("--steps", type=positive(int), default=3)
    mpi = sub.add_parser("bench-mpi", help="Euler steps sharded over 1, 2, ... MPI ranks: throughput per rank, exchange time, peak memory per rank writing a checkpoint (needs .[mpi])")
    mpi.add_argument("--m", type=positive(int), nargs="+", default=[10**6, 10**7])
    mpi.add_argument("--s", type=positive(int), nargs="+", default=[10, 1000])
    mpi.add_argument("--ranks", type=positive(int), nargs="+", default=[1, 2])
    mpi.add_argument("--steps", type=positive(int), default=20)
    hist = sub.add_parser("bench-histogram", help="histogram solver: error against a fine grid and wall time, unsplit vs sub-cycled")
    hist.add_argument("--case", nargs="+", default=["gaussian-4", "biweight-sine8"], choices=["gaussian-4", "biweight-sine8"])
    hist.add_argument("--substeps", type=positive(int), nargs="+", default=[2, 4])
    hist.add_argument("--quick", action="store_true", help="coarse grids and reference (seconds; for tests)")
    slide = sub.add_parser("bench-sliding", help="sliding particles vs euler, heun, rk4: error against a small-step reference vs wall time")
    slide.add_argument("--quick", action="store_true", help="fewer particles, steps and a shorter run (for tests)")
    slide.add_argument("--out", default="figures", help="folder of bench_sliding.png (default figures/)")
    masses = sub.add_parser("ray-masses", help="mass on rays: sliding particles against the histogram solver over time")
    masses.add_argument("--case", nargs="+", default=["gaussian-4", "biweight-sine8"], choices=["gaussian-4", "biweight-sine8"])
    masses.add_argument("--m", type=positive(int), default=1_000_000)
    masses.add_argument("--seeds", type=positive(int), default=3)
    masses.add_argument("--method", default="sliding-heun", choices=["sliding", "sliding-heun"])
    masses.add_argument("--grid", type=positive(int), nargs=2, default=None, metavar=("N_R", "N_THETA"),
                        help="the histogram's grid (default: the case's, 200 x 400 and 200 x 800)")
    masses.add_argument("--quick", action="store_true", help="a coarse histogram grid")
    masses.add_argument("--out", default="figures", help="folder of ray_masses_<case>.png (default figures/)")
    paper = sub.add_parser("paper", help="the paper's claims measured against thresholds: OUT/REPORT.md and figures; exit 1 if one fails")
    paper.add_argument("--quick", action="store_true", help="fewer particles, cases and seeds (minutes)")
    paper.add_argument("--out", default="paper", help="folder of REPORT.md and the figures (default paper/)")
    paper.add_argument("--only", nargs="+", default=None, help="run only these claims")
    geo = sub.add_parser("geometry", help="regularised problem: canonical vs conic (weight decay) geometry, time to reach the exact optimum")
    geo.add_argument("--quick", action="store_true", help="fewer particles and a budget of 2 s per run (for tests)")
    geo.add_argument("--budget", type=positive(float), default=None, help="wall-clock seconds per run (default 60)")
    geo.add_argument("--out", default="figures", help="folder of geometry.png and geometry.md (default figures/)")
    geo.add_argument("--cases", nargs="+", default=None, choices=["tent8", "pairs6", "ramp6"], help="the problems (default all)")
    geo.add_argument("--runs", nargs="+", default=None, choices=["euler", "sliding", "conic", "conic-0.05"], help="the runs (default all)")
    att = sub.add_parser("attractors", help="adaptive run: predicted attractors vs concentration, figures")
    att.add_argument("--out", default="figures")
    att.add_argument("--m", type=int, default=20_000)
    att.add_argument("--t-end", type=float, default=20.0)
    limit = sub.add_parser("mean-field", help="finite particles vs the histogram solver: error against m")
    limit.add_argument("--case", default="gaussian-4", choices=["gaussian-4", "biweight-sine8"])
    limit.add_argument("--m", type=positive(int), nargs="+", default=[10**2, 10**3, 10**4, 10**5, 10**6])
    limit.add_argument("--seeds", type=positive(int), default=3)
    limit.add_argument("--grid", type=int, nargs=2, default=None, metavar=("N_R", "N_THETA"), help="histogram taken as rho_inf (default: the case's)")
    limit.add_argument("--out", default="figures", help="folder of the figure mean_field_limit_<case>.png and of the particle sweep "
                       "particles-<case>/ (default figures/; run again, finished runs are reused)")
    limit.add_argument("--workers", type=positive(int), default=1, help="local worker processes for the particle runs (default 1)")
    limit.add_argument("--threads", type=positive(int), default=None, help="numba threads per worker (default: every core)")
    limit.add_argument("--mpi", action="store_true", help="particle runs on MPI ranks: mpiexec -n N python -m mpi4py.futures -m validation mean-field --mpi")
    args = parser.parse_args(argv)
    if args.command == "mean-field" and (len(set(args.m)) < 2 or args.seeds < 2):
        parser.error("mean-field fits a slope and a seed spread: give at least two values of --m and --seeds 2 or more")
    if getattr(args, "out", None) is not None:
        try:
            Path(args.out).mkdir(parents=True, exist_ok=True)
        except OSError as error:
            parser.error(f"--out: cannot make the folder {args.out}: {error.strerror}")
    if args.command == "bench-field":
        from . import bench_field

        bench_field.run(m=args.m, s_values=args.s, ref_m=args.ref_m)
    elif args.command == "attractors":
        from . import attractor_figures

        attractor_figures.run(out=args.out, m=args.m, t_end=args.t_end)
    elif args.command == "mean-field":
        from . import mean_field_limit

        figure = Path(args.out) / f"mean_field_limit_{args.case}.png"
        mean_field_limit.run(args.case, args.m, tuple(range(args.seeds)), args.grid, figure=figure, out=args.out,
                             workers=args.workers, threads=args.threads, mpi=args.mpi)
    elif args.command == "bench":
        from . import bench_particles

        bench_particles.run(args.m, args.s, torch_baseline=not args.no_torch)
    elif args.command == "paper":
        from . import paper

        unknown = set(args.only or ()) - set(paper.CLAIMS)
        if unknown:
            parser.error(f"--only: unknown claims {sorted(unknown)}; choose among {', '.join(paper.CLAIMS)}")
        failed = paper.failures(paper.run(quick=args.quick, out=args.out, only=args.only))
        if failed:
            print(f"{len(failed)} claim(s) failed: {', '.join(row.where for row in failed)}", file=sys.stderr)
            return 1
    elif args.command == "geometry":
        from . import geometry

        geometry.run(quick=args.quick, out=args.out, budget=args.budget, cases=args.cases, runs=args.runs)
    elif args.command == "bench-histogram":
        from . import bench_histogram

        bench_histogram.run(args.case, args.substeps, quick=args.quick)
    elif args.command == "bench-sliding":
        from . import bench_sliding

        bench_sliding.run(quick=args.quick, out=args.out)
    elif args.command == "ray-masses":
        from . import ray_masses

        ray_masses.run(args.case, m=args.m, seeds=tuple(range(args.seeds)), quick=args.quick, out=args.out, method=args.method,
                       grid=args.grid)
    elif args.command == "bench-mpi":
        from . import bench_mpi

        bench_mpi.run(args.m, args.s, args.ranks, args.steps)
    elif args.command == "bench-big":
        from . import bench_particles

        bench_particles.big_run(m=args.m, steps=args.steps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
