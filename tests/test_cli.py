import subprocess
import sys
from pathlib import Path

import numpy as np

import meanfield as mf
from meanfield.cli import main
from meanfield.defaults import default_samples

ROOT = Path(__file__).resolve().parents[1]


def test_demo_prints_residuals_and_writes_figure(tmp_path, capsys):
    out = tmp_path / "demo.png"
    assert main(["demo", "--m", "2000", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    samples = default_samples()
    r, theta = mf.defaults.default_particles(2000, seed=0)
    rho = mf.residuals(samples, r, theta)
    assert f"{rho[0]:10.4f}" in text and "loss L" in text
    assert out.stat().st_size > 10_000 and out.read_bytes()[:4] == b"\x89PNG"


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
