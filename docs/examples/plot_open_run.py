"""
Open and analyse a finished run
===============================

Run the default problem at small m with four snapshots, then, with :func:`meanfield.open_run`
alone: the history as xarray, the snapshot nearest a time, a solver rebuilt at a snapshot and
continued to the next one (bit for bit), and the mass on the rays over time.
"""
import tempfile

import matplotlib.pyplot as plt
import numpy as np

import meanfield as mf
from solvers import cli

folder = tempfile.mkdtemp() + "/run"
cli.main(["run", "--out", folder, "--set", "m=5000", "--set", "t_end=30", "--set", "snapshots=10.0",
          "--set", "progress=false", "--set", "figures=false"])

# %%
# The run, read back from its folder
run = mf.open_run(folder)
print(run)
data = run.history.to_xarray()
print(data)

# %%
# The snapshot nearest t = 12, and a solver rebuilt there that continues to the next snapshot
snap = run.snapshots.at(12.0)
solver = run.solver(snapshot=snap.index)
solver.run(t_end=run.t_end, steps=int(run.snapshots[snap.index + 1].step - snap.step))
same = all(np.array_equal(solver.state()[k], v) for k, v in run.snapshots[snap.index + 1].state.items() if isinstance(v, np.ndarray))
print(f"snapshot {snap.index} (t = {snap.t:g}) continued to t = {solver.t:g}: the next snapshot's bits: {same}")

# %%
# Mass on the rays over time, for r > 0 and r < 0, and the residuals
masses = np.array([s.ray_mass() for s in run.snapshots])  # (snapshots, 2s, 2)
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
for k in np.flatnonzero(masses[-1].sum(axis=1) > 0.02):
    x, side = run.samples.x[run.samples.regions.sample_of[k]], "on" if run.samples.regions.switches_on[k] else "off"
    for col, style in ((0, "-"), (1, "--")):
        left.plot(run.snapshots.t, masses[:, k, col], style, marker="o", label=f"{side}-ray of x = {x:.2f}, r {'>' if col == 0 else '<'} 0")
left.set_xlabel("t (mean-field time)")
left.set_ylabel("share of neurons within 1e-3 rad")
left.set_title("neurons gathering on boundary rays")
left.legend(fontsize="x-small")
data["rho"].plot.line(x="time", ax=right, add_legend=False)
right.set_title("residuals rho_j(t), one line per sample")
fig.tight_layout()
