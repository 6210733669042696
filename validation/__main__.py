"""``python -m validation COMMAND``: benchmarks and paper reproductions."""
import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m validation", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    field = sub.add_parser("bench-field", help="residuals + velocity vs the reference (model core)")
    field.add_argument("--m", type=float, default=1e6)
    field.add_argument("--s", type=int, nargs="+", default=[10, 100, 1000])
    field.add_argument("--ref-m", type=float, default=1e5)
    args = parser.parse_args(argv)
    if args.command == "bench-field":
        from . import bench_field

        bench_field.run(m=int(args.m), s_values=args.s, ref_m=int(args.ref_m))
    return 0


if __name__ == "__main__":
    sys.exit(main())
