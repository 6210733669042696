"""Numba kernels of the time integrators (arrays and scalars only)."""
