"""Benchmark of the canonical particle solver.

For each (m, s), measured in the same run: ms per explicit Euler step (= gradient descent) and
particle-steps per second of :class:`solvers.ParticleSolver` in float64, and the ratios
  (a) to the streaming floor: a numba parallel pass that reads and writes r and theta once,
  (b) to ``numpy.copyto`` of the particle state (r, theta),
  (c) of a Heun and an RK4 step to the Euler step, and of float64 to float32 throughput,
  (d) of the brute-force O(m s) numpy Euler step of :mod:`solvers.reference` to ours,
  (e) of PyTorch autograd gradient descent on the same network to ours (when torch is installed:
      ``pip install ".[bench]"``).
Baselines whose m x s matrices would not fit comfortably are timed on fewer particles and scaled
linearly in m (they are O(m s)); such entries are marked '*'. The step is dt = 0.05 / s
(stable: the field grows like s), on y = sin(3x), x ~ U(-1, 1).
"""
import numba
import numpy as np

import meanfield as mf
import solvers
from meanfield.kernels.arcs import locate_many
from meanfield.kernels.field import BLOCK, arc_moments, chunk_size, n_chunks
from solvers import reference as sref

from .kernels import sincos_pass, stream_pass
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


def time_step(m, s, *, method="euler", dtype=np.float64, repeat=5, seed=1, trig_cache=None):
    samples = _problem(s)
    r, theta = solvers.init.gaussian_uniform(m, rng=seed, dtype=dtype)
    solver = solvers.ParticleSolver(samples, r, theta, dt=0.05 / s, method=method, record_every=None, trig_cache=trig_cache)
    return best_of(lambda: solver.run(steps=1), repeat=repeat), samples, r, theta


def stream_floor(r, theta, repeat=5):
    """Time of one parallel read-and-write pass over (r, theta)."""
    r, theta = r.copy(), theta.copy()
    return best_of(lambda: stream_pass(r, theta, 1.0), repeat=repeat)


def run(m_values=(10**5, 10**6, 10**7), s_values=(10, 100, 1000), goals=True, torch_baseline=True):
    threads = numba.get_num_threads()
    print(f"canonical particle steps, {threads} threads; dt = 0.05 / s; times are the best of several steps")
    print("euler: float64 Euler step (= gradient descent); x stream / x copy: its time over one parallel read-write pass")
    print("over (r, theta) / over numpy.copyto of them; heun, rk4: their step over the Euler step; f32: float32 particle-steps")
    print("per second over float64; ref, torch: their step over ours ('*': timed on fewer particles, scaled linearly in m)")
    head = (f"{'m':>7} {'s':>5} {'euler ms':>9} {'Mstep/s':>8} {'x stream':>9} {'x copy':>7} {'heun':>5} {'rk4':>5} {'f32':>5}"
            f" {'ref':>7} {'torch':>7}")
    print(head)
    rows = []
    for m in m_values:
        for s in s_values:
            t_ours, samples, r, theta = time_step(m, s)
            t_heun = time_step(m, s, method="heun")[0]
            t_rk4 = time_step(m, s, method="rk4")[0]
            t_f32 = time_step(m, s, dtype=np.float32)[0]
            stream = stream_floor(r, theta)
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
                    torch_text = f"{t_torch / t_ours:6.0f}{mark}"
            print(f"{m:7.0e} {s:5d} {t_ours * 1e3:9.2f} {m / t_ours / 1e6:8.1f} {t_ours / stream:9.1f} {t_ours / floor:7.1f}"
                  f" {t_heun / t_ours:5.2f} {t_rk4 / t_ours:5.2f} {t_ours / t_f32:5.2f} {t_ref / t_ours:6.0f}{mark} {torch_text:>7}", flush=True)
            rows.append(dict(m=m, s=s, ours=t_ours, heun=t_heun, rk4=t_rk4, f32=t_f32, stream=stream, floor=floor, ref=t_ref, torch=t_torch))
    for m in m_values:
        lo = next(x for x in rows if x["m"] == m and x["s"] == s_values[0])
        hi = next(x for x in rows if x["m"] == m and x["s"] == s_values[-1])
        print(f"m = {m:.0e}: time(s = {s_values[-1]}) / time(s = {s_values[0]}) = {hi['ours'] / lo['ours']:.2f}")
    breakdown(max(m_values), s_values)
    if goals:
        summary(rows, max(m_values))
        print("goals at m = 1e6 (torch at full size):")
        for s in (20, 200):
            t_ours, samples, r, theta = time_step(10**6, s)
            step = _torch_step(samples, r, theta, 0.05 / s, threads) if torch_baseline else None
            if step is None:
                print(f"  s = {s}: ours {t_ours * 1e3:.2f} ms/step; torch not installed (pip install \".[bench]\")")
            else:
                t_torch = best_of(step, repeat=2)
                print(f"  s = {s}: ours {t_ours * 1e3:.2f} ms/step, torch {t_torch * 1e3:.0f} ms/step, ratio {t_torch / t_ours:.0f}x")
    return rows


GOALS = dict(stream=5.0, s_ratio=1.2, heun=2.3, rk4=4.5, f32=1.5)  # the project's speed goals on its 2-core machine


def summary(rows, m, s=20):
    """The issue's goals against what this run measured: the Euler step at m particles and s = 20
    over the streaming floor, the worst time(s largest) / time(s smallest) over m, the worst Heun
    and RK4 ratios and the least float32 gain over the table."""
    t_ours, _, r, theta = time_step(m, s)
    reached = dict(
        stream=t_ours / stream_floor(r, theta),
        s_ratio=max(max(x["ours"] for x in rows if x["m"] == mm) / min(x["ours"] for x in rows if x["m"] == mm) for mm in {x["m"] for x in rows}),
        heun=max(x["heun"] / x["ours"] for x in rows),
        rk4=max(x["rk4"] / x["ours"] for x in rows),
        f32=min(x["ours"] / x["f32"] for x in rows),
    )
    names = dict(stream=f"Euler step at m = {m:.0e}, s = {s} over the streaming floor", s_ratio="slowest over fastest s at one m",
                 heun="Heun step over Euler step (worst)", rk4="RK4 step over Euler step (worst)", f32="float32 over float64 throughput (least)")
    print("goals (the project's, on a 2-core machine):")
    for key, goal in GOALS.items():
        met = reached[key] >= goal if key == "f32" else reached[key] <= goal
        print(f"  {names[key]:58s} {reached[key]:6.2f}  goal {'>=' if key == 'f32' else '<='} {goal:<4}  {'met' if met else 'not met'}")
    return reached


def breakdown(m, s_values, repeat=5):
    """Where an Euler step's time goes at m particles: one parallel pass each of the streaming
    floor, of sin and cos by blocks, of the arc search, and of the moments (sin, cos, search and
    accumulation, reading only). An Euler step with the trigonometric cache (the default where
    memory allows) reads sin, cos and the arc of each particle from the cache, updates it, and
    makes one sincos pass, a cheap re-check of the arc after the move and the accumulation:
    the moments pass and the update."""
    r, theta = solvers.init.gaussian_uniform(m, rng=1)
    stream = stream_floor(r, theta, repeat)
    sums = np.empty(-(-m // BLOCK))
    t_sincos = best_of(lambda: sincos_pass(theta, sums), repeat=repeat)
    print(f"where the time goes at m = {m:.0e} (ms per pass): stream {stream * 1e3:.1f}, sincos {t_sincos * 1e3:.1f}")
    for s in s_values:
        samples = _problem(s)
        reg = samples.regions
        arcs = np.empty(m, dtype=np.int64)
        t_search = best_of(lambda: locate_many(theta, reg.lookup, arcs), repeat=repeat)
        work = np.empty((n_chunks(m), reg.n_arcs, 2))
        t_moments = best_of(lambda: arc_moments(r, theta, reg.lookup, chunk_size(m), work), repeat=repeat)
        t_step = time_step(m, s, repeat=repeat, trig_cache=True)[0]
        t_bare = time_step(m, s, repeat=repeat, trig_cache=False)[0]
        print(f"  s = {s:5d}: arc search {t_search * 1e3:6.1f}, moments {t_moments * 1e3:6.1f}, Euler step {t_step * 1e3:6.1f} "
              f"= {t_step / t_moments:.2f} x moments; without the trigonometric cache {t_bare * 1e3:6.1f} = {t_bare / t_moments:.2f} x")


def big_run(m=10**8, s=20, steps=3):
    """Euler steps of m float64 particles: wall time per step and peak resident memory."""
    import resource
    import time

    samples = _problem(s)
    r, theta = solvers.init.gaussian_uniform(m, rng=0)
    solver = solvers.ParticleSolver(samples, r, theta, dt=0.05 / s, record_every=None, copy=False)
    del r, theta
    start = time.perf_counter()
    solver.run(steps=steps)
    per_step = (time.perf_counter() - start) / steps
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"m = {m:.0e}, s = {s}: {per_step:.2f} s/step, loss {solver.loss():.6g}")
    print(f"peak RSS {peak / 2**30:.2f} GiB = {peak / m:.1f} bytes per particle "
          f"(state: r, theta float64 = 16 bytes per particle{', its trigonometric cache 20' if solver.trig_cache else ''}; "
          f"peak includes initialisation temporaries)")
