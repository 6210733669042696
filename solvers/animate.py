"""A movie of a run from its snapshots: ``python -m meanfield animate RUN``.

One frame per snapshot, three panels: the neurons in the uv-plane with the sample lines and
activation regions, the network f with its knots and the samples, and the loss (and the energy,
with a TV regulariser) up to the snapshot's time; titled with t. GIF through Pillow (which
matplotlib brings) always; MP4 where an ffmpeg executable is found: on the PATH, or the one the
``imageio-ffmpeg`` wheel ships (``pip install "meanfield-relu[animate]"``).
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import TextIO

import numpy as np

from meanfield import params, plots

from .runs import Run

FORMATS = (".gif", ".mp4")


def ffmpeg() -> str | None:
    """Path of an ffmpeg executable, or None: the PATH's, else imageio-ffmpeg's."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError:
        return None


def animate(run: Run, out: str | Path | None = None, *, fps: int = 4, stream: TextIO | None = None) -> list[Path]:
    """Write the movie of ``run`` and return the files written.

    ``out``: a .gif or .mp4 file; by default ``animation.gif`` in the run folder, and
    ``animation.mp4`` beside it when ffmpeg is found. A progress bar goes to ``stream``
    (default stderr). ValueError (one line) with fewer than two snapshots, another suffix, or
    an .mp4 asked for without ffmpeg."""
    snaps = run.snapshots
    if len(snaps) < 2:
        raise ValueError(f"{run.path} has {len(snaps)} snapshot(s): a movie needs at least two (set output.snapshots to a shorter cadence)")
    if out is None:
        targets = [run.path / "animation.gif"] + ([run.path / "animation.mp4"] if ffmpeg() else [])
    else:
        target = Path(out)
        if target.suffix.lower() not in FORMATS:
            raise ValueError(f"--out {target}: the movie is written as {' or '.join(FORMATS)}")
        if target.suffix.lower() == ".mp4" and ffmpeg() is None:
            raise ValueError(f"--out {target}: MP4 needs ffmpeg (pip install \"meanfield-relu[animate]\"), or write a .gif")
        targets = [target]
    frames = _Frames(run)
    for target in targets:
        frames.save(target, fps, stream or sys.stderr)
    return targets


class _Frames:
    """The figure and how each snapshot is drawn on it."""

    def __init__(self, run: Run):
        self.run = run
        self.history = run.history
        first, last = run.snapshots[0], run.snapshots[-1]
        self.extent = max(_uv_extent(first), _uv_extent(last))
        x = run.samples.x
        pad = 0.15 * max(x[-1] - x[0], 1.0)
        self.x_range = (x[0] - pad, x[-1] + pad)
        values = np.concatenate([s.network(np.linspace(*self.x_range, 50)) for s in (first, last)] + [run.samples.y])
        span = values.max() - values.min()
        self.y_range = (values.min() - 0.1 * span, values.max() + 0.1 * span)

    def save(self, target: Path, fps: int, stream: TextIO) -> None:
        import matplotlib.pyplot as plt
        from matplotlib.animation import AbstractMovieWriter, FFMpegWriter, FuncAnimation, PillowWriter
        from tqdm.auto import tqdm

        fig, axes = plt.subplots(1, 3, figsize=(15, 5), gridspec_kw=dict(width_ratios=(1, 1.2, 1.2)))
        n = len(self.run.snapshots)
        animation = FuncAnimation(fig, lambda k: self.draw(fig, axes, k), frames=n, blit=False, cache_frame_data=False)
        writer: AbstractMovieWriter
        if target.suffix.lower() == ".gif":
            writer = PillowWriter(fps=fps)
        else:
            writer = FFMpegWriter(fps=fps, codec="libx264", extra_args=["-pix_fmt", "yuv420p"])
        with tqdm(total=n, desc=target.name, unit="frame", file=stream, disable=None) as bar, plt.rc_context({"animation.ffmpeg_path": ffmpeg() or "ffmpeg"}):
            animation.save(target, writer=writer, dpi=80, progress_callback=lambda i, total: bar.update(1))
        plt.close(fig)

    def draw(self, fig, axes, k: int) -> None:
        run, h = self.run, self.history
        snap = run.snapshots[k]
        for ax in axes:
            ax.clear()
        uv, net, loss = axes
        plots.plot_uv(snap, ax=uv, extent=self.extent)
        uv.set_title("neurons in the uv-plane", fontsize="medium")
        plots.plot_network(snap, ax=net)
        net.set_xlim(*self.x_range)
        net.set_ylim(*self.y_range)
        net.set_title("network, knots and samples", fontsize="medium")
        upto = h.step <= snap.step
        loss.semilogy(h.t[upto], h.loss[upto], color="k", lw=1.5, label="loss 1/2 |rho|^2")
        if run.config["solver"]["tv"]:
            loss.semilogy(h.t[upto], h.energy[upto], color="C1", lw=1.5, ls="-.", label="energy, loss + tv int |r|")
        positive = h.loss[h.loss > 0]
        if positive.size:
            loss.set_ylim(positive.min() / 2, positive.max() * 2)
        loss.set_xlim(h.t[0], max(h.t[-1], h.t[0] + 1e-12))
        loss.set_xlabel("t")
        loss.legend(loc="upper right", fontsize="small")
        loss.set_title("loss so far", fontsize="medium")
        fig.suptitle(f"{run.describe()}: t = {snap.t:.4g} (snapshot {k + 1} of {len(run.snapshots)})")
        fig.tight_layout()


def _uv_extent(snapshot) -> float:
    """The half-width of the uv-plane that holds 99% of a state's mass."""
    r, theta, weight = snapshot.atoms()
    u, v = params.uv(np.asarray(r), np.asarray(theta))
    radius = np.hypot(u, v)
    order = np.argsort(radius)
    mass = np.cumsum(np.asarray(weight, dtype=np.float64)[order])
    if not mass.size or mass[-1] <= 0:
        return 1.0
    k = min(int(np.searchsorted(mass, 0.99 * mass[-1])), mass.size - 1)
    return 1.1 * max(float(radius[order][k]), 1e-12)
