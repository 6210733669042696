"""Named initialisations of particles, each documented with its law. ``rng`` is a seed or a
numpy Generator."""
import numpy as np

from meanfield import params


def _rng(rng):
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def gaussian_uniform(m, *, sigma=1.0, rng=None, dtype=np.float64):
    """Canonical particles with r ~ N(0, sigma^2) and theta ~ U[0, 2 pi), independent.

    Returns (r, theta) of the given dtype (float32 for very large m).
    """
    rng = _rng(rng)
    r = rng.standard_normal(m)
    r *= sigma  # in place: no temporary at large m
    theta = rng.uniform(0.0, 2.0 * np.pi, m)
    return r.astype(dtype, copy=False), theta.astype(dtype, copy=False)


def gaussian_uniform_density(sigma=1.0):
    """The law of :func:`gaussian_uniform` as a density w.r.t. dr dtheta (for the histogram solver):
    exp(-r^2 / 2 sigma^2) / (sqrt(2 pi) sigma 2 pi), a vectorised function of (r, theta)."""
    scale = 1.0 / (np.sqrt(2 * np.pi) * sigma * 2 * np.pi)
    return lambda r, theta: scale * np.exp(-0.5 * (r / sigma) ** 2) + 0.0 * theta


def pytorch_default(m, *, alpha=1.0, rng=None):
    """Full parameters (a, b, c) of a 1-m-1 network initialised by PyTorch's ``nn.Linear`` rule.

    ``nn.Linear(fan_in, fan_out)`` draws its weight by ``kaiming_uniform_(a=sqrt(5))``, i.e.
    U(-bound, bound) with bound = gain * sqrt(3 / fan_in), gain = sqrt(2 / (1 + 5)), so
    bound = 1 / sqrt(fan_in); its bias is U(-1/sqrt(fan_in), 1/sqrt(fan_in)) as well.
    Hidden layer, fan_in = 1: a ~ U(-1, 1) and bias ~ U(-1, 1); our neuron is [a x - b]_+, so
    b = -bias, which has the same law. Output layer, fan_in = m: weight ~ U(-1/sqrt(m), 1/sqrt(m)).
    PyTorch's network is sum_i w_i [.]_+, ours (1/alpha) sum_i c_i [.]_+, so c = alpha * w.
    The output layer's bias has no counterpart in this model and is left out.
    """
    rng = _rng(rng)
    a = rng.uniform(-1.0, 1.0, m)
    b = -rng.uniform(-1.0, 1.0, m)
    bound = 1.0 / np.sqrt(m)
    c = alpha * rng.uniform(-bound, bound, m)
    return a, b, c


def given_delta(r, theta, delta, *, alpha):
    """Full parameters (a, b, c) with the given canonical particles and invariants delta_i."""
    return params.from_canonical(r, theta, delta, alpha)
