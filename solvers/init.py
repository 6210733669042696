"""Named initialisations of particles, each documented with its law. ``rng`` is a seed or a
numpy Generator.

Runs draw their particles with :func:`by_blocks`: block b of BLOCK consecutive particles comes from
its own generator, so any process can draw any range of particles alone, and a run's particles do
not depend on how many MPI ranks share them.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from meanfield import params


def _rng(rng: int | np.random.Generator | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def gaussian_uniform(m: int, *, sigma: float = 1.0, rng: int | np.random.Generator | None = None, dtype: DTypeLike = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """Canonical particles with r ~ N(0, sigma^2) and theta ~ U[0, 2 pi), independent.

    Returns (r, theta) of the given dtype (float32 for very large m).
    """
    rng = _rng(rng)
    r = rng.standard_normal(m)
    r *= sigma  # in place: no temporary at large m
    theta = rng.uniform(0.0, 2.0 * np.pi, m)
    return r.astype(dtype, copy=False), theta.astype(dtype, copy=False)


def gaussian_uniform_density(sigma: float = 1.0) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The law of :func:`gaussian_uniform` as a density w.r.t. dr dtheta (for the histogram solver):
    exp(-r^2 / 2 sigma^2) / (sqrt(2 pi) sigma 2 pi), a vectorised function of (r, theta)."""
    scale = 1.0 / (np.sqrt(2 * np.pi) * sigma * 2 * np.pi)
    return lambda r, theta: scale * np.exp(-0.5 * (r / sigma) ** 2) + 0.0 * theta


def biweight_cosine(m: int, *, width: float = 1.5, rng: int | np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Canonical particles with r = width (2B - 1), B ~ Beta(3, 3), i.e. the density
    (15 / 16 width) (1 - (r / width)^2)^2 on |r| < width, and theta independent with density
    (1 + cos(theta) / 2) / (2 pi) (rejection sampling against the uniform law): a smooth law
    unlike the Gaussian-uniform one, with compact support in r.
    """
    rng = _rng(rng)
    r = width * (2 * rng.beta(3.0, 3.0, m) - 1)
    theta = np.empty(m)
    filled = 0
    while filled < m:
        proposal = rng.uniform(0, 2 * np.pi, 2 * (m - filled))
        keep = proposal[rng.uniform(0, 1.5, proposal.size) < 1 + 0.5 * np.cos(proposal)][: m - filled]
        theta[filled:filled + keep.size] = keep
        filled += keep.size
    return r, theta


def biweight_cosine_density(width: float = 1.5) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The law of :func:`biweight_cosine` as a density w.r.t. dr dtheta."""
    def density(r, theta):
        u = r / width
        return np.where(np.abs(u) < 1, 15 / (16 * width) * (1 - u * u) ** 2, 0.0) * (1 + 0.5 * np.cos(theta)) / (2 * np.pi)

    return density


BLOCK = 1 << 16


def by_blocks(draw: Callable[[int, np.random.Generator], tuple[np.ndarray, ...]], m: int, seed: int, lo: int = 0, hi: int | None = None) -> tuple[np.ndarray, ...]:
    """Particles [lo, hi) of m (default: all) drawn block by block.

    Block b holds the particles [b BLOCK, (b + 1) BLOCK) and is ``draw(n, rng)`` (a tuple of arrays
    of length n) with rng = default_rng(SeedSequence(seed, spawn_key=(b,))), the b-th child of
    SeedSequence(seed). Returns the tuple of arrays for [lo, hi), filled without a temporary of size m.
    """
    hi = m if hi is None else hi
    if not 0 <= lo <= hi <= m:
        raise ValueError(f"particles [{lo}, {hi}) are not a range of the {m} particles")
    out = None
    for b in range(lo // BLOCK, -(-hi // BLOCK)):
        start, stop = b * BLOCK, min(m, (b + 1) * BLOCK)
        parts = draw(stop - start, np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(b,))))
        if out is None:
            out = tuple(np.empty(hi - lo, dtype=p.dtype) for p in parts)
        a, z = max(lo, start), min(hi, stop)
        for dest, part in zip(out, parts):
            dest[a - lo:z - lo] = part[a - start:z - start]
    if out is None:
        raise ValueError(f"particles [{lo}, {hi}): an empty range")
    return out


def pytorch_default(m: int, *, alpha: float = 1.0, rng: int | np.random.Generator | None = None, size: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Full parameters (a, b, c) of a 1-m-1 network initialised by PyTorch's ``nn.Linear`` rule.

    ``nn.Linear(fan_in, fan_out)`` draws its weight by ``kaiming_uniform_(a=sqrt(5))``, i.e.
    U(-bound, bound) with bound = gain * sqrt(3 / fan_in), gain = sqrt(2 / (1 + 5)), so
    bound = 1 / sqrt(fan_in); its bias is U(-1/sqrt(fan_in), 1/sqrt(fan_in)) as well.
    Hidden layer, fan_in = 1: a ~ U(-1, 1) and bias ~ U(-1, 1); our neuron is [a x - b]_+, so
    b = -bias, which has the same law. Output layer, fan_in = m: weight ~ U(-1/sqrt(m), 1/sqrt(m)).
    PyTorch's network is sum_i w_i [.]_+, ours (1/alpha) sum_i c_i [.]_+, so c = alpha * w.
    The output layer's bias has no counterpart in this model and is left out.
    ``size`` neurons of the m-neuron network are drawn (default m).
    """
    rng = _rng(rng)
    size = m if size is None else size
    a = rng.uniform(-1.0, 1.0, size)
    b = -rng.uniform(-1.0, 1.0, size)
    bound = 1.0 / np.sqrt(m)
    c = alpha * rng.uniform(-bound, bound, size)
    return a, b, c


def given_delta(r: ArrayLike, theta: ArrayLike, delta: ArrayLike, *, alpha: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Full parameters (a, b, c) with the given canonical particles and invariants delta_i."""
    return params.from_canonical(r, theta, delta, alpha)


# -- what a configuration's init section names ---------------------------------------------------
def canonical_law(init_: dict[str, Any], dtype: DTypeLike = np.float64) -> Callable[[int, np.random.Generator], tuple[np.ndarray, np.ndarray]]:
    """draw(n, rng) -> (r, theta) of the law of canonical particles an ``init`` section names
    (its keys law, sigma, width), of ``dtype``."""
    if init_["law"] == "biweight_cosine":
        return lambda n, rng: tuple(v.astype(dtype, copy=False) for v in biweight_cosine(n, width=init_["width"], rng=rng))  # type: ignore[return-value]
    return lambda n, rng: gaussian_uniform(n, sigma=init_["sigma"], rng=rng, dtype=dtype)


def pytorch_law(m: int, alpha: float) -> Callable[[int, np.random.Generator], tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """draw(n, rng) -> (a, b, c) of n neurons of an m-neuron network by :func:`pytorch_default`
    (its scale depends on m, not on n)."""
    return lambda n, rng: pytorch_default(m, alpha=alpha, rng=rng, size=n)


def density_of(init_: dict[str, Any]) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The law an ``init`` section names as a density w.r.t. dr dtheta (for the histogram solver)."""
    if init_["law"] == "biweight_cosine":
        return biweight_cosine_density(init_["width"])
    return gaussian_uniform_density(init_["sigma"])


def alpha_of(config: dict[str, Any]) -> float:
    """The normalisation alpha(m) a configuration names, as a number ('m', 'sqrt(m)' or one)."""
    alpha, m = config["solver"]["alpha"], config["init"]["m"]
    named = {"m": float(m), "sqrt(m)": math.sqrt(m)}
    return named[alpha] if isinstance(alpha, str) else float(alpha)
