"""Histogram (Eulerian) solver: conservation, positivity, ray mass, and agreement with particles."""
import numpy as np
import pytest

import meanfield as mf
import solvers
from meanfield.attractors import ATTRACTOR, classify_rays, ray_mass

SIGMA = 0.5


def gaussian_uniform_density(r, theta):
    return np.exp(-(r**2) / (2 * SIGMA**2)) / np.sqrt(2 * np.pi * SIGMA**2) / (2 * np.pi) + 0 * theta


@pytest.fixture(scope="module")
def samples():
    return mf.Samples([-0.8, -0.3, 0.2, 0.7], [0.6, -0.4, 0.5, -0.3])


@pytest.fixture(scope="module")
def evolved(samples):
    hist = solvers.HistogramSolver(samples, gaussian_uniform_density, n_r=60, n_theta=120, r_max=3.0, record_every=20)
    masses = []
    for t_end in np.linspace(0.5, 6.0, 12):
        hist.run(t_end=t_end)
        masses.append((hist.mass_cells.min(), hist.ray_mass.min(), hist.mass()))
    return hist, masses


def test_grid_has_a_face_on_every_boundary_angle(samples):
    grid = solvers.CylinderGrid(samples, 10, 50, 2.0)
    faces = np.mod(grid.faces, 2 * np.pi)
    for angle in samples.regions.angles:
        assert np.min(np.abs(faces - angle)) < 1e-15
    assert np.all(grid.width > 0) and grid.width.sum() == pytest.approx(2 * np.pi)
    assert 0.0 in np.round(grid.rc - grid.dr / 2, 12) or np.any(np.isclose(grid.rc - grid.dr / 2, 0.0))
    # cell averages of d(theta) are exact: compare with fine quadrature on one cell
    c = 7
    th = np.linspace(grid.faces[c], grid.faces[c] + grid.width[c], 20001)
    np.testing.assert_allclose(grid.mean_d[c], [np.trapezoid(np.cos(th), th) / grid.width[c], np.trapezoid(np.sin(th), th) / grid.width[c]], rtol=1e-8)


def test_mass_is_conserved_and_positive(evolved):
    hist, masses = evolved
    for cell_min, ray_min, budget in masses:
        assert cell_min >= 0 and ray_min >= 0
        assert abs(budget["total"] - budget["initial"]) <= 1e-12 * budget["initial"]
    assert budget["rays"] > 0.1  # a visible share of the mass has gathered on rays
    assert abs(1 - budget["initial"]) < 1e-6  # N(0, 0.25) beyond r_max = 3 is negligible


def test_ray_mass_sits_on_attractors_for_its_sign(samples):
    """Mass gathers on a ray only for the sign of r the detector calls it an attractor for. A ray
    can also hold mass of the other sign that slid along it through r = 0 (a ray attracting r < 0
    repels r > 0, and a repulsive ray keeps its mass), never more than it holds of the first."""
    hist = solvers.HistogramSolver(samples, gaussian_uniform_density, n_r=60, n_theta=120, r_max=3.0, record_every=1).run(t_end=6.0)
    cls = classify_rays(samples, hist.history.rho)
    distinct = np.unique(samples.regions.angles)
    by_sign = dict(zip((1, -1), hist.ray_mass_by_sign()))
    for sign in (1, -1):
        ever = (cls.state(sign) == ATTRACTOR).any(axis=0)
        ever_by_angle = np.array([ever[samples.regions.angles == a].any() for a in distinct])
        assert by_sign[sign][ever_by_angle].sum() > 0.05
        stray = by_sign[sign][~ever_by_angle]
        assert np.all(stray <= by_sign[-sign][~ever_by_angle] + 1e-12)


def test_from_particles_gives_the_particle_residuals(samples):
    r, theta = solvers.init.gaussian_uniform(50_000, sigma=SIGMA, rng=3)
    hist = solvers.HistogramSolver.from_particles(samples, r, theta, n_r=400, n_theta=800, r_max=3.0)
    np.testing.assert_allclose(hist.residuals(), mf.residuals(samples, r, theta), atol=5e-3)
    assert hist.mass()["initial"] == pytest.approx(np.mean(np.abs(r) < 3.0))


def test_agrees_with_particles_and_converges_under_refinement(samples):
    """A large particle run against two grids: the finer grid is closer."""
    r, theta = solvers.init.gaussian_uniform(100_000, sigma=SIGMA, rng=0)
    particles = solvers.ParticleSolver(samples, r, theta, dt=0.01, method="heun").run(t_end=2.0)
    errors = []
    for n_r, n_theta in ((40, 80), (160, 320)):
        hist = solvers.HistogramSolver(samples, gaussian_uniform_density, n_r=n_r, n_theta=n_theta, r_max=3.0).run(t_end=2.0)
        errors.append(np.abs(hist.residuals() - particles.residuals()).max())
    assert errors[1] < 0.6 * errors[0]
    assert errors[1] < 3e-3


def test_ray_mass_matches_particle_mass_near_rays(samples):
    r, theta = solvers.init.gaussian_uniform(100_000, sigma=SIGMA, rng=1)
    particles = solvers.ParticleSolver(samples, r, theta, dt=0.005, method="heun").run(t_end=4.0)
    hist = solvers.HistogramSolver(samples, gaussian_uniform_density, n_r=160, n_theta=320, r_max=3.0).run(t_end=4.0)
    distinct, first = np.unique(samples.regions.angles, return_index=True)
    near = ray_mass(samples, particles.r, particles.theta, eps=0.02)
    for on_rays, by_particles in zip(hist.ray_mass_by_sign(), near):
        big = on_rays > 0.02
        assert big.any()
        np.testing.assert_allclose(on_rays[big], by_particles[first][big], rtol=0.35)


def test_outflow_is_accounted(samples):
    wide = lambda r, theta: np.where(np.abs(r) < 1.0, 0.5 / (2 * np.pi), 0.0) + 0 * theta  # noqa: E731
    hist = solvers.HistogramSolver(samples, wide, n_r=8, n_theta=40, r_max=1.0).run(t_end=20.0)
    budget = hist.mass()
    assert budget["outflow"] > 0
    assert abs(budget["total"] - budget["initial"]) < 1e-12


def test_rejects_tv_and_bad_grids(samples):
    with pytest.raises(ValueError, match="tv = 0 only"):
        solvers.HistogramSolver(samples, gaussian_uniform_density, n_r=4, n_theta=8, r_max=1.0, tv=0.1)
    with pytest.raises(ValueError, match="r_max must be positive"):
        solvers.HistogramSolver(samples, gaussian_uniform_density, n_r=4, n_theta=8, r_max=0.0)


@pytest.mark.parametrize(
    "u_left, u_right, expect",
    [(1.0, 2.0, "released right"), (-2.0, -1.0, "released left"), (1.0, -1.0, "absorbs"), (-1.0, 1.0, "stays"), (0.0, -1.0, "absorbs")],
)
def test_ray_rules(samples, u_left, u_right, expect):
    """Crossing flow releases ray mass downstream; a repulsive ray keeps it; an attracting ray
    (one side possibly dead) takes mass from both sides. Total mass is kept exactly."""
    from solvers.kernels import histogram as hk

    grid = solvers.CylinderGrid(samples, 2, 40, 1.0)
    f = int(np.flatnonzero(grid.face_ray >= 0)[3])  # a face on a ray
    q = grid.face_ray[f]
    left, right = (f - 1) % grid.faces.size, f
    row = 1  # r > 0
    r = grid.rc[row]
    # choose g on the two arcs so that -r <g, t> takes the wanted values at the face
    g = np.zeros((samples.regions.n_arcs, 2))
    t_face = grid.t_face[f]
    g[grid.cell_arc[left]] = -u_left / r * t_face
    g[grid.cell_arc[right]] = -u_right / r * t_face
    cells = np.zeros(grid.shape)
    cells[row, left] = cells[row, right] = 0.25
    rays = np.zeros((2, grid.ray_angle.size))
    rays[row, q] = 0.5
    def step(ray_mass):
        start_rays = rays * ray_mass / 0.5
        new_cells, new_rays = cells.copy(), start_rays.copy()
        hk.theta_transport(cells, start_rays, new_cells, new_rays, grid.rc, grid.width, grid.cell_arc, grid.face_ray, grid.t_face, g, 1e-3)
        return new_cells, new_rays

    new_cells, new_rays = step(0.5)
    bare_cells, _ = step(0.0)
    assert new_cells.sum() + new_rays.sum() == pytest.approx(1.0, abs=1e-15)
    if expect == "released right":
        assert new_rays[row, q] == 0 and new_cells[row, right] - bare_cells[row, right] == pytest.approx(0.5)
    elif expect == "released left":
        assert new_rays[row, q] == 0 and new_cells[row, left] - bare_cells[row, left] == pytest.approx(0.5)
    elif expect == "absorbs":
        assert new_rays[row, q] > 0.5 and new_cells[row, right] < 0.25
    else:
        assert new_rays[row, q] == 0.5 and new_cells[row, left] <= 0.25 and new_cells[row, right] <= 0.25
