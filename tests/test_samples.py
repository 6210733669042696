import numpy as np
import pytest

import meanfield as mf


def test_sorts_by_x_stably_and_keeps_order():
    s = mf.Samples([3.0, -1.0, 3.0, 0.5], [1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(s.x, [-1.0, 0.5, 3.0, 3.0])
    np.testing.assert_array_equal(s.y, [2.0, 4.0, 1.0, 3.0])  # equal x keep their given order
    np.testing.assert_array_equal(s.order, [1, 3, 0, 2])
    assert s.s == 4
    np.testing.assert_array_equal(s.xt, [[-1, 1], [0.5, 1], [3, 1], [3, 1]])


@pytest.mark.parametrize(
    "x, y, message",
    [
        ([], [], "empty"),
        ([1.0, 2.0], [1.0], "same length"),
        ([1.0, np.nan], [1.0, 2.0], "non-finite"),
        ([1.0, 2.0], [np.inf, 2.0], "non-finite"),
        ([[1.0, 2.0]], [[1.0, 2.0]], "one-dimensional"),
        (["a", "b"], [1.0, 2.0], "numbers"),
    ],
)
def test_bad_input_names_the_problem(x, y, message):
    with pytest.raises(ValueError, match=message):
        mf.Samples(x, y)


def test_from_csv(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("# x, y\n1.0, 2.0\n-1.0, 0.5\n")
    s = mf.Samples.from_csv(path)
    np.testing.assert_array_equal(s.x, [-1.0, 1.0])
    path.write_text("1, 2, 3\n")
    with pytest.raises(ValueError, match="two columns"):
        mf.Samples.from_csv(path)
