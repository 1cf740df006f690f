"""``report``: every figure as a valid PNG, a self-contained report.html that embeds them all,
atomic writing, bad input, and rendering in headless Chromium where it is installed."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from builders import email_every, nordic, nordic_data
from click.testing import CliRunner
from matplotlib.image import imread

import sim
from sim.cli.review import report as report_command
from sim.errors import SimInputError
from sim.io import atomic
from sim.report import build_report
from sim.report.data import CHANNELS, load_report_data
from sim.report.figures import FIGURES

CHROMIUM = Path("/usr/bin/chromium")
FIGURE_FILES = [
    "ranking.png",
    "active_members.png",
    "satisfaction.png",
    "reachable.png",
    "revenue.png",
    "pressure.png",
    "channels.png",
]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small run of all three channels: 400 members, 12 weeks, 2 replications."""
    strategies = {
        "business_as_usual": nordic_data()["strategies"]["business_as_usual"],
        "daily_email": email_every(7),
    }
    scenario = nordic(400, strategies, horizon_days=84, replications=2)
    folder = tmp_path_factory.mktemp("run") / "small"
    return sim.run(scenario, jobs=1).save(folder)


@pytest.fixture(scope="module")
def built(results: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the results folder with its report built in place."""
    folder = tmp_path_factory.mktemp("built") / "small"
    shutil.copytree(results, folder)
    assert build_report(folder) == folder / "report.html"
    return folder


def test_every_figure_is_a_valid_png(built: Path) -> None:
    assert len(FIGURES) == len(FIGURE_FILES)
    for name in FIGURE_FILES:
        data = (built / name).read_bytes()
        assert data.startswith(PNG_SIGNATURE), name
        pixels = imread(built / name)
        assert pixels.shape[0] > 300 and pixels.shape[1] > 800, name
        # Not blank: some dark pixels (marks or text; the page's heading carries the title).
        assert np.count_nonzero((pixels[..., :3] < 0.5).any(axis=-1)) > 100, f"{name} is blank"
    # Nothing else was added to the folder: no staging folder left behind.
    added = {p.name for p in built.iterdir()} - {
        "summary.csv",
        "strategies.csv",
        "timeseries.csv",
        "pressure.csv",
        "manifest.json",
    }
    assert added == {*FIGURE_FILES, "report.html"}


def test_report_embeds_every_figure_and_loads_nothing(built: Path) -> None:
    page = (built / "report.html").read_text(encoding="utf-8")
    for name in FIGURE_FILES:
        encoded = base64.b64encode((built / name).read_bytes()).decode("ascii")
        assert f'src="data:image/png;base64,{encoded}"' in page, name
    sources = re.findall(r"""(?:src|href)\s*=\s*["']?([^"'\s>]*)""", page, re.IGNORECASE)
    assert len(sources) == len(FIGURE_FILES)
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert not re.search(r"https?://", page)
    for tag in ("<script", "<link", "<iframe", "@import", "url("):
        assert tag not in page.lower()


def test_summary_names_the_ranking_and_the_findings(built: Path) -> None:
    page = (built / "report.html").read_text(encoding="utf-8")
    summary = page[page.index('<section class="summary">') : page.index("</section>")]
    ranked = pd.read_csv(built / "strategies.csv").sort_values(
        "clv_with_terminal_mean", ascending=False
    )
    best = ranked["strategy"].iloc[0]
    assert "Ranking by clv_with_terminal" in summary
    assert f"1. {best}" in summary
    assert "Largest audience loss" in summary or "No strategy leaves fewer" in summary
    assert "Attributed revenue" in summary and "incremental revenue" in summary
    for strategy in ("silent", "business_as_usual", "daily_email"):
        assert strategy in summary
    # The intervals are replications' noise only; the pointer to the decision under uncertainty.
    assert summary.count("<li>") == 6
    # How sure: each other strategy's paired difference to the best, with its standing; two
    # replications are below five, so the warning.
    sure = summary[summary.index("How sure: each strategy against") :]
    sure = sure[: sure.index("</li>")]
    assert f"How sure: each strategy against {best}" in sure
    for strategy in ranked["strategy"].iloc[1:]:
        assert strategy in sure
    assert sure.count("(behind)") + sure.count("(tied)") == len(ranked) - 1
    assert "With 2 replications, below 5" in sure
    assert (
        "<li>These intervals are Monte Carlo noise only, with every parameter at its value in the "
        "scenario; `loyaltysim run SCENARIO --draws K` gives the decision under parameter "
        "uncertainty (docs/uncertainty.md).</li>"
    ) in summary


def _section(page: str, name: str) -> str:
    start = page.index(f'<section id="{name}">')
    return page[start : page.index("</section>", start)]


def test_the_report_says_what_each_strategy_is_and_its_bottom_line(built: Path) -> None:
    page = (built / "report.html").read_text(encoding="utf-8")
    plans = _section(page, "strategies")
    daily = plans[plans.index("<td>daily_email</td>") :].split("</tr>")[0]
    assert "newsletter: email, every 1 days at 09:00, relevance 0.5" in daily  # default hour
    assert "<td>-</td><td>-</td>" in daily  # no journeys, no rules
    money = _section(page, "money")
    table = pd.read_csv(built / "strategies.csv").set_index("strategy")
    order = table["clv_with_terminal_mean"].sort_values(ascending=False).index
    rows = re.findall(r"<tr><td>([^<]+)</td>(.*?)</tr>", money)
    assert [name for name, _ in rows] == list(order)
    for name, cells in rows:
        shown = re.findall(r"<td>([^<]*)</td>", cells)
        cost, margin = table.at[name, "message_cost_mean"], table.at[name, "margin_diff_silent"]
        assert shown[4] == ("-" if cost <= 0 else f"{margin / cost:,.1f} x")
        assert shown[0] == f"{sum(table.at[name, f'sends_{c}_mean'] for c in CHANNELS):,.0f}"
    glossary = _section(page, "glossary")
    assert "<dt>clv_with_terminal</dt>" in glossary and "not a survey measure" in glossary


def test_scenario_wide_events_are_marked_where_they_fall(built: Path) -> None:
    data = load_report_data(built)
    scenario = data.manifest["scenario"]

    def events(horizon: int, expiry: dict) -> list:
        program = {**scenario["program"], "expiry": expiry}
        changed = {**scenario, "horizon_days": horizon, "program": program}
        return replace(data, manifest={**data.manifest, "scenario": changed}).events

    assert events(730, {"kind": "inactivity", "days": 365}) == [(365 / 7, "first points expire")]
    assert events(84, {"kind": "inactivity", "days": 365}) == []  # after the horizon
    assert events(730, {"kind": "none"}) == []
    assert events(730, {"kind": "lots", "months": 2})[0][0] == pytest.approx(3 * 365 / 12 / 7)


def test_a_failed_build_leaves_no_partial_report(
    results: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    moved: list[str] = []
    real_replace = atomic.os.replace

    def failing_replace(src: Path, dst: Path) -> None:
        if Path(dst).name == "report.html":
            raise OSError(28, "No space left on device")
        moved.append(Path(dst).name)
        real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", failing_replace)
    with pytest.raises(OSError):
        build_report(results, out)
    # The figures moved in are whole files; the page that would show them was never placed,
    # and the staging folder is gone.
    assert sorted(p.name for p in out.iterdir()) == sorted(moved) == sorted(FIGURE_FILES)
    assert all((out / name).read_bytes().startswith(PNG_SIGNATURE) for name in moved)


def test_bad_results_folders_are_bad_input(results: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(results, broken)
    (broken / "timeseries.csv").unlink()
    with pytest.raises(SimInputError, match=r"missing timeseries\.csv"):
        build_report(broken)

    shutil.copy(results / "timeseries.csv", broken / "timeseries.csv")
    summary = pd.read_csv(broken / "summary.csv").drop(columns=["pressure_mean"])
    summary.to_csv(broken / "summary.csv", index=False)
    with pytest.raises(SimInputError, match=r"summary\.csv: missing columns \['pressure_mean'\]"):
        build_report(broken)

    shutil.copy(results / "summary.csv", broken / "summary.csv")
    strategies = pd.read_csv(broken / "strategies.csv")
    strategies[strategies["strategy"] != "daily_email"].to_csv(
        broken / "strategies.csv", index=False
    )
    with pytest.raises(SimInputError, match="the files hold different strategies"):
        build_report(broken)
    assert not (broken / "report.html").exists()


def test_report_command(results: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    done = CliRunner().invoke(report_command, [str(results), "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert (out / "report.html").is_file() and f"{out / 'report.html'}" in done.stdout
    assert not (results / "report.html").exists()  # --out leaves the results folder alone

    missing = CliRunner().invoke(report_command, [str(tmp_path / "nowhere")])
    assert missing.exit_code == 2
    assert missing.stderr.startswith("error: ") and "not a results folder" in missing.stderr


@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed")
def test_report_renders_in_headless_chromium(built: Path, tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    done = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1200,2400",
            f"--screenshot={shot}",
            (built / "report.html").as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert shot.read_bytes().startswith(PNG_SIGNATURE)
    pixels = imread(shot)
    assert pixels.shape[:2] == (2400, 1200)
    # The figures drew: the page is far from uniform and has colour, not just black text.
    assert pixels.std() > 0.1
    rgb = pixels[..., :3]
    assert np.count_nonzero(rgb.max(axis=-1) - rgb.min(axis=-1) > 0.3) > 1000
