"""Numba kernels: functions of arrays, scalars and named tuples of arrays (bundles such as
:class:`.arcs.ArcTable`), compiled through :mod:`meanfield._compile`.

- :mod:`.primitives` — the inline formulas every fused kernel calls, each written once: the arc
  velocity, moment accumulation, the stored-angle wrap, the ray (Filippov) rule, the metric of
  Proposition 4.
- :mod:`.arcs` — reduce an angle to [0, 2 pi) and find its arc (bucket table + short scan).
- :mod:`.trig` — sin and cos together, vectorisable over blocks.
- :mod:`.field` — per-arc moments, residuals from moments, per-arc field g_k, particle velocities.
- :mod:`.params` — vectorised parameter maps.
"""
