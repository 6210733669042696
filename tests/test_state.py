"""Every solver's whole state as named arrays and scalars: a rebuilt solver continues with the
same bits as the original, per solver and method; observers and their cadences."""
import numpy as np
import pytest
from helpers import random_samples

import solvers
from solvers.observers import Cadence, HistoryRecorder, LossBelow


def gaussian_density(r, theta):
    return np.exp(-2 * r**2) / np.sqrt(np.pi / 2) / (2 * np.pi) + 0 * theta


def particle_cases(rng):
    samples = random_samples(rng, 6, duplicates=0.3)
    r, theta = solvers.init.gaussian_uniform(500, rng=rng)
    delta = rng.normal(0, 1, r.size)
    yield "euler", solvers.ParticleSolver(samples, r, theta, dt=0.02)
    yield "heun", solvers.ParticleSolver(samples, r, theta, dt=0.02, method="heun", tv=0.05)
    yield "rk4", solvers.ParticleSolver(samples, r, theta, dt=0.02, method="rk4")
    yield "delta", solvers.ParticleSolver(samples, r, theta, dt=0.002, method="heun", delta=delta, alpha=float(r.size))
    yield "float32", solvers.ParticleSolver(samples, r.astype(np.float32), theta.astype(np.float32), dt=0.02, method="heun")
    yield "sliding", solvers.ParticleSolver(samples, r, theta, dt=0.05, method="sliding", tv=0.05)
    yield "sliding-heun", solvers.ParticleSolver(samples, r, theta, dt=0.05, method="sliding-heun")
    a, b, c = solvers.init.pytorch_default(500, alpha=np.sqrt(500), rng=rng)
    yield "full", solvers.FullParticleSolver(samples, a, b, c, alpha=np.sqrt(500), lr=0.05)
    yield "full-c", solvers.FullParticleSolver(samples, a, b, c, alpha=np.sqrt(500), lr=0.05, train=("c",))
    yield "histogram-1", solvers.HistogramSolver(samples, gaussian_density, n_r=20, n_theta=60, r_max=3.0, order=1, leak=0.05)  # a coarse grid leaks a little
    yield "histogram-2", solvers.HistogramSolver(samples, gaussian_density, n_r=20, n_theta=60, r_max=3.0, order=2, tv=0.1)


CASES = ["euler", "heun", "rk4", "delta", "float32", "sliding", "sliding-heun", "full", "full-c", "histogram-1", "histogram-2"]


@pytest.mark.parametrize("case", CASES)
def test_rebuilt_solver_continues_with_the_same_bits(case):
    solver = dict(particle_cases(np.random.default_rng(3)))[case]
    solver.run(steps=40)
    state = solver.state()
    assert all(isinstance(v, (np.ndarray, str, int, float, bool)) for v in state.values()), {k: type(v) for k, v in state.items()}
    saved = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in state.items()}
    rebuilt = type(solver).from_state(solver.samples, saved)
    solver.run(steps=60)
    rebuilt.run(steps=60)
    after, again = solver.state(), rebuilt.state()
    assert after.keys() == again.keys()
    for key, value in after.items():
        if isinstance(value, np.ndarray):
            assert value.dtype == again[key].dtype and value.tobytes() == again[key].tobytes(), key
        else:
            assert value == again[key], key
    assert solver.residuals().tobytes() == rebuilt.residuals().tobytes()
    assert rebuilt.step == 100 and rebuilt.t == solver.t


def test_state_of_another_kind_is_refused():
    solver = dict(particle_cases(np.random.default_rng(0)))["euler"]
    with pytest.raises(ValueError, match="this state is of a 'particles' solver, not 'histogram'"):
        solvers.HistogramSolver.from_state(solver.samples, solver.state())


def test_rng_state_travels():
    solver = dict(particle_cases(np.random.default_rng(0)))["euler"]
    solver.rng.standard_normal(7)
    rebuilt = solvers.ParticleSolver.from_state(solver.samples, solver.state())
    assert np.array_equal(rebuilt.rng.standard_normal(5), solver.rng.standard_normal(5))


def test_time_cadence_acts_on_the_first_step_reaching_each_multiple(rng):
    """dt = 0.03 against a cadence of 0.1: records at the first steps with t >= 0.1 k, and a run
    resumed from any step records at the same steps as an uninterrupted one."""
    samples = random_samples(rng, 4)
    r, theta = solvers.init.gaussian_uniform(100, rng=rng)
    whole = solvers.ParticleSolver(samples, r, theta, dt=0.03, record_every=None)
    whole.run(steps=40, observers=[HistoryRecorder(whole.history, Cadence(t=0.1))])
    expected = [0] + [int(np.ceil(k / 0.3 - 1e-9)) for k in range(1, 13)]  # 4, 7, 10, 14, ..., 40
    np.testing.assert_array_equal(whole.history.step, expected)
    part = solvers.ParticleSolver(samples, r, theta, dt=0.03, record_every=None)
    part.run(steps=15, observers=[HistoryRecorder(part.history, Cadence(t=0.1))])
    part.history.truncate(14)  # drop the end record at 15, as an interrupted run leaves none
    part.run(steps=25, observers=[HistoryRecorder(part.history, Cadence(t=0.1))])
    np.testing.assert_array_equal(part.history.step, whole.history.step)
    assert part.history.rho.tobytes() == whole.history.rho.tobytes()


def test_step_cadence_and_loss_stop_rule(rng):
    samples = random_samples(rng, 4)
    r, theta = solvers.init.gaussian_uniform(200, rng=rng)
    solver = solvers.ParticleSolver(samples, r, theta, dt=0.01, record_every=10).run(steps=35)
    np.testing.assert_array_equal(solver.history.step, [0, 10, 20, 30, 35])
    target = 0.5 * solver.loss()
    stopper = solvers.ParticleSolver(samples, r, theta, dt=0.05, record_every=None)
    stopper.run(t_end=1e3, observers=[LossBelow(target)])
    assert stopper.stop_reason == f"loss below {target:g}" and stopper.loss() < target
    before = solvers.ParticleSolver(samples, r, theta, dt=0.05, record_every=None).run(steps=stopper.step - 1)
    assert before.loss() >= target  # it stopped at the first step below


def test_divergence_guard_on_a_loss_blow_up(rng):
    from solvers.observers import DivergenceGuard

    samples = random_samples(rng, 5)
    r, theta = solvers.init.gaussian_uniform(300, rng=rng)
    solver = solvers.ParticleSolver(samples, r, theta, dt=5.0, record_every=None)  # far too large a step
    with pytest.raises(solvers.DivergenceError, match="the loss blew up to .* reduce the step"):
        solver.run(steps=500, observers=[DivergenceGuard(factor=10.0)])
