"""
A sweep's summary
=================

A sweep over m and the seed, opened as a collection of runs with its summary as a table.
"""
import tempfile

import matplotlib.pyplot as plt
import numpy as np

import meanfield as mf
from solvers import cli

folder = tempfile.mkdtemp() + "/sweep"
cli.main(["sweep", "--out", folder, "--workers", "1", "--set", "m=[300, 1000, 3000]", "--set", "seed=[0, 1]",
          "--set", "t_end=10", "--set", "progress=false"])
sweep = mf.open_run(folder)
table = sweep.summary
for row in zip(table["folder"], table["init.m"], table["init.seed"], table["loss"]):
    print(*row)

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
for seed, marker in ((0, "o"), (1, "s")):
    pick = table["init.seed"] == seed
    left.loglog(table["init.m"][pick], table["loss"][pick], marker, ls="-", label=f"seed {seed}")
left.set_xlabel("m")
left.set_ylabel("loss at t = 10")
left.set_title("final loss over the sweep")
left.legend()
for run in sweep:
    right.semilogy(run.history.t, run.history.loss, label=f"m = {run.config['init']['m']}, seed {run.config['init']['seed']}")
right.set_xlabel("t (mean-field time)")
right.set_title("loss over time, every run of the sweep")
right.legend(fontsize="x-small")
fig.tight_layout()
print(f"{len(sweep)} runs, all complete: {bool(np.all(table['status'] == 'complete'))}")
