"""One ray rule: the attractor detector, the sliding particles and the histogram's ray transfer
decide alike whether a ray attracts, also at exact ties (a side whose angular velocity is exactly
0: a dead arc, or a live arc whose active residuals are all 0)."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import meanfield as mf
import solvers
from meanfield.attractors import ATTRACTOR, CROSSING, REPULSOR, classify_rays
from meanfield.kernels.primitives import ray_transfer
from solvers.kernels import histogram as hk
from solvers.kernels.sliding import attracts
from solvers.sliding import ray_neighbours

POOL = [-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0]


def histogram_ray_speeds(samples, g):
    """The histogram's angular speeds per unit r just below and above each distinct ray, in the
    field g, as its step computes them."""
    solver = solvers.HistogramSolver(samples, None, n_r=4, n_theta=8, r_max=1.0)
    state = solver._scheme.now.arrays
    state.g[:] = g
    hk.speeds(solver.grid.arrays, solver.order, 0.0, state)
    return solver.grid.ray_angle, state.w_ray


@settings(max_examples=150, deadline=None)
@given(x=st.lists(st.sampled_from(POOL), min_size=1, max_size=6),
       rho=st.lists(st.sampled_from([0.0, 0.0, 1.0, -1.0, 0.5]), min_size=6, max_size=6))
def test_the_detector_the_sliding_step_and_the_histogram_agree_at_exact_ties(x, rho):
    samples = mf.Samples(np.array(x), np.zeros(len(x)))
    rho = np.array(rho[: samples.s])
    reg = samples.regions
    g = mf.arc_fields(samples, rho)
    found = classify_rays(samples, rho)
    rays = ray_neighbours(reg)
    angles, w_ray = histogram_ray_speeds(samples, g)
    for k in np.flatnonzero(reg.lengths > 0):  # rays at the start of a non-empty arc (duplicated x: one of each)
        q = np.searchsorted(angles, reg.angles[k])
        for sign in (1.0, -1.0):
            verdict, _, vt_below, _, vt_above = attracts(g, rays, k, sign, 0.0)
            u_below, u_above = sign * w_ray[q, 0], sign * w_ray[q, 1]
            # the three see the same velocities (0 on a dead side) ...
            assert vt_below == u_below and vt_above == u_above
            # ... and decide alike: the sliding step, the histogram keeping all the ray's mass,
            # and the detector
            kept = ray_transfer(u_below, u_above, 0.0, 0.0, 1.0, 1.0)[2]
            state = found.state(sign)[k]
            assert verdict == (kept == 1.0) == (state == ATTRACTOR), (k, sign, vt_below, vt_above, state)
            crossing = (vt_below > 0 and vt_above > 0) or (vt_below < 0 and vt_above < 0)
            assert state == (CROSSING if crossing else ATTRACTOR if verdict else REPULSOR)


def test_a_live_side_at_rest_attracts_in_all_three():
    """x = (-1, 1), rho = (0, 1): on the arcs where sample 0 alone is active g = 0 exactly, so
    the rays beside them have a live side at rest; those the other side pushes into attract
    in all three, and the detector no longer calls them crossings."""
    samples = mf.Samples(np.array([-1.0, 1.0]), np.zeros(2))
    rho = np.array([0.0, 1.0])
    g = mf.arc_fields(samples, rho)
    reg = samples.regions
    at_rest = [k for k in range(reg.n_arcs) if not reg.dead[k] and np.all(g[k] == 0.0)]
    assert at_rest
    found = classify_rays(samples, rho)
    rays = ray_neighbours(reg)
    tied = 0
    for k in range(reg.n_arcs):
        for sign in (1.0, -1.0):
            verdict, _, vt_below, _, vt_above = attracts(g, rays, k, sign, 0.0)
            if (vt_below == 0.0) != (vt_above == 0.0) and not (reg.dead[k] or reg.dead[reg.arc_before[k]]):
                tied += 1
                assert verdict == (vt_below >= 0.0 >= vt_above) == (found.state(sign)[k] == ATTRACTOR)
    assert tied >= 2
