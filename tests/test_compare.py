"""``compare``: intervals against scipy and by hand, gates at their thresholds, parameter
changes, malformed input, and the CSV, Markdown and command-line outputs."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from builders import entries
from click.testing import CliRunner
from scipy import stats

from sim.analysis.compare import (
    MinEffect,
    check_gates,
    compare,
    format_markdown,
    format_table,
    parameter_changes,
    parse_gate,
    parse_min_effect,
    write_csv,
)
from sim.analysis.summary import summarise
from sim.cli.review import compare as compare_command
from sim.errors import SimInputError
from sim.io.results import write_results

A_REVENUE = [100.0, 104.0, 98.0, 101.0, 103.0]
B_REVENUE = [102.5, 105.0, 101.0, 101.5, 107.0]
SCENARIO = {"name": "t", "population": {"size": 1000}, "strategies": {"weekly": {"caps": {}}}}


def folder(
    path: Path,
    values: dict[str, list[float]],
    *,
    seed: int = 7,
    retention: float = 0.8,
    scenario: dict | None = None,
) -> Path:
    """A results folder whose strategies have these revenues, one per replication."""
    rows = [
        {
            "strategy": name,
            "replication": i,
            "seed": seed,
            "revenue": value,
            "retention_rate": retention,
            "open_rate_email": math.nan if name == "silent" else 0.2,
        }
        for name, series in values.items()
        for i, value in enumerate(series)
    ]
    summary = pd.DataFrame(rows)
    manifest = {"name": "t", "currency": "NOK", "scenario": scenario or SCENARIO}
    return write_results(
        path,
        summary=summary,
        strategies=summarise(summary, ["revenue", "retention_rate", "open_rate_email"]),
        timeseries=pd.DataFrame({"strategy": ["silent"], "replication": [0], "week": [1]}),
        pressure=pd.DataFrame({"strategy": ["silent"], "replication": [0], "members": [1]}),
        manifest=manifest,
    )


def row(table: pd.DataFrame, strategy: str, kpi: str) -> pd.Series:
    match = table[(table["strategy"] == strategy) & (table["kpi"] == kpi)]
    assert len(match) == 1
    return match.iloc[0]


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    a = folder(tmp_path / "a", {"silent": [90.0] * 5, "weekly": A_REVENUE})
    b = folder(tmp_path / "b", {"silent": [90.0] * 5, "weekly": B_REVENUE})
    return a, b


# --- intervals ------------------------------------------------------------------------------


def test_same_seeds_give_the_paired_t_interval_of_scipy(pair: tuple[Path, Path]) -> None:
    result = compare(*pair)
    r = row(result.table, "weekly", "revenue")
    expected = stats.ttest_rel(B_REVENUE, A_REVENUE).confidence_interval(0.95)
    assert r["method"] == "paired"
    assert r["a"] == pytest.approx(np.mean(A_REVENUE))
    assert r["diff"] == pytest.approx(np.mean(B_REVENUE) - np.mean(A_REVENUE))
    assert r["rel_diff"] == pytest.approx(r["diff"] / np.mean(A_REVENUE))
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((expected.low, expected.high), rel=1e-12)
    assert expected.low > 0  # these numbers were chosen so the paired interval excludes 0
    assert r["p_value"] == pytest.approx(stats.ttest_rel(B_REVENUE, A_REVENUE).pvalue)
    # Significance is controlled over the rows compared: this row's q-value is its p-value
    # adjusted by Benjamini-Hochberg among every row's (the exact differences have p 0 or 1).
    p = result.table["p_value"].to_numpy()
    known = ~np.isnan(p)
    q = stats.false_discovery_control(p[known], method="bh")
    assert result.table.loc[known, "q_value"].to_numpy() == pytest.approx(q)
    assert r["significant"] == (r["q_value"] < 0.05)
    # Identical columns: a zero-width interval at 0, not significant.
    silent = row(result.table, "silent", "revenue")
    assert (silent["diff"], silent["ci_low"], silent["ci_high"]) == (0, 0, 0)
    assert not silent["significant"]


def welch_by_hand(a: list[float], b: list[float]) -> tuple[float, float]:
    va, vb = np.var(a, ddof=1) / len(a), np.var(b, ddof=1) / len(b)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = stats.t.ppf(0.975, df) * math.sqrt(va + vb)
    diff = np.mean(b) - np.mean(a)
    return diff - half, diff + half


@pytest.mark.parametrize("change", ["seed", "replications"])
def test_other_seeds_or_replications_give_the_welch_interval(tmp_path: Path, change: str) -> None:
    b_values = B_REVENUE[:3] if change == "replications" else B_REVENUE
    a = folder(tmp_path / "a", {"silent": [90.0] * 5, "weekly": A_REVENUE})
    b = folder(
        tmp_path / "b",
        {"silent": [90.0] * len(b_values), "weekly": b_values},
        seed=8 if change == "seed" else 7,
    )
    r = row(compare(a, b).table, "weekly", "revenue")
    scipy_ci = stats.ttest_ind(b_values, A_REVENUE, equal_var=False).confidence_interval(0.95)
    assert r["method"] == "welch"
    assert (r["ci_low"], r["ci_high"]) == pytest.approx(welch_by_hand(A_REVENUE, b_values))
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((scipy_ci.low, scipy_ci.high), rel=1e-12)
    # Unpaired, the same data are no longer significant: the pairing is what removes the noise.
    assert not r["significant"]


def test_a_strategies_csv_compares_means_only(pair: tuple[Path, Path]) -> None:
    a, b = pair
    result = compare(a, b / "strategies.csv")
    assert set(result.table["method"]) == {"means"}
    assert result.table[["ci_low", "ci_high"]].isna().all().all()
    assert not result.table["significant"].any()
    r = row(result.table, "weekly", "revenue")
    assert r["b"] == pytest.approx(np.mean(B_REVENUE))
    assert "means only" in format_table(result)
    # A folder against its own strategies.csv shows no difference.
    same = compare(a, a / "strategies.csv")
    assert (same.table["diff"].dropna() == 0).all()


def test_a_folder_against_itself_is_identical(pair: tuple[Path, Path]) -> None:
    result = compare(pair[0], pair[0] / "summary.csv")
    assert not result.table["significant"].any()
    assert result.parameters == []
    text = format_table(result)
    assert "The resolved scenarios are identical." in text
    assert f"{len(result.table)} of {len(result.table)} values are identical" in text


# --- gates ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kpi", "op", "threshold", "relative"),
    [
        ("retention_rate < -1%", "retention_rate", "<", -1.0, True),
        ("complaint_rate > 0.001", "complaint_rate", ">", 0.001, False),
        ("  revenue>=1e3 ", "revenue", ">=", 1000.0, False),
        ("revenue <= +2.5 %", "revenue", "<=", 2.5, True),
    ],
)
def test_parse_gate(text: str, kpi: str, op: str, threshold: float, relative: bool) -> None:
    gate = parse_gate(text)
    assert (gate.kpi, gate.op, gate.threshold, gate.relative) == (kpi, op, threshold, relative)


@pytest.mark.parametrize(
    "text", ["revenue", "revenue = 1", "< 1", "revenue < abc", "revenue < nan", "revenue < 1 %%"]
)
def test_malformed_gates_are_bad_input(text: str) -> None:
    with pytest.raises(SimInputError, match="KPI OP THRESHOLD"):
        parse_gate(text)


# A = 200, B = 198 for "weekly": B - A = -2, which is -1% of A.
@pytest.mark.parametrize(
    ("gate", "trips"),
    [
        ("revenue < -2", False),
        ("revenue <= -2", True),
        ("revenue > -2", False),
        ("revenue >= -2", True),
        ("revenue < -1%", False),
        ("revenue <= -1%", True),
        ("revenue >= -1%", True),
        ("revenue > -1%", False),
        ("revenue < -1.5", True),  # absolute: -2 < -1.5
        ("revenue < -1.5%", False),  # relative: -2 < -3 is false
        ("revenue < -0.5%", True),  # relative: -2 < -1
    ],
)
def test_gates_trip_exactly_at_their_thresholds(tmp_path: Path, gate: str, trips: bool) -> None:
    a = folder(tmp_path / "a", {"silent": [200.0, 200.0], "weekly": [200.0, 200.0]})
    b = folder(tmp_path / "b", {"silent": [200.0, 200.0], "weekly": [198.0, 198.0]})
    tripped = check_gates(compare(a, b), [parse_gate(gate)])
    # silent is unchanged (B - A = 0), so only the > and >= gates trip for it too.
    assert ("weekly" in [t.strategy for t in tripped]) == trips


def test_relative_gates_scale_with_the_size_of_a(tmp_path: Path) -> None:
    # Both strategies lose 2; that is 1% of 200 but 0.5% of 400.
    a = folder(tmp_path / "a", {"silent": [400.0] * 2, "weekly": [200.0] * 2})
    b = folder(tmp_path / "b", {"silent": [398.0] * 2, "weekly": [198.0] * 2})
    tripped = check_gates(compare(a, b), [parse_gate("revenue <= -1%")])
    assert [(t.strategy, t.limit) for t in tripped] == [("weekly", -2.0)]


def test_relative_gates_keep_their_direction_when_a_is_negative(tmp_path: Path) -> None:
    # A = -100 rises to -99.5: not a fall of 1%, whatever the sign of A.
    a = folder(tmp_path / "a", {"silent": [0.0] * 2, "weekly": [-100.0] * 2})
    b = folder(tmp_path / "b", {"silent": [0.0] * 2, "weekly": [-99.5] * 2})
    result = compare(a, b)
    assert check_gates(result, [parse_gate("revenue < -1%")]) == []
    assert [t.limit for t in check_gates(result, [parse_gate("revenue > 0.1%")])] == [0.1]


def test_an_undefined_difference_never_trips_and_unknown_kpis_are_errors(
    pair: tuple[Path, Path],
) -> None:
    result = compare(*pair)
    # silent's open rate is undefined on both sides (it sends no email): NaN never trips.
    assert math.isnan(row(result.table, "silent", "open_rate_email")["diff"])
    tripped = check_gates(result, [parse_gate("open_rate_email < 1000")])
    assert [t.strategy for t in tripped] == ["weekly"]
    with pytest.raises(SimInputError, match="'satisfaction_index' is not compared"):
        check_gates(result, [parse_gate("satisfaction_index < 0")])


# --- manifests --------------------------------------------------------------------------------


def test_parameter_changes_list_dotted_paths() -> None:
    b = copy.deepcopy(SCENARIO)
    b["population"]["size"] = 2000
    b["strategies"]["weekly"]["caps"] = {"email": "2 per 7d"}
    b["horizon_days"] = 90
    changes = parameter_changes({"scenario": SCENARIO}, {"scenario": b})
    assert changes == [
        ("population.size", 1000, 2000),
        ("strategies.weekly.caps", {}, "(absent)"),
        ("strategies.weekly.caps.email", "(absent)", "2 per 7d"),
        ("horizon_days", "(absent)", 90),
    ]


def test_compare_reports_changed_parameters(tmp_path: Path) -> None:
    b_scenario = copy.deepcopy(SCENARIO)
    b_scenario["population"]["size"] = 2000
    a = folder(tmp_path / "a", {"silent": [1.0, 2.0]})
    b = folder(tmp_path / "b", {"silent": [1.0, 2.0]}, scenario=b_scenario)
    result = compare(a, b)
    assert result.parameters == [("population.size", 1000, 2000)]
    assert "population.size: 1000 -> 2000" in format_table(result)


# --- malformed input --------------------------------------------------------------------------


def write_csv_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty"),
        ("strategy,replication,seed,revenue\n", "no rows"),
        ("strategy,replication,revenue\nsilent,0,1\n", r"missing columns \['seed'\]"),
        ("strategy,revenue\nsilent,1\n", "neither a summary.csv"),
        ("strategy,replication,seed,revenue\nsilent,0,1,lots\n", r"\['revenue'\].*not numbers"),
        ("strategy,replication,seed,revenue\nsilent,0,1,1\nsilent,0,1,2\n", "more than one row"),
        ("strategy,revenue_mean\nsilent,x\n", "not numbers"),
    ],
)
def test_malformed_files_name_the_file_and_the_problem(
    pair: tuple[Path, Path], tmp_path: Path, content: str, message: str
) -> None:
    bad = write_csv_text(tmp_path / "bad.csv", content)
    with pytest.raises(SimInputError, match=message) as caught:
        compare(pair[0], bad)
    assert str(bad) in str(caught.value)


def test_missing_paths_and_folders_without_results(pair: tuple[Path, Path], tmp_path: Path) -> None:
    with pytest.raises(SimInputError, match="no such file or folder"):
        compare(pair[0], tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SimInputError, match="not a results folder"):
        compare(tmp_path / "empty", pair[1])
    (pair[1] / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(SimInputError, match=r"manifest\.json: not a readable manifest"):
        compare(*pair)


def test_disjoint_strategies_are_an_error(tmp_path: Path) -> None:
    a = folder(tmp_path / "a", {"silent": [1.0, 2.0]})
    b = write_csv_text(
        tmp_path / "b.csv", "strategy,replication,seed,revenue\nother,0,7,1\nother,1,7,2\n"
    )
    with pytest.raises(SimInputError, match=r"no strategies in common.*\['silent'\].*\['other'\]"):
        compare(a, b)


def test_one_sided_strategies_and_kpis_warn_and_the_rest_is_compared(tmp_path: Path) -> None:
    a = folder(tmp_path / "a", {"silent": [1.0, 2.0], "weekly": [3.0, 4.0], "old": [1.0, 1.0]})
    b = write_csv_text(
        tmp_path / "b.csv",
        "strategy,replication,seed,revenue,new_kpi\n"
        "silent,0,7,1,0\nsilent,1,7,2,0\nweekly,0,7,3,0\nweekly,1,7,5,0\nnew,0,7,1,0\n",
    )
    result = compare(a, b)
    assert set(result.table["strategy"]) == {"silent", "weekly"}
    assert set(result.table["kpi"]) == {"revenue"}
    text = " | ".join(result.warnings)
    assert f"only in A ({a / 'summary.csv'}): old" in text
    assert f"only in B ({b}): new" in text
    assert "retention_rate" in text and "new_kpi" in text
    assert "no manifest.json beside B" in text
    assert result.parameters is None
    assert row(result.table, "weekly", "revenue")["diff"] == pytest.approx(0.5)


def test_kpi_selection(pair: tuple[Path, Path]) -> None:
    assert set(compare(*pair, kpis=["revenue"]).table["kpi"]) == {"revenue"}
    with pytest.raises(SimInputError, match="not in both"):
        compare(*pair, kpis=["revenue", "no_such_kpi"])


# --- outputs ----------------------------------------------------------------------------------


def test_csv_output_is_tidy_and_formula_safe(tmp_path: Path) -> None:
    values = {"silent": [1.0, 2.0], "=HYPERLINK(1)": [2.0, 3.0]}
    a, b = folder(tmp_path / "a", values), folder(tmp_path / "b", values)
    out = write_csv(compare(a, b), tmp_path / "diff.csv")
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == (
        "strategy,kpi,a,b,diff,rel_diff,ci_low,ci_high,method,p_value,q_value,small,significant"
    )
    assert any(line.startswith("'=HYPERLINK(1),revenue,") for line in lines)
    assert not any(line.startswith("=") for line in lines)
    assert [p for p in entries(tmp_path) if (tmp_path / p).is_file()] == ["diff.csv"]  # no staging


def test_markdown_output(pair: tuple[Path, Path]) -> None:
    result = compare(*pair)
    gate = parse_gate("revenue > 1")
    trips = check_gates(result, [gate])
    text = format_markdown(result, trips, gates=1)
    assert text.startswith("### loyaltysim compare")
    assert "**Gates: 1 tripped**" in text
    assert "revenue &gt; 1" in text and "'weekly'" in text
    assert "| strategy | KPI | A | B | B − A [95% CI] | relative |" in text
    assert "| weekly | revenue | 101.20 NOK | 103.40 NOK | +2.20 NOK [" in text
    assert "<details>" in text and text.rstrip().endswith("</details>")
    assert "Gates: all 1 passed" in format_markdown(result, [], gates=1)


def test_markdown_escapes_names(tmp_path: Path) -> None:
    values = {"silent": [1.0, 2.0], "a|b<i>": [2.0, 3.0]}
    a = folder(tmp_path / "a", values)
    b = folder(tmp_path / "b", {"silent": [1.0, 2.0], "a|b<i>": [2.5, 3.5]})
    text = format_markdown(compare(a, b))
    assert "a\\|b&lt;i&gt;" in text and "<i>" not in text


# --- command line -----------------------------------------------------------------------------


def run_compare(*args: object):
    return CliRunner().invoke(compare_command, [str(a) for a in args])


def test_cli_exit_codes(pair: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = pair
    ok = run_compare(a, b, "--fail-if", "revenue < -1%", "--csv", tmp_path / "d.csv")
    assert ok.exit_code == 0, ok.stderr
    assert "weekly" in ok.stdout and (tmp_path / "d.csv").is_file()

    tripped = run_compare(a, b, "--fail-if", "revenue > 1%", "--kpi", "retention_rate")
    assert tripped.exit_code == 1
    assert "gate 'revenue > 1%' tripped for strategy 'weekly'" in tripped.stderr
    assert "revenue" in tripped.stdout  # the gated KPI is shown even outside --kpi

    markdown = run_compare(a, b, "--markdown")
    assert markdown.exit_code == 0 and markdown.stdout.startswith("### loyaltysim compare")

    for bad in (
        [a, tmp_path / "missing"],
        [a, b, "--fail-if", "revenue ~ 3"],
        [a, b, "--fail-if", "unknown_kpi > 3"],
        [a, b, "--kpi", "unknown_kpi"],
    ):
        result = run_compare(*bad)
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith("error: ")


# --- reviewer-grade: false discovery rate, printed zeros, minimum effect, gates on the CI ------


def test_many_rows_need_a_stronger_difference_than_one(tmp_path: Path) -> None:
    """Twenty strategies: one with a clear paired gain, nineteen whose differences are noise
    with p-values near 0.03-0.9. Benjamini-Hochberg keeps the clear one and drops a
    borderline one that a lone 95% interval would call significant."""
    rng = np.random.default_rng(4)
    base = list(100 + rng.normal(0, 5, 8))
    a_values = {"silent": base} | {f"s{i}": base for i in range(20)}
    b_values = {"silent": base, "s0": [x + 3 + rng.normal(0, 0.2) for x in base]}
    b_values |= {f"s{i}": [x + rng.normal(0, 1) for x in base] for i in range(1, 20)}
    table = compare(
        folder(tmp_path / "a", a_values), folder(tmp_path / "b", b_values), kpis=["revenue"]
    ).table.set_index("strategy")
    assert table.loc["s0", "significant"]
    lone = table[(table["ci_low"] > 0) | (table["ci_high"] < 0)].drop(index="s0")
    assert len(lone) >= 1  # by chance, with this seed; the control must not call them
    assert not lone["significant"].any()
    assert (table["q_value"] >= table["p_value"]).all()


def test_a_difference_that_prints_as_zero_is_never_significant(tmp_path: Path) -> None:
    """Retention up by 1e-6 in every replication: an exact, nonzero difference (p = 0) that
    prints as +0.00pp."""
    a = folder(tmp_path / "a", {"silent": [90.0] * 5, "weekly": A_REVENUE})
    b = folder(tmp_path / "b", {"silent": [90.0] * 5, "weekly": A_REVENUE}, retention=0.800001)
    r = row(compare(a, b).table, "weekly", "retention_rate")
    assert r["p_value"] == 0.0 and r["ci_low"] > 0
    assert not r["significant"]


def test_a_minimum_effect_hides_small_differences(pair: tuple[Path, Path]) -> None:
    diff = np.mean(B_REVENUE) - np.mean(A_REVENUE)  # 2.1
    for effect, small in ((MinEffect({"revenue": diff + 0.1}), True), (MinEffect({}, 0.01), False)):
        result = compare(*pair, min_effect=effect)
        r = row(result.table, "weekly", "revenue")
        assert r["small"] == small  # 0.01 of |A| is 1.01, below 2.1
        assert not (small and r["significant"])
    relative = compare(*pair, min_effect=MinEffect({}, 0.025)).table
    assert row(relative, "weekly", "revenue")["small"]  # 2.1 < 0.025 * 101.2
    text = format_table(compare(*pair, min_effect=MinEffect({"revenue": 5.0})))
    assert "weekly  revenue" not in text
    assert "below the minimum effect (revenue 5) hidden" in text


@pytest.mark.parametrize(
    ("texts", "absolute", "relative"),
    [
        (["revenue=5"], {"revenue": 5.0}, 0.0),
        (["1%"], {}, 0.01),
        (["a=0", "2.5%"], {"a": 0}, 0.025),
    ],
)
def test_parse_min_effect(texts: list[str], absolute: dict, relative: float) -> None:
    assert parse_min_effect(texts) == MinEffect(absolute, relative)


@pytest.mark.parametrize("text", ["5", "revenue=x", "revenue=-1", "%"])
def test_malformed_min_effects_are_bad_input(text: str) -> None:
    with pytest.raises(SimInputError, match="--min-effect"):
        parse_min_effect([text])


def test_gate_on_ci_trips_only_when_the_whole_interval_crosses(pair: tuple[Path, Path]) -> None:
    """B - A = 2.1 with a paired 95% CI of about [0.41, 3.99]: a gate at > 1 trips on the
    point but not on the interval; a gate at > 0.2 trips on both."""
    comparison = compare(*pair)
    assert check_gates(comparison, [parse_gate("revenue > 1")], on="point")
    assert not check_gates(comparison, [parse_gate("revenue > 1")], on="ci")
    (trip,) = check_gates(comparison, [parse_gate("revenue > 0.2")], on="ci")
    assert trip.strategy == "weekly" and trip.interval[0] > 0.2


def test_the_objective_and_gated_kpis_lead(tmp_path: Path) -> None:
    scenario = {**SCENARIO, "objective": {"kpi": "retention_rate", "sense": "max"}}
    a = folder(tmp_path / "a", {"silent": [90.0] * 5, "weekly": A_REVENUE}, scenario=scenario)
    b = folder(tmp_path / "b", {"silent": [90.0] * 5, "weekly": B_REVENUE}, scenario=scenario)
    import json

    for side in (a, b):
        manifest = json.loads((side / "manifest.json").read_text())
        manifest["objective"] = scenario["objective"]
        (side / "manifest.json").write_text(json.dumps(manifest))
    kpis = list(pd.unique(compare(a, b, lead=["open_rate_email"]).table["kpi"]))
    assert kpis == ["retention_rate", "open_rate_email", "revenue"]


def test_cli_gate_on_and_min_effect(pair: tuple[Path, Path]) -> None:
    runner = CliRunner()
    point = runner.invoke(compare_command, [*map(str, pair), "--fail-if", "revenue > 1"])
    ci = runner.invoke(
        compare_command, [*map(str, pair), "--fail-if", "revenue > 1", "--gate-on", "ci"]
    )
    assert (point.exit_code, ci.exit_code) == (1, 0)
    hidden = runner.invoke(compare_command, [*map(str, pair), "--min-effect", "revenue=5"])
    assert hidden.exit_code == 0 and "hidden" in hidden.output
    bad = runner.invoke(compare_command, [*map(str, pair), "--min-effect", "x"])
    assert bad.exit_code == 2 and "--min-effect" in bad.output
