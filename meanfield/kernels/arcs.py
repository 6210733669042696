"""Locating angles among the sorted boundary angles.

The tie rule of the whole project lives here: arc k is the half-open interval
[angles[k], angles[k+1]) (the last arc wraps through 2 pi), so an angle exactly on a boundary belongs
to the arc that starts there, counter-clockwise. Equivalently, sample j is active at theta when
theta lies in the half-open half-circle [on_j, off_j) of its computed boundary angles.
"""
import math

from .._compile import kernel

TWO_PI = 2.0 * math.pi


@kernel
def wrap_angle(theta):
    """Reduce an angle (radians, any float type) to float64 in [0, 2 pi); NaN and inf give NaN."""
    t = float(theta) % TWO_PI
    if t >= TWO_PI:  # a tiny negative angle rounds up to 2 pi
        t = 0.0
    return t


@kernel
def locate_wrapped(t, angles, table):
    """Arc index of an angle t already in [0, 2 pi).

    ``table[b]`` counts the boundary angles below the bucket edge 2 pi b / nb. The bucket of t,
    widened by one on each side against rounding of the edges, brackets the count of angles <= t;
    a binary search inside the bracket finishes. Typically O(1), never worse than O(log s).
    """
    nb = table.size - 1
    x = t * (nb / TWO_PI)
    # NaN (a diverged particle) must not index out of the table: it gets some valid arc, and its
    # NaN still reaches the moments through cos/sin, where divergence is detected.
    if not x >= 0.0:
        b = 0
    elif x >= nb:
        b = nb - 1
    else:
        b = int(x)
    lo = table[max(b - 1, 0)]
    hi = table[min(b + 2, nb)]
    while lo < hi:
        mid = (lo + hi) >> 1
        if angles[mid] <= t:
            lo = mid + 1
        else:
            hi = mid
    k = lo - 1
    if k < 0:
        k = angles.size - 1
    return k
