"""The embedded default problem, so that the main job runs with no input file.

Eight samples of y = sin(3 x) + x / 2 at uneven points of [-1, 1]: residuals of both signs and
uneven gaps give several attracting rays. The same numbers are shipped as
``data/samples/sine8.csv`` (a test keeps the two equal).
"""
import numpy as np

from .samples import Samples

X = np.array([-0.95, -0.7, -0.42, -0.2, 0.05, 0.3, 0.62, 0.9])


def default_samples():
    """The default sample set (s = 8)."""
    return Samples(X, np.sin(3 * X) + X / 2)


def default_particles(m, seed=0, sigma=1.0):
    """Canonical Gaussian-uniform particles: r ~ N(0, sigma^2), theta ~ U[0, 2 pi)."""
    rng = np.random.default_rng(seed)
    return sigma * rng.standard_normal(m), rng.uniform(0.0, 2.0 * np.pi, m)
