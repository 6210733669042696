"""What every claim of ``python -m validation paper`` returns and how it saves its figure."""
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class Outcome:
    """One row of the report."""

    claim: str
    where: str
    measured: float
    threshold: str
    passed: bool
    figure: str = ""
    note: str = ""


def save(fig, out, name):
    """Write ``fig`` as ``out/name`` (110 dpi), close it, return ``name``."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(Path(out) / name, dpi=110)
    plt.close(fig)
    return name


def loglog_slope(x, y):
    """Least-squares slope of log y against log x."""
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])
