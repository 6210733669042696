"""Training samples (x_j, y_j) of a univariate least-squares fit."""
from __future__ import annotations

import os
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike

LIMIT = 1e100
"""The largest |x_j| and |y_j| accepted: squares and products of inputs, targets and residuals stay
finite in float64."""


class Samples:
    """A validated set of s samples, sorted by x.

    Parameters
    ----------
    x, y : array_like, shape (s,)
        Inputs and targets. They are converted to float64 and **sorted by x** (a stable sort, so
        samples with equal x keep their given order); ``order`` holds the permutation, so that
        ``x == np.asarray(x_given)[order]``. Duplicated x values are legal: such samples share both
        boundary rays.

    Raises
    ------
    ValueError
        If x or y is empty, not one-dimensional, of different lengths, or not finite.

    Notes
    -----
    ``xt`` is the (s, 2) array of lifted inputs xt_j = (x_j, 1) of the paper.
    """

    def __init__(self, x: ArrayLike, y: ArrayLike):
        x = _as_vector(x, "x")
        y = _as_vector(y, "y")
        if x.size != y.size:
            raise ValueError(f"x and y must have the same length, got {x.size} and {y.size}")
        self.order = np.argsort(x, kind="stable")
        self.x = x[self.order]
        self.y = y[self.order]
        self.x.flags.writeable = False
        self.y.flags.writeable = False

    @property
    def s(self):
        """Number of samples."""
        return self.x.size

    @cached_property
    def xt(self):
        """Lifted inputs xt_j = (x_j, 1), shape (s, 2)."""
        xt = np.stack([self.x, np.ones_like(self.x)], axis=1)
        xt.flags.writeable = False
        return xt

    @cached_property
    def regions(self):
        """The arcs cut by the samples' boundary rays (:class:`meanfield.Regions`)."""
        from .regions import Regions

        return Regions(self)

    @cached_property
    def arcs(self):
        """The samples with their regions as the O(s) kernels take them
        (:class:`meanfield.kernels.field.SampleArcs`)."""
        from .kernels.field import SampleArcs

        reg = self.regions
        return SampleArcs(self.x, self.y, reg.arc_on, reg.arc_off, reg.arc_count, reg.arc_prefix)

    @classmethod
    def from_csv(cls, path: str | os.PathLike) -> Samples:
        """Read samples from a two-column text file ``x, y`` (``#`` starts a comment)."""
        try:
            table = np.loadtxt(path, delimiter=",", comments="#", ndmin=2)
        except (OSError, ValueError) as err:
            raise ValueError(f"cannot read samples from {path}: {err}") from None
        if table.shape[1] != 2:
            raise ValueError(f"{path}: expected two columns x, y, found {table.shape[1]}")
        return cls(table[:, 0], table[:, 1])

    def __repr__(self):
        return f"Samples(s={self.s}, x in [{self.x[0]:g}, {self.x[-1]:g}])"


def _as_vector(values: ArrayLike, name: str) -> np.ndarray:
    try:
        arr = np.array(values, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be an array of numbers: {err}") from None
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty: at least one sample is needed")
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ValueError(f"{name} has {bad.sum()} non-finite value(s) (NaN or inf), first at index {np.argmax(bad)}")
    big = np.abs(arr) > LIMIT
    if big.any():
        raise ValueError(f"{name} has {big.sum()} value(s) beyond +-{LIMIT:g} (their squares and products would overflow), "
                         f"first {arr[np.argmax(big)]:g} at index {np.argmax(big)}")
    return arr


def as_samples(samples: object) -> Samples:
    """``samples`` itself if it is a :class:`Samples`; a clear error otherwise."""
    if isinstance(samples, Samples):
        return samples
    raise ValueError(
        f"samples must be a meanfield.Samples (build one with meanfield.Samples(x, y)), got {type(samples).__name__}"
    )
