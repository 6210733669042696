"""With NUMBA_DISABLE_JIT=1 every kernel runs as Python (for a debugger or coverage) and gives
the numbers of the compiled kernels."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = """
import json, sys
import numpy as np
import meanfield as mf, solvers

samples = mf.Samples([-0.8, -0.3, -0.3, 0.2, 0.7], [0.6, -0.4, -0.4, 0.5, -0.3])
r, theta = solvers.init.gaussian_uniform(80, rng=1)
out = {}
for method in ("euler", "heun", "rk4", "sliding", "sliding-heun"):
    out[method] = solvers.ParticleSolver(samples, r, theta, dt=0.05, method=method, tv=0.01).run(steps=4).residuals().tolist()
out["delta"] = solvers.ParticleSolver(samples, r, theta, dt=0.01, delta=0.3, alpha=9.0).run(steps=3).residuals().tolist()
a, b, c = solvers.init.pytorch_default(80, rng=2)
out["full"] = solvers.FullParticleSolver(samples, a, b, c, alpha=1.0, lr=0.02).run(steps=3).residuals().tolist()
density = lambda r, th: np.exp(-r**2 / 2) / np.sqrt(2 * np.pi) / (2 * np.pi) + 0 * th
out["histogram"] = solvers.HistogramSolver(samples, density, n_r=8, n_theta=24, r_max=4.0).run(steps=3).residuals().tolist()
out["velocity"] = np.concatenate(mf.velocity(samples, r, theta, rho=np.ones(5))).tolist()
json.dump(out, sys.stdout)
"""


def run_script(disable_jit):
    env = dict(os.environ, NUMBA_DISABLE_JIT="1" if disable_jit else "0")
    proc = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_every_solver_runs_as_python_and_agrees_with_the_kernels():
    python, compiled = run_script(True), run_script(False)
    assert python.keys() == compiled.keys()
    for name in python:
        np.testing.assert_allclose(python[name], compiled[name], rtol=0, atol=1e-12, err_msg=name)


def test_a_small_run_from_the_command_line_without_the_jit(tmp_path):
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    args = ["run", "--out", str(tmp_path / "run"), "--set", "m=60", "--set", "t_end=0.05", "--set", "progress=false", "--set", "figures=false"]
    proc = subprocess.run([sys.executable, "-m", "meanfield", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "done: t = 0.05, step 5" in proc.stdout
