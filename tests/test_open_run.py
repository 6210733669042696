"""A finished run opened from Python as a researcher would: meanfield.open_run alone."""
import numpy as np
import pytest

import meanfield as mf
from solvers import cli
from solvers.runs import Run, Snapshot, Sweep

METHODS = {
    "particles": ["solver.method='euler'"],
    "sliding": ["solver.method='sliding'"],
    "histogram": ["solver.kind='histogram'", "n_r=40", "n_theta=120"],
}


def make_run(folder, items):
    """The default problem at small m, 4 snapshots (t = 0, 1, 2, 3), through the command line."""
    args = ["run", "--out", str(folder)]
    for item in ["m=2000", "t_end=3", "snapshots=1.0", "history=0.25", "progress=false", "figures=false", *items]:
        args += ["--set", item]
    assert cli.main(args) == 0
    return folder


@pytest.fixture(scope="module", params=list(METHODS))
def run_folder(request, tmp_path_factory):
    return make_run(tmp_path_factory.mktemp(request.param) / "run", METHODS[request.param])


def assert_same_state(a, b):
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], np.ndarray):
            assert a[key].dtype == b[key].dtype and np.array_equal(a[key], b[key]), key
        else:
            assert a[key] == b[key], key


def test_a_researcher_opens_a_finished_run(run_folder):
    run = mf.open_run(run_folder)
    assert isinstance(run, Run) and run.samples.s == 8 and run.config["stop"]["t_end"] == 3.0

    # the history as xarray: time and sample dims, x and y coordinates
    data = run.history.to_xarray()
    assert data["rho"].dims == ("time", "sample") and data.sizes["sample"] == 8
    np.testing.assert_array_equal(data["x"].values, run.samples.x)
    np.testing.assert_array_equal(data["time"].values, run.history.t)
    assert data["time"].values[0] == 0.0 and data["time"].values[-1] == pytest.approx(3.0)
    np.testing.assert_allclose(data["loss"].values, 0.5 * (data["rho"].values ** 2).sum(axis=1))
    np.testing.assert_allclose(data["energy"].values, data["loss"].values, rtol=1e-15)  # no TV term: the energy is the loss

    # the snapshots: four of them, lazily read, the nearest to a time
    snaps = run.snapshots
    assert len(snaps) == 4 and snaps.t == pytest.approx([0.0, 1.0, 2.0, 3.0], abs=0.01)  # adaptive steps: the first step past each time
    assert snaps.at(1.4).index == 1 and snaps.at(2.6).index == 3 and snaps[-1].step == snaps.step[-1]
    assert [s.t for s in snaps] == list(snaps.t) and isinstance(snaps[1:3][0], Snapshot)
    with pytest.raises(IndexError):
        snaps[4]

    # the residuals of a snapshot's state are those the history recorded at that step
    for snap in snaps:
        k = int(np.flatnonzero(run.history.step == snap.step)[0])
        np.testing.assert_allclose(snap.residuals(), run.history.rho[k], rtol=0, atol=1e-12)

    # a solver rebuilt at snapshot i, continued as the run did, gives snapshot i + 1's bits
    for i in range(len(snaps) - 1):
        solver = run.solver(snapshot=i)
        assert solver.step == snaps[i].step and len(solver.history) == np.sum(run.history.step <= snaps[i].step)
        solver.run(t_end=run.t_end, steps=int(snaps[i + 1].step - snaps[i].step))
        assert_same_state(solver.state(), snaps[i + 1].state)

    # the newest checkpoint's solver is the final state
    assert_same_state(run.solver().state(), snaps[-1].state)

    # ray masses over time: (2s, 2) at each snapshot, by the state's own rule
    masses = np.array([snap.ray_mass() for snap in snaps])
    assert masses.shape == (4, 16, 2)
    assert masses[0].sum() < 0.05 and masses[-1].sum() > masses[0].sum()  # neurons gather on rays
    # the atoms carry the whole mass (the histogram: less what left through |r| = r_max)
    r, theta, weight = snaps[-1].atoms()
    assert r.shape == theta.shape == weight.shape and abs(weight.sum() - 1) < 1e-3
    knots = snaps[-1].knots()
    assert knots.size == np.count_nonzero(weight) and np.all(np.isfinite(knots) | np.isinf(knots))


def test_ray_mass_of_a_sliding_state_counts_particles_on_the_rays(tmp_path):
    run = mf.open_run(make_run(tmp_path / "run", METHODS["sliding"]))
    state = run.snapshots[-1].state
    on = state["ray"] >= 0
    mass = run.snapshots[-1].ray_mass()
    assert mass.sum() == pytest.approx(on.mean()) and on.mean() > 0.05
    np.testing.assert_allclose(mass[:, 1].sum(), np.mean(on & (state["r"] < 0)))


def test_the_history_records_the_energy_of_a_regularised_run(tmp_path):
    run = mf.open_run(make_run(tmp_path / "run", ["tv=0.05"]))
    r = run.snapshots[-1].state["r"]
    h = run.history
    assert h.energy[-1] == pytest.approx(h.loss[-1] + 0.05 * np.abs(r).mean(), rel=1e-12)
    assert np.all(h.energy > h.loss)


def test_the_old_run_file_opens(tmp_path):
    """The schema-1 fixture, written before the energy was recorded: energy = loss (tv = 0)."""
    from pathlib import Path

    run = mf.open_run(Path(__file__).parent / "fixtures" / "run-v1")
    assert len(run.history) > 1 and len(run.snapshots) >= 1
    np.testing.assert_array_equal(run.history.energy, run.history.loss)
    assert run.snapshots[0].state["kind"] == run.kind


def test_a_sweep_folder_opens_as_its_runs_and_summary(tmp_path):
    args = ["sweep", "--out", str(tmp_path / "s"), "--workers", "1"]
    for item in ["m=[300, 600]", "t_end=0.5", "progress=false"]:
        args += ["--set", item]
    assert cli.main(args) == 0
    sweep = mf.open_run(tmp_path / "s")
    assert isinstance(sweep, Sweep) and len(sweep) == 2 and sweep.swept == ["init.m"]
    assert list(sweep.summary["status"]) == ["complete", "complete"] and sweep.summary["rho"].shape == (2, 8)
    for k, run in enumerate(sweep):
        assert run.config["init"]["m"] == [300, 600][k]
        np.testing.assert_array_equal(run.history.rho[-1], sweep.summary["rho"][k])
    table = sweep.to_xarray()
    assert table["rho"].dims == ("run", "sample") and list(table["init.m"].values) == [300, 600]


def test_opening_what_is_not_a_run_is_one_error(tmp_path):
    from meanfield.h5io import FileError

    with pytest.raises(FileError, match="no such run folder"):
        mf.open_run(tmp_path / "nowhere")
    with pytest.raises(FileError, match="no run file"):
        mf.open_run(tmp_path)
    assert cli.main(["plot", str(tmp_path)]) == 2


def test_reports_and_figures_of_a_snapshot(tmp_path, capsys):
    folder = make_run(tmp_path / "run", METHODS["particles"])
    capsys.readouterr()
    assert cli.main(["attractors", str(folder), "--snapshot", "1"]) == 0
    text = capsys.readouterr().out
    assert "mass at t = 1:" in text
    run = mf.open_run(folder)
    assert run.attractor_report(snapshot=1) == text.rstrip("\n").split("\n")
    assert run.attractor_report() != run.attractor_report(snapshot=0)
    assert cli.main(["plot", str(folder), "--snapshot", "-1", "--out", str(tmp_path / "figures")]) == 0
    assert len(list((tmp_path / "figures").glob("*.png"))) == 5
    assert cli.main(["plot", str(folder), "--snapshot", "4"]) == 2
    assert "has 4 snapshots" in capsys.readouterr().err


def test_the_gallery_script_opens_runs_of_three_methods():
    """docs/examples/plot_open_run.py, the gallery's version of this file: every snapshot of an
    Euler, a sliding and a histogram run continued to the next gives its bits, and the sliding
    particles hold the histogram's mass on the rays."""
    import runpy
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    namespace = runpy.run_path(str(Path(__file__).parents[1] / "docs" / "examples" / "plot_open_run.py"))
    plt.close("all")
    assert len(namespace["same"]) == 9 and all(namespace["same"].values())
    masses = namespace["masses"]
    assert masses["sliding"].shape == masses["histogram"].shape == (4, 16, 2)
    np.testing.assert_allclose(masses["sliding"][-1], masses["histogram"][-1], atol=0.02)
    assert masses["sliding"][-1].sum() > 0.4
