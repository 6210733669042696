"""
Open and analyse a finished run
===============================

Run the default problem at small m with four snapshots (t = 0, 5, 10, 15) by three methods,
then, with :func:`meanfield.open_run` alone: the history as xarray, the snapshot nearest a time,
a solver rebuilt at each snapshot and continued to the next one (bit for bit), and the mass on
the rays over time.
"""
import tempfile

import matplotlib.pyplot as plt
import numpy as np

import meanfield as mf
from solvers import cli

METHODS = {
    "euler": ["solver.method='euler'"],
    "sliding": ["solver.method='sliding'"],
    "histogram": ["solver.kind='histogram'", "n_r=50", "n_theta=160", "r_max=10.0"],
}
root = tempfile.mkdtemp()
for name, settings in METHODS.items():
    args = ["run", "--out", f"{root}/{name}", "--set", "m=4000", "--set", "t_end=15", "--set", "snapshots=5.0",
            "--set", "progress=false", "--set", "figures=false"]
    for item in settings:
        args += ["--set", item]
    cli.main(args)

# %%
# A run, read back from its folder: the history as an xarray Dataset
run = mf.open_run(f"{root}/euler")
print(run)
data = run.history.to_xarray()
print(data)

# %%
# The snapshot nearest t = 6
snap = run.snapshots.at(6.0)
print(snap, "holds", sorted(k for k, v in snap.state.items() if isinstance(v, np.ndarray)))

# %%
# Each run rebuilt at each snapshot and continued, as the run did, to the next snapshot: the bits
# of the next snapshot come back
same = {}
for name in METHODS:
    run = mf.open_run(f"{root}/{name}")
    for i in range(len(run.snapshots) - 1):
        solver = run.solver(snapshot=i)
        solver.run(t_end=run.t_end, steps=int(run.snapshots[i + 1].step - run.snapshots[i].step))
        stored = run.snapshots[i + 1].state
        same[name, i] = all(np.array_equal(value, stored[key]) if isinstance(value, np.ndarray) else value == stored[key]
                            for key, value in solver.state().items())
    print(f"{name}: snapshot i continued to snapshot i + 1 gives its bits for i = 0, 1, 2: {[same[name, i] for i in range(3)]}")

# %%
# Mass on the rays over time, for r > 0 and r < 0: explicit Euler particles within 1e-3 rad of a
# ray, sliding particles and the histogram on the ray itself
fig, axes = plt.subplots(1, 3, figsize=(14, 4), sharey=True)
masses = {}
for ax, name in zip(axes, METHODS):
    run = mf.open_run(f"{root}/{name}")
    masses[name] = np.array([s.ray_mass() for s in run.snapshots])  # (snapshots, 2s, 2)
    reg = run.samples.regions
    for k in np.flatnonzero(masses[name][-1].max(axis=1) > 0.02):
        side = "on" if reg.switches_on[k] else "off"
        for col, style in ((0, "-"), (1, "--")):
            if masses[name][-1, k, col] > 0.005:
                ax.plot(run.snapshots.t, masses[name][:, k, col], style, marker="o",
                        label=f"{side}-ray of x = {run.samples.x[reg.sample_of[k]]:.2f}, r {'>' if col == 0 else '<'} 0")
    ax.set_xlabel("t (mean-field time)")
    ax.set_title(f"{name}: {run.describe()}", fontsize="small")
    ax.legend(fontsize="x-small", loc="center right")
axes[0].set_ylabel("mass on the ray")
fig.suptitle("neurons gathering on boundary rays (default problem, m = 4000)")
fig.tight_layout()
