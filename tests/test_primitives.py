"""The inline primitives that every fused kernel calls, against the rules written out by hand."""
import math

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st

import meanfield as mf
from meanfield.kernels.arcs import wrap_near
from meanfield.kernels.primitives import add_block_moments, layer_norms, ray_transfer, settle_block
from solvers.kernels.particles import move

speeds = st.one_of(st.just(0.0), st.floats(-10, 10, allow_subnormal=False))
masses = st.floats(0, 5, allow_subnormal=False)


@given(speeds, speeds, masses, masses, masses, st.floats(1e-4, 0.1))
def test_ray_transfer_follows_filippov_and_conserves_mass(u_low, u_high, q_low, q_high, on_ray, scale):
    d_low, d_high, kept = ray_transfer(u_low, u_high, q_low, q_high, on_ray, scale)
    assert math.isclose(d_low + d_high + kept, on_ray, rel_tol=1e-12, abs_tol=1e-12)
    out_low = scale * max(u_low, 0.0) * q_low  # what the upwind fluxes carry towards the ray
    out_high = scale * max(-u_high, 0.0) * q_high
    if u_low > 0 and u_high > 0:  # crossing upwards: the ray empties above, the lower cell feeds the upper
        assert (kept, d_low) == (0.0, -out_low) and math.isclose(d_high, out_low + on_ray)
    elif u_low < 0 and u_high < 0:
        assert (kept, d_high) == (0.0, -out_high) and math.isclose(d_low, out_high + on_ray)
    elif u_low >= 0 >= u_high:  # attracting, or one dead side: both sides feed the ray
        assert (d_low, d_high) == (-out_low, -out_high) and math.isclose(kept, on_ray + out_low + out_high)
    else:  # repulsive: the ray empties, in the sliding-mode shares
        assert kept == 0.0 and d_low >= 0 and d_high >= 0
        assert math.isclose(d_low * (-u_low), d_high * u_high, rel_tol=1e-9, abs_tol=1e-14 * on_ray * (u_high - u_low))


def test_repulsive_ray_next_to_a_dead_side_empties_onto_it():
    assert ray_transfer(0.0, 2.0, 1.0, 1.0, 0.5, 0.1) == (0.5, 0.0, 0.0)
    assert ray_transfer(-2.0, 0.0, 1.0, 1.0, 0.5, 0.1) == (0.0, 0.5, 0.0)


def _normal(bound):  # zero or a float far from underflow (subnormal inputs lose digits anyway)
    return st.floats(-bound, bound).filter(lambda v: v == 0 or abs(v) > 1e-100)


@given(_normal(1e6), _normal(1e8))
def test_layer_norms_solve_the_invariant_equations_without_cancellation(q, delta):
    n2, c2, root = layer_norms(q, delta)
    assert n2 >= 0 and c2 >= 0 and root >= abs(delta)
    # c n = q and c^2 - n^2 = delta, each to a few ulp of its own size (the printed forms lose
    # all digits of the smaller one when |delta| >> |q|)
    assert math.isclose(n2 * c2, q * q, rel_tol=1e-14, abs_tol=1e-300)
    assert math.isclose(c2 - n2, delta, rel_tol=1e-14, abs_tol=1e-14 * max(n2, c2))
    assert math.isclose(n2 + c2, root, rel_tol=1e-14)


def test_layer_norms_extremes():
    assert layer_norms(0.0, 0.0) == (0.0, 0.0, 0.0)
    assert layer_norms(0.0, 2.0) == (0.0, 2.0, 2.0)
    assert layer_norms(0.0, -2.0) == (2.0, 0.0, 2.0)
    n2, c2, _ = layer_norms(1e-5, 1e5)  # the quadratic formula would give n2 = 0 here
    assert np.isclose(n2, 1e-15, rtol=1e-14) and np.isclose(c2, 1e5, rtol=1e-14)


TWO_PI = 2 * math.pi


def _wrapped(t):
    """t reduced to [0, 2 pi) by Python's float remainder (a tiny negative t rounds up to 2 pi: 0)."""
    w = t % TWO_PI
    return 0.0 if w == TWO_PI else w


def _near_turn():  # the edges of [-2 pi, 4 pi), where the one-turn wrap changes rule
    edges = [-TWO_PI, 0.0, TWO_PI, 2 * TWO_PI]
    return st.sampled_from(edges).flatmap(lambda e: st.sampled_from([e, math.nextafter(e, -1e9), math.nextafter(e, 1e9), e - 1e-17, e + 1e-17]))


@given(st.one_of(st.floats(-30, 30), _near_turn(), st.sampled_from([-1e-300, -5e-324, 1e300, -1e300])))
def test_wrap_near_is_the_remainder_within_a_turn_and_leaves_the_rest(t):
    w = wrap_near(t)
    if -TWO_PI <= t < 2 * TWO_PI:
        assert w == _wrapped(t) and 0.0 <= w < TWO_PI
    else:
        assert w == t


angles = st.one_of(st.floats(-30, 30), _near_turn(), st.just(math.nan))


@given(st.lists(angles, min_size=1, max_size=40))
def test_settle_block_wraps_what_wrap_near_left_out(values):
    t_blk = np.array([wrap_near(v) for v in values])
    settle_block(t_blk, t_blk.size, np.empty(0), 0, False)
    assert np.array_equal(t_blk, [_wrapped(v) for v in values], equal_nan=True)


@given(st.lists(angles, min_size=1, max_size=40), st.sampled_from([np.float32, np.float64]))
@example([math.nextafter(TWO_PI, 0.0), -1e-300, 5 * math.pi, -7.0, math.nan], np.float32)
def test_a_moved_angle_is_stored_wrapped_in_its_type(values, dtype):
    """move, then settle_block: theta[i] = the angle wrapped in float64, cast, and 0 where the
    cast rounds up to 2 pi (float32 just below 2 pi); t_s the stored value."""
    n = len(values)
    r, theta = np.zeros(n, dtype), np.zeros(n, dtype)
    r_s, t_s = np.empty(n), np.empty(n)
    for i, v in enumerate(values):
        move(r, theta, i, 1.0, v, r_s, t_s, i)
    settle_block(t_s, n, theta, 0, True)
    stored = np.array([_wrapped(v) for v in values]).astype(dtype)
    stored[stored >= TWO_PI] = 0.0
    assert np.array_equal(theta, stored, equal_nan=True) and np.array_equal(t_s, stored.astype(np.float64), equal_nan=True)
    assert np.array_equal(r, np.ones(n, dtype)) and np.array_equal(r_s, np.ones(n))


@given(st.lists(st.floats(0, 2 * math.pi, exclude_max=True), min_size=1, max_size=64), st.integers(0, 2**32 - 1))
def test_block_moments_search_either_way_to_the_same_arcs(theta, seed):
    """add_block_moments with every point searched or only those outside their given arc: the
    same arcs, sums and count of points that left, against numpy (duplicated x and x = 0 in the
    samples, hints right for some points and wrong for the others)."""
    rng = np.random.default_rng(seed)
    reg = mf.Samples([-0.5, 0.0, 0.0, 0.7, 3.0], np.zeros(5)).regions
    t = np.concatenate([np.array(theta), reg.angles])
    r = rng.normal(size=t.size)
    truth = (np.searchsorted(reg.angles, t, side="right") - 1) % reg.n_arcs
    hint = np.where(rng.random(t.size) < 0.5, truth, rng.integers(0, reg.n_arcs, t.size))
    expected = np.zeros((reg.n_arcs, 2))
    np.add.at(expected, truth, np.stack([r * np.cos(t), r * np.sin(t)], axis=1))
    results = []
    for search_all in (False, True):
        buf, arc = np.zeros((reg.n_arcs, 2)), hint.copy()
        moved = add_block_moments(buf, r, t.copy(), arc, t.size, reg.lookup, np.empty(t.size), np.empty(t.size), search_all)
        np.testing.assert_array_equal(arc, truth)
        assert moved == np.count_nonzero(hint != truth)
        np.testing.assert_allclose(buf, expected, rtol=0, atol=1e-15 * np.abs(r).sum())
        results.append(buf)
    np.testing.assert_array_equal(*results)
