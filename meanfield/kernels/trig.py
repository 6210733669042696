"""sin and cos together, branch-free, so that loops over blocks of angles vectorise.

numba's math.sin and math.cos call the C library one value at a time, which keeps a loop from
vectorising; sin and cos are a quarter of a particle step. This is FreeBSD's msun algorithm (the
polynomials of k_sin.c and k_cos.c) after a three-term Cody-Waite reduction by pi/2, evaluated
with fused multiply-adds and without msun's tail term: y = t - n pi/2 is formed from the 33-bit
pieces of pi/2, whose products with n are exact for |n| < 2^20, so y carries a relative error of a
few ulp even where it cancels (the zeros of sin and cos). The quadrant n mod 4 picks and signs the
results by selects, not branches. Accuracy (tests/test_trig.py, against long double over
[-8 pi, 8 pi] and next to every zero): within 2 ulp of the result (1.6 measured). Valid for
|t| < 1e5 (beyond, the reduction loses digits): the kernels pass angles reduced to [0, 2 pi).
"""
import math
from fractions import Fraction

import numba
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

from .._compile import kernel

INVPIO2 = 6.36619772367581382433e-01
PIO2_1 = 1.57079632673412561417e00  # the first 33 bits of pi/2
PIO2_2 = 6.07710050630396597660e-11  # the next 33 bits
PIO2_2T = 2.02226624879595063154e-21  # pi/2 - PIO2_1 - PIO2_2
S1 = -1.66666666666666324348e-01
S2 = 8.33333333332248946124e-03
S3 = -1.98412698298579493134e-04
S4 = 2.75573137070700676789e-06
S5 = -2.50507602534068634195e-08
S6 = 1.58969099521155010221e-10
C1 = 4.16666666666666019037e-02
C2 = -1.38888888888741095749e-03
C3 = 2.48015872894767294178e-05
C4 = -2.75573143513906633035e-07
C5 = 2.08757232129817482790e-09
C6 = -1.13596475577881948265e-11


def _fma_in_python(a, b, c):
    """a * b + c rounded once, in exact rational arithmetic (the fallback when numba's JIT is
    disabled, NUMBA_DISABLE_JIT=1, and the kernels run as Python for a debugger or coverage)."""
    if not (math.isfinite(a) and math.isfinite(b) and math.isfinite(c)):
        return a * b + c
    return float(Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c)))


@intrinsic
def _fma_intrinsic(typingctx, a, b, c):
    """a * b + c rounded once (LLVM's llvm.fma: one instruction where the processor has FMA, a
    correctly rounded library call where it has not; the same bits either way)."""
    if not (isinstance(a, types.Float) and a == b == c):
        return None

    def codegen(context, builder, signature, args):
        t = context.get_value_type(signature.return_type)
        fn = builder.module.declare_intrinsic("llvm.fma", [t], ir.FunctionType(t, [t, t, t]))
        return builder.call(fn, args)

    return a(a, b, c), codegen


fma = _fma_in_python if numba.config.DISABLE_JIT else _fma_intrinsic  # type: ignore[attr-defined]


@kernel(inline=True)
def sincos(t):
    """(sin t, cos t) for a float64 t, |t| < 1e5."""
    fn = np.floor(t * INVPIO2 + 0.5)  # a float (math.floor would give an int64 and block SIMD)
    y = ((t - fn * PIO2_1) - fn * PIO2_2) - fn * PIO2_2T
    z = y * y
    sin_y = fma(z * y, fma(z, fma(z, fma(z, fma(z, fma(z, S6, S5), S4), S3), S2), S1), y)
    cos_y = fma(z * z, fma(z, fma(z, fma(z, fma(z, fma(z, C6, C5), C4), C3), C2), C1), fma(-0.5, z, 1.0))
    q = np.int64(fn) & 3
    a = cos_y if q & 1 else sin_y
    b = sin_y if q & 1 else cos_y
    return (-a if q & 2 else a), (-b if (q + 1) & 2 else b)


@kernel
def sincos_block(theta, start, count, sin_out, cos_out):
    """sin_out[j], cos_out[j] = sincos(theta[start + j]) for j < count (a vectorisable loop)."""
    for j in range(count):
        s, c = sincos(np.float64(theta[start + j]))
        sin_out[j] = s
        cos_out[j] = c
