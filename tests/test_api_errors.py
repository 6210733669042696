"""The Python API's answers to the mistakes a new user makes, one test each."""
import warnings

import numpy as np
import pytest

import meanfield as mf
import solvers
from meanfield import plots
from meanfield.defaults import default_samples

SIGMA = 0.5


def gaussian(r, theta):
    """r ~ N(0, SIGMA^2), theta uniform: a probability density w.r.t. dr dtheta."""
    return np.exp(-0.5 * (r / SIGMA) ** 2) / (np.sqrt(2 * np.pi) * SIGMA * 2 * np.pi) + 0 * theta


@pytest.fixture
def problem(rng):
    r, theta = solvers.init.gaussian_uniform(200, rng=rng)
    return default_samples(), r, theta


def test_infinite_step_is_refused(problem):
    with pytest.raises(ValueError, match="dt must be a positive finite time step, got inf"):
        solvers.ParticleSolver(*problem, dt=np.inf)
    with pytest.raises(ValueError, match="lr must be a positive finite time step"):
        solvers.FullParticleSolver(problem[0], *solvers.init.pytorch_default(10, rng=0), alpha=1.0, lr=np.inf)


def test_t_end_before_t_is_refused(problem):
    solver = solvers.ParticleSolver(*problem, dt=0.1).run(t_end=1.0)
    with pytest.raises(ValueError, match=r"t_end = 0.5 is before the solver's time t = 1"):
        solver.run(t_end=0.5)
    assert solver.run(t_end=1.0).step == 10  # landing on t itself is a no-op, not an error


@pytest.mark.parametrize("which", ["r", "theta", "tv", "delta"])
def test_nan_input_is_an_input_error_not_a_divergence(problem, which):
    samples, r, theta = problem
    r, theta = r.copy(), theta.copy()
    kwargs = dict(dt=0.01)
    if which == "r":
        r[3] = np.nan
    elif which == "theta":
        theta[7] = np.nan
    elif which == "tv":
        kwargs["tv"] = np.nan
    else:
        kwargs.update(delta=np.where(np.arange(r.size) == 5, np.nan, 1.0), alpha=1.0)
    with pytest.raises(ValueError) as err:
        solvers.ParticleSolver(samples, r, theta, **kwargs)
    assert not isinstance(err.value, FloatingPointError)
    assert which in str(err.value) and ("non-finite" in str(err.value) or "finite" in str(err.value))
    assert "reduce the step" not in str(err.value)


def test_nan_residuals_are_refused_by_the_detector():
    samples = default_samples()
    rho = np.zeros(samples.s)
    rho[2] = np.nan
    with pytest.raises(ValueError, match=r"rho has non-finite residuals \(first at index \(2,\)\)"):
        mf.classify_rays(samples, rho)


def test_histogram_warns_when_mass_lies_beyond_r_max_and_when_it_flows_out():
    samples = default_samples()
    wide = lambda r, theta: np.exp(-0.5 * r**2) / (np.sqrt(2 * np.pi) * 2 * np.pi) + 0 * theta  # noqa: E731  sigma = 1
    with pytest.warns(RuntimeWarning, match=r"4\.55% of the initial density lies beyond \|r\| = r_max = 2 and is lost"):
        solvers.HistogramSolver(samples, wide, n_r=20, n_theta=80, r_max=2.0)
    # the README's earlier example: r_max = 3 lost 62% of the mass by t = 3, silently
    hist = solvers.HistogramSolver(samples, wide, n_r=20, n_theta=80, r_max=3.0, leak=0.05)
    with pytest.warns(RuntimeWarning, match=r"of the mass has flowed out through \|r\| = r_max = 3 by t = .*enlarge r_max"):
        hist.run(t_end=3.0)
    assert hist.mass()["outflow"] > 0.05
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        solvers.HistogramSolver(samples, wide, n_r=20, n_theta=80, r_max=8.0).run(t_end=0.5)  # room enough: silent


def test_unnormalised_density_is_refused():
    samples = default_samples()
    with pytest.raises(ValueError, match=r"integrates to 2 over \|r\| < 12.*probability density w\.r\.t\. dr dtheta"):
        solvers.HistogramSolver(samples, lambda r, th: 2 * gaussian(r, th), n_r=20, n_theta=40, r_max=3.0)
    with pytest.raises(ValueError, match="integrates to 0.159155"):  # forgot the 1 / (2 pi) of theta
        solvers.HistogramSolver(samples, lambda r, th: gaussian(r, th) * 2 * np.pi / (2 * np.pi) ** 2, n_r=20, n_theta=40, r_max=3.0)
    assert "probability density w.r.t. dr dtheta" in solvers.HistogramSolver.__doc__


def test_nan_particles_are_refused_by_from_particles(problem):
    samples, r, theta = problem
    r = r.copy()
    r[0] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"r has 1 non-finite value\(s\)"):
            solvers.HistogramSolver.from_particles(samples, r, theta, n_r=10, n_theta=20, r_max=4.0)


def test_a_tuple_instead_of_samples_is_a_clear_error(problem):
    _, r, theta = problem
    xy = ([0.0, 1.0], [1.0, 0.0])
    for call in (lambda: solvers.ParticleSolver(xy, r, theta, dt=0.1), lambda: mf.residuals(xy, r, theta), lambda: mf.classify_rays(xy, [0.1, 0.2])):
        with pytest.raises(ValueError, match=r"samples must be a meanfield.Samples \(build one with meanfield.Samples\(x, y\)\), got tuple"):
            call()


def test_duplicated_x_lists_each_ray_once(tmp_path, capsys):
    from solvers.cli import main

    out = tmp_path / "dup"
    args = ["run", "--out", str(out), "--set", "x=[-0.5, 0.2, 0.2, 0.7]", "--set", "y=[0.3, -0.2, 0.4, 0.1]", "--set", "m=500",
            "--set", "t_end=0.5", "--set", "progress=false", "--set", "figures=false"]
    assert main(args) == 0
    capsys.readouterr()
    assert main(["attractors", str(out)]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line[:7].strip().replace(".", "").isdigit()]
    angles = [(line.split()[0], line.split()[3]) for line in rows]
    assert len(angles) == len(set(angles)) == 2 * 6  # 8 boundary rays, 6 distinct angles, two signs
    assert any("0.2" in line.split()[1] for line in rows)


def test_plots_take_solvers_of_every_kind_and_draw_their_data():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    samples = default_samples()
    hist = solvers.HistogramSolver(samples, gaussian, n_r=30, n_theta=120, r_max=4.0, record_every=5).run(t_end=1.0)
    fig, (ax1, ax2) = plt.subplots(1, 2)
    plots.plot_residuals(hist.history, ax=ax1)
    drawn = [line.get_ydata() for line in ax1.get_lines()[: samples.s]]
    np.testing.assert_array_equal(np.array(drawn).T, hist.history.rho)
    plots.plot_network(hist, ax=ax2)
    x, f = ax2.get_lines()[0].get_data()
    # the drawn f at the samples, from cell atoms, equals y + rho from the solver's moment kernels
    np.testing.assert_allclose(np.interp(samples.x, x, f), plots.network_values(hist, samples.x), atol=5e-3)
    np.testing.assert_allclose(plots.network_values(hist, samples.x), samples.y + hist.residuals(), atol=1e-12)
    plt.close(fig)
