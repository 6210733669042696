"""Brute-force O(m s) implementation of the model: the test oracle and the benchmark baseline.

Written to be obviously right rather than fast: it forms the pre-activations x_j cos th_i + sin th_i
for blocks of particles and applies the definitions directly (active when >= 0), in float64.
It knows nothing of arcs.
"""
import numpy as np

BLOCK = 4096


def _blocks(m):
    for start in range(0, m, BLOCK):
        yield slice(start, min(m, start + BLOCK))


def preactivation(x, theta):
    """x_j cos th_i + sin th_i, shape (m, s)."""
    theta = np.asarray(theta, dtype=np.float64)
    return np.multiply.outer(np.cos(theta), x) + np.sin(theta)[:, None]


def network(x, r, theta):
    """f(x) = (1/m) sum_i r_i [x cos th_i + sin th_i]_+ at the points x."""
    x = np.atleast_1d(np.asarray(x, dtype=np.float64))
    r = np.asarray(r, dtype=np.float64)
    f = np.zeros(x.shape)
    for blk in _blocks(r.size):
        f += r[blk] @ np.maximum(preactivation(x, theta[blk]), 0.0)
    return f / r.size


def full_network(x, a, b, c, alpha):
    """f_z(x) = (1/alpha) sum_i c_i [a_i x - b_i]_+ at the points x (full parameters)."""
    x = np.atleast_1d(np.asarray(x, dtype=np.float64))
    a, b, c = (np.asarray(v, dtype=np.float64) for v in (a, b, c))
    f = np.zeros(x.shape)
    for blk in _blocks(a.size):
        f += c[blk] @ np.maximum(np.multiply.outer(a[blk], x) - b[blk, None], 0.0)
    return f / alpha


def residuals(samples, r, theta):
    """rho_j = f(x_j) - y_j."""
    return network(samples.x, r, theta) - samples.y


def loss(samples, r, theta, tv=0.0):
    """1/2 |rho|^2 + tv * mean |r|."""
    rho = residuals(samples, r, theta)
    return 0.5 * rho @ rho + tv * np.abs(np.asarray(r, dtype=np.float64)).mean()


def velocity(samples, r, theta, rho=None, tv=0.0):
    """-grad V: dr = -sum_{j active} rho_j <xt_j, d> - tv sign r, dth = -r sum_{j active} rho_j <xt_j, t>."""
    r = np.asarray(r, dtype=np.float64)
    theta = np.asarray(theta, dtype=np.float64)
    if rho is None:
        rho = residuals(samples, r, theta)
    dr = np.empty(r.size)
    dth = np.empty(r.size)
    for blk in _blocks(r.size):
        active = preactivation(samples.x, theta[blk]) >= 0.0
        g = (active * rho) @ samples.xt  # (block, 2): g of each particle's own active set
        c, s = np.cos(theta[blk]), np.sin(theta[blk])
        dr[blk] = -(g[:, 0] * c + g[:, 1] * s) - tv * np.sign(r[blk])
        dth[blk] = -r[blk] * (g[:, 1] * c - g[:, 0] * s)
    return dr, dth


def largest_radial_speed(samples, rho, n=1 << 16):
    """max over th of |sum_j rho_j [x_j cos th + sin th]_+|: the largest value on a grid of n angles
    and the boundary angles, then refined by a bounded scalar search around the best few points."""
    from scipy.optimize import minimize_scalar

    x, rho = samples.x, np.asarray(rho, dtype=np.float64)

    def size(th):
        return np.abs(np.maximum(preactivation(x, np.atleast_1d(th)), 0.0) @ rho)

    grid = np.concatenate([np.linspace(0.0, 2 * np.pi, n, endpoint=False), np.mod(-np.arctan(x), 2 * np.pi),
                           np.mod(np.pi - np.arctan(x), 2 * np.pi)])
    values = size(grid)
    best = float(values.max())
    step = 2 * np.pi / n
    for th in grid[np.argsort(values)[-8:]]:
        found = minimize_scalar(lambda t: -size(t)[0], bounds=(th - step, th + step), method="bounded", options={"xatol": 1e-13})
        best = max(best, float(-found.fun))
    return best
