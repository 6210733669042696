"""Boundary angles, arcs and active sets, against the definitions (docs/conventions.md, 'Boundary rays')."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import meanfield as mf
from tests.helpers import distance_to_boundaries, random_samples

xs = st.lists(
    st.one_of(st.floats(-1e3, 1e3), st.sampled_from([0.0, 1.0, -1.0, 1e-300, -1e-300])),
    min_size=1,
    max_size=12,
)


@given(xs)
def test_boundary_angles_zero_the_preactivation(x):
    x = np.array(x)
    on, off = mf.boundary_angles(x)
    for angle in (on, off):
        assert np.all((0 <= angle) & (angle < 2 * np.pi))
        pre = x * np.cos(angle) + np.sin(angle)
        assert np.all(np.abs(pre) <= 4e-16 * (1 + np.abs(x)) * (1 + np.abs(angle)))
    # on -> off counter-clockwise is the active half-circle: its midpoint has pre-activation > 0
    mid = on + np.pi / 2
    assert np.all(x * np.cos(mid) + np.sin(mid) > 0)


def test_paper_printed_boundary_angles_are_wrong():
    """The paper prints arctan(x) +- pi/2: the pre-activation there is O(1), not 0."""
    x = np.array([-2.0, -0.5, 0.5, 2.0])
    for sign in (1, -1):
        printed = np.arctan(x) + sign * np.pi / 2
        assert np.all(np.abs(x * np.cos(printed) + np.sin(printed)) > 0.4)


@given(xs)
def test_angles_sorted_and_active_sets_are_prefixes_or_suffixes(x):
    samples = mf.Samples(x, np.zeros(len(x)))
    reg = samples.regions
    s = samples.s
    assert reg.angles.shape == (2 * s,)
    assert np.all(np.diff(reg.angles) >= 0) and reg.angles[0] >= 0 and reg.angles[-1] < 2 * np.pi
    assert np.array_equal(np.sort(reg.sample_of), np.repeat(np.arange(s), 2))
    sizes = reg.active.sum(axis=1)
    for k in range(reg.n_arcs):
        row = reg.active[k]
        prefix = np.array_equal(row, np.arange(s) < sizes[k])
        suffix = np.array_equal(row, np.arange(s) >= s - sizes[k])
        assert prefix or suffix, (k, row)
    assert sizes.max() == s and sizes.min() == 0  # the full set and the empty set both occur
    for j in range(s):  # B_j is one contiguous (cyclic) run of arcs
        assert np.count_nonzero(reg.active[:, j] != np.roll(reg.active[:, j], 1)) == 2


@given(st.lists(st.floats(-50, 50), min_size=1, max_size=10, unique=True))
def test_distinct_x_each_half_circle_holds_s_arcs(x):
    samples = mf.Samples(x, np.zeros(len(x)))
    assert np.all(samples.regions.active.sum(axis=0) == samples.s)


@given(xs, st.integers(0, 2**32 - 1))
def test_locate_agrees_with_preactivation_sign(x, seed):
    rng = np.random.default_rng(seed)
    samples = mf.Samples(x, np.zeros(len(x)))
    reg = samples.regions
    theta = rng.uniform(-20, 20, 2000)
    theta = theta[distance_to_boundaries(reg, theta) > 1e-9]
    k = reg.locate(theta)
    pre = np.multiply.outer(np.cos(theta), samples.x) + np.sin(theta)[:, None]
    np.testing.assert_array_equal(reg.active[k], pre >= 0)


def test_tie_rule_boundary_belongs_to_the_arc_that_starts_there():
    samples = mf.Samples([-1.0, 0.0, 2.0, 2.0], np.zeros(4))
    reg = samples.regions
    k = reg.locate(reg.angles)
    # an angle on boundary i lies in the last arc starting at that angle (ties: duplicated x)
    expected = np.searchsorted(reg.angles, reg.angles, side="right") - 1
    np.testing.assert_array_equal(k, expected)
    # and every sample is active exactly on [on_j, off_j): active at its own on angle, not at off
    for j in range(samples.s):
        assert reg.active[reg.locate(reg.angles[reg.arc_on[j]]), j]
        assert not reg.active[reg.locate(reg.angles[reg.arc_off[j]]), j]


def test_locate_wraps_any_angle():
    samples = mf.Samples([0.3, 1.0], [0.0, 0.0])
    reg = samples.regions
    theta = np.array([0.1, 0.1 + 2 * np.pi, 0.1 - 6 * np.pi, -1e-20, 2 * np.pi])
    k = reg.locate(theta)
    assert k[0] == k[1] == k[2]
    assert k[3] == reg.locate(np.array([2 * np.pi - 1e-9]))[0]
    assert k[4] == reg.locate(np.array([0.0]))[0]


@pytest.mark.parametrize("s", [1, 2, 500])
def test_clustered_and_large_inputs_locate_correctly(s, rng):
    # all x within 1e-7 of each other: every angle falls in one bucket of the lookup table
    samples = random_samples(rng, s, x_scale=1e-7)
    reg = samples.regions
    theta = rng.uniform(0, 2 * np.pi, 5000)
    expected = (np.searchsorted(reg.angles, theta, side="right") - 1) % reg.n_arcs
    np.testing.assert_array_equal(reg.locate(theta), expected)


def test_non_finite_angles_get_a_valid_arc_and_nan_residuals():
    samples = mf.Samples([0.3, 1.0], [0.0, 0.0])
    k = samples.regions.locate(np.array([np.nan, np.inf, -np.inf]))
    assert np.all((0 <= k) & (k < samples.regions.n_arcs))
    assert np.all(np.isnan(mf.residuals(samples, np.ones(2), np.array([0.1, np.nan]))))


@given(xs, st.integers(0, 2**32 - 1))
def test_locate_is_searchsorted_at_and_next_to_every_boundary(x, seed):
    """The branch-free path (a bucket of at most one angle: compare with its first angle) and the
    scans (several angles in a bucket, duplicated x) against numpy's binary search: on each
    boundary angle, one ulp either side, on the edges of the buckets, and at random."""
    rng = np.random.default_rng(seed)
    reg = mf.Samples(x, np.zeros(len(x))).regions
    nb = reg.first.size
    edges = np.arange(nb) * (2 * np.pi / nb)
    theta = np.concatenate([reg.angles, np.nextafter(reg.angles, -1.0), np.nextafter(reg.angles, 7.0), edges,
                            np.nextafter(edges, -1.0), rng.uniform(0, 2 * np.pi, 500), [0.0, np.nextafter(2 * np.pi, 0.0)]])
    theta = theta[(theta >= 0) & (theta < 2 * np.pi)]
    expected = (np.searchsorted(reg.angles, theta, side="right") - 1) % reg.n_arcs
    np.testing.assert_array_equal(reg.locate(theta), expected)
    occupied = np.diff(reg.table) > 0
    np.testing.assert_array_equal(reg.first[occupied], reg.angles[reg.table[:-1][occupied]])
    assert np.all(np.isinf(reg.first[~occupied]))


@given(st.lists(st.sampled_from([-2.0, -0.5, 0.0, 0.3, 0.3, 1.0, 7.0]) | st.floats(-3, 3), min_size=1, max_size=12))
def test_neighbouring_and_dead_arcs_match_their_definitions(x):
    """arc_before / arc_at / dead against a walk over the arcs: the nearest non-empty arc before arc k
    (cyclically), the first non-empty arc from k on, and no active sample."""
    reg = mf.Samples(x, np.zeros(len(x))).regions
    n = reg.n_arcs
    full = [k for k in range(n) if reg.lengths[k] > 0]
    for k in range(n):
        assert reg.arc_before[k] == max((j for j in full if j < k), default=full[-1])
        assert reg.arc_at[k] == min(j for j in full if j >= k)
        assert reg.angles[reg.arc_at[k]] == reg.angles[k]
        assert reg.dead[k] == (not reg.active[k].any())
