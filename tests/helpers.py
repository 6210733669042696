"""Random inputs shared by the tests: samples and particles with the awkward cases built in."""
import numpy as np

import meanfield as mf


def random_samples(rng, s, *, x_scale=1.0, duplicates=0.0, zero=False):
    """s samples with x ~ x_scale * N(0, 1), a share of duplicated x, optionally one x = 0."""
    x = x_scale * rng.standard_normal(s)
    n_dup = int(duplicates * s)
    if n_dup and s > 1:
        x[rng.choice(s, n_dup, replace=False)] = x[rng.choice(s, n_dup)]
    if zero:
        x[rng.integers(s)] = 0.0
    return mf.Samples(x, rng.standard_normal(s))


def random_particles(rng, m, *, zero_r=0.0, dtype=np.float64):
    """m particles, r ~ N(0, 1) with a share set to exactly 0, theta uniform over several turns."""
    r = rng.standard_normal(m)
    r[rng.random(m) < zero_r] = 0.0
    theta = rng.uniform(-4 * np.pi, 4 * np.pi, m)
    return r.astype(dtype), theta.astype(dtype)


def distance_to_boundaries(regions, theta):
    """Angular distance of each angle to the nearest boundary angle."""
    d = np.mod(np.asarray(theta, dtype=np.float64)[:, None] - regions.angles[None, :], 2 * np.pi)
    return np.minimum(d, 2 * np.pi - d).min(axis=1)
