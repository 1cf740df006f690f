"""Compiled one-pass versions of the model's per-message outcomes give exactly the outcomes of
the NumPy functions they fuse, in both float types the engine hands them: every uniform is put
at, or one step either side of, the probability the NumPy functions compute, so a difference
in the last bit of any probability flips an outcome and fails the test."""

from __future__ import annotations

import numpy as np
import pytest

from sim.model import lapse, response
from sim.model import satisfaction as sat


class _Channel:
    open, click, exit, complaint = 0.2, 0.1, 0.003, 0.0004


def _around(p: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Uniforms at p (as float64), or the next float64 above or below it."""
    p = np.asarray(p, dtype=np.float64)
    step = rng.integers(-1, 2, p.size)
    return np.where(step < 0, np.nextafter(p, 0), np.where(step > 0, np.nextafter(p, 1), p))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("banded", [False, True])
def test_exits_and_complaints_are_those_of_the_probabilities(dtype, banded) -> None:
    rng = np.random.default_rng(7)
    n = 20_000
    hazard = np.exp(rng.normal(0.0, 3.0, n)).astype(dtype)
    idx = np.sort(rng.choice(3 * n, n, replace=False))
    s0 = rng.uniform(40, 95, 3 * n)
    delta = rng.normal(0, 8, n).astype(np.float32)
    table = np.array([2.0, 1.3, 1.0, 0.8, 0.7]) / 1.01
    expected = hazard
    if banded:
        expected = hazard * sat.level_multiplier(s0.take(idx) + delta, table)
    for rate, which in ((_Channel.exit, 1), (_Channel.complaint, 2)):
        p = np.minimum(rate * expected, 1.0)
        u = _around(p, rng)
        level = (s0, idx, delta, table) if banded else None
        got = response.exits_and_complaints(_Channel, hazard, u, level)
        assert got[0].dtype == expected.dtype and np.array_equal(got[0], expected)
        truth = u < (
            response.exit_probability(_Channel, expected)
            if which == 1
            else response.complaint_probability(_Channel, expected)
        )
        assert np.array_equal(got[which], truth)
        assert 0 < truth.sum() < n  # both outcomes occur: the comparison is exercised


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("relevance", ["scalar", "float32", "float64"])
def test_judged_lapse_is_that_of_the_probabilities(dtype, relevance) -> None:
    rng = np.random.default_rng(3)
    n = 20_000
    idx = np.sort(rng.choice(2 * n, n, replace=False))
    lapsed = rng.random(2 * n) < 0.4
    opened, clicked = rng.random(n) < 0.5, rng.random(n) < 0.2
    clicked &= opened
    hazard = np.exp(rng.normal(0.0, 2.0, n)).astype(dtype)
    r = 0.35 if relevance == "scalar" else rng.random(n).astype(relevance)
    per_open, per_click, contact = 0.05, 0.1, 0.02
    was = lapsed.take(idx)
    p_revive = lapse.winback_probability(r, clicked, per_open, per_click)
    p_lapse = lapse.contact_lapse_probability(hazard, contact)
    u = _around(np.where(was, p_revive, p_lapse), rng)
    revived, lapsing = lapse.judged(
        lapsed, idx, r, opened, clicked, hazard, u, per_open, per_click, contact
    )
    assert np.array_equal(revived, (was & opened & (u < p_revive)).nonzero()[0])
    assert np.array_equal(lapsing, (~was & (u < p_lapse)).nonzero()[0])
    assert revived.size and lapsing.size
