"""The exact optimum of the regularised problem and its dual certificate, against independent
solves: closed forms where one x carries every sample, a fine grid of angles solved as a lasso,
and a brute-force evaluation of the dual bound (no arcs)."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import meanfield as mf
import meanfield.reference as ref
from meanfield.convex import dual_value, largest_radial_speed, optimum

clarabel = pytest.importorskip("clarabel")
from scipy import sparse  # noqa: E402

POOL = [-1.3, -0.9, -0.4, -0.1, 0.0, 0.2, 0.35, 0.8, 1.1, 2.5]


@st.composite
def problems(draw, max_s=6, large=(-40.0, 50.0, -300.0, 1000.0)):
    """Samples with duplicated x, x = 0, s = 1 and large |x| (from ``large``), and lambda."""
    s = draw(st.integers(1, max_s))
    pool = POOL + list(large)
    x = draw(st.lists(st.one_of(st.sampled_from(pool), st.floats(-2, 2)), min_size=s, max_size=s))
    y = draw(st.lists(st.floats(-3, 3), min_size=s, max_size=s))
    tv = draw(st.floats(1e-3, 1.0))
    return mf.Samples(x, y), tv


def brute_dual_value(samples, rho, tv):
    """D(p) at p = -rho min(1, lambda / S) with S by brute force (meanfield.reference)."""
    speed = ref.largest_radial_speed(samples, rho)
    p = -np.asarray(rho) * (1.0 if speed <= tv else tv / speed)
    return p @ samples.y - 0.5 * p @ p


def grid_optimum(samples, tv, n=1 << 15):
    """min over measures on a grid of n angles (plus the boundary angles) of 1/2 |Phi w - y|^2 +
    lambda |w|_1, a quadratic program in (w+, w-) >= 0 with no cone and no arcs: an upper bound
    of F* within about lambda |nu*| h^2 / 8 (h = 2 pi / n) when an optimal atom lies inside an arc."""
    angles = np.concatenate([np.linspace(0, 2 * np.pi, n, endpoint=False), np.mod(-np.arctan(samples.x), 2 * np.pi),
                             np.mod(np.pi - np.arctan(samples.x), 2 * np.pi)])
    features = np.maximum(ref.preactivation(samples.x, angles), 0.0).T  # (s, N)
    s, N = features.shape
    scale = max(float(np.abs(samples.y).max()), 1e-300)
    A = sparse.vstack([sparse.hstack([sparse.eye(s), sparse.csc_matrix(-features), sparse.csc_matrix(features)]),
                       sparse.hstack([sparse.csc_matrix((2 * N, s)), -sparse.eye(2 * N)])]).tocsc()
    b = np.concatenate([-samples.y / scale, np.zeros(2 * N)])
    P = sparse.diags(np.concatenate([np.ones(s), np.zeros(2 * N)])).tocsc()
    q = np.concatenate([np.zeros(s), np.full(2 * N, tv / scale)])
    settings_ = clarabel.DefaultSettings()
    settings_.verbose = False
    settings_.tol_gap_abs = settings_.tol_gap_rel = settings_.tol_feas = 1e-12
    result = clarabel.DefaultSolver(P, q, A, b, [clarabel.ZeroConeT(s), clarabel.NonnegativeConeT(2 * N)], settings_).solve()
    w = (np.asarray(result.x)[s:s + N] - np.asarray(result.x)[s + N:]) * scale
    rho = features @ w - samples.y
    return 0.5 * rho @ rho + tv * np.abs(w).sum()


def one_x_optimum(x, y, tv):
    """F* when every sample sits at one x: the features of all samples are then equal, at most
    |xt| = sqrt(1 + x^2) (at th = atan2(1, x)), and the problem is a soft threshold of the mean."""
    y = np.asarray(y, dtype=np.float64)
    n, mean, c = y.size, y.mean(), math.hypot(x, 1.0)
    u = math.copysign(max(abs(mean) - tv / (n * c), 0.0), mean)
    return 0.5 * float(((y - mean) ** 2).sum()) + 0.5 * n * (u - mean) ** 2 + tv * abs(u) / c


def rounding_floor(samples, found):
    """How far float64 alone can move the gap at an optimum: f(x_j) sums terms of size
    sum_i |w_i| phi_i(x_j), each rounded to eps, and the dual value moves by |nu| times the change
    of S(rho) <= sum_j |d rho_j| |xt_j| (at |x| = 1000 this reaches 1e-8; at |x| ~ 1, 1e-14)."""
    terms = np.abs(np.maximum(ref.preactivation(samples.x, found.angles), 0.0).T * found.weights).sum(axis=1)
    eps = np.finfo(np.float64).eps
    return 8 * eps * (np.abs(found.weights).sum() * terms @ np.hypot(samples.x, 1.0) + 1 + samples.y @ samples.y)


@given(x=st.one_of(st.sampled_from([0.0, -1e3, 1e3, 0.5]), st.floats(-50, 50)), y=st.lists(st.floats(-3, 3), min_size=1, max_size=4),
       tv=st.floats(1e-3, 2.0))
def test_one_input_against_the_closed_form(x, y, tv):
    found = optimum(mf.Samples([x] * len(y), y), tv)
    expected = one_x_optimum(x, y, tv)
    assert found.energy == pytest.approx(expected, rel=1e-9, abs=1e-14)
    assert found.weights.size <= 1


@settings(max_examples=12)
@given(problems())
def test_optimum_against_a_fine_grid_lasso(problem):
    samples, tv = problem
    found = optimum(samples, tv)
    grid = grid_optimum(samples, tv)
    # the grid is a subset of the measures: never below F*, and above it by its resolution only
    floor = 1e-13 * (1 + samples.y @ samples.y)  # the solvers' absolute tolerances
    assert grid >= found.energy * (1 - 1e-9) - floor
    assert grid - found.energy <= 1e-8 * found.energy + floor


@given(problems())
def test_optimum_certifies_itself_and_is_sparse(problem):
    samples, tv = problem
    found = optimum(samples, tv)
    assert found.weights.size <= samples.s
    # the dual bound at its own residuals meets it (zero gap), by the closed form and by brute force
    floor = rounding_floor(samples, found)
    assert abs(found.gap) <= 1e-9 * found.energy + floor
    assert found.energy - brute_dual_value(samples, found.rho, tv) <= 1e-9 * found.energy + floor
    # the reported figures are those of the atoms
    network = np.maximum(ref.preactivation(samples.x, found.angles), 0.0).T @ found.weights
    assert found.rho == pytest.approx(network - samples.y, abs=1e-12)
    assert found.energy == pytest.approx(0.5 * found.rho @ found.rho + tv * np.abs(found.weights).sum(), rel=1e-14)


@given(problems(), st.integers(0, 2**32 - 1))
def test_dual_value_against_brute_force(problem, seed):
    samples, tv = problem
    rho = np.random.default_rng(seed).standard_normal(samples.s)
    assert largest_radial_speed(samples, rho) == pytest.approx(ref.largest_radial_speed(samples, rho), rel=1e-11)
    assert dual_value(samples, rho, tv) == pytest.approx(brute_dual_value(samples, rho, tv), rel=1e-10, abs=1e-14)


@given(problems(), st.integers(0, 2**32 - 1))
def test_dual_value_bounds_any_state_from_below(problem, seed):
    """Weak duality: the energy of any measure is at least the dual value of its residuals, and
    the optimum lies between the two."""
    samples, tv = problem
    rng = np.random.default_rng(seed)
    r, theta = rng.standard_normal(50), rng.uniform(0, 2 * np.pi, 50)
    rho = ref.residuals(samples, r, theta)
    energy = ref.loss(samples, r, theta, tv=tv)
    lower = dual_value(samples, rho, tv)
    best = optimum(samples, tv).energy
    assert lower <= best * (1 + 1e-9) + 1e-14
    assert best <= energy * (1 + 1e-12)


def test_the_spline_is_the_network():
    samples = mf.Samples([-1, -0.2, 0, 0.4, 1, 1.2], [0, 0, 0, 0.4, 0.6, 0.6])
    found = optimum(samples, 0.01)
    assert found.values == pytest.approx(found.network(found.knots), abs=1e-14)
    pieces = np.concatenate([[found.knots[0] - 2], (found.knots[1:] + found.knots[:-1]) / 2, [found.knots[-1] + 2]])
    h = 1e-6 * np.maximum(1.0, np.diff(found.knots).min())
    slopes = (found.network(pieces + h) - found.network(pieces - h)) / (2 * h)
    assert slopes == pytest.approx(found.slopes, abs=1e-7)
    assert found.distances_to_samples().shape == found.knots.shape


def test_zero_targets_and_a_large_lambda_give_the_zero_measure():
    samples = mf.Samples([0.0, 1.0], [0.0, 0.0])
    assert optimum(samples, 0.1).energy == 0.0
    samples = mf.Samples([0.0, 1.0], [0.5, -0.5])
    found = optimum(samples, 100.0)
    assert found.weights.size == 0 and found.energy == pytest.approx(0.25)
    with pytest.raises(ValueError, match="tv must be positive"):
        optimum(samples, 0.0)
