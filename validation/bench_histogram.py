"""The histogram solver's sub-cycling: error against a fine reference and wall time, per grid.

For each validation case (:mod:`validation.mean_field_limit`), runs the histogram solver on a few
grids with the unsplit scheme (``substeps=None``) and with split, sub-cycled theta steps
(``substeps`` = 2, 4), and reports max_t max_j |rho - rho_ref| against a fine unsplit MUSCL grid
(the residuals at the case's record times, mean-field clock) with the wall time, and for each
grid the wall-time ratio of the unsplit run to the sub-cycled one and their errors side by side.
"""
import warnings

import numpy as np

from .mean_field_limit import CASES, histogram_history

GRIDS = {  # (n_r, n_theta, order) of the table, and the reference grid
    "gaussian-4": ([(50, 100, 2), (100, 200, 2), (200, 400, 2), (300, 600, 2), (200, 400, 1), (400, 800, 1)], (600, 1200)),
    "biweight-sine8": ([(50, 200, 2), (100, 400, 2), (150, 800, 2), (200, 800, 1)], (300, 1600)),
}
QUICK = {"gaussian-4": ([(50, 100, 2), (100, 200, 2)], (200, 400)), "biweight-sine8": ([(50, 200, 2)], (100, 400))}


def run(cases=tuple(GRIDS), substeps=(2, 4), quick=False, say=print):
    """Print the table of each case; returns {case: [(n_r, n_theta, order, substeps, wall, steps, error)]}."""
    table = QUICK if quick else GRIDS
    results = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the coarse warm-up grids leak
        for order in (1, 2):
            for sub in (None, 2):
                histogram_history(CASES["gaussian-4"](), 8, 16, order, substeps=sub)  # compile outside the timings
    for name in cases:
        case = CASES[name]()
        grids, (ref_r, ref_theta) = table[name]
        rho_ref, reference, wall_ref = histogram_history(case, ref_r, ref_theta, 2, substeps=None)
        say(f"case {name}: t_end = {case.t_end}, reference {ref_r} x {ref_theta} MUSCL unsplit ({reference.step} steps, {wall_ref:.1f} s)")
        say(f"{'grid':>11} {'order':>5} {'substeps':>8} {'steps':>6} {'wall s':>7} {'max|rho - ref|':>15} {'speed-up':>8} {'error ratio':>11}")
        rows = []
        for n_r, n_theta, order in grids:
            base = None
            for sub in (None, *substeps):
                rho, solver, wall = histogram_history(case, n_r, n_theta, order, substeps=sub)
                steps = solver.step
                error = float(np.abs(rho - rho_ref).max())
                rows.append((n_r, n_theta, order, sub, wall, steps, error))
                if sub is None:
                    base = (wall, error)
                    ratios = f"{'':>8} {'':>11}"
                else:
                    ratios = f"{base[0] / wall:7.2f}x {error / base[1]:11.2f}"
                say(f"{f'{n_r} x {n_theta}':>11} {order:5d} {sub or 'unsplit':>8} {steps:6d} {wall:7.2f} {error:15.3e} {ratios}")
        results[name] = rows
    return results
