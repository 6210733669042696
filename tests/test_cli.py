"""The command line: verbs on a small run, configuration errors, damaged and foreign files."""
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import h5py
import numpy as np
import pytest

import meanfield as mf
import meanfield.reference  # noqa: F401  (mf.reference: the brute-force oracle)
from meanfield.defaults import PRESETS
from meanfield.h5io import write_file
from solvers import config as cfg
from solvers.cli import main
from solvers.runfolder import RUN, SCHEMA_VERSION

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "run-v1"
SMALL = ["--set", "m=3000", "--set", "t_end=2.0", "--set", "progress=false", "--set", "snapshots=1.0", "--set", "checkpoints=0.5"]


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    assert main(["run", "--out", str(out), *SMALL]) == 0
    return out


def one_line_error(capsys, code, args):
    assert main(args) == code
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_run_writes_config_run_file_checkpoints_snapshots_and_figures(small_run, capsys):
    names = {p.name for p in small_run.iterdir()}
    assert {"config.toml", "run.h5", "checkpoints", "snapshots", "network.png", "uv.png", "density.png", "residuals.png", "rays.png"} <= names
    config = tomllib.loads((small_run / "config.toml").read_text())
    assert config["init"]["m"] == 3000 and config["stop"]["t_end"] == 2.0
    with h5py.File(small_run / "run.h5", "r") as f:  # readable by plain h5py, self-describing
        assert f.attrs["schema"] == RUN and f.attrs["schema_version"] == SCHEMA_VERSION
        t = f["history/t"][()]
        np.testing.assert_allclose(t, np.arange(41) * 0.05, atol=1e-9)  # history every 0.05 of mean-field time
        assert f["history/rho"].shape == (41, 8) and f["history/rho"].fletcher32
        np.testing.assert_array_equal(f["snapshots/step"][()], [0, 100, 200])
        r = f["snapshots/step_000000000200/state/r"][()]  # an external link into snapshots/
        assert f["snapshots/step_000000000200/state/r"].compression == "gzip"
    with h5py.File(sorted((small_run / "checkpoints").glob("step_*.h5"))[-1], "r") as f:
        assert f["state"].attrs["step"] == 200 and f["state/theta"].shape == (3000,)
        np.testing.assert_array_equal(f["state/r"][()], r)
    # the residuals recorded equal the brute-force residuals of the stored particles
    with h5py.File(small_run / "run.h5", "r") as f:
        rho_end = f["history/rho"][-1]
        theta = f["snapshots/step_000000000200/state/theta"][()]
    samples = PRESETS["tent8"]()
    np.testing.assert_allclose(rho_end, mf.reference.residuals(samples, r, theta), atol=1e-12)


def test_info_plot_attractors_and_resume(small_run, tmp_path, capsys):
    assert main(["info", str(small_run)]) == 0
    text = capsys.readouterr().out
    assert "history: 41 records, t = 0 .. 2" in text and "step 200" in text
    assert main(["info", str(small_run / "run.h5")]) == 0
    assert "history/rho: float64 (41, 8)" in capsys.readouterr().out
    figures = tmp_path / "figs"
    assert main(["plot", str(small_run), "--out", str(figures)]) == 0
    assert sorted(p.name for p in figures.iterdir()) == sorted(["network.png", "uv.png", "density.png", "residuals.png", "rays.png"])
    assert main(["attractors", str(small_run)]) == 0
    text = capsys.readouterr().out
    assert text.count(" on ") + text.count(" off ") >= 2 * 16  # every ray, both signs
    resumed = tmp_path / "resumed"
    shutil.copytree(small_run, resumed)
    assert main(["resume", str(resumed), "--t-end", "3"]) == 0
    out = capsys.readouterr().out
    assert "done: t = 3, step 300" in out
    assert main(["resume", str(resumed)]) == 0
    assert "the run is complete at t = 3" in capsys.readouterr().out


def test_default_config_is_commented_and_reads_back_as_the_defaults(capsys):
    assert main(["config"]) == 0
    text = capsys.readouterr().out
    assert text.count("\n# ") >= sum(len(keys) for keys in cfg.SCHEMA.values())
    assert cfg.load(overrides=()) == cfg.validate(_merged(tomllib.loads(text)))


def _merged(given):
    config = cfg.defaults()
    cfg.merge(config, given)
    return config


def test_set_accepts_short_keys_and_float_counts():
    config = cfg.load(None, ["m=1e6", "solver.method=heun", "history='10 steps'", "alpha=m"])
    assert config["init"]["m"] == 1_000_000 and isinstance(config["init"]["m"], int)
    assert config["solver"]["method"] == "heun" and config["solver"]["alpha"] == "m"
    assert cfg.cadence_of(config["output"]["history"]) == ("steps", 10)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--set", "mm=3"], "unknown key 'mm' (did you mean 'm'?)"),
        (["--set", "solver.dtt=0.1"], "unknown key 'solver.dtt'"),
        (["--set", "dt=-1"], "solver.dt must be positive, got -1"),
        (["--set", "dt='fast'"], "solver.dt must be a number, got \"fast\""),
        (["--set", "m=2.5"], "init.m must be an integer, got 2.5"),
        (["--set", "method=leapfrog"], "solver.method must be one of euler, heun, rk4, sliding, sliding-heun, got \"leapfrog\""),
        (["--set", "method='sliding'", "--set", "metric='delta'"], "solver.method = 'sliding' runs the canonical flow"),
        (["--set", "history='5 parsecs'"], "output.history must be a positive time, 'N steps', 'S s' or 'off'"),
        (["--set", "figures=1"], "output.figures must be true or false, got 1"),
        (["--set", "m"], "--set needs key=value"),
        (["--set", "x=[0.1, 0.2]"], "samples.x and samples.y must have the same length"),
        (["--set", "kind='histogram'", "--set", "law='pytorch_default'"], "has no density for the histogram solver"),
    ],
)
def test_bad_configuration_is_one_line_exit_2(capsys, tmp_path, args, message):
    err = one_line_error(capsys, 2, ["run", "--out", str(tmp_path / "x"), *args])
    assert message in err
    assert not (tmp_path / "x").exists()  # nothing started


def test_bad_configuration_files(capsys, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[solver]\nkind = particles\n")
    assert "is not valid TOML" in one_line_error(capsys, 2, ["run", str(bad), "--out", str(tmp_path / "o")])
    bad.write_text("[solvers]\nkind = 'particles'\n")
    assert "unknown section [solvers] (did you mean 'solver'?)" in one_line_error(capsys, 2, ["run", str(bad), "--out", str(tmp_path / "o")])
    bad.write_text("[samples]\nfile = 'missing.csv'\n")
    assert "samples.file: no such file" in one_line_error(capsys, 2, ["run", str(bad), "--out", str(tmp_path / "o")])
    assert "cannot read the configuration" in one_line_error(capsys, 2, ["run", str(tmp_path / "none.toml")])
    samples = tmp_path / "nan.csv"
    samples.write_text("0, 1\nnan, 2\n")
    bad.write_text(f"[samples]\nfile = '{samples.name}'\n")
    assert "non-finite" in one_line_error(capsys, 2, ["run", str(bad), "--out", str(tmp_path / "o")])


def test_unwritable_output_folder(capsys, tmp_path):
    file_in_the_way = tmp_path / "file"
    file_in_the_way.write_text("")
    assert "cannot write the output folder" in one_line_error(capsys, 2, ["run", "--out", str(file_in_the_way / "run"), *SMALL])
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if _can_write(locked):
            pytest.skip("running as a user who may write anywhere (root): the folder is not unwritable")
        assert "cannot write the output folder" in one_line_error(capsys, 2, ["run", "--out", str(locked / "run"), *SMALL])
    finally:
        locked.chmod(0o700)


def _can_write(folder):
    try:
        (folder / ".probe").write_text("")
        (folder / ".probe").unlink()
        return True
    except OSError:
        return False


def test_a_folder_holding_a_run_is_not_overwritten(small_run, capsys):
    assert "already holds a run" in one_line_error(capsys, 2, ["run", "--out", str(small_run), *SMALL])


def test_divergence_stops_with_a_message_and_keeps_the_last_good_checkpoint(tmp_path, capsys):
    out = tmp_path / "diverging"
    args = ["run", "--out", str(out), "--set", "m=500", "--set", "dt=20", "--set", "t_end=5000", "--set", "progress=false"]
    assert main(args) == 1
    warning, err = capsys.readouterr().err.splitlines()  # the first step already raised the energy, then the loss blew up
    assert warning.startswith("warning: the energy rose from") and "between steps 0 and 1" in warning
    assert err.startswith("error: ") and "Traceback" not in err
    assert "the loss blew up to" in err and "reduce the step" in err and "last good checkpoint: step_000000000000.h5" in err
    assert [p.name for p in (out / "checkpoints").glob("step_*.h5")] == ["step_000000000000.h5"]
    with h5py.File(out / "run.h5", "r") as f:  # the run file is intact, with the history up to the blow-up
        np.testing.assert_array_equal(f["history/step"][()], [0, 1])
        assert np.isfinite(f["history/rho"][()]).all()


def test_a_loss_increase_is_warned_about(tmp_path, capsys):
    args = ["run", "--out", str(tmp_path / "big-step"), "--set", "m=500", "--set", "dt=8", "--set", "t_end=40", "--set", "loss_factor=0",
            "--set", "progress=false", "--set", "figures=false"]
    assert main(args) == 0
    assert "warning: the loss increased; the step is probably too large" in capsys.readouterr().err


# -- damaged, foreign and newer files ---------------------------------------------------------------
def _copy(small_run, tmp_path):
    target = tmp_path / "run"
    shutil.copytree(small_run, target)
    return target


def _flip_bytes_in_dataset(path, name):
    with h5py.File(path, "r") as f:
        offset = f[name].id.get_chunk_info(0).byte_offset
    with open(path, "r+b") as handle:
        handle.seek(offset + 5)
        byte = handle.read(1)
        handle.seek(offset + 5)
        handle.write(bytes([byte[0] ^ 0xFF]))


def _damage(run, how):
    target = run / "run.h5"
    if how == "truncated":
        data = target.read_bytes()
        target.write_bytes(data[: len(data) // 2])
    elif how == "flipped":
        _flip_bytes_in_dataset(target, "history/rho")
    elif how == "foreign":
        shutil.copy(run / "network.png", target)
    elif how == "missing":
        write_file(target, {"config": "x = 1", "samples/x": np.zeros(2)}, {}, schema=RUN, version=SCHEMA_VERSION)
    elif how == "newer":
        write_file(target, {"config": ""}, {}, schema=RUN, version=SCHEMA_VERSION + 1)
    elif how == "other-schema":
        write_file(target, {"a": np.zeros(3)}, {}, schema="somebody.else", version=1)


MESSAGES = {
    "truncated": "not a readable HDF5 file",
    "flipped": "its checksum does not match its bytes",
    "foreign": "not a readable HDF5 file",
    "missing": "missing dataset 'samples/y'",
    "newer": f"schema version {SCHEMA_VERSION + 1}",
    "other-schema": "a 'somebody.else' file",
}


@pytest.mark.parametrize("how", list(MESSAGES))
@pytest.mark.parametrize("verb", ["resume", "plot", "attractors", "info"])
def test_damaged_run_file_is_one_line_exit_2(small_run, tmp_path, capsys, how, verb):
    run = _copy(small_run, tmp_path)
    _damage(run, how)
    target = run / "run.h5" if verb == "info" and how != "missing" else run
    err = one_line_error(capsys, 2, [verb, str(target)])
    assert MESSAGES[how] in err, err


def test_flipped_bytes_in_the_newest_checkpoint_resume_from_the_one_before(small_run, tmp_path, capsys):
    run = _copy(small_run, tmp_path)
    newest = sorted((run / "checkpoints").glob("step_*.h5"))[-1]
    _flip_bytes_in_dataset(newest, "state/theta")
    assert main(["resume", str(run), "--t-end", "2.5"]) == 0
    captured = capsys.readouterr()
    assert f"warning: skipping checkpoint {newest.name}" in captured.err and "its checksum does not match its bytes" in captured.err
    assert "resuming" in captured.err and "from step_000000000150.h5" in captured.err
    assert "done: t = 2.5, step 250" in captured.out


def test_every_checkpoint_damaged(small_run, tmp_path, capsys):
    run = _copy(small_run, tmp_path)
    for path in (run / "checkpoints").glob("step_*.h5"):
        path.write_bytes(path.read_bytes()[:1000])
    assert "no checkpoint in" in one_line_error(capsys, 2, ["resume", str(run)])


def test_digest_catches_damage_outside_the_checksummed_chunks(small_run, tmp_path, capsys):
    run = _copy(small_run, tmp_path)
    with h5py.File(run / "run.h5", "r+") as f:
        f.attrs["kind"] = "full"  # an attribute: no Fletcher-32 on it
    assert "digest does not match" in one_line_error(capsys, 2, ["info", str(run / "run.h5")])


def test_not_a_run_folder(tmp_path, capsys):
    assert "no such run folder" in one_line_error(capsys, 2, ["resume", str(tmp_path / "nothing")])
    assert "no such file" in one_line_error(capsys, 2, ["info", str(tmp_path / "nothing.h5")])


# -- files of the current schema, committed --------------------------------------------------------
def test_committed_fixture_of_schema_1_still_reads(tmp_path, capsys):
    """tests/fixtures/run-v1 was written by schema version 1 (m = 200, 20 Euler steps): a later
    schema must keep reading it, or say here why not."""
    assert main(["info", str(FIXTURE)]) == 0
    assert "step 20" in capsys.readouterr().out
    assert main(["attractors", str(FIXTURE)]) == 0
    run = _copy(FIXTURE, tmp_path)
    assert main(["resume", str(run), "--t-end", "0.3"]) == 0
    assert "done: t = 0.3, step 30" in capsys.readouterr().out


def test_version_and_help():
    proc = subprocess.run([sys.executable, "-m", "meanfield", "--version"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0 and proc.stdout.strip() == f"meanfield {mf.__version__}"
    proc = subprocess.run([sys.executable, "-m", "meanfield", "resume"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_shipped_sample_files_equal_the_presets(name):
    shipped = mf.Samples.from_csv(ROOT / "data" / "samples" / f"{name}.csv")
    np.testing.assert_array_equal(shipped.x, PRESETS[name]().x)
    np.testing.assert_array_equal(shipped.y, PRESETS[name]().y)


@pytest.mark.parametrize("kind", [
    ["kind='full'", "lr=0.05", "alpha='sqrt(m)'", "law='pytorch_default'", "t_end=2.0"],
    ["kind='histogram'", "n_r=20", "n_theta=80", "r_max=5.0", "t_end=1.0"],
    ["metric='delta'", "delta=1.0", "alpha='m'", "dtype='float32'", "method='rk4'", "t_end=0.5"],
])
def test_every_solver_kind_runs_plots_and_reports(tmp_path, capsys, kind):
    out = tmp_path / "run"
    args = ["run", "--out", str(out), "--set", "m=400", "--set", "progress=false", *[a for item in kind for a in ("--set", item)]]
    assert main(args) == 0, capsys.readouterr().err
    assert "done: t =" in capsys.readouterr().out
    assert sorted(p.name for p in out.glob("*.png")) == ["density.png", "network.png", "rays.png", "residuals.png", "uv.png"]
    assert main(["attractors", str(out)]) == 0
    with h5py.File(sorted((out / "checkpoints").glob("step_*.h5"))[-1], "r") as f:
        names = set(f["state"])
    expected = {"full": {"a", "b", "c"}, "histogram": {"mass_cells", "ray_mass", "zero_mass"}}.get(kind[0].split("'")[1], {"r", "theta", "delta"})
    assert expected <= names


def test_a_file_without_a_trailer_still_has_its_chunk_checksums(tmp_path, capsys):
    """Files written before the SHA-256 trailer (the schema-1 fixture) are checked by HDF5's
    Fletcher-32 and the digest, as before."""
    run = tmp_path / "run-v1"
    shutil.copytree(Path(__file__).parent / "fixtures" / "run-v1", run)
    _flip_bytes_in_dataset(run / "run.h5", "history/rho")
    assert "dataset 'history/rho' cannot be read" in one_line_error(capsys, 2, ["info", str(run / "run.h5")])
