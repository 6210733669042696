"""
The attractor timeline of a run
===============================

Which boundary rays attract or repel neurons, for each sign of r, as the residuals change
during a run (condition (14) in its two-sided form), with the events where a ray changes state.
"""
import tempfile

import matplotlib.pyplot as plt

import meanfield as mf
from meanfield import plots
from solvers import cli

folder = tempfile.mkdtemp() + "/run"
cli.main(["run", "--out", folder, "--set", "preset='sine8'", "--set", "m=3000", "--set", "t_end=40", "--set", "history=0.5",
          "--set", "progress=false", "--set", "figures=false"])
run = mf.open_run(folder)

classification, events = run.ray_timeline()
for event in events[:8]:
    print(f"t = {event.t:6.2f}: ray of x = {run.samples.x[event.sample]:+.2f}, r {'>' if event.sign > 0 else '<'} 0: {event.before} -> {event.after}")

fig, axes = plt.subplots(2, 1, figsize=(8, 7), sharex=True)
for sign, ax in zip((1, -1), axes):
    plots.plot_ray_timeline(run.samples, run.history, sign=sign, ax=ax)
fig.suptitle(f"ray states over time, sine8, {run.describe()}")
fig.tight_layout()
