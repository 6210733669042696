"""Figures are produced from solver objects and from plain arrays, and draw what they claim."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import meanfield as mf  # noqa: E402
import solvers  # noqa: E402
from meanfield import plots  # noqa: E402
from meanfield.attractors import ATTRACTOR, classify_rays  # noqa: E402


@pytest.fixture(scope="module")
def solver():
    samples = mf.Samples([-0.8, -0.3, 0.2, 0.7], [0.6, -0.4, 0.5, -0.3])
    r, theta = solvers.init.gaussian_uniform(2000, sigma=0.5, rng=0)
    return solvers.ParticleSolver(samples, r, theta, dt=0.02, record_every=10).run(t_end=4.0)


def test_network_from_solver_and_arrays_agree(solver):
    fig, (a, b) = plt.subplots(1, 2)
    plots.plot_network(solver, ax=a)
    plots.plot_network(solver.samples, solver.r, solver.theta, ax=b)
    np.testing.assert_array_equal(a.lines[0].get_ydata(), b.lines[0].get_ydata())
    np.testing.assert_allclose(a.lines[0].get_ydata(), mf.reference.network(a.lines[0].get_xdata(), solver.r, solver.theta))
    plt.close(fig)


def test_full_parameter_solver_is_plotted_through_its_canonical_form():
    samples = mf.Samples([0.0, 1.0], [1.0, 0.0])
    a, b, c = solvers.init.pytorch_default(50, rng=0)
    full = solvers.FullParticleSolver(samples, a, b, c, alpha=1.0, lr=0.01)
    ax = plots.plot_uv(full)
    r, theta = full.canonical()
    offsets = np.concatenate([coll.get_offsets() for coll in ax.collections])
    np.testing.assert_allclose(np.sort(np.hypot(*offsets.T)), np.sort(np.abs(r)))
    plt.close(ax.figure)


def test_field_figure_colours_rays_by_the_detector(solver):
    ax = plots.plot_field_uv(solver, sign=1)
    cls = classify_rays(solver.samples, solver.residuals())
    ray_lines = ax.lines[-cls.angle.size:]
    red = [line.get_color() == plots.RAY_COLOURS[ATTRACTOR] for line in ray_lines]
    assert red == list(cls.positive == ATTRACTOR)
    plt.close(ax.figure)


def test_history_figures_write_pngs(solver, tmp_path):
    for name, draw in (("res", lambda ax: plots.plot_residuals(solver.history, ax=ax)), ("rays", lambda ax: plots.plot_ray_timeline(solver.samples, solver.history, ax=ax))):
        fig, ax = plt.subplots()
        draw(ax)
        fig.savefig(tmp_path / f"{name}.png")
        plt.close(fig)
        assert (tmp_path / f"{name}.png").stat().st_size > 5000
