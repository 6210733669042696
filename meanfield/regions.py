"""The arcs A_k of the circle cut by the samples' boundary rays, and their active sets C_k."""
from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

if TYPE_CHECKING:
    from .samples import Samples

from .kernels.arcs import TWO_PI, ArcTable, bucket_table, locate_many

BUCKETS_PER_ANGLE = 8  # most buckets then hold no boundary angle: one comparison per search


def boundary_angles(x: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """The two angles at which the pre-activation x cos(th) + sin(th) of each input vanishes.

    Returns ``(on, off)`` in [0, 2 pi): ``on = -arctan(x) mod 2 pi`` where the sample switches on
    walking counter-clockwise, ``off = pi - arctan(x) mod 2 pi`` where it switches off. (The paper
    prints arctan(x) +- pi/2, which does not zero the pre-activation; see docs/conventions.md.)
    Sample j is active (pre-activation >= 0) on the closed half-circle [on_j, off_j].
    """
    x = np.asarray(x, dtype=np.float64)
    on = np.mod(-np.arctan(x), TWO_PI)
    off = np.mod(np.pi - np.arctan(x), TWO_PI)
    # -arctan(tiny positive) mod 2 pi rounds to 2 pi; keep the contract angles < 2 pi.
    np.minimum(on, np.nextafter(TWO_PI, 0.0), out=on)
    np.minimum(off, np.nextafter(TWO_PI, 0.0), out=off)
    return on, off


class Regions:
    """Arcs of S^1 between consecutive boundary angles of the samples.

    The 2s boundary angles, sorted, cut the circle into 2s arcs: arc k is [angles[k], angles[k+1])
    and arc 2s-1 wraps to angles[0] + 2 pi. Arcs between equal angles (duplicated x) are empty.
    Tie rule, used by every part of the project: an angle on a boundary belongs to the arc that
    starts there; sample j is active on the arcs ``arc_on[j], ..., arc_off[j] - 1`` (cyclically), a
    contiguous run B_j.

    Attributes
    ----------
    angles : ndarray (2s,)
        Boundary angles in [0, 2 pi), sorted.
    sample_of : ndarray of int (2s,)
        Index (into the sorted samples) of the sample each boundary belongs to.
    switches_on : ndarray of bool (2s,)
        True where the sample switches on walking counter-clockwise (its ``on`` angle).
    arc_on, arc_off : ndarray of int (s,)
        Positions of each sample's on and off angle in ``angles``.
    table, first : ndarray (nb+1,) of int, (nb,) of float
        Bucket table for the O(1) arc search of :func:`meanfield.kernels.arcs.locate_wrapped`.
    lookup : meanfield.kernels.arcs.ArcTable
        (angles, table, first) together, as the kernels take them.
    arc_count, arc_prefix : ndarray (2s,) of int and bool
        Size of each arc's active set and whether it is the prefix {j < count} (else the suffix
        {j >= s - count}) of the sorted samples; every active set is one or the other.
    """

    def __init__(self, samples: Samples):
        s = samples.s
        on, off = boundary_angles(samples.x)
        angles = np.concatenate([on, off])
        # Ties (duplicated x) are ordered by decreasing sample index, so that the active sets of
        # the empty arcs between them are prefixes and suffixes of the samples too.
        index = np.concatenate([np.arange(s), np.arange(s)])
        order = np.lexsort((-index, angles))
        self.angles = angles[order]
        self.sample_of = (order % s).astype(np.int64)
        self.switches_on = order < s
        position = np.empty(2 * s, dtype=np.int64)
        position[order] = np.arange(2 * s)
        self.arc_on = position[:s]
        self.arc_off = position[s:]
        self.table, self.first = bucket_table(self.angles, BUCKETS_PER_ANGLE * self.angles.size)
        self.lookup = ArcTable(self.angles, self.table, self.first)
        # exact integer difference array over the cyclic runs B_j
        diff = np.zeros(2 * s + 1, dtype=np.int64)
        np.add.at(diff, self.arc_on, 1)
        np.add.at(diff, self.arc_off, -1)
        diff[0] += np.count_nonzero(self.arc_on > self.arc_off)
        self.arc_count = np.cumsum(diff)[: 2 * s]
        self.arc_prefix = self._contains(np.arange(2 * s), 0) & (self.arc_count > 0)
        for a in (self.angles, self.sample_of, self.switches_on, self.arc_on, self.arc_off, self.table, self.first,
                  self.arc_count, self.arc_prefix):
            a.flags.writeable = False

    @property
    def n_arcs(self):
        """Number of arcs, 2s (some empty when x has duplicates)."""
        return self.angles.size

    def _contains(self, k, j):
        """Whether arc(s) k lie in the cyclic run B_j of sample(s) j (broadcasting)."""
        a, b = self.arc_on[j], self.arc_off[j]
        return np.where(a <= b, (a <= k) & (k < b), (k >= a) | (k < b))

    @cached_property
    def active(self):
        """Boolean table (2s, s): ``active[k, j]`` is True when sample j is active on arc k."""
        table = self._contains(np.arange(self.n_arcs)[:, None], np.arange(self.arc_on.size)[None, :])
        table.flags.writeable = False
        return table

    @cached_property
    def arc_before(self):
        """For each arc k, the non-empty arc that ends where arc k starts: the arc just below the ray
        at ``angles[k]`` (the empty arcs between the equal angles of duplicated x are skipped), O(s log s)."""
        first = np.searchsorted(self.angles, self.angles, side="left")
        return _frozen((first - 1) % self.n_arcs)

    @cached_property
    def arc_at(self):
        """For each arc k, the non-empty arc that starts at ``angles[k]``: the arc just above that
        ray (arc k itself unless it is empty)."""
        return _frozen(np.searchsorted(self.angles, self.angles, side="right") - 1)

    @cached_property
    def dead(self):
        """For each arc, whether no sample is active on it (g = 0 there: particles do not move)."""
        return _frozen(self.arc_count == 0)

    @cached_property
    def lengths(self):
        """Angular length of each arc (radians); zero for arcs between equal angles."""
        return np.diff(np.append(self.angles, self.angles[0] + TWO_PI))

    def locate(self, theta: ArrayLike) -> np.ndarray:
        """Arc index of each angle (radians, any real value; reduced mod 2 pi)."""
        theta = np.asarray(theta)
        out = np.empty(theta.shape, dtype=np.int64)
        locate_many(theta.ravel(), self.lookup, out.ravel())
        return out

    def __repr__(self):
        return f"Regions(n_arcs={self.n_arcs})"


def _frozen(values):
    values.flags.writeable = False
    return values
