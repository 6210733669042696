"""The README's examples run as written (with small m and short horizons)."""
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def blocks(language):
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_python_example_runs(monkeypatch):
    (code,) = blocks("python")
    assert "m = 10**6" in code
    monkeypatch.chdir(ROOT)
    namespace = {}
    exec(compile(code.replace("m = 10**6", "m = 3000"), "README.md", "exec"), namespace)  # noqa: S102
    run, hist, state = namespace["run"], namespace["hist"], namespace["state"]
    assert run.t == 10.0 and run.history.rho.shape == (101, 8)
    assert hist.mass()["outflow"] < 1e-3 and abs(hist.mass()["total"] - 1) < 1e-6
    assert set(state) >= {"r", "theta", "t", "step", "rng"}
    # the particles and the mean-field limit tell the same story at m = 3000 (propagation of chaos)
    assert np.abs(run.residuals() - hist.residuals()).max() < 0.1


def test_command_line_examples_run(tmp_path):
    (commands,) = [b for b in blocks("") if "meanfield config > my.toml" in b]
    runs = tmp_path / "runs"
    printed = {}
    for line in commands.strip().splitlines():
        command = line.split("#")[0].strip()
        command = command.replace("--set m=1e6", "--set m=2000 --set t_end=1 --set progress=false").replace("--t-end 300", "--t-end 1.5")
        command = command.replace("runs/a", str(runs / "a")).replace("runs/s", str(runs / "s")).replace("python ", f"{sys.executable} ", 1)
        command = command.replace("[1e3, 1e4]", "[300, 600]").replace("t_end=5", "t_end=0.5")
        proc = subprocess.run(command, shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, (command, proc.stderr)
        printed[line.split()[3]] = proc.stdout
    assert "done: t = 1.5" in printed["resume"]
    assert "summary:" in printed["sweep"] and (runs / "s" / "summary.csv").read_text().count("complete") == 4
    assert "history:" in printed["info"] and "changes" in printed["attractors"] or "no ray changed" in printed["attractors"]
    assert sorted(p.name for p in (runs / "a").glob("*.png")) == ["density.png", "network.png", "rays.png", "residuals.png", "uv.png"]
