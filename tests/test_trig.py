"""The vectorisable sin and cos of the particle kernels against the C library in long double."""
import math

import numba
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from meanfield.kernels.trig import fma, sincos, sincos_block

pytestmark = pytest.mark.skipif(np.finfo(np.longdouble).nmant < 63, reason="needs an 80-bit long double reference")


def ulps(values, t):
    """|error| of (sin t, cos t) in units in the last place of each result, against long double."""
    ref = np.longdouble(t)
    return [float(abs(np.longdouble(v) - r) / np.spacing(abs(np.float64(r)))) for v, r in zip(values, (np.sin(ref), np.cos(ref)))]


near_zero = st.builds(lambda k, e, sign: k * (math.pi / 2) + sign * 10.0**e,
                      st.integers(-16, 16), st.floats(-17, -1), st.sampled_from([-1.0, 1.0]))


@given(st.one_of(st.floats(-8 * math.pi, 8 * math.pi), near_zero))
def test_sincos_within_two_ulp_also_next_to_the_zeros(t):
    # relative to the result: the reduction keeps its digits where sin or cos cancels to ~0
    assert max(ulps(sincos(t), t)) <= 2.0


def test_sincos_on_the_multiples_of_half_pi_and_a_dense_sweep():
    t = np.concatenate([np.arange(-16, 17) * (np.pi / 2), np.linspace(-8 * np.pi, 8 * np.pi, 200001)])
    t = np.concatenate([t, np.nextafter(t, np.inf), np.nextafter(t, -np.inf)])
    s, c = np.empty_like(t), np.empty_like(t)
    sincos_block(t, 0, t.size, s, c)
    ref = t.astype(np.longdouble)
    for values, exact in ((s, np.sin(ref)), (c, np.cos(ref))):
        err = np.abs(values.astype(np.longdouble) - exact) / np.spacing(np.abs(exact).astype(np.float64))
        assert err.max() <= 2.0


@numba.njit
def fused(a, b, c):  # an intrinsic is called from compiled code only
    return fma(a, b, c)


def test_fma_rounds_once():
    a = 1.0 + 2.0**-30  # a * a = 1 + 2^-29 + 2^-60: the last term survives only a fused operation
    assert fused(a, a, -1.0) == 2.0**-29 + 2.0**-60
    assert a * a - 1.0 == 2.0**-29
    b = np.float32(1 + 2**-12)
    assert fused(b, b, np.float32(-1)) == np.float32(2**-11 + 2**-24)
