import subprocess
import sys
from pathlib import Path

import numpy as np

import meanfield as mf
from meanfield.cli import main
from meanfield.defaults import default_samples

ROOT = Path(__file__).resolve().parents[1]


def test_demo_trains_prints_residuals_and_writes_figure(tmp_path, capsys):
    import solvers

    out = tmp_path / "demo.png"
    assert main(["demo", "--m", "2000", "--t-end", "1", "--quiet", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    samples = default_samples()
    r, theta = mf.defaults.default_particles(2000, seed=0)
    trained = solvers.ParticleSolver(samples, r, theta, dt=0.01).run(t_end=1.0)
    assert f"{mf.residuals(samples, r, theta)[0]:10.4f}" in text
    assert f"{trained.residuals()[0]:9.4f}" in text
    assert f"-> {trained.loss():.6g}" in text
    assert out.stat().st_size > 10_000 and out.read_bytes()[:4] == b"\x89PNG"


def test_too_large_step_warns(tmp_path, capsys):
    assert main(["--m", "500", "--dt", "5", "--t-end", "500", "--quiet", "--out", str(tmp_path / "x.png")]) == 0
    assert "warning: the loss increased" in capsys.readouterr().err


def test_divergence_is_a_clear_error(tmp_path, capsys, monkeypatch):
    import solvers

    def diverge(self, **kwargs):
        raise solvers.DivergenceError("the state is no longer finite at step 3 (t = 0.03)")

    monkeypatch.setattr(solvers.ParticleSolver, "run", diverge)
    assert main(["--m", "100", "--quiet", "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the state is no longer finite at step 3") and "smaller --dt" in err


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("0, 1\nnan, 2\n")
    for args in (["--samples", str(bad)], ["demo", "--m", "0"], ["--samples", str(tmp_path / "missing.csv")]):
        proc = subprocess.run([sys.executable, "-m", "meanfield", *args], capture_output=True, text=True, cwd=ROOT)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
    assert "non-finite" in subprocess.run(
        [sys.executable, "-m", "meanfield", "--samples", str(bad)], capture_output=True, text=True, cwd=ROOT
    ).stderr


def test_shipped_default_equals_embedded_default():
    shipped = mf.Samples.from_csv(ROOT / "data" / "samples" / "sine8.csv")
    embedded = default_samples()
    np.testing.assert_array_equal(shipped.x, embedded.x)
    np.testing.assert_array_equal(shipped.y, embedded.y)
