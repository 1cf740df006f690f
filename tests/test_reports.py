"""Campaign reports (sim.io.reports): aggregated from a run's event log they reconcile with
summary.csv; written and read back they are the same rows; the quirks of exports are read;
impossible figures are refused with file, column, rows and reason."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from builders import cli_data, write

import sim
from sim.errors import SimInputError
from sim.io.eventlog import read_event_log
from sim.io.reports import COUNTS, campaign_report, read_campaign_report
from sim.io.tables import TableOptions
from sim.spec.fields import CHANNELS

PUSH_BUSY = {"channel": "push", "every_days": 3, "hour": 18}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The command-line scenario (two replications, a push campaign added to the busy
    strategy) run with event logs: the results folder (its logs beside it, in ``events``)."""
    root = tmp_path_factory.mktemp("reports")
    data = cli_data()
    data["replications"] = 2
    data["strategies"]["busy"]["campaigns"]["app"] = PUSH_BUSY
    scenario = write(root, data)
    sim.run(scenario, jobs=1, out=root / "run", events=root / "events")
    return root / "run"


def test_the_report_of_a_log_reconciles_with_summary(run: Path) -> None:
    summary = pd.read_csv(run / "summary.csv")
    for row in summary.itertuples():
        log = read_event_log(run.parent / "events" / row.strategy / str(row.replication))
        report = campaign_report(log)
        for channel in CHANNELS:
            on = report[report["channel"] == channel]
            assert on["sent"].sum() == getattr(row, f"sends_{channel}")
            assert on["opened"].sum() == getattr(row, f"opens_{channel}")
            assert on["clicked"].sum() == getattr(row, f"clicks_{channel}")
            assert on["unsubscribed"].sum() == getattr(row, f"exits_{channel}")
        email = report[report["channel"] == "email"]
        assert email["complained"].sum() == row.complaints_email
        # One row per campaign send: a campaign sends at most once a day here.
        assert not report.duplicated(["campaign", "channel", "date"]).any()
        if row.strategy == "busy":
            assert set(report["campaign"]) == {"news", "sms", "app"}
            assert (report.loc[report["campaign"] == "news", "sent"] > 0).all()


def test_a_written_report_reads_back_the_same_in_csv_and_parquet(run: Path, tmp_path) -> None:
    report = campaign_report(read_event_log(run.parent / "events" / "busy" / "0"))
    for name, writer in (("r.csv", "to_csv"), ("r.parquet", "to_parquet")):
        getattr(report, writer)(tmp_path / name, index=False)
        back = read_campaign_report(tmp_path / name, channels=("email", "sms", "push"))
        assert back.rows["campaign"].tolist() == report["campaign"].tolist()
        assert [CHANNELS[c] for c in back.rows["channel"]] == report["channel"].tolist()
        assert back.rows["date"].dt.date.tolist() == report["date"].tolist()
        for count in COUNTS:
            np.testing.assert_array_equal(back.rows[count], report[count])


def test_an_export_with_semicolons_and_decimal_commas_reads(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        "Kampanje;channel;date;sent;delivered;opened;clicked;unsubscribed;complained;"
        "revenue_attributed\n"
        "Fredagstilbud;Email;05.01.2024;1000;990;210;31;4;1;12345,50\n",
        encoding="utf-8",
    )
    report = read_campaign_report(
        path, TableOptions(date_format="%d.%m.%Y"), rename={"Kampanje": "campaign"}
    )
    row = report.rows.iloc[0]
    assert row["campaign"] == "Fredagstilbud" and CHANNELS[row["channel"]] == "email"
    assert row["date"] == pd.Timestamp("2024-01-05") and row["opened"] == 210
    assert row["revenue_attributed"] == pytest.approx(12345.5)


GOOD = {
    "campaign": "friday",
    "channel": "email",
    "date": "2024-01-05",
    "sent": 100,
    "delivered": 98,
    "opened": 20,
    "clicked": 3,
    "unsubscribed": 2,
    "complained": 1,
}


@pytest.mark.parametrize(
    ("change", "column", "reason"),
    [
        ({"opened": 99}, "opened", "more opens than delivered messages"),
        ({"delivered": 101}, "delivered", "more delivered than sent"),
        ({"clicked": 99}, "clicked", "more clicks than delivered messages"),
        ({"complained": 3}, "complained", "more complaints than unsubscribes"),
        ({"sent": -5}, "sent", "counts that are not whole numbers >= 0"),
        ({"opened": 2.5}, "opened", "counts that are not whole numbers >= 0"),
        ({"channel": "fax"}, "channel", "channels the scenario does not have (e.g. 'fax'"),
        ({"channel": "push"}, "channel", "channels the scenario does not have (e.g. 'push'"),
        ({"date": "2023-12-31"}, "date", "dates outside the period 2024-01-01 to 2024-03-31"),
        ({"sent": "many"}, "sent", "counts that are not numbers"),
    ],
)
def test_impossible_figures_are_refused_naming_file_column_and_row(
    tmp_path: Path, change: dict, column: str, reason: str
) -> None:
    path = tmp_path / "report.csv"
    pd.DataFrame([GOOD, GOOD | {"date": "2024-01-12"}, GOOD | change]).to_csv(path, index=False)
    with pytest.raises(SimInputError) as caught:
        read_campaign_report(path, days=91, start=date(2024, 1, 1), channels=("email", "sms"))
    message = str(caught.value)
    assert f"{path}: column {column!r}: " in message and "data row 3" in message
    assert reason in message and "data row 1" not in message
    # Every good row passes.
    pd.DataFrame([GOOD, GOOD | {"date": "2024-01-12"}]).to_csv(path, index=False)
    assert len(read_campaign_report(path, channels=("email", "sms")).rows) == 2


def test_a_missing_column_is_named(tmp_path: Path) -> None:
    path = tmp_path / "report.csv"
    pd.DataFrame([{k: v for k, v in GOOD.items() if k != "delivered"}]).to_csv(path, index=False)
    with pytest.raises(SimInputError, match="delivered"):
        read_campaign_report(path)


def test_the_engine_s_report_sink_gives_the_log_s_report(run: Path) -> None:
    """CampaignCounts, the report fits simulate without a log, counts what the platform
    export of the same replication's log counts, row for row."""
    from sim.engine.events import CampaignCounts
    from sim.engine.replication import build_context, simulate
    from sim.fitting.summaries import report_days

    scenario = sim.load_scenario(run.parent / "small.yaml")
    log = read_event_log(run.parent / "events" / "busy" / "1")
    sink = CampaignCounts()
    ctx = build_context(scenario, 1, scenario.seed, ["busy"], send_sink=sink)
    simulate(ctx)
    expected = campaign_report(log)
    expected["channel"] = expected["channel"].map(CHANNELS.index).astype(np.int8)
    expected = report_days(expected, log.origin.date())
    pd.testing.assert_frame_equal(sink.table(), expected, check_dtype=False)
    assert sink.table()["sent"].sum() > 0
