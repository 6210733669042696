"""Micro-benchmark of the model core: residuals + velocity field for m particles and s samples.

Prints, per s: the fast time, the brute-force reference's time per particle (measured on
``ref_m`` particles) as a ratio, the numpy copy floor of the particle state, and the ratio of the
time at the largest s to the smallest.
"""
import numba
import numpy as np

import meanfield as mf
import meanfield.reference as ref

from .timing import best_of, copy_floor


def run(m=1_000_000, s_values=(10, 100, 1000), ref_m=100_000, seed=0, repeat=5):
    rng = np.random.default_rng(seed)
    r = rng.standard_normal(m)
    theta = rng.uniform(0, 2 * np.pi, m)
    floor = copy_floor([r, theta], repeat=repeat)
    print(f"residuals + velocity, m = {m:.0e}, float64, {numba.get_num_threads()} threads")
    print(f"copy floor (numpy.copyto of r, theta): {floor * 1e3:.2f} ms")
    header = f"{'s':>6} {'fast ms':>9} {'Mparticle/s':>12} {'x copy floor':>13} {'ref ms (scaled)':>16} {'speed-up':>9}"
    print(header)
    fast_times = {}
    for s in s_values:
        x = rng.uniform(-1, 1, s)
        samples = mf.Samples(x, np.sin(3 * x))

        def fast():
            rho = mf.residuals(samples, r, theta)
            mf.velocity(samples, r, theta, rho=rho)

        def slow():
            rho = ref.residuals(samples, r[:ref_m], theta[:ref_m])
            ref.velocity(samples, r[:ref_m], theta[:ref_m], rho=rho)

        t_fast = best_of(fast, repeat=repeat)
        t_ref = best_of(slow, repeat=1, warmup=0) * m / ref_m
        fast_times[s] = t_fast
        print(f"{s:6d} {t_fast * 1e3:9.2f} {m / t_fast / 1e6:12.1f} {t_fast / floor:13.1f} {t_ref * 1e3:16.0f} {t_ref / t_fast:9.0f}")
    lo, hi = min(s_values), max(s_values)
    print(f"time(s = {hi}) / time(s = {lo}) = {fast_times[hi] / fast_times[lo]:.2f}")
    print(f"(reference timed on {ref_m:.0e} particles and scaled linearly to m; it is O(m s))")
    return fast_times
