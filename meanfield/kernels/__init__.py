"""Numba kernels: functions of arrays and scalars only, compiled through :mod:`meanfield._compile`.

- :mod:`.arcs` — reduce an angle to [0, 2 pi) and find its arc (bucket table + binary search).
- :mod:`.field` — per-arc moments, residuals from moments, per-arc field g_k, particle velocities.
"""
