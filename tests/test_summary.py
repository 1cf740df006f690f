"""Statistics over replications, ranking and the terminal report."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim.analysis.summary import differing_kpis, format_ranking, rank, summarise, versus_best


def frame(**kpis: dict[str, list[float]]) -> pd.DataFrame:
    """Per-replication table from ``kpi={strategy: [value per replication]}``."""
    first = next(iter(kpis.values()))
    rows = []
    for strategy, values in first.items():
        for rep in range(len(values)):
            row = {"strategy": strategy, "replication": rep, "seed": 100 + rep}
            row |= {kpi: float(by_strategy[strategy][rep]) for kpi, by_strategy in kpis.items()}
            rows.append(row)
    return pd.DataFrame(rows)


def row(table: pd.DataFrame, strategy: str) -> pd.Series:
    return table.set_index("strategy").loc[strategy]


def test_columns_and_strategy_order_follow_the_input():
    data = frame(revenue={"b": [1, 2], "silent": [0, 1], "a": [3, 4]})
    out = summarise(data, ["revenue"])
    assert list(out["strategy"]) == ["b", "silent", "a"]
    assert list(out.columns) == [
        "strategy",
        "replications",
        "revenue_mean",
        "revenue_ci_low",
        "revenue_ci_high",
        "revenue_diff_silent",
        "revenue_diff_ci_low",
        "revenue_diff_ci_high",
    ]
    assert list(out["replications"]) == [2, 2, 2]


def test_t_interval_matches_a_hand_computation():
    values = [1.0, 2.0, 4.0, 7.0, 11.0]
    out = row(summarise(frame(revenue={"silent": [0] * 5, "a": values}), ["revenue"]), "a")
    mean = sum(values) / 5
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / 4)
    half = stats.t.ppf(0.975, 4) * sd / math.sqrt(5)
    assert out["revenue_mean"] == pytest.approx(mean)
    assert out["revenue_ci_low"] == pytest.approx(mean - half)
    assert out["revenue_ci_high"] == pytest.approx(mean + half)
    # silent is constant 0, so the paired difference is the values themselves.
    assert out["revenue_diff_ci_low"] == pytest.approx(mean - half)


def test_confidence_level_widens_the_interval():
    data = frame(revenue={"silent": [0, 0, 0, 0], "a": [1, 3, 2, 6]})
    narrow = row(summarise(data, ["revenue"], confidence=0.8), "a")
    wide = row(summarise(data, ["revenue"], confidence=0.99), "a")
    assert wide["revenue_ci_low"] < narrow["revenue_ci_low"] < narrow["revenue_mean"]
    low, _ = stats.t.interval(0.8, 3, loc=3.0, scale=stats.sem([1, 3, 2, 6]))
    assert narrow["revenue_ci_low"] == pytest.approx(low)


def test_paired_interval_sees_a_difference_that_overlapping_means_hide():
    silent = [100.0, 140.0, 90.0, 160.0, 120.0, 110.0]
    lift = [1.0, 1.5, 0.5, 1.25, 0.75, 1.0]
    treated = [s + d for s, d in zip(silent, lift, strict=True)]
    out = summarise(frame(revenue={"silent": silent, "a": treated}), ["revenue"])
    a, base = row(out, "a"), row(out, "silent")
    # Unpaired, the two means' intervals overlap widely ...
    assert a["revenue_ci_low"] < base["revenue_ci_high"]
    # ... paired by replication, the difference is clearly above 0.
    low, high = stats.t.interval(0.95, 5, loc=np.mean(lift), scale=stats.sem(lift))
    assert a["revenue_diff_silent"] == pytest.approx(1.0)
    assert a["revenue_diff_ci_low"] == pytest.approx(low)
    assert a["revenue_diff_ci_high"] == pytest.approx(high)
    assert a["revenue_diff_ci_low"] > 0


def test_pairing_is_by_replication_not_row_order():
    data = frame(revenue={"silent": [10, 20, 30], "a": [11, 22, 33]})
    shuffled = data.sample(frac=1.0, random_state=3).reset_index(drop=True)
    by_name = [
        summarise(d, ["revenue"]).set_index("strategy").sort_index() for d in (shuffled, data)
    ]
    pd.testing.assert_frame_equal(*by_name)
    assert by_name[0].loc["a", "revenue_diff_silent"] == pytest.approx(2.0)


def test_silent_against_itself_is_exactly_zero_with_a_zero_width_interval():
    data = frame(revenue={"silent": [0.1, 0.7, 1.3], "a": [1, 2, 3]})
    base = row(summarise(data, ["revenue"]), "silent")
    assert base["revenue_diff_silent"] == 0.0
    assert base["revenue_diff_ci_low"] == 0.0
    assert base["revenue_diff_ci_high"] == 0.0


def test_constant_difference_collapses_to_the_point():
    data = frame(revenue={"silent": [10.0, 20.0, 35.0], "a": [12.5, 22.5, 37.5]})
    a = row(summarise(data, ["revenue"]), "a")
    assert (a["revenue_diff_ci_low"], a["revenue_diff_ci_high"]) == (2.5, 2.5)
    assert a["revenue_ci_low"] < a["revenue_ci_high"]


def test_one_replication_gives_means_without_intervals():
    out = summarise(frame(revenue={"silent": [5.0], "a": [7.0]}), ["revenue"])
    a = row(out, "a")
    assert a["replications"] == 1
    assert (a["revenue_mean"], a["revenue_diff_silent"]) == (7.0, 2.0)
    for column in ("ci_low", "ci_high", "diff_ci_low", "diff_ci_high"):
        assert math.isnan(a[f"revenue_{column}"])


def test_undefined_values_are_left_out():
    data = frame(rate={"silent": [math.nan] * 3, "a": [0.1, math.nan, 0.3]})
    a = row(summarise(data, ["rate"]), "a")
    assert a["rate_mean"] == pytest.approx(0.2)
    assert math.isnan(a["rate_diff_silent"])


def test_missing_silent_is_an_error():
    with pytest.raises(ValueError, match="silent"):
        summarise(frame(revenue={"a": [1, 2], "b": [3, 4]}), ["revenue"])


def test_unpaired_replications_are_an_error():
    data = frame(revenue={"silent": [1, 2, 3], "a": [1, 2, 3]})
    with pytest.raises(ValueError, match="same replications"):
        summarise(data.drop(index=4), ["revenue"])
    with pytest.raises(ValueError, match="more than one row"):
        summarise(pd.concat([data, data.iloc[[0]]]), ["revenue"])


def test_missing_kpi_column_is_an_error():
    with pytest.raises(ValueError, match="margin"):
        summarise(frame(revenue={"silent": [1, 2]}), ["revenue", "margin"])


@pytest.mark.parametrize(
    ("sense", "order"), [("max", ["b", "silent", "a"]), ("min", ["a", "silent", "b"])]
)
def test_rank_puts_the_best_first(sense, order):
    data = frame(revenue={"silent": [5, 6], "a": [1, 2], "b": [9, 9]})
    ranked = rank(summarise(data, ["revenue"]), "revenue", sense)
    assert list(ranked["strategy"]) == order
    assert list(ranked["rank"]) == [1, 2, 3]


def test_rank_keeps_input_order_for_ties_and_rejects_bad_sense():
    strategies = summarise(frame(revenue={"silent": [1, 2], "a": [1, 2]}), ["revenue"])
    assert list(rank(strategies, "revenue", "max")["strategy"]) == ["silent", "a"]
    with pytest.raises(ValueError, match="sense"):
        rank(strategies, "revenue", "best")


def test_differing_kpis_orders_by_paired_t_statistic():
    rng = np.random.default_rng(7)
    base = rng.normal(100.0, 10.0, 8)
    noise = rng.normal(0.0, 1.0, 8)
    data = frame(
        constant={"silent": [3] * 8, "a": [3] * 8},
        same={"silent": base, "a": base},  # varies, but identical for every strategy
        noisy={"silent": base, "a": base + 0.3 + noise},
        clear={"silent": base, "a": base + 5.0 + noise},
        exact={"silent": base, "a": base + 0.5},  # zero standard error: infinitely clear
    )
    kpis = ["constant", "same", "noisy", "clear", "exact"]
    assert differing_kpis(data, kpis) == ["exact", "clear", "noisy"]
    assert differing_kpis(data, kpis, n=2) == ["exact", "clear"]


def test_differing_kpis_takes_the_strongest_strategy_and_breaks_ties_by_kpi_order():
    data = frame(
        first={"silent": [1, 2, 3], "a": [2, 3, 4], "b": [1, 2, 3]},
        second={"silent": [1, 2, 3], "a": [1, 2, 3], "b": [2, 3, 4]},
        third={"silent": [1, 2, 3], "a": [1.5, 2.5, 3.5], "b": [1, 2, 3]},
    )
    # first and second are equally clear (infinite t, same relative size): KPI order decides.
    assert differing_kpis(data, ["second", "first", "third"]) == ["second", "first", "third"]
    assert differing_kpis(data, ["first", "second", "third"]) == ["first", "second", "third"]


def test_differing_kpis_with_one_replication_uses_relative_size():
    data = frame(small={"silent": [100.0], "a": [101.0]}, large={"silent": [100.0], "a": [150.0]})
    assert differing_kpis(data, ["small", "large"]) == ["large", "small"]


def test_differing_kpis_without_other_strategies_is_empty():
    assert differing_kpis(frame(revenue={"silent": [1, 2, 3]}), ["revenue"]) == []


def report_data() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    base = rng.normal(0.0, 1.0, 10)
    effects = {"silent": 0.0, "weekly_newsletter": 1.0, "sms_blast": -2.0, "push_daily": 0.5}
    by_kpi: dict[str, dict[str, list[float]]] = {
        k: {} for k in ("clv_per_member", "retention_rate", "revenue", "members_end", "sends_email")
    }
    for name, e in effects.items():
        by_kpi["clv_per_member"][name] = list(512 + 10 * base + 20 * e + rng.normal(0, 2, 10))
        by_kpi["retention_rate"][name] = list(0.8 + 0.01 * e + rng.normal(0, 0.002, 10))
        by_kpi["revenue"][name] = list(12_000_000 + 50_000 * base + 300_000 * e)
        by_kpi["members_end"][name] = list(20_000 - 100 * e + 30 * base)
        by_kpi["sends_email"][name] = [52_000 * abs(e)] * 10
    return frame(**by_kpi)


def test_format_ranking_reads_like_a_report():
    data = report_data()
    kpis = ["clv_per_member", "retention_rate", "revenue", "members_end", "sends_email"]
    ranked = rank(summarise(data, kpis), "clv_per_member", "max")
    text = format_ranking(ranked, "clv_per_member", "NOK", differing_kpis(data, kpis, n=3))
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 100
    body = [line.split() for line in lines[3:7]]
    assert [cells[:2] for cells in body] == [
        ["1", "weekly_newsletter"],
        ["2", "push_daily"],
        ["3", "silent"],
        ["4", "sms_blast"],
    ]
    assert "baseline" in lines[5]
    top = ranked.iloc[0]
    assert f"{top['clv_per_member_mean']:,.2f} NOK [" in lines[3]
    assert f"+{top['clv_per_member_diff_silent']:,.2f} NOK [+" in lines[3]
    block = lines[lines.index("Where the strategies differ most (mean per strategy)") :]
    assert block[1].split() == ["KPI", "weekly_newsletter", "push_daily", "silent", "sms_blast"]
    assert block[2].split() == ["sends_email", "52,000", "26,000", "0", "104,000"]
    assert block[3].startswith("revenue (NOK)")
    assert f"{top['revenue_mean']:,.0f}" in block[3]


def test_format_ranking_units():
    data = report_data()
    kpis = ["retention_rate", "members_end"]
    ranked = rank(summarise(data, kpis), "retention_rate", "min")
    text = format_ranking(ranked, "retention_rate", "EUR", ["members_end", "retention_rate"])
    top = ranked.iloc[0]
    assert f"{100 * top['retention_rate_mean']:.2f}% [" in text
    assert f"{100 * top['retention_rate_diff_silent']:.2f}pp [" in text
    assert f"{top['members_end_mean']:,.0f}" in text
    assert "EUR" not in text  # no currency KPI shown


def test_format_ranking_with_one_replication_and_nothing_differing():
    data = frame(revenue={"silent": [1_000_000.0], "a": [1_250_000.0]})
    ranked = rank(summarise(data, ["revenue"]), "revenue", "max")
    text = format_ranking(ranked, "revenue", "SEK", [])
    assert "1,250,000 SEK" in text
    assert "+250,000 SEK" in text
    assert "[" not in text
    assert "no confidence intervals" in text
    assert "no KPI differs" in text


# --- how sure the ranking is ---------------------------------------------------------------


def _standing(data: pd.DataFrame, **options: float) -> pd.DataFrame:
    ranked = rank(summarise(data, ["revenue"]), "revenue", "max")
    return versus_best(data, ranked, "revenue", **options).set_index("strategy")


def test_versus_best_pairs_by_replication_and_calls_a_covered_zero_a_tie():
    """near differs from best by -1 +- a little (paired, the shared 'base' cancels); far by
    -10 exactly; the paired differences' t-interval decides the standing."""
    base = [100.0, 140.0, 90.0, 120.0, 110.0, 130.0]
    wobble = [0.5, -0.5, 1.5, -1.5, 0.0, 2.0]
    data = frame(
        revenue={
            "silent": [b - 50 for b in base],
            "best": base,
            "near": [b - 1 + w for b, w in zip(base, wobble, strict=True)],
            "far": [b - 10 for b in base],
        }
    )
    table = _standing(data)
    assert table.loc["best", "standing"] == "best"
    assert table.loc["best", "revenue_diff_best"] == 0.0
    diffs = np.array(wobble) - 1
    mean, half = diffs.mean(), stats.t.ppf(0.975, 5) * stats.sem(diffs)
    assert table.loc["near", "revenue_diff_best"] == pytest.approx(mean)
    assert table.loc["near", "revenue_diff_best_low"] == pytest.approx(mean - half)
    assert table.loc["near", "standing"] == "tied"  # the interval covers 0
    assert table.loc["far", ["revenue_diff_best_low", "revenue_diff_best_high"]].tolist() == [
        -10.0,
        -10.0,
    ]
    assert table.loc["far", "standing"] == "behind"
    assert table.loc["silent", "standing"] == "behind"
    # A minimum effect larger than the gap makes 'far' a tie; silent stays behind.
    wide = _standing(data, min_effect=10.0)
    assert wide.loc["far", "standing"] == "tied" and wide.loc["silent", "standing"] == "behind"


def test_versus_best_with_one_replication_is_unknown():
    table = _standing(frame(revenue={"silent": [1.0], "a": [3.0], "b": [2.0]}))
    assert table["standing"].tolist() == ["best", "unknown", "unknown"]


def test_the_ranking_text_says_how_sure_it_is():
    data = report_data()
    ranked = rank(summarise(data, ["clv_per_member"]), "clv_per_member", "max")
    text = format_ranking(versus_best(data, ranked, "clv_per_member"), "clv_per_member", "NOK", [])
    assert "How sure: each strategy against weekly_newsletter" in text
    assert "Monte Carlo noise only" in text
    assert "Warning" not in text  # ten replications
    assert max(len(line) for line in text.splitlines()) <= 100
    few = data[data["replication"] < 3]
    ranked = rank(summarise(few, ["clv_per_member"]), "clv_per_member", "max")
    text = format_ranking(versus_best(few, ranked, "clv_per_member"), "clv_per_member", "NOK", [])
    assert "Warning: 3 replications; below 5" in text
