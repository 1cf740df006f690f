"""Effects go in the right direction: volume, relevance, caps, offers and tolerance.

Every comparison is paired by replication: all strategies of a replication share the
population and the random numbers (common random numbers), and two scenarios that differ only
in a population parameter share the same draws under the same seed. A claim "A > B" passes when
the lower end of the one-sided 95% Student-t interval of the paired differences A - B over the
replications lies above 0. Seeds are fixed.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from builders import email_every, nordic, nordic_data
from scipy import stats

from sim.engine.runner import run_replications
from sim.spec.scenario import Scenario

SIZE, REPLICATIONS, SEED, JOBS = 4000, 4, 97, 2
ALPHA = 0.05


def run(scenario: Scenario) -> pd.DataFrame:
    """Summary with derived columns: per-member exits and the mean of the weekly pressure."""
    summary, timeseries, _ = run_replications(scenario, REPLICATIONS, SEED, JOBS)
    members = summary["members_start"] + summary["members_joined"]
    summary["exits_email_per_member"] = summary["exits_email"] / members
    summary["exits"] = summary[["exits_email", "exits_sms", "exits_push"]].sum(axis=1)
    summary["sends"] = summary[["sends_email", "sends_sms", "sends_push"]].sum(axis=1)
    weekly = timeseries.groupby(["strategy", "replication"])["pressure_mean"].mean()
    weekly = weekly.rename("pressure_weekly_mean").reset_index()
    return summary.merge(weekly, on=["strategy", "replication"], validate="one_to_one")


def values(summary: pd.DataFrame, strategy: str, kpi: str) -> np.ndarray:
    """One strategy's KPI, ordered by replication so that strategies pair row by row."""
    rows = summary[summary["strategy"] == strategy].sort_values("replication")
    assert list(rows["replication"]) == list(range(REPLICATIONS))
    return rows[kpi].to_numpy(dtype=float)


def assert_greater(a: np.ndarray, b: np.ndarray, label: str, alpha: float = ALPHA) -> None:
    """a > b: the one-sided (1 - alpha) t-interval of the paired differences is above 0."""
    diffs = a - b
    n = diffs.size
    if np.all(diffs == diffs[0]):
        bound = float(diffs[0])
    else:
        half = stats.t.ppf(1 - alpha, n - 1) * diffs.std(ddof=1) / math.sqrt(n)
        bound = float(diffs.mean() - half)
    assert bound > 0, (
        f"{label}: paired differences {np.round(diffs, 6)}, one-sided {1 - alpha:.0%} "
        f"lower bound {bound:.6g} is not above 0"
    )


# --- one run holds the volume, relevance, caps and offer comparisons -----------------------------


def plans() -> dict[str, Any]:
    shipped = nordic_data()["strategies"]
    no_offer = copy.deepcopy(shipped["business_as_usual"])
    del no_offer["campaigns"]["bonus_push"]["offer"]
    return {
        "email_1": email_every(1, 0.5),
        "email_3": email_every(3, 0.5),
        "email_7": email_every(7, 0.5),
        "relevance_low": email_every(2, 0.3),
        "relevance_high": email_every(2, 0.7),
        "uncapped": shipped["push_growth_2023"],
        # The shipped capped plan extends the growth plan, which is called uncapped here.
        "capped": {**shipped["capped"], "extends": "uncapped"},
        "bonus_offer": shipped["business_as_usual"],
        "no_offer": no_offer,
    }


@pytest.fixture(scope="module")
def summary() -> pd.DataFrame:
    return run(nordic(SIZE, plans()))


def compare(summary: pd.DataFrame, high: str, low: str, kpi: str, sign: int) -> None:
    """Assert that ``high`` has the larger KPI (sign +1) or the smaller one (sign -1)."""
    a, b = values(summary, high, kpi), values(summary, low, kpi)
    if sign > 0:
        assert_greater(a, b, f"{kpi}: {high} > {low}")
    else:
        assert_greater(b, a, f"{kpi}: {high} < {low}")


# More messages -> more pressure. Pressure is averaged over every member in the program, and
# members who left the email channel carry none, so at volumes where most subscribers leave
# (7 a week) the average no longer tracks volume; 1 against 3 a week is the clean comparison.
@pytest.mark.slow
@pytest.mark.parametrize("kpi", ["pressure_weekly_mean", "pressure_mean"])
def test_more_email_raises_pressure(summary: pd.DataFrame, kpi: str) -> None:
    compare(summary, "email_3", "email_1", kpi, +1)


@pytest.mark.slow
@pytest.mark.parametrize(("more", "fewer"), [("email_3", "email_1"), ("email_7", "email_3")])
def test_more_email_raises_exits(summary: pd.DataFrame, more: str, fewer: str) -> None:
    compare(summary, more, fewer, "exits_email_per_member", +1)


@pytest.mark.slow
@pytest.mark.parametrize(("more", "fewer"), [("email_3", "email_1"), ("email_7", "email_3")])
def test_more_email_lowers_satisfaction(summary: pd.DataFrame, more: str, fewer: str) -> None:
    compare(summary, more, fewer, "satisfaction_index", -1)


# More relevance at equal volume (2 emails a week, relevance 0.7 against 0.3) -> less fatigue.
@pytest.mark.slow
@pytest.mark.parametrize(
    ("kpi", "sign"),
    [
        ("pressure_weekly_mean", -1),
        ("pressure_mean", -1),
        ("exits_email_per_member", -1),
        ("satisfaction_index", +1),
        ("open_rate_email", +1),
    ],
)
def test_relevance_at_equal_volume_reduces_fatigue(
    summary: pd.DataFrame, kpi: str, sign: int
) -> None:
    assert values(summary, "relevance_high", "sends_email")[0] > 0
    compare(summary, "relevance_high", "relevance_low", kpi, sign)


def test_capped_and_uncapped_plans_differ_only_in_caps() -> None:
    # The comparison below is meaningful only if the shipped plans are the same but for caps.
    shipped = nordic(SIZE, plans()).strategies
    assert shipped["capped"].campaigns == shipped["uncapped"].campaigns
    assert shipped["capped"].caps and not shipped["uncapped"].caps


@pytest.mark.slow
@pytest.mark.parametrize(
    "kpi", ["sends", "sends_email", "sends_sms", "exits", "exits_email", "exits_sms"]
)
def test_contact_caps_reduce_sends_and_exits(summary: pd.DataFrame, kpi: str) -> None:
    compare(summary, "capped", "uncapped", kpi, -1)


@pytest.mark.slow
def test_points_multiplier_offer_raises_points_issued(summary: pd.DataFrame) -> None:
    # Business as usual with and without the double-points offer on its fortnightly push.
    compare(summary, "bonus_offer", "no_offer", "points_issued", +1)


# --- tolerance: two scenarios with the same seed, the second with tolerance halved ---------------


@pytest.mark.slow
def test_lower_tolerance_lowers_satisfaction() -> None:
    data = nordic_data()
    # Without the history normalisation, which would scale each population's rates to its own
    # plan's purchases: with it, halving tolerance would change silent's members too.
    data.pop("history")
    strategies = {"business_as_usual": data["strategies"]["business_as_usual"]}
    low = copy.deepcopy(data)
    for segment in low["population"]["segments"].values():
        segment["tolerance"]["median"] /= 2
    usual = run(nordic(SIZE, strategies, data))
    touchy = run(nordic(SIZE, strategies, low))
    # Without messages tolerance plays no part, and the two populations share every draw but
    # the tolerance scale: silent must come out identical, which makes the pairing exact.
    np.testing.assert_array_equal(
        values(usual, "silent", "satisfaction_index"),
        values(touchy, "silent", "satisfaction_index"),
    )
    assert_greater(
        values(usual, "business_as_usual", "satisfaction_index"),
        values(touchy, "business_as_usual", "satisfaction_index"),
        "satisfaction_index: tolerance as given > tolerance halved",
    )
