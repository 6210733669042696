"""Benchmark of the canonical particle solver (explicit Euler = gradient descent).

For each (m, s): ms per step and particle-steps per second of :class:`solvers.ParticleSolver`,
and, measured in the same run, the ratios to
  (a) the brute-force O(m s) numpy Euler step of :mod:`solvers.reference`,
  (b) PyTorch autograd gradient descent on the same network (when torch is installed),
  (c) ``numpy.copyto`` of the particle state (r, theta): the memory-bandwidth floor of one pass.
Baselines whose m x s matrices would not fit comfortably are timed on fewer particles and scaled
linearly in m (they are O(m s)); such entries are marked '*'. The step is dt = 0.05 / s
(stable: the field grows like s), on y = sin(3x), x ~ U(-1, 1).
"""
import numba
import numpy as np

import meanfield as mf
import solvers
from solvers import reference as sref

from .timing import best_of, copy_floor

MAX_BASELINE_ELEMENTS = 3e7  # m * s of the largest baseline m x s matrix timed at full size


def _problem(s, seed=0):
    x = np.random.default_rng(seed).uniform(-1, 1, s)
    return mf.Samples(x, np.sin(3 * x))


def _torch_step(samples, r, theta, dt, threads):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    m = r.size
    R = torch.tensor(r, requires_grad=True)
    T = torch.tensor(theta, requires_grad=True)
    X = torch.tensor(samples.x)
    Y = torch.tensor(samples.y)
    eta = m * dt  # gradient descent on L with step eta = Euler with dt = eta / m

    def step():
        f = (R[:, None] * torch.relu(torch.cos(T)[:, None] * X[None, :] + torch.sin(T)[:, None])).sum(0) / m
        loss = 0.5 * ((f - Y) ** 2).sum()
        loss.backward()
        with torch.no_grad():
            R.sub_(eta * R.grad)
            T.sub_(eta * T.grad)
            R.grad = None
            T.grad = None

    return step


def _baseline_m(m, s):
    return int(min(m, max(1000, MAX_BASELINE_ELEMENTS // s)))


def time_step(m, s, *, dtype=np.float64, repeat=5, seed=1):
    samples = _problem(s)
    r, theta = solvers.init.gaussian_uniform(m, rng=seed, dtype=dtype)
    solver = solvers.ParticleSolver(samples, r, theta, dt=0.05 / s, record_every=10**9)
    return best_of(lambda: solver.run(steps=1), repeat=repeat), samples, r, theta


def run(m_values=(10**4, 10**5, 10**6, 10**7), s_values=(10, 100, 1000), goals=True, torch_baseline=True):
    threads = numba.get_num_threads()
    print(f"canonical Euler step (= gradient descent), float64, {threads} threads; dt = 0.05 / s")
    print("'*': baseline timed on fewer particles and scaled linearly in m")
    head = f"{'m':>9} {'s':>5} {'ms/step':>9} {'Mpart-step/s':>13} {'x floor':>8} {'ref/ours':>10} {'torch/ours':>11}"
    print(head)
    rows = []
    for m in m_values:
        for s in s_values:
            t_ours, samples, r, theta = time_step(m, s)
            floor = copy_floor([r, theta])
            mb = _baseline_m(m, s)
            mark = "*" if mb < m else " "
            t_ref = best_of(lambda: sref.euler_canonical(samples, r[:mb], theta[:mb], dt=0.05 / s, steps=1), repeat=1) * m / mb
            torch_text = "-"
            t_torch = None
            if torch_baseline:
                step = _torch_step(samples, r[:mb], theta[:mb], 0.05 / s, threads)
                if step is not None:
                    t_torch = best_of(step, repeat=2) * m / mb
                    torch_text = f"{t_torch / t_ours:10.0f}{mark}"
            print(f"{m:9.0e} {s:5d} {t_ours * 1e3:9.2f} {m / t_ours / 1e6:13.1f} {t_ours / floor:8.1f} {t_ref / t_ours:9.0f}{mark} {torch_text:>11}")
            rows.append(dict(m=m, s=s, ours=t_ours, floor=floor, ref=t_ref, torch=t_torch))
    for s_pair in [(s_values[0], s_values[-1])]:
        for m in m_values:
            lo = next(x for x in rows if x["m"] == m and x["s"] == s_pair[0])
            hi = next(x for x in rows if x["m"] == m and x["s"] == s_pair[1])
            print(f"m = {m:.0e}: time(s = {s_pair[1]}) / time(s = {s_pair[0]}) = {hi['ours'] / lo['ours']:.2f}")
    if goals:
        print("goals at m = 1e6 (torch at full size):")
        for s in (20, 200):
            t_ours, samples, r, theta = time_step(10**6, s)
            step = _torch_step(samples, r, theta, 0.05 / s, threads) if torch_baseline else None
            if step is None:
                print(f"  s = {s}: ours {t_ours * 1e3:.2f} ms/step; torch not installed")
            else:
                t_torch = best_of(step, repeat=2)
                print(f"  s = {s}: ours {t_ours * 1e3:.2f} ms/step, torch {t_torch * 1e3:.0f} ms/step, ratio {t_torch / t_ours:.0f}x")
    return rows


def big_run(m=10**8, s=20, steps=3):
    """Euler steps of m float64 particles: wall time per step and peak resident memory."""
    import resource
    import time

    samples = _problem(s)
    r, theta = solvers.init.gaussian_uniform(m, rng=0)
    solver = solvers.ParticleSolver(samples, r, theta, dt=0.05 / s, record_every=10**9, copy=False)
    del r, theta
    start = time.perf_counter()
    solver.run(steps=steps)
    per_step = (time.perf_counter() - start) / steps
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"m = {m:.0e}, s = {s}: {per_step:.2f} s/step, loss {solver.loss():.6g}")
    print(f"peak RSS {peak / 2**30:.2f} GiB = {peak / m:.1f} bytes per particle "
          f"(state: r, theta float64 = 16 bytes per particle; peak includes initialisation temporaries)")
