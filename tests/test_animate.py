"""meanfield animate: one frame per snapshot, read back from the files it writes."""
import shutil

import numpy as np
import pytest
from PIL import Image

from solvers import cli
from solvers.animate import ffmpeg
from solvers.runfolder import RunFolder
from solvers.runs import open_run


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("animate") / "run"
    args = ["run", "--out", str(folder)]
    for item in ["m=1500", "t_end=3", "snapshots=1.0", "tv=0.01", "progress=false", "figures=false"]:
        args += ["--set", item]
    assert cli.main(args) == 0
    return folder


def test_the_gif_has_a_frame_per_snapshot(run_folder, tmp_path, capsys):
    out = tmp_path / "movie.gif"
    assert cli.main(["animate", str(run_folder), "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    with Image.open(out) as gif:
        assert gif.n_frames == 4
        frames = []
        for k in range(gif.n_frames):
            gif.seek(k)
            frames.append(np.asarray(gif.convert("RGB"), dtype=np.int16))
    assert frames[0].shape[1] > frames[0].shape[0] > 300  # three panels side by side
    assert all(np.abs(a - b).mean() > 0.5 for a, b in zip(frames, frames[1:]))  # the neurons move


@pytest.mark.skipif(ffmpeg() is None, reason="no ffmpeg (the imageio-ffmpeg wheel of the test extra brings one)")
def test_the_mp4_has_a_frame_per_snapshot(run_folder):
    import imageio_ffmpeg

    assert cli.main(["animate", str(run_folder)]) == 0  # the default: a GIF, and an MP4 beside it
    assert (run_folder / "animation.gif").exists()
    frames, _ = imageio_ffmpeg.count_frames_and_secs(str(run_folder / "animation.mp4"))
    assert frames == 4


def test_a_histogram_run_animates(tmp_path):
    folder = tmp_path / "hist"
    args = ["run", "--out", str(folder)]
    for item in ["solver.kind='histogram'", "n_r=20", "n_theta=80", "t_end=2", "snapshots=1.0", "progress=false", "figures=false"]:
        args += ["--set", item]
    assert cli.main(args) == 0
    assert cli.main(["animate", str(folder), "--out", str(tmp_path / "hist.gif")]) == 0
    with Image.open(tmp_path / "hist.gif") as gif:
        assert gif.n_frames == 3


def test_bad_requests_are_one_line(run_folder, tmp_path, capsys):
    assert cli.main(["animate", str(run_folder), "--out", str(tmp_path / "movie.avi")]) == 2
    assert cli.main(["animate", str(run_folder), "--fps", "0"]) == 2
    few = tmp_path / "few"  # the run file indexes its first snapshot alone
    shutil.copytree(run_folder, few)
    run = open_run(few)
    RunFolder(few).write_run(run.kind, run.config_text, run.samples, run.history, [(0.0, 0)])
    assert cli.main(["animate", str(few)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("error: ") for line in err)
    assert "at least two" in err[-1]
