"""Figures are produced from solver objects and from plain arrays, and draw what they claim."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import meanfield as mf  # noqa: E402
import meanfield.reference  # noqa: E402,F401  (mf.reference: the brute-force oracle)
import solvers  # noqa: E402
from meanfield import plots  # noqa: E402
from meanfield.attractors import ATTRACTOR, CROSSING, REPULSOR  # noqa: E402
from validation.paper import one_sided_states as ray_states_by_brute_force  # noqa: E402  (the brute-force field's one-sided velocities)


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


@pytest.mark.parametrize("sign", [1, -1])
def test_field_figure_colours_rays_by_their_one_sided_velocities(solver, sign):
    ax = plots.plot_field_uv(solver, sign=sign)
    want = ray_states_by_brute_force(solver.samples, solver.residuals(), sign)
    ray_lines = ax.lines[-len(want):]
    for line, angle, state in zip(ray_lines, solver.samples.regions.angles, want):
        np.testing.assert_allclose(np.arctan2(*line.get_ydata()[1:], *line.get_xdata()[1:]) % (2 * np.pi), angle)  # the ray drawn where it is
        if state is not None:
            assert line.get_color() == plots.RAY_COLOURS[state]
    assert sum(state is not None for state in want) >= len(want) // 2
    plt.close(ax.figure)


def test_residual_figure_draws_the_history(solver):
    ax = plots.plot_residuals(solver.history)
    history = solver.history
    curves = ax.lines[: history.s]
    for j, line in enumerate(curves):
        np.testing.assert_array_equal(line.get_xdata(), history.t)
        np.testing.assert_array_equal(line.get_ydata(), history.rho[:, j])
    loss_line = ax.figure.axes[-1].lines[0]
    np.testing.assert_allclose(loss_line.get_ydata(), 0.5 * (history.rho**2).sum(axis=1), rtol=1e-12)  # the loss from its definition
    plt.close(ax.figure)


@pytest.mark.parametrize("sign", [1, -1])
def test_ray_timeline_shows_the_one_sided_velocities_over_time(solver, sign):
    history = solver.history
    ax = plots.plot_ray_timeline(solver.samples, history, sign=sign)
    drawn = np.asarray(ax.collections[0].get_array()).reshape(solver.samples.regions.n_arcs, history.t.size)
    code = {ATTRACTOR: 2, CROSSING: 1, REPULSOR: 0}
    decided = 0
    for step, rho in enumerate(history.rho):
        for k, state in enumerate(ray_states_by_brute_force(solver.samples, rho, sign)):
            if state is not None:
                assert drawn[k, step] == code[state], (step, k, state)
                decided += 1
    assert decided >= drawn.size // 2
    plt.close(ax.figure)


def test_density_of_particles_and_of_the_histogram(solver, tmp_path):
    """Particles and histogram cells binned as densities: the mesh integrates to the mass it
    shows; mass on the rays appears as dots labelled with its total."""
    ax = plots.plot_density(solver, bins=(60, 40))
    mesh = ax.collections[0]
    widths = (2 * np.pi / 60) * (2 * np.abs(solver.r).max() / 40)
    assert np.nansum(mesh.get_array()) * widths == pytest.approx(1.0)
    plt.close(ax.figure)
    density = lambda r, th: np.exp(-(r**2) / 0.5) / np.sqrt(0.5 * np.pi) / (2 * np.pi) + 0 * th  # noqa: E731
    hist = solvers.HistogramSolver(solver.samples, density, n_r=30, n_theta=60, r_max=3.0, tv=0.05).run(t_end=3.0)
    ax = plots.plot_density(hist)
    mesh = ax.collections[0]
    corners = mesh.get_coordinates()  # (n_r + 1, n_theta + 1, 2): the cells are the grid's own
    assert corners.shape[:2] == (hist.grid.rc.size + 1, hist.grid.faces.size + 1)
    np.testing.assert_allclose(corners[:, 0, 1][1:-1], (hist.grid.rc[1:] + hist.grid.rc[:-1]) / 2)
    areas = np.diff(corners[0, :, 0])[None, :] * np.diff(corners[:, 0, 1])[:, None]
    assert np.nansum(np.reshape(mesh.get_array(), areas.shape) * areas) == pytest.approx(hist.mass()["grid"])
    labels = ax.get_legend_handles_labels()[1]
    assert hist.mass()["rays"] > 0.01 and labels == [f"mass on rays: {hist.mass()['rays']:.3f}"]
    ax.figure.savefig(tmp_path / "density.png")
    assert (tmp_path / "density.png").stat().st_size > 5000
    plt.close(ax.figure)


def test_the_energy_is_drawn_only_with_a_tv_term(solver):
    """Without a regulariser the recorded energy equals the loss up to rounding: one curve; with
    one, the energy and the gap too."""
    ax = plots.plot_residuals(solver.history)
    assert [line.get_label() for line in ax.figure.axes[1].lines] == ["loss 1/2 |rho|^2 (right axis)"]
    plt.close(ax.figure)
    samples = mf.Samples([-0.8, -0.3, 0.2, 0.7], [0.6, -0.4, 0.5, -0.3])
    r, theta = solvers.init.gaussian_uniform(500, sigma=0.5, rng=0)
    regularised = solvers.ParticleSolver(samples, r, theta, dt=0.02, tv=0.05, record_every=10).run(t_end=1.0)
    ax = plots.plot_residuals(regularised.history)
    lines = ax.figure.axes[1].lines
    assert [line.get_label().split(",")[0] for line in lines] == ["loss 1/2 |rho|^2 (right axis)", "energy", "gap"]
    np.testing.assert_array_equal(lines[2].get_ydata(), regularised.history.gap)
    plt.close(ax.figure)
