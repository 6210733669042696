"""Fast residuals and velocity field against the brute-force reference and finite differences."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import meanfield as mf
import meanfield.reference as ref
from tests.helpers import distance_to_boundaries, random_particles, random_samples

RTOL = 1e-12

cases = st.fixed_dictionaries(
    {
        "seed": st.integers(0, 2**32 - 1),
        "s": st.sampled_from([1, 2, 3, 7, 20, 500]),
        "m": st.sampled_from([1, 5, 300, 3000]),
        "x_scale": st.sampled_from([1e-3, 1.0, 30.0, 1e3]),
        "duplicates": st.sampled_from([0.0, 0.3, 0.9]),
        "zero": st.booleans(),
        "zero_r": st.sampled_from([0.0, 0.2, 1.0]),
    }
)


def make_case(case, dtype=np.float64):
    rng = np.random.default_rng(case["seed"])
    samples = random_samples(rng, case["s"], x_scale=case["x_scale"], duplicates=case["duplicates"], zero=case["zero"])
    r, theta = random_particles(rng, case["m"], zero_r=case["zero_r"], dtype=dtype)
    return rng, samples, r, theta


def residual_scale(samples, r):
    """Size of the terms summed in rho_j: (1/m) sum_i |r_i| |xt_j| + |y_j|."""
    norm = np.hypot(samples.x, 1.0)
    return np.abs(np.asarray(r, dtype=np.float64)).mean() * norm + np.abs(samples.y)


def velocity_scale(samples, rho, r):
    """Size of the terms summed in the field: sum_j |rho_j| |xt_j| (times |r| for dtheta)."""
    g = float(np.abs(rho) @ np.hypot(samples.x, 1.0))
    return g, g * np.abs(np.asarray(r, dtype=np.float64))


@given(cases)
def test_residuals_match_reference(case):
    _, samples, r, theta = make_case(case)
    fast = mf.residuals(samples, r, theta)
    slow = ref.residuals(samples, r, theta)
    assert np.all(np.abs(fast - slow) <= RTOL * residual_scale(samples, r))


@given(cases, st.sampled_from([0.0, 0.1]))
def test_velocity_matches_reference_away_from_boundaries(case, tv):
    _, samples, r, theta = make_case(case)
    rho = mf.residuals(samples, r, theta)
    fast = mf.velocity(samples, r, theta, rho=rho, tv=tv)
    slow = ref.velocity(samples, r, theta, rho=rho, tv=tv)
    keep = distance_to_boundaries(samples.regions, theta) > 1e-9
    g, g_r = velocity_scale(samples, rho, r)
    assert np.all(np.abs(fast[0] - slow[0])[keep] <= RTOL * (g + tv))
    assert np.all(np.abs(fast[1] - slow[1])[keep] <= RTOL * g_r[keep])
    assert np.all(fast[1][r == 0] == 0.0)


@given(cases)
def test_residuals_with_particles_on_and_near_boundaries(case):
    """Within 1e-9 of a boundary the tie rule may differ from the sign of the pre-activation,
    which there is at most |xt_j| * 1e-9: residuals still agree to that size."""
    rng, samples, r, _ = make_case(case)
    angles = samples.regions.angles
    theta = rng.choice(angles, r.size) + rng.choice([0.0, 1e-9, -1e-9, 1e-12, -1e-15], r.size)
    fast = mf.residuals(samples, r, theta)
    slow = ref.residuals(samples, r, theta)
    tol = (RTOL + 2e-9) * residual_scale(samples, r)
    assert np.all(np.abs(fast - slow) <= tol)


@given(cases)
def test_float32_particles_stay_float32(case):
    _, samples, r, theta = make_case(case, dtype=np.float32)
    rho = mf.residuals(samples, r, theta)
    # the reduction runs in float64 on the float32 values: agreement is as tight as for float64
    assert np.all(np.abs(rho - ref.residuals(samples, r, theta)) <= RTOL * residual_scale(samples, r))
    dr, dth = mf.velocity(samples, r, theta, rho=rho)
    assert dr.dtype == np.float32 and dth.dtype == np.float32
    slow = ref.velocity(samples, r, theta, rho=rho)
    keep = distance_to_boundaries(samples.regions, theta) > 1e-6
    g, g_r = velocity_scale(samples, rho, r)
    assert np.all(np.abs(dr - slow[0])[keep] <= 1e-6 * g)
    assert np.all(np.abs(dth - slow[1])[keep] <= 1e-6 * g_r[keep])


def test_gradient_is_m_times_loss_gradient(rng):
    """m * dL/dw_i = grad V(w_i) (the paper prints m/2): central differences of the loss."""
    samples = random_samples(rng, 6, x_scale=2.0)
    m = 9
    r, theta = random_particles(rng, m)
    theta = theta[distance_to_boundaries(samples.regions, theta) > 1e-3][:m]
    r = r[: theta.size]
    m = r.size
    for tv in (0.0, 0.3):
        dr, dth = mf.velocity(samples, r, theta, tv=tv)
        h = 1e-6
        for i in range(m):
            e = np.zeros(m)
            e[i] = h
            fd_r = (mf.loss(samples, r + e, theta, tv=tv) - mf.loss(samples, r - e, theta, tv=tv)) / (2 * h)
            fd_th = (mf.loss(samples, r, theta + e, tv=tv) - mf.loss(samples, r, theta - e, tv=tv)) / (2 * h)
            np.testing.assert_allclose(m * fd_r, -dr[i], rtol=1e-7, atol=1e-9)
            np.testing.assert_allclose(m * fd_th, -dth[i], rtol=1e-7, atol=1e-9)
            if abs(dr[i]) > 1e-3:
                assert abs(m / 2 * fd_r + dr[i]) > 0.4 * abs(dr[i])  # the printed m/2 is off by 2


def test_loss_and_reference_agree(rng):
    samples = random_samples(rng, 11)
    r, theta = random_particles(rng, 1000)
    for tv in (0.0, 0.5):
        np.testing.assert_allclose(mf.loss(samples, r, theta, tv=tv), ref.loss(samples, r, theta, tv=tv), rtol=1e-12)


def test_field_is_discontinuous_only_in_angle_across_a_ray(rng):
    """Across the ray of sample j: dr is continuous, dtheta jumps by |r rho_j| |xt_j|."""
    samples = random_samples(rng, 5)
    rho = rng.standard_normal(5)
    reg = samples.regions
    for k in range(reg.n_arcs):
        angle = reg.angles[k]
        j = reg.sample_of[k]
        r = np.array([1.7, 1.7])
        theta = np.array([angle - 1e-10, angle + 1e-10])
        dr, dth = mf.velocity(samples, r, theta, rho=rho)
        assert abs(dr[0] - dr[1]) < 1e-8
        np.testing.assert_allclose(abs(dth[0] - dth[1]), 1.7 * abs(rho[j]) * np.hypot(samples.x[j], 1), rtol=1e-7)


@pytest.mark.parametrize(
    "r, theta, message",
    [
        (np.zeros(3), np.zeros(2), "same length"),
        (np.zeros((2, 2)), np.zeros((2, 2)), "one-dimensional"),
        (np.zeros(0), np.zeros(0), "no particles"),
    ],
)
def test_bad_particles(r, theta, message):
    samples = mf.Samples([0.0], [1.0])
    with pytest.raises(ValueError, match=message):
        mf.residuals(samples, r, theta)


def test_bad_residual_shape():
    samples = mf.Samples([0.0, 1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match=r"rho must have shape \(2,\)"):
        mf.velocity(samples, np.ones(3), np.ones(3), rho=np.ones(3))


@given(cases)
def test_network_at_any_points_matches_reference(case):
    """field.network evaluates f at arbitrary (unsorted, duplicated) points through the sample
    machinery; the order of the points is kept."""
    _, samples, r, theta = make_case(case)
    x = np.random.default_rng(case["seed"]).permutation(samples.x)  # unsorted, with the case's duplicates and x = 0
    fast = mf.field.network(x, r, theta)
    scale = np.abs(np.asarray(r, dtype=np.float64)).mean() * np.hypot(x, 1.0)  # residual_scale of the points, y = 0
    assert np.all(np.abs(fast - ref.network(x, r, theta)) <= RTOL * scale)


@given(st.integers(0, 2**32 - 1), st.sampled_from([1e3, 1e7, -1e9, 1e15]))
def test_any_angle_gives_the_field_and_moments_of_its_remainder(seed, turns):
    """Angles far outside [0, 2 pi) (a state given from outside) count as their remainder mod
    2 pi, with the same bits: the kernels reduce them before sin and cos."""
    rng = np.random.default_rng(seed)
    samples = random_samples(rng, 5)
    r, theta = random_particles(rng, 700)
    far = theta + turns * 2 * np.pi
    near = np.mod(far, 2 * np.pi)
    for a, b in zip(mf.velocity(samples, r, far), mf.velocity(samples, r, near)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(mf.field.arc_moments(samples, r, far), mf.field.arc_moments(samples, r, near))
