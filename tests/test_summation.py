"""The compiled total adds in NumPy's order: the same bits as ``ndarray.sum``."""

from __future__ import annotations

import numpy as np
import pytest

from sim.engine.summation import total

LENGTHS = [*range(0, 300), 1023, 1024, 1025, 4097, 8191, 8192, 8193, 65_537, 250_003]


@pytest.mark.parametrize("law", ["spend", "signed", "large_offset"])
def test_total_is_numpys_sum_bit_for_bit(law) -> None:
    rng = np.random.default_rng(17)
    for n in LENGTHS:
        if law == "spend":
            a = rng.gamma(0.5, 300.0, n)
        elif law == "signed":
            a = rng.standard_normal(n) * 10.0 ** rng.integers(-3, 6, n)
        else:  # where the order of additions shows most
            a = 1e8 + rng.random(n)
        assert np.float64(total(a)).tobytes() == a.sum().tobytes(), n


def test_total_keeps_numpys_signed_zeros() -> None:
    for a in ([], [-0.0], [-0.0] * 9, [-0.0] * 200, [0.0, -0.0]):
        x = np.array(a, dtype=np.float64)
        assert np.float64(total(x)).tobytes() == x.sum().tobytes()


def test_a_different_order_is_caught() -> None:
    """The test can fail: summing the same numbers in sequence differs in the last bits."""
    rng = np.random.default_rng(3)
    a = 1e8 + rng.random(5000)
    sequential = 0.0
    for x in a:
        sequential += x
    assert sequential != a.sum()
