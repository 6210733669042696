"""The shipped sample sets, so that runs need no input file (``[samples] preset``).

- ``tent8`` (the default run's problem): y = 0.8 - 1.5 |x - 0.1| at the eight uneven inputs below.
  The tent's kink lies between two samples, so a least-squares fit is free to put its knots
  anywhere there; the canonical flow fits it to 1e-2 by t ~ 50 (m = 1e5) with the knots gathered
  on the rays of the samples around the kink, as the paper describes.
- ``sine8``: y = sin(3 x) + x / 2 at the same inputs: residuals of both signs and uneven gaps give
  several attracting rays; the canonical flow fits it slowly (loss 0.25 at t = 300).
- ``gaussian4``: four samples of alternating sign (the Gaussian case of the mean-field validation).
- ``square10``: one period of a square wave, y = +1 for |x| < 0.4 and -1 beyond (jumps midway
  between samples), at x = -0.9, -0.7, ..., 0.9: y = -1, -1, -1, 1, 1, 1, 1, -1, -1, -1. The paper's
  Figures 4, 6 and 7 fit "10 points sampled from a square wave".
- ``sine20``: y = sin(2 pi x) at twenty evenly spaced points of [-0.95, 0.95]: the paper's Figure 8
  fits "20 samples from a sine wave".
- ``pairs6``: three pairs of close inputs with targets of both signs, a test problem of the
  regularised flow: with tv = 0.05 its optimum needs |r| of 30 to 60, and explicit Euler with
  dt = 0.01 (m = 20000, sigma = 0.01) lowers the energy until t ~ 100 and then raises it.
- ``ramp6``: y = 0, 0, 0, 0.4, 0.6, 0.6 at x = -1, -0.2, 0, 0.4, 1, 1.2, a ramp whose regularised
  optimum (tv = 0.01) the canonical flow approaches slowly.

The same numbers are shipped as ``data/samples/*.csv`` (a test keeps them equal).
"""
import numpy as np

from .samples import Samples

X = np.array([-0.95, -0.7, -0.42, -0.2, 0.05, 0.3, 0.62, 0.9])


def default_samples():
    """The default sample set (s = 8)."""
    return Samples(X, np.sin(3 * X) + X / 2)


def tent8_samples():
    """The default run's problem: y = 0.8 - 1.5 |x - 0.1| at the inputs X (s = 8)."""
    return Samples(X, 0.8 - 1.5 * np.abs(X - 0.1))


def gaussian4_samples():
    """Four samples of alternating sign (s = 4): the Gaussian case of the mean-field validation."""
    return Samples([-0.8, -0.3, 0.2, 0.7], [0.6, -0.4, 0.5, -0.3])


def square10_samples():
    """One period of a square wave at x = -0.9, -0.7, ..., 0.9 (s = 10): y = +1 for |x| < 0.4, else -1."""
    x = np.arange(-9, 10, 2) / 10
    return Samples(x, np.where(np.abs(x) < 0.4, 1.0, -1.0))


def sine20_samples():
    """y = sin(2 pi x) at twenty evenly spaced points of [-0.95, 0.95] (s = 20)."""
    x = np.arange(-19, 20, 2) / 20
    return Samples(x, np.sin(2 * np.pi * x))


def pairs6_samples():
    """Three pairs of close inputs, targets of both signs (s = 6): a hard case of the regularised flow."""
    return Samples([-0.9023, -0.8651, -0.4780, -0.4293, 0.9959, 1.0860], [1.5224, -1.3060, 2.2533, 0.6251, -2.1534, 0.3506])


def ramp6_samples():
    """y = 0, 0, 0, 0.4, 0.6, 0.6 at x = -1, -0.2, 0, 0.4, 1, 1.2 (s = 6)."""
    return Samples([-1.0, -0.2, 0.0, 0.4, 1.0, 1.2], [0.0, 0.0, 0.0, 0.4, 0.6, 0.6])


PRESETS = {"tent8": tent8_samples, "sine8": default_samples, "gaussian4": gaussian4_samples, "square10": square10_samples,
           "sine20": sine20_samples, "pairs6": pairs6_samples, "ramp6": ramp6_samples}
"""Shipped sample sets by name (``[samples] preset`` of a run configuration)."""


def default_particles(m, seed=0, sigma=1.0):
    """Canonical Gaussian-uniform particles: r ~ N(0, sigma^2), theta ~ U[0, 2 pi)."""
    rng = np.random.default_rng(seed)
    return sigma * rng.standard_normal(m), rng.uniform(0.0, 2.0 * np.pi, m)
