"""The finite-particle vs mean-field tool on a tiny configuration (the full study is a validation run)."""
import numpy as np

from validation import mean_field_limit


def test_mean_field_tool_reports_slope_spread_and_refinement(tmp_path):
    result = mean_field_limit.run(
        "gaussian-4", m_values=(100, 1000), seeds=(0, 1), grid=(30, 60), refine=((20, 40, 1),), figure=tmp_path / "limit.png", verbose=False
    )
    assert set(result.errors) == {100, 1000} and all(len(v) == 2 for v in result.errors.values())
    assert np.isfinite(result.slope) and result.spread > 0 and result.hist_gap > 0
    assert [(row[0], row[2]) for row in result.refinement] == [(20, 1), (30, 2)]  # (n_r, order); n_theta rounds per arc
    assert (tmp_path / "limit.png").stat().st_size > 0
