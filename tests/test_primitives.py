"""The inline primitives that every fused kernel calls, against the rules written out by hand."""
import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from meanfield.kernels.primitives import layer_norms, ray_transfer

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
