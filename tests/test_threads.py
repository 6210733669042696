"""Same bits for any thread count, in fresh processes with NUMBA_NUM_THREADS set (1 against 3),
so the comparison really runs several threads whatever the machine or CI gives numba: the model's
residuals and velocities, every particle method (sliding too), full parameters, and the histogram (both orders,
unsplit and sub-cycled)."""
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = """
import hashlib, json, numba, numpy as np, meanfield as mf, solvers
assert numba.get_num_threads() == int({threads})
rng = np.random.default_rng(5)
x = rng.standard_normal(30); x[3] = x[7]
samples = mf.Samples(x, rng.standard_normal(30))
r, theta = solvers.init.gaussian_uniform(60_000, rng=1)
digests = {{}}

def record(name, *parts):
    digests[name] = hashlib.sha256(b"".join(np.ascontiguousarray(p).tobytes() for p in parts)).hexdigest()

rho = mf.residuals(samples, r, theta)
record("model: residuals and velocity", rho, *mf.velocity(samples, r, theta, rho=rho, tv=0.1))
for kwargs in (dict(method="euler", tv=0.02), dict(method="heun"), dict(method="rk4", delta=0.5, alpha=60_000.0), dict(method="sliding", tv=0.02), dict(method="sliding-heun")):
    solver = solvers.ParticleSolver(samples, r, theta, dt=0.002, **kwargs).run(steps=4)
    extra = (solver.ray, np.array(solver.step_sizes)) if kwargs["method"].startswith("sliding") else ()
    record(f"particles {{kwargs}}", solver.r, solver.theta, solver.residuals(), solver.history.energy, solver.history.gap, *extra)
a, b, c = solvers.init.pytorch_default(60_000, alpha=245.0, rng=2)
full = solvers.FullParticleSolver(samples, a, b, c, alpha=245.0, lr=0.01, weight_decay=0.01).run(steps=4)
record("full parameters", full.a, full.b, full.c, full.history.energy)
density = lambda r, th: np.exp(-r * r / 2) / np.sqrt(2 * np.pi) / (2 * np.pi) + 0 * th
for order, substeps in ((1, None), (2, None), (2, 2)):
    hist = solvers.HistogramSolver(samples, density, n_r=40, n_theta=200, r_max=8.0, order=order, substeps=substeps, tv=0.05).run(steps=4)
    record(f"histogram order {{order}}, substeps {{substeps}}", hist.mass_cells, hist.mass_rays, hist.zero_mass)
print(json.dumps(digests))
"""


def digests_with(threads):
    env = {**os.environ, "NUMBA_NUM_THREADS": str(threads)}
    proc = subprocess.run([sys.executable, "-c", SCRIPT.format(threads=threads)], capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_every_solver_gives_the_same_bits_with_1_and_3_threads():
    one, three = digests_with(1), digests_with(3)
    assert len(one) == 10 and one.keys() == three.keys()
    differ = [name for name in one if one[name] != three[name]]
    assert not differ, f"these differ between 1 and 3 threads: {differ}"
