"""Reproductions of the paper's claims and figures, and the benchmarks: ``python -m validation``."""
