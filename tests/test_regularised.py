"""Runs of the regularised problem (eq. 16): the energy and the gap they record, the stop rule on the
gap, the warning when an explicit step raises the energy, and weight decay on full parameters."""
import numpy as np
import pytest

import solvers
import solvers.reference as sref
from meanfield.defaults import PRESETS, default_particles
from solvers.cli import main
from solvers.runs import open_run
from tests.helpers import random_samples

convex = pytest.importorskip("meanfield.convex")
pytest.importorskip("clarabel")

TENT = ["tv=0.02", "sigma=0.01", "m=20000", "progress=false", "figures=false"]


def run_cli(tmp_path, name, items, capsys):
    args = ["run", "--out", str(tmp_path / name)]
    for item in items:
        args += ["--set", item]
    code = main(args)
    out, err = capsys.readouterr()
    return code, out + err, open_run(tmp_path / name)


@pytest.mark.parametrize("train", [("a", "b", "c"), ("c",)])
def test_weight_decay_matches_brute_force(rng, train):
    samples = random_samples(rng, 5)
    alpha = np.sqrt(200)
    a, b, c = solvers.init.pytorch_default(200, alpha=alpha, rng=rng)
    solver = solvers.FullParticleSolver(samples, a, b, c, alpha=alpha, lr=0.05, train=train, weight_decay=0.3)
    solver.run(steps=100)
    want = sref.gd_full(samples, a, b, c, alpha=alpha, lr=0.05, steps=100, train=train, weight_decay=0.3)
    for got, exp in zip((solver.a, solver.b, solver.c), want, strict=True):
        np.testing.assert_allclose(got, exp, rtol=0, atol=1e-10)
    penalty = 0.15 * sum(float(v @ v) for v in want)
    rho = solvers.FullParticleSolver(samples, *want, alpha=alpha, lr=0.05).residuals()
    assert solver.energy() == pytest.approx(0.5 * rho @ rho + penalty, rel=1e-12)


def test_full_parameters_with_weight_decay_are_bounded_by_the_regularised_optimum(rng):
    """The penalised loss of any (a, b, c) is at least the optimum of eq. 16 with lambda = wd alpha,
    and the recorded gap bounds the distance to it."""
    samples = PRESETS["ramp6"]()
    m, wd = 400, 2.5e-5
    alpha = float(m)
    r, theta = default_particles(m, sigma=0.1)
    a, b, c = solvers.init.given_delta(r, theta, 0.0, alpha=alpha)  # balanced neurons
    solver = solvers.FullParticleSolver(samples, a, b, c, alpha=alpha, lr=0.05 * m, weight_decay=wd, record_every=10)
    assert solver.tv == pytest.approx(wd * alpha)
    solver.run(steps=400)
    best = convex.optimum(samples, solver.tv).energy
    h = solver.history
    assert np.all(h.energy >= best * (1 - 1e-12))
    assert np.all(h.gap >= h.energy - best - 1e-12)
    assert h.energy[-1] < h.energy[0]


@pytest.mark.parametrize("kind", ["euler", "sliding", "histogram"])
def test_the_gap_bounds_the_true_excess_at_every_record(kind):
    samples = PRESETS["ramp6"]()
    r, theta = default_particles(4000, sigma=0.05)
    if kind == "histogram":
        from solvers.init import gaussian_uniform_density

        solver = solvers.HistogramSolver(samples, gaussian_uniform_density(0.05), n_r=80, n_theta=200, r_max=4.0, tv=0.01, record_every=5)
    else:
        solver = solvers.ParticleSolver(samples, r, theta, dt=0.05, method=kind, tv=0.01, record_every=20)
    solver.run(t_end=20.0)
    best = convex.optimum(samples, 0.01).energy
    h = solver.history
    assert len(h) > 10
    assert np.all(h.energy >= best * (1 - 1e-12)), "the energy went below the global minimum"
    assert np.all(h.gap >= h.energy - best - 1e-12)
    assert h.energy[-1] < 0.5 * h.energy[0]
    if kind == "sliding":  # the step's acceptance compares the energy the history records, to the bit
        assert solver._loss_now == solver.energy() == h.energy[-1]


def test_energy_rise_is_warned_about_on_pairs6_and_not_on_tent8(tmp_path, capsys):
    code, err, run = run_cli(tmp_path, "pairs", ["preset=pairs6", "tv=0.05", "sigma=0.01", "m=20000", "t_end=25", "progress=false",
                                                 "figures=false"], capsys)
    assert code == 0
    warning = [line for line in err.splitlines() if line.startswith("warning: the energy rose")]
    assert len(warning) == 1 and 'solver.method = "sliding"' in warning[0] and "smaller solver.dt" in warning[0]
    step = int(warning[0].split(" and ")[1].split()[0])
    h = run.history
    i = int(np.flatnonzero(h.step == step)[0])
    assert h.energy[i] > h.energy[i - 1]
    code, err, _ = run_cli(tmp_path, "tent", [*TENT, "t_end=100"], capsys)
    assert code == 0 and "energy rose" not in err


@pytest.mark.slow
def test_tent8_reaches_the_optimum_within_1e_3_with_no_warning(tmp_path, capsys):
    code, err, run = run_cli(tmp_path, "tent", [*TENT, "t_end=1000"], capsys)
    assert code == 0 and "energy rose" not in err
    best = convex.optimum(run.samples, 0.02).energy
    energy = run.history.energy
    assert energy[-1] == run.solver().energy()  # the checkpoint's state has the recorded energy
    assert energy[-1] - best <= 1e-3 * best
    assert np.all(run.history.gap >= energy - best - 1e-12)


def test_a_tent8_run_records_the_energy_of_its_checkpoint_and_approaches_the_optimum(tmp_path, capsys):
    """The quick version of the test above: t_end = 150."""
    code, err, run = run_cli(tmp_path, "tent", [*TENT, "t_end=150", "m=5000"], capsys)
    assert code == 0
    best = convex.optimum(run.samples, 0.02).energy
    h = run.history
    assert h.energy[-1] == run.solver().energy()
    assert np.all(h.gap >= h.energy - best - 1e-12) and 0 < h.energy[-1] - best < 0.05 * best


def test_the_gap_stops_a_run(tmp_path, capsys):
    code, err, run = run_cli(tmp_path, "gap", [*TENT, "m=5000", "t_end=500", "gap_below=0.05"], capsys)
    assert code == 0
    h = run.history
    assert h.gap[-1] < 0.05 <= h.gap[-2] and h.t[-1] < 500
    assert "gap below 0.05" in err


@pytest.mark.parametrize("items, message", [
    (["kind=full", "tv=0.1"], "full parameters take solver.weight_decay"),
    (["weight_decay=0.1"], "solver.weight_decay is for full parameters"),
])
def test_the_regulariser_of_each_kind(tmp_path, capsys, items, message):
    args = ["run", "--out", str(tmp_path / "x")] + [a for item in items for a in ("--set", item)]
    assert main(args) == 2
    assert message in capsys.readouterr().err
