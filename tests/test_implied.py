"""What a population implies (sim.analysis.implied, shown by ``loyaltysim validate``): the
BG/NBD share still active against a Monte Carlo of the model, the mixing over segments, the
direction of a rate per week, and the warning for an implausible segment."""

from __future__ import annotations

import numpy as np
import pytest
from builders import cli_data, invoke, write

import sim
from sim.analysis.implied import ALL, implausible, implied
from sim.model.purchase import bgnbd_active_share

DRAWS = 400_000


@pytest.mark.parametrize(
    ("r", "alpha", "a", "b"),
    # The demo's weekly shoppers (where 2F1 at -t / alpha is NaN in scipy), a CDNOW-like fit,
    # and a segment that is nearly gone within a year.
    [(3.0, 17.5, 0.5, 250.0), (0.24, 4.4, 0.79, 2.4), (2.0, 3.0, 5.0, 0.7)],
)
@pytest.mark.parametrize("t", [365.0, 730.0])
def test_the_active_share_is_the_models(r: float, alpha: float, a: float, b: float, t: float):
    """Dropout is exponential with rate lambda p (a geometric number of exponential gaps):
    simulate lambda, p and the dropout time, and count members still active at t."""
    rng = np.random.default_rng(7)
    rate = rng.gamma(r, 1 / alpha, DRAWS) * rng.beta(a, b, DRAWS)
    simulated = np.mean(rng.exponential(1 / rate) > t)
    se = np.sqrt(max(simulated * (1 - simulated), 1 / DRAWS) / DRAWS)
    assert bgnbd_active_share(t, r, alpha, a, b) == pytest.approx(simulated, abs=4 * se)


def test_all_members_mix_the_segments_by_share() -> None:
    rows = {
        row.segment: row
        for row in implied(sim.load_scenario("scenarios/nordic_retail.yaml").population)
    }
    segments = [row for name, row in rows.items() if name != ALL]
    total = rows[ALL]
    assert total.purchases_year_1 == pytest.approx(
        sum(row.share * row.purchases_year_1 for row in segments)
    )
    assert total.spend_year_1 == pytest.approx(
        sum(row.share * row.spend_year_1 for row in segments)
    )
    assert total.mean_basket == pytest.approx(total.spend_year_1 / total.purchases_year_1)
    for row in rows.values():
        assert 0 < row.active_after_2_years < row.active_after_1_year < 1


def test_a_rate_per_week_buys_less_and_keeps_more_members() -> None:
    scenario = sim.load_scenario("scenarios/nordic_retail.yaml")
    path = "population.segments.occasional.purchase.time_unit"
    per_week = scenario.with_overrides({path: "week"})
    day, week = (
        next(row for row in implied(s.population) if row.segment == "occasional")
        for s in (scenario, per_week)
    )
    assert week.purchases_year_1 < day.purchases_year_1 / 5
    assert week.active_after_2_years > day.active_after_2_years


def test_an_implausible_segment_is_warned_about_and_the_file_still_validates(tmp_path) -> None:
    data = cli_data()
    data["population"]["segments"]["loyal"]["purchase"]["alpha"] = 0.01  # 100 a day
    scenario = write(tmp_path, data)
    warned = implausible(implied(sim.load_scenario(scenario).population), str(scenario))
    assert (
        len(warned) == 1 and "population.segments.loyal: purchases in the first year" in warned[0]
    )
    result = invoke("validate", scenario)
    assert result.exit_code == 0
    assert f"warning: {warned[0]}" in result.stderr
