"""``report`` on a run of parameter draws (``loyaltysim run --draws``): the decision table with
the values of decision.csv, the sentences of the summary, the two figures written and embedded,
strings from the files escaped, and an incomplete folder refused as bad input.

One small run (the command-line scenario, 6 draws of 2 uncertain values, 2 replications each)
is shared; the other folders are copies of it with a file edited."""

from __future__ import annotations

import base64
import html
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from builders import cli_data, invoke, write
from matplotlib.image import imread

import sim
from sim.errors import SimInputError
from sim.report import build_report
from sim.report.data import load_decision_data
from sim.report.figures import TOP_PARAMETERS, differences_to_leader, evppi_bars

UNCERTAIN = {
    "behaviour.fatigue.half_life_days": {"dist": "loguniform", "low": 3.0, "high": 21.0},
    "behaviour.lapse.winback_per_open": {"dist": "uniform", "low": 0.0, "high": 0.1},
}
DRAWS, REPLICATIONS = 6, 2
FIGURE_FILES = ["difference_to_leader.png", "evppi.png"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def draws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The results folder of a small run of draws (no report in it)."""
    folder = tmp_path_factory.mktemp("draws")
    scenario = write(folder, {**cli_data(), "uncertain": UNCERTAIN})
    out = folder / "run"
    sim.decide(scenario, draws=DRAWS, replications=REPLICATIONS, jobs=1, out=out)
    return out


@pytest.fixture(scope="module")
def built(draws: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the run of draws with its report built in place."""
    folder = tmp_path_factory.mktemp("built") / "run"
    shutil.copytree(draws, folder)
    assert build_report(folder) == folder / "report.html"
    return folder


def _sources(page: str) -> list[str]:
    """The src and href values of the page's tags (not of text that merely reads like one)."""
    tags = " ".join(re.findall(r"<[^>]*>", page))
    return re.findall(r"""\s(?:src|href)\s*=\s*["']?([^"'\s>]*)""", tags, re.IGNORECASE)


def _copy(draws: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "run"
    shutil.copytree(draws, folder)
    return folder


def _page(folder: Path) -> str:
    return (folder / "report.html").read_text(encoding="utf-8")


def _summary(page: str) -> str:
    """The summary's sentences as text."""
    part = page[page.index('<section class="summary">') : page.index("</section>")]
    return html.unescape(re.sub(r"<[^>]+>", " ", part))


def _table(page: str) -> list[list[str]]:
    """The decision table's cells as text, the header first."""
    table = re.search(r'<table class="decision">(.*?)</table>', page, re.S)
    assert table is not None
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table.group(1), re.S)
    return [[html.unescape(c) for c in re.findall(r"<t[hd]>(.*?)</t[hd]>", r, re.S)] for r in rows]


def _percent(p: float) -> str:
    return f"{p * 100:.2f}%"


def _money(value: float) -> str:
    """As the report prints an amount of NOK: whole kroner from 1,000, else øre."""
    return f"{value:,.0f} NOK" if abs(value) >= 1000 else f"{value:,.2f} NOK"


def _edit_manifest(folder: Path, **changes: object) -> None:
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({**manifest, **changes}), encoding="utf-8")


def test_the_table_holds_the_values_of_decision_csv(built: Path) -> None:
    decision = pd.read_csv(built / "decision.csv")
    rows = _table(_page(built))
    # No current plan in this scenario: no column for it.
    assert rows[0] == [
        "strategy",
        "expected clv_with_terminal [95% over draws]",
        "P(best)",
        "P(beats silent)",
        "expected loss",
    ]
    assert [r[0] for r in rows[1:]] == list(decision["strategy"])
    assert set(decision["strategy"]) == {"silent", "weekly", "busy"}
    for row, r in zip(rows[1:], decision.to_dict("records"), strict=True):
        # Every value here is at least 1,000 NOK: whole kroner.
        assert row[1] == f"{r['expected']:,.0f} NOK [{r['low']:,.0f}, {r['high']:,.0f}]"
        assert row[2] == _percent(r["p_best"])
        assert row[3] == ("-" if r["strategy"] == "silent" else _percent(r["p_beats_silent"]))
        assert row[4] == _money(r["expected_loss"])
    # The leader's P(best) as printed: a whole number of the draws, to two decimals.
    best = decision.loc[0, "p_best"]
    assert best * DRAWS == pytest.approx(round(best * DRAWS))
    assert rows[1][2] == f"{100 * round(best * DRAWS) / DRAWS:.2f}%"
    assert '<tr class="leader">' in _page(built)


def test_the_summary_names_the_leader_the_spread_and_what_to_measure(built: Path) -> None:
    decision = pd.read_csv(built / "decision.csv")
    evppi = pd.read_csv(built / "evppi.csv")
    manifest = json.loads((built / "manifest.json").read_text(encoding="utf-8"))
    summary = " ".join(_summary(_page(built)).split())
    leader = decision.iloc[0]
    assert f"{leader['strategy']} leads with expected clv_with_terminal" in summary
    assert f"best in {_percent(leader['p_best'])} of the {DRAWS} draws" in summary
    assert "its expected loss, what choosing it forgoes" in summary
    assert f"is {_money(leader['expected_loss'])}." in summary
    # The parameters' share of the variance of each difference to the leader, lowest to highest.
    others = decision.iloc[1:]
    shares = others["sd_parameters"] ** 2 / (others["sd_parameters"] ** 2 + others["sd_noise"] ** 2)
    assert 0 < shares.min() < shares.max() < 1
    assert (
        f"{_percent(shares.min())} to {_percent(shares.max())} is parameter uncertainty and the "
        f"rest Monte Carlo noise of {REPLICATIONS} replications per draw"
    ) in summary
    assert f"EVPI is {_money(manifest['evpi'])}" in summary
    noise = manifest["evppi_noise"]
    above = evppi[evppi["evppi"] > noise]
    if above.empty:  # this run's two values
        assert f"No uncertain value's EVPPI stands above the noise level {_money(noise)}" in summary
    else:
        assert (
            f"EVPPI above the noise level {_money(noise)}: {above['parameter'].iloc[0]}" in summary
        )


def test_both_figures_are_written_and_embedded(built: Path, draws: Path) -> None:
    page = _page(built)
    for name in FIGURE_FILES:
        data = (built / name).read_bytes()
        assert data.startswith(PNG_SIGNATURE), name
        pixels = imread(built / name)
        assert pixels.shape[1] == 1000 and pixels.shape[0] > 200, name
        # Not blank: some dark pixels (marks or text; the page's heading carries the title).
        assert np.count_nonzero((pixels[..., :3] < 0.5).any(axis=-1)) > 100, f"{name} is blank"
        encoded = base64.b64encode(data).decode("ascii")
        assert f'src="data:image/png;base64,{encoded}"' in page, name
    sources = _sources(page)
    assert len(sources) == len(FIGURE_FILES)
    assert not re.search(r"https?://", page) and "<script" not in page.lower()
    assert {p.name for p in built.iterdir()} - {p.name for p in draws.iterdir()} == {
        *FIGURE_FILES,
        "report.html",
    }
    leader = pd.read_csv(built / "decision.csv")["strategy"].iloc[0]
    title = f"Difference to the leader, {leader}, in clv_with_terminal over {DRAWS} parameter draws"
    assert f'<figure id="difference_to_leader"><h2>{title}</h2>' in page
    assert '<section id="decision"><h2>Decision under parameter uncertainty</h2>' in page


def test_the_differences_are_the_draws_against_the_leader(draws: Path) -> None:
    data = load_decision_data(draws)
    decision = pd.read_csv(draws / "decision.csv").set_index("strategy")
    table = pd.read_csv(draws / "draws.csv")
    differences = differences_to_leader(data)
    assert list(differences.columns) == list(decision.index) and len(differences) == DRAWS
    leader = decision.index[0]
    assert (differences[leader] == 0).all()
    # One cell by hand: draw 3, busy minus the leader in draws.csv.
    cell = table.set_index(["draw", "strategy"])["clv_with_terminal"]
    assert differences.at[3, "busy"] == pytest.approx(cell[3, "busy"] - cell[3, leader])
    # The box's whiskers are the 2.5-97.5% range decision.csv holds; its mean the difference
    # of the expected values.
    for name in decision.index:
        values = differences[name].to_numpy()
        assert np.percentile(values, [2.5, 97.5]) == pytest.approx(
            decision.loc[name, ["diff_low", "diff_high"]].to_numpy(float)
        )
        expected = decision.at[name, "expected"] - decision.at[leader, "expected"]
        assert values.mean() == pytest.approx(expected)


def test_the_evppi_figure_keeps_the_largest_values_and_marks_the_noise(
    draws: Path, tmp_path: Path
) -> None:
    folder = _copy(draws, tmp_path)
    values = [0.0, 3.0, 250.0, *np.linspace(1.0, 100.0, 17)]  # 20 values, two above 120
    evppi = pd.DataFrame({"parameter": [f"p{i}" for i in range(20)], "evppi": values})
    evppi.to_csv(folder / "evppi.csv", index=False)  # not sorted: the report sorts
    _edit_manifest(folder, evppi_noise=99.0)
    bars = evppi_bars(load_decision_data(folder))
    assert len(bars) == TOP_PARAMETERS == 15
    assert bars["parameter"].iloc[0] == "p2" and bars["evppi"].is_monotonic_decreasing
    assert list(bars["parameter"][bars["above_noise"]]) == ["p2", "p19"]
    assert "p0" not in set(bars["parameter"])  # an EVPPI of 0 gets no bar
    build_report(folder)
    summary = " ".join(_summary(_page(folder)).split())
    assert (
        "Worth measuring first, EVPPI above the noise level 99.00 NOK: p2 (250.00 NOK); "
        "p19 (100.00 NOK)."
    ) in summary
    assert imread(folder / "evppi.png").shape[0] > 600  # 15 bars tall


def test_the_current_plan_gets_its_column(draws: Path, tmp_path: Path) -> None:
    folder = _copy(draws, tmp_path)
    decision = pd.read_csv(folder / "decision.csv")
    beats = {"weekly": 0.75, "busy": np.nan, "silent": 0.25}
    decision["p_beats_current"] = decision["strategy"].map(beats)
    decision.to_csv(folder / "decision.csv", index=False)
    _edit_manifest(folder, current_plan="busy")
    build_report(folder)
    page = _page(folder)
    header, *rows = _table(page)
    assert header[4] == "P(beats busy, the current plan)" and header[5] == "expected loss"
    by_name = {r[0]: r[4] for r in rows}
    assert by_name == {"weekly": "75.00%", "busy": "-", "silent": "25.00%"}
    leader = decision.loc[0, "strategy"]
    assert leader == "weekly"  # this run's leader, so the sentence below names its share
    assert "It beats the current plan, busy, in 75.00% of the draws." in _summary(page)


def test_one_replication_per_draw_cannot_split_the_spread(draws: Path, tmp_path: Path) -> None:
    folder = _copy(draws, tmp_path)
    decision = pd.read_csv(folder / "decision.csv")
    decision[["sd_parameters", "sd_noise"]] = np.nan
    decision.to_csv(folder / "decision.csv", index=False)
    build_report(folder)
    summary = " ".join(_summary(_page(folder)).split())
    assert "needs 2 or more replications per draw" in summary
    assert "is parameter uncertainty" not in summary


def test_strings_from_the_files_are_escaped(draws: Path, tmp_path: Path) -> None:
    folder = _copy(draws, tmp_path)
    hostile = "<b>busy</b> & $x$"  # markup, an ampersand and matplotlib's math delimiters
    for name in ("decision.csv", "draws.csv"):
        table = pd.read_csv(folder / name)
        table["strategy"] = table["strategy"].replace("busy", hostile)
        table.to_csv(folder / name, index=False)
    evppi = pd.read_csv(folder / "evppi.csv")
    evppi.loc[0, "parameter"] = '<img src="x">'
    evppi.to_csv(folder / "evppi.csv", index=False)
    _edit_manifest(folder, name="<script>alert(1)</script>", current_plan=hostile)
    build_report(folder)
    page = _page(folder)
    assert "<script" not in page and "<b>" not in page and '<img src="x">' not in page
    assert "<h1>&lt;script&gt;alert(1)&lt;/script&gt;</h1>" in page
    assert "<td>&lt;b&gt;busy&lt;/b&gt; &amp; $x$</td>" in page
    assert "P(beats &lt;b&gt;busy&lt;/b&gt; &amp; $x$, the current plan)" in page
    sources = _sources(page)
    assert len(sources) == len(FIGURE_FILES)


def test_a_folder_without_decision_csv_is_bad_input(draws: Path, tmp_path: Path) -> None:
    folder = _copy(draws, tmp_path)
    (folder / "decision.csv").unlink()
    with pytest.raises(SimInputError, match=r"not a complete run of draws \(missing decision\.csv"):
        build_report(folder)
    done = invoke("report", folder)
    assert done.exit_code == 2
    assert done.stderr.startswith("error: ") and "missing decision.csv" in done.stderr
    assert not (folder / "report.html").exists()


def test_other_broken_draws_folders_are_bad_input(draws: Path, tmp_path: Path) -> None:
    folder = _copy(draws, tmp_path)
    (folder / "manifest.json").unlink()
    with pytest.raises(SimInputError, match=r"no manifest\.json of a finished run of draws"):
        build_report(folder)

    shutil.copy(draws / "manifest.json", folder / "manifest.json")
    _edit_manifest(folder, evpi="a lot")
    with pytest.raises(SimInputError, match=r"manifest\.json: evpi"):
        build_report(folder)

    # Every problem of the tables at once.
    shutil.copy(draws / "manifest.json", folder / "manifest.json")
    decision = pd.read_csv(folder / "decision.csv")
    decision.drop(columns=["expected_loss"]).to_csv(folder / "decision.csv", index=False)
    table = pd.read_csv(folder / "draws.csv")
    table["clv_with_terminal"] = "plenty"
    table[table["strategy"] != "busy"].to_csv(folder / "draws.csv", index=False)
    with pytest.raises(SimInputError) as caught:
        build_report(folder)
    assert caught.value.problems == [
        f"{folder / 'decision.csv'}: missing columns ['expected_loss']",
        f"{folder / 'draws.csv'}: columns ['clv_with_terminal'] hold values that are not numbers",
        f"{folder}: the files hold different strategies (decision.csv: ['busy', 'silent', "
        "'weekly']; draws.csv: ['silent', 'weekly'])",
    ]
    assert not (folder / "report.html").exists()


def test_report_command_on_a_run_of_draws(draws: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    done = invoke("report", draws, "--out", out)
    assert done.exit_code == 0, done.output
    assert f"{out / 'report.html'}" in done.stdout
    assert sorted(p.name for p in out.iterdir()) == sorted([*FIGURE_FILES, "report.html"])
    assert not (draws / "report.html").exists()
