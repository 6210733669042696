"""The examples of the README and of the user guide run as written (with small m and short
horizons); the gallery's scripts run in the docs build."""
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import mpiexec

ROOT = Path(__file__).resolve().parents[1]


def blocks(page, language):
    return re.findall(rf"```{language}\n(.*?)```", (ROOT / page).read_text(), flags=re.S)


def small(command, runs):
    """A documented command at test size, writing under ``runs``."""
    command = command.split("#")[0].strip()
    command = command.replace("--set m=1e6", "--set m=2000 --set t_end=1 --set snapshots=0.25 --set progress=false").replace("--t-end 300", "--t-end 1.5")
    command = command.replace("runs/a", str(runs / "a")).replace("runs/s", str(runs / "s")).replace("python ", f"{sys.executable} ", 1)
    return command.replace("[1e3, 1e4]", "[300, 600]").replace("t_end=5", "t_end=0.5")


def run_commands(lines, cwd):
    printed = {}
    for line in lines:
        command = small(line, cwd / "runs")
        if not command:
            continue
        proc = subprocess.run(command, shell=True, cwd=cwd, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, (command, proc.stderr)
        printed[line.split()[3]] = proc.stdout
    return printed


def test_readme_commands_and_python_run(tmp_path, monkeypatch):
    (then,) = [b for b in blocks("README.md", "") if "meanfield config > my.toml" in b]
    printed = run_commands(then.strip().splitlines(), tmp_path)
    assert "done: t = 1.5" in printed["resume"] and "animation.gif" in printed["animate"]
    (code,) = blocks("README.md", "python")
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(code.replace('"runs/a"', repr(str(tmp_path / "runs" / "a"))), "README.md", "exec"), namespace)  # noqa: S102
    assert namespace["solver"].step == namespace["run"].snapshots[2].step


def test_user_guide_commands_run(tmp_path, monkeypatch):
    (config,) = [b for b in blocks("docs/guide/configuration.md", "") if "meanfield config > my.toml" in b]
    (runs,) = [b for b in blocks("docs/guide/runs.md", "") if "meanfield resume" in b]
    (sweep,) = [b for b in blocks("docs/guide/sweeps.md", "") if "meanfield sweep --out" in b]
    printed = run_commands([*config.strip().splitlines(), *runs.strip().splitlines()[1:], *sweep.strip().splitlines()], tmp_path)
    folder = tmp_path / "runs" / "a"
    assert "done: t = 1.5" in printed["resume"]
    assert "summary:" in printed["sweep"] and (tmp_path / "runs" / "s" / "summary.csv").read_text().count("complete") == 4
    assert "history:" in printed["info"] and ("changes" in printed["attractors"] or "no ray changed" in printed["attractors"])
    assert sorted(p.name for p in folder.glob("*.png")) == ["density.png", "network.png", "rays.png", "residuals.png", "uv.png"]
    assert (folder / "animation.gif").exists()
    # the guide's analysis block, on that run
    opening = next(b for b in blocks("docs/guide/analysis.md", "python") if "open_run" in b)
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(opening.replace('"runs/a"', repr(str(folder))), "analysis.md", "exec"), namespace)  # noqa: S102
    assert namespace["data"].sizes["sample"] == 8 and namespace["solver"].step > namespace["run"].snapshots[3].step


def test_regularised_guide_example_runs(monkeypatch):
    pytest.importorskip("clarabel")
    code = next(b for b in blocks("docs/guide/regularised.md", "python") if "optimum(samples" in b)
    monkeypatch.chdir(ROOT)
    namespace = {}
    exec(compile(code, "regularised.md", "exec"), namespace)  # noqa: S102
    best = namespace["best"]
    assert f"{best.energy:.10f}".startswith("0.0728912717") and best.weights.size == 3 and abs(best.gap) < 1e-11
    assert namespace["dual_value"](namespace["samples"], namespace["rho"], 0.02) <= best.energy


def test_user_guide_solver_example_runs(monkeypatch):
    code = next(b for b in blocks("docs/guide/analysis.md", "python") if "m = 10**6" in b)
    monkeypatch.chdir(ROOT)
    namespace = {}
    exec(compile(code.replace("m = 10**6", "m = 3000"), "analysis.md", "exec"), namespace)  # noqa: S102
    run, hist, state = namespace["run"], namespace["hist"], namespace["state"]
    assert run.t == 10.0 and run.history.rho.shape == (101, 8)
    assert hist.mass()["outflow"] < 1e-3 and abs(hist.mass()["total"] - 1) < 1e-6
    assert set(state) >= {"r", "theta", "t", "step", "rng"}
    # the particles and the mean-field limit tell the same story at m = 3000 (propagation of chaos)
    assert np.abs(run.residuals() - hist.residuals()).max() < 0.1


def test_no_file_points_outside_the_repository():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout")
    for name in tracked:
        path = ROOT / name
        if path.suffix in (".py", ".md", ".cfg", ".toml", ".txt", "") and path.is_file():
            assert "../" + "shared" not in path.read_text(errors="ignore"), name


@pytest.mark.mpi
def test_mpi_example_runs(tmp_path):
    """The sharded-run block, on 2 ranks with a small m; the resumed run's particles come back whole."""
    import os

    import h5py

    launcher = mpiexec()
    (commands,) = [b for b in blocks("docs/guide/mpi.md", "") if "mpiexec -n 4 python -m meanfield run" in b]
    env = dict(os.environ, NUMBA_NUM_THREADS="1")
    for line in commands.strip().splitlines():
        command = line.split("#")[0].strip()
        if command.startswith("pip install"):
            continue  # the test extra holds mpi4py and mpich already
        command = command.replace("mpiexec -n 4", "mpiexec -n 2").replace("mpiexec", launcher, 1).replace("python ", f"{sys.executable} ", 1)
        command = command.replace("run my.toml", "run").replace("--set m=1e8", "--set m=40000 --set t_end=0.2 --set figures=false")
        command = command.replace("--t-end 300", "--t-end 0.3")
        proc = subprocess.run(command, shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
        assert proc.returncode == 0, (command, proc.stderr)
    newest = sorted((tmp_path / "runs" / "big" / "checkpoints").glob("*.h5"))[-1]
    with h5py.File(newest) as f:
        assert f["state/r"].shape == (40000,) and abs(f["state"].attrs["t"] - 0.3) < 1e-12
