"""The finite-particle vs mean-field tool on a tiny configuration (the full study is a validation run)."""
import numpy as np
import pytest

import solvers
from validation import mean_field_limit


def test_mean_field_tool_reports_slope_spread_and_refinement(tmp_path):
    result = mean_field_limit.run(
        "gaussian-4", m_values=(100, 1000), seeds=(0, 1), grid=(30, 60), refine=((20, 40, 1),), figure=tmp_path / "limit.png", verbose=False,
        out=tmp_path, workers=1, threads=1,
    )
    assert set(result.errors) == {100, 1000} and all(len(v) == 2 for v in result.errors.values())
    assert result.spread > 0 and result.hist_gap > 0
    # the slope is the fit of the reported errors, and the errors fall with m at about m^-1/2
    # (two seeds and a coarse grid here: -0.73; a loose window that a broken limit would leave)
    mean = [np.mean(result.errors[m]) for m in (100, 1000)]
    assert result.slope == pytest.approx(np.log(mean[1] / mean[0]) / np.log(10.0), rel=1e-9)
    assert -1.2 < result.slope < -0.25
    assert [(row[0], row[2]) for row in result.refinement] == [(20, 1), (30, 2)]  # (n_r, order); n_theta rounds per arc
    assert (tmp_path / "limit.png").stat().st_size > 0
    # the errors come from the sweep's run files: one run redone directly with the solver (the
    # documented block draw, Heun at the case's dt, stopping at each record time) agrees
    case = mean_field_limit.gaussian_case()
    r, theta = solvers.init.by_blocks(lambda n, rng: solvers.init.gaussian_uniform(n, sigma=0.5, rng=rng), 1000, 1)
    solver = solvers.ParticleSolver(case.samples, r, theta, dt=case.particle_dt, method="heun", record_every=None)
    direct = [solver.residuals()] + [solver.run(t_end=t).residuals() for t in mean_field_limit.record_times(case)[1:]]
    swept, _ = mean_field_limit.read_sweep(case, tmp_path / "particles-gaussian-4")[1000, 1]
    np.testing.assert_allclose(swept, direct, rtol=0, atol=1e-12)


def test_particle_benchmark_runs_and_reports_every_column(capsys):
    from validation import bench_particles

    rows = bench_particles.run(m_values=(3000,), s_values=(5, 20), goals=False, torch_baseline=False)
    assert [(row["m"], row["s"]) for row in rows] == [(3000, 5), (3000, 20)]
    for row in rows:
        assert all(row[key] > 0 for key in ("ours", "heun", "rk4", "f32", "stream", "floor", "ref")) and row["torch"] is None
    text = capsys.readouterr().out
    assert "x stream" in text and "time(s = 20) / time(s = 5)" in text
    assert "where the time goes at m = 3e+03" in text and "x moments" in text
    reached = bench_particles.summary(rows, 3000)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.endswith(("met", "not met"))]
    assert set(reached) == set(bench_particles.GOALS) and len(lines) == len(reached)
    assert reached["heun"] == max(row["heun"] / row["ours"] for row in rows)
    assert reached["f32"] == min(row["ours"] / row["f32"] for row in rows)
    assert reached["s_ratio"] >= 1.0 and reached["stream"] > 0


def test_histogram_subcycling_halves_the_steps_at_the_same_error(capsys):
    """Against a 4x finer unsplit grid, two theta sub-steps take half the steps of the unsplit
    scheme, and the error stays within 1.3x of the unsplit error on each grid."""
    from validation import bench_histogram

    rows = bench_histogram.run(cases=("gaussian-4",), substeps=(2,), quick=True)["gaussian-4"]
    by = {(n_r, n_theta, order, sub): (steps, error) for n_r, n_theta, order, sub, _, steps, error in rows}
    for (n_r, n_theta, order, sub), (steps, error) in by.items():
        if sub == 2:
            steps_0, error_0 = by[n_r, n_theta, order, None]
            assert steps <= 0.55 * steps_0 and error <= 1.3 * error_0
    assert "speed-up" in capsys.readouterr().out


def test_breakdown_passes_leave_the_state_and_sum_what_they_compute():
    from meanfield.kernels.field import BLOCK
    from validation.kernels import sincos_pass

    theta = np.random.default_rng(1).uniform(0, 2 * np.pi, 3 * BLOCK + 5)
    before = theta.copy()
    sums = np.empty(4)
    sincos_pass(theta, sums)
    want = [np.sum(np.sin(b) + np.cos(b)) for b in np.split(before, [BLOCK, 2 * BLOCK, 3 * BLOCK])]
    np.testing.assert_allclose(sums, want, rtol=0, atol=1e-12)
    assert np.array_equal(theta, before)


def test_streaming_floor_pass_leaves_the_state_as_it_was():
    from validation.kernels import stream_pass

    r, theta = np.random.default_rng(0).standard_normal((2, 1000))
    before = r.copy(), theta.copy()
    stream_pass(r, theta, 1.0)
    assert np.array_equal(r, before[0]) and np.array_equal(theta, before[1])


def test_validation_flags_refuse_bad_values_with_one_error_line(capsys, tmp_path):
    from validation.__main__ import main

    for argv, words in ((["mean-field", "--workers", "0"], "--workers: must be positive"), (["mean-field", "--m", "100"], "at least two values of --m"),
                        (["bench-mpi", "--ranks", "x"], "--ranks: not a number"), (["bench", "--m", "0"], "--m: must be positive"),
                        (["bench", "--s", "0"], "--s: must be positive"), (["bench-field", "--ref-m", "-5"], "--ref-m: must be positive"),
                        (["bench-big", "--steps", "0"], "--steps: must be positive")):
        with pytest.raises(SystemExit) as stop:
            main(argv)
        assert stop.value.code == 2
        assert words in capsys.readouterr().err.splitlines()[-1]
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for command in ("paper", "attractors", "mean-field"):
        with pytest.raises(SystemExit) as stop:
            main([command, "--out", str(blocker)])
        assert stop.value.code == 2
        assert f"--out: cannot make the folder {blocker}" in capsys.readouterr().err.splitlines()[-1]
    with pytest.raises(SystemExit, match="too few for 2 ranks"):
        main(["bench-mpi", "--m", "100", "--ranks", "2"])


def test_sliding_benchmark_beats_euler_at_the_same_largest_step(capsys, tmp_path):
    """On the default problem, where mass sits on rays, both sliding steps with the largest step
    0.05 are more accurate than Euler, Heun and RK4 with the fixed step 0.05 (they chatter across
    the attracting rays), against the small-step reference."""
    from validation import bench_sliding

    rows = bench_sliding.run(quick=True, out=tmp_path, cases=("default",))["default (tent8)"]
    late = {(method, dt): late for method, dt, _, _, _, late in rows}
    assert all(np.isfinite(v) for v in late.values())
    for method in ("euler", "heun", "rk4"):
        for sliding in bench_sliding.SLIDING:
            assert late[sliding, 0.05] < 0.5 * late[method, 0.05], (sliding, method)
    assert (tmp_path / "bench_sliding.png").is_file() and "at equal wall time" in capsys.readouterr().out


def test_sliding_particles_hold_the_histograms_ray_mass(tmp_path):
    """gaussian-4, 20000 sliding-heun particles (2 seeds) against a coarse histogram: the mass on
    rays agrees to 0.01 at every record time after t = 2 (about half the mass ends on rays), and
    the particles found on rays are those meanfield.attractors.ray_mass counts within 1e-3 rad."""
    from validation import ray_masses

    times, grid, particles, near = ray_masses.run(("gaussian-4",), m=20000, seeds=(0, 1), quick=True, out=tmp_path)["gaussian-4"]
    on_grid, on_particles = grid.sum(axis=(1, 2)), particles.mean(axis=0).sum(axis=(1, 2))
    assert on_grid[-1] > 0.4
    assert np.abs(on_particles - on_grid)[times >= 2].max() < 0.01
    assert np.all(near.sum(axis=(2, 3)) >= particles.sum(axis=(2, 3)) - 1e-12)  # sliding particles sit exactly on the rays
    assert (tmp_path / "ray_masses_gaussian-4.png").is_file()
