"""Sweeps: expansion of list values, a pool of worker processes, the summary, skip and resume."""
import csv

import numpy as np
import pytest

from meanfield.h5io import read_file
from solvers import config as cfg
from solvers import job, sweep
from solvers.cli import main
from solvers.runs import open_run
from tests.helpers import mpiexec

SETS = ["m=[300, 800]", "seed=[0, 1]", "t_end=1.0", "checkpoints=0.25", "history=0.1"]


def test_expansion_is_the_product_in_schema_order_and_lists_of_lists_sweep_list_keys():
    runs = sweep.expand(overrides=["seed=[0, 1, 2]", "m=[1e2, 1e3]", "train=[['c'], ['a', 'b']]", "x=[0.1, 0.5]", "y=[1.0, 2.0]"])
    assert [tuple(p.values()) for p, _ in runs] == [(m, s, t) for m in (100, 1000) for s in (0, 1, 2) for t in (["c"], ["a", "b"])]
    assert all(c["samples"]["x"] == [0.1, 0.5] and isinstance(c["init"]["m"], int) for _, c in runs)
    assert sweep.folder_name(7, runs[0][0]) == "007_m=100_seed=0_train=c"


def test_a_bad_value_names_the_key_and_the_run(capsys, tmp_path):
    assert main(["sweep", "--out", str(tmp_path / "s"), "--set", "dt=[0.1, -1.0]"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: solver.dt must be positive, got -1.0 (in the run solver.dt=-1.0)") and err.count("\n") == 1


def test_sweep_summary_equals_single_runs_then_skips_and_resumes(tmp_path, capsys):
    out = tmp_path / "sweep"
    assert main(["sweep", "--out", str(out), "--workers", "2", *[a for s in SETS for a in ("--set", s)]]) == 0
    rows = list(csv.DictReader(open(out / "summary.csv")))
    assert [(r["init.m"], r["init.seed"], r["status"]) for r in rows] == [("300", "0", "complete"), ("300", "1", "complete"),
                                                                          ("800", "0", "complete"), ("800", "1", "complete")]
    # the run with m = 800, seed = 1 alone, in this process (2 threads, against 1 in the workers): the same bits
    config = cfg.load(None, ["m=800", "seed=1", "t_end=1.0", "checkpoints=0.25", "history=0.1", "progress=false", "figures=false"])
    alone = job.start(config, tmp_path / "alone").solver.residuals()
    arrays, attrs = read_file(out / "summary.h5", schema=sweep.SCHEMA_NAME, version=sweep.SCHEMA_VERSION)
    assert arrays["runs/rho"][3].tobytes() == alone.tobytes()
    assert list(arrays["runs/folder"]) == [r["folder"] for r in rows] and attrs["/"]["swept"] == "init.m,init.seed"
    capsys.readouterr()
    # an interrupted run: its last checkpoint lost, it resumes from the one before; the others are skipped
    victim = out / rows[1]["folder"]
    checkpoints = sorted((victim / "checkpoints").glob("step_*.h5"))
    checkpoints[-1].unlink()
    before = open_run(victim).solver().step
    assert main(["sweep", "--out", str(out), *[a for s in SETS for a in ("--set", s)]]) == 0
    text = capsys.readouterr().out
    assert text.count(": skipped, complete") == 3 and f"{rows[1]['folder']}: resumed, complete" in text
    again = read_file(out / "summary.h5", schema=sweep.SCHEMA_NAME, version=sweep.SCHEMA_VERSION)[0]
    assert again["runs/rho"].tobytes() == arrays["runs/rho"].tobytes() and before < 100
    assert main(["info", str(out / "summary.h5")]) == 0
    assert "sweep over init.m,init.seed: 4 runs, status complete" in capsys.readouterr().out


def test_workers_must_be_positive(capsys, tmp_path):
    assert main(["sweep", "--out", str(tmp_path), "--workers", "0"]) == 2
    assert "--workers must be a positive number" in capsys.readouterr().err


@pytest.mark.parametrize("value", [[1, 2], np.arange(3)])
def test_folder_names_are_plain(value):
    name = sweep.folder_name(1, {"solver.train": value if isinstance(value, list) else value.tolist()})
    assert all(c.isalnum() or c in "=._-" for c in name)


def test_sample_files_sweep_relative_to_the_configuration(tmp_path):
    for name, y in (("a.csv", "1.0"), ("b.csv", "2.0")):
        (tmp_path / name).write_text(f"0.5, {y}\n-0.5, 0.0\n")
    config = tmp_path / "sweep.toml"
    config.write_text("[samples]\nfile = ['a.csv', 'b.csv']\n")
    runs = sweep.expand(config)
    assert [c["samples"]["file"] for _, c in runs] == [str(tmp_path / "a.csv"), str(tmp_path / "b.csv")]
    assert job.build_samples(runs[1][1]).y.tolist() == [0.0, 2.0]


@pytest.mark.mpi
def test_sweep_under_mpi4py_futures_gives_the_local_summary(tmp_path):
    """mpiexec -n 2 python -m mpi4py.futures -m meanfield sweep --mpi: rank 0 runs the sweep, rank 1
    the runs; the summary equals the local pool's bit for bit."""
    import subprocess
    import sys

    launcher = mpiexec()
    sets = [a for s in SETS for a in ("--set", s)]
    assert main(["sweep", "--out", str(tmp_path / "local"), "--workers", "2", *sets]) == 0
    proc = subprocess.run([launcher, "-n", "2", sys.executable, "-m", "mpi4py.futures", "-m", "meanfield", "sweep", "--out",
                           str(tmp_path / "mpi"), "--mpi", *sets], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "MPI ranks" in proc.stdout
    local = read_file(tmp_path / "local" / "summary.h5", schema=sweep.SCHEMA_NAME, version=sweep.SCHEMA_VERSION)[0]
    ranks = read_file(tmp_path / "mpi" / "summary.h5", schema=sweep.SCHEMA_NAME, version=sweep.SCHEMA_VERSION)[0]
    for name in ("runs/rho", "runs/loss", "runs/step", "runs/t", "runs/folder", "runs/status"):
        assert np.asarray(local[name]).tobytes() == np.asarray(ranks[name]).tobytes(), name
