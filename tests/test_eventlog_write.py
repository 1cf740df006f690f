"""Event logs (``loyaltysim run --events DIR``): every send, purchase and opt-in of a run,
reconciled with the KPIs of summary.csv strategy by strategy and replication by replication;
the same rows in CSV and Parquet, whatever the row groups and processes; results byte for
byte as without a log; a failed run leaves nothing; what cannot be logged is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from builders import (
    CORE_BEHAVIOUR,
    cli_data,
    entries,
    frequent_and_rare,
    invoke,
    scenario_data,
    snapshot,
    write,
)

import sim
import sim.engine.replication as replication
import sim.io.eventlog_write as eventlog_write
from sim.errors import SimInputError
from sim.io.eventlog import EventLogOptions, read_event_log
from sim.io.eventlog_write import DEFAULT_START, SCHEMAS
from sim.io.tables import TableOptions
from sim.spec.fields import CHANNELS

REPLICATIONS = 2
FRIDAY = 4  # pandas' day_of_week
ROWS = 500  # row groups this small split every table into many


def events_data() -> dict[str, Any]:
    """Joiners, a control group, a welcome journey, an email asking for push consent, and
    emails complained about enough to send the busy strategy's into spam."""
    return scenario_data(
        {
            "weekly": {
                "campaigns": {
                    "friday": {"channel": "email", "weekdays": ["fri"], "hour": 10},
                    "app": {
                        "channel": "email",
                        "every_days": 14,
                        "hour": 12,
                        "repermission": {"channel": "push", "conversion": 0.3},
                    },
                },
                "journeys": {"welcome": {"channel": "email", "trigger": "joined", "hour": 8}},
            },
            "busy": {
                "campaigns": {
                    "daily": {"channel": "email", "every_days": 1, "hour": 9, "relevance": 0.3},
                    "texts": {"channel": "sms", "weekdays": ["tue", "fri"], "hour": 17},
                    "pushes": {"channel": "push", "every_days": 2, "hour": 18},
                }
            },
        },
        name="events",
        segments=frequent_and_rare(),
        size=800,
        horizon=70,
        seed=5,
        replications=REPLICATIONS,
        acquisition=3.0,
        program={"control_group": 0.1},
        channels={"email": {"exit": 0.01, "complaint": 0.004}},
    )


def read(folder: Path, table: str) -> pd.DataFrame:
    """A table of an event-log folder, CSV or Parquet, with times as ISO text and dates as
    dates, so that both formats read the same."""
    parquet = folder / f"{table}.parquet"
    if parquet.exists():
        frame = pd.read_parquet(parquet)
        if "time" in frame:
            frame["time"] = frame["time"].dt.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    else:
        frame = pd.read_csv(folder / f"{table}.csv", keep_default_na=False, na_values=[""])
    for column in ("joined", "date"):
        if column in frame:
            frame[column] = pd.to_datetime(frame[column]).dt.date
    return frame


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The scenario run without a log (one process), with a Parquet log in one process and
    small row groups, and with a CSV log in two processes: the folders by name."""
    root = tmp_path_factory.mktemp("events")
    scenario = write(root, events_data())
    names = ("plain", "parquet", "parquet_out", "csv", "csv_out")
    folders = {name: root / name for name in names}
    sim.run(scenario, jobs=1, out=folders["plain"])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(eventlog_write, "ROW_GROUP_ROWS", ROWS)
        sim.run(scenario, jobs=1, out=folders["parquet_out"], events=folders["parquet"])
    result = invoke(
        "run", scenario, "--jobs", "2", "--quiet", "--out", folders["csv_out"],
        "--events", folders["csv"], "--events-format", "csv",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return folders


def test_results_are_byte_identical_with_and_without_events(runs: dict[str, Path]) -> None:
    plain = snapshot(runs["plain"])
    for out in ("parquet_out", "csv_out"):
        logged = snapshot(runs[out])
        for name in plain:
            if name != "manifest.json":  # times and jobs differ
                assert logged[name] == plain[name], (out, name)


def test_the_folders_hold_every_table_of_every_strategy_and_replication(
    runs: dict[str, Path],
) -> None:
    summary = pd.read_csv(runs["plain"] / "summary.csv")
    for fmt in ("parquet", "csv"):
        assert entries(runs[fmt]) == sorted(summary["strategy"].unique())
        for strategy in summary["strategy"].unique():
            assert entries(runs[fmt] / strategy) == [str(r) for r in range(REPLICATIONS)]
            for r in range(REPLICATIONS):
                tables = entries(runs[fmt] / strategy / str(r))
                assert tables == sorted(f"{t}.{fmt}" for t in SCHEMAS)
    members = pq.read_schema(runs["parquet"] / "silent" / "0" / "members.parquet")
    assert members.names == [
        "member_id", "joined", "opt_in_email", "opt_in_sms", "opt_in_push",
        "segment", "control", "cell",
    ]  # fmt: skip
    sends = pq.read_schema(runs["parquet"] / "busy" / "0" / "sends.parquet")
    assert sends.names == [
        "member_id", "time", "channel", "campaign", "relevance",
        "delivered", "opened", "clicked", "unsubscribed", "complained",
    ]  # fmt: skip
    purchases = pq.read_schema(runs["parquet"] / "busy" / "0" / "purchases.parquet")
    assert purchases.names == ["member_id", "date", "amount"]
    opt_ins = pq.read_schema(runs["parquet"] / "busy" / "0" / "opt_ins.parquet")
    assert opt_ins.names == ["member_id", "time", "channel"]


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_the_log_reconciles_with_summary(runs: dict[str, Path], fmt: str) -> None:
    """Sends, opens, clicks, exits and complaints per channel, opt-ins after joining,
    purchases and revenue (every member's, joiners included: the KPI's definition), members
    and the control group, for each strategy and replication."""
    summary = pd.read_csv(runs["plain"] / "summary.csv")
    for row in summary.itertuples():
        folder = runs[fmt] / row.strategy / str(row.replication)
        members, sends = read(folder, "members"), read(folder, "sends")
        purchases, opt_ins = read(folder, "purchases"), read(folder, "opt_ins")
        for channel in CHANNELS:
            on = sends[sends["channel"] == channel]
            assert len(on) == getattr(row, f"sends_{channel}")
            assert on["opened"].sum() == getattr(row, f"opens_{channel}")
            assert on["clicked"].sum() == getattr(row, f"clicks_{channel}")
            assert on["unsubscribed"].sum() == getattr(row, f"exits_{channel}")
            opted = np.count_nonzero(opt_ins["channel"] == channel)
            assert opted == getattr(row, f"recaptured_{channel}")
        email = sends[sends["channel"] == "email"]
        assert email["complained"].sum() == row.complaints_email
        if len(email):
            assert email["delivered"].mean() == pytest.approx(row.inbox_placement, abs=1e-9)
        assert len(purchases) == row.purchases
        assert purchases["amount"].sum() == pytest.approx(row.revenue, rel=1e-9)
        assert len(members) == row.members_start + row.members_joined
        assert (members["joined"].iloc[: row.members_start] == DEFAULT_START).all()
        assert (members["joined"].iloc[row.members_start :] > DEFAULT_START).all()
        assert members["control"].sum() == row.control_members
        assert members["cell"].isna().all()


def test_outcomes_are_consistent_and_follow_the_calendar(runs: dict[str, Path]) -> None:
    folder = runs["parquet"] / "busy" / "0"
    sends = read(folder, "sends")
    assert sends["time"].is_monotonic_increasing  # ISO text sorts as time
    assert not (sends["opened"] & ~sends["delivered"]).any()
    assert not (sends["clicked"] & ~sends["opened"]).any()
    assert not (sends["complained"] & ~sends["unsubscribed"]).any()
    assert (~sends["delivered"]).any(), "complaints sent no email to spam: nothing checked"
    assert sends.loc[sends["channel"] != "email", "delivered"].all()
    assert sends["relevance"].eq(0.3).where(sends["campaign"] == "daily", True).all()
    texts = pd.to_datetime(sends.loc[sends["campaign"] == "texts", "time"])
    assert set(texts.dt.day_of_week) == {1, FRIDAY} and set(texts.dt.hour) == {17}
    members = read(folder, "members")
    control = members.loc[members["control"], "member_id"]
    assert len(control) and not sends["member_id"].isin(control).any()
    weekly = read(runs["parquet"] / "weekly" / "0", "sends")
    assert set(
        pd.to_datetime(weekly.loc[weekly["campaign"] == "friday", "time"]).dt.day_of_week
    ) == {FRIDAY}
    assert {"welcome", "app"} <= set(weekly["campaign"])


def reachable_at_sends(folder: Path) -> pd.Series:
    """Whether each send found its member reachable on the channel, read from the log alone:
    opted in at joining or by a later opt-in, and not exited (an exit follows its send)."""
    members, sends = read(folder, "members"), read(folder, "sends")
    opt_ins = read(folder, "opt_ins")
    joined = members.melt("member_id", [f"opt_in_{c}" for c in CHANNELS], "channel", "state")
    joined["channel"] = joined["channel"].str.removeprefix("opt_in_")
    steps = pd.concat(
        [
            joined.assign(time="", order=0, send=-1),  # before any time
            opt_ins.assign(state=True, order=1, send=-1),
            sends.reset_index(names="send").assign(order=2, state=np.nan),
            sends[sends["unsubscribed"]].reset_index(names="send").assign(order=3, state=False),
        ],
        ignore_index=True,
    )[["member_id", "channel", "time", "order", "send", "state"]]
    steps = steps.sort_values(["member_id", "channel", "time", "order"], kind="stable")
    steps["state"] = steps.groupby(["member_id", "channel"])["state"].ffill()
    at_send = steps[steps["order"] == 2]
    return at_send.set_index("send")["state"].sort_index()


def test_every_send_finds_its_member_reachable_by_the_log(runs: dict[str, Path]) -> None:
    """A reader of the log can tell a send after an exit is legitimate: the member opted in
    again in between (at a purchase, or by the email asking for push consent)."""
    for strategy in ("weekly", "busy"):
        folder = runs["parquet"] / strategy / "0"
        assert reachable_at_sends(folder).astype(bool).all(), strategy
    weekly = read(runs["parquet"] / "weekly" / "0", "opt_ins")
    assert (weekly["channel"] == "push").any(), "nobody granted push: the request went unchecked"
    busy = read(runs["parquet"] / "busy" / "0", "sends")
    exited = busy[busy["unsubscribed"]].groupby(["member_id", "channel"])["time"].min()
    after = busy.join(exited.rename("exited"), on=["member_id", "channel"])
    assert (after["time"] > after["exited"]).any(), "nobody came back after an exit"


def test_csv_and_parquet_hold_the_same_rows(runs: dict[str, Path]) -> None:
    """The same rows in both formats, though one was written in small row groups in one
    process and the other in two processes."""
    for strategy in ("silent", "weekly", "busy"):
        for r in range(REPLICATIONS):
            for table in SCHEMAS:
                parquet = read(runs["parquet"] / strategy / str(r), table)
                csv = read(runs["csv"] / strategy / str(r), table)
                pd.testing.assert_frame_equal(parquet, csv, check_dtype=False)
    meta = pq.ParquetFile(runs["parquet"] / "busy" / "0" / "sends.parquet").metadata
    sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    assert len(sizes) > 10 and max(sizes) <= ROWS
    # Written a flush at a time as rows came, not at the end: groups end short where a flush
    # ended, not only the last.
    assert any(size < ROWS for size in sizes[:-1])


def test_the_log_reads_back_as_an_event_log(runs: dict[str, Path]) -> None:
    """Every check the event-log reader makes between rows and tables passes. A member's
    purchases of one day are equal rows (equal parts of one basket), which the reader keeps
    when told they are separate records, as a log without transaction ids needs."""
    options = EventLogOptions(table=TableOptions(duplicates="keep"))
    for fmt in ("parquet", "csv"):
        for strategy in ("weekly", "busy"):
            folder = runs[fmt] / strategy / "1"
            log = read_event_log(folder, options)
            assert len(log.sends) == len(read(folder, "sends"))
            assert len(log.purchases) == len(read(folder, "purchases"))


def test_a_failed_run_leaves_no_event_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = events_data()
    data["population"]["size"] = 100
    scenario = write(tmp_path, data)

    def fails(*args: Any) -> Any:
        raise RuntimeError("the replication failed")

    monkeypatch.setattr(replication, "tables", fails)
    with pytest.raises(RuntimeError, match="replication failed"):
        sim.run(scenario, jobs=1, events=tmp_path / "events", out=tmp_path / "out")
    assert entries(tmp_path) == ["small.yaml"]

    # Over an older log, with --overwrite: the old log stays as it was.
    old = tmp_path / "events"
    old.mkdir()
    (old / "kept.txt").write_text("an older log")
    with pytest.raises(RuntimeError, match="replication failed"):
        sim.run(scenario, jobs=1, events=old, overwrite=True)
    assert entries(tmp_path) == ["events", "small.yaml"]
    assert entries(old) == ["kept.txt"]


def test_a_folder_holding_something_else_is_refused_unless_overwrite(tmp_path: Path) -> None:
    data = events_data()
    data["population"]["size"] = 100
    data["horizon_days"] = 14
    scenario = write(tmp_path, data)
    events = tmp_path / "events"
    events.mkdir()
    (events / "kept.txt").write_text("an older log")
    out = tmp_path / "out"
    refused = invoke("run", scenario, "--quiet", "--out", out, "--events", events)
    assert refused.exit_code == 2
    assert "--overwrite" in refused.output and "--events" in refused.output
    assert entries(events) == ["kept.txt"] and not out.exists()
    # One replication on two processes: its strategies are split between them, each process
    # writing the log of its own.
    args = ("run", scenario, "--quiet", "--jobs", "2", "--replications", "1")
    replaced = invoke(*args, "--out", out, "--events", events, "--overwrite")
    assert replaced.exit_code == 0, replaced.output
    assert entries(events) == ["busy", "silent", "weekly"]
    for strategy in entries(events):
        assert entries(events / strategy / "0") == sorted(f"{t}.parquet" for t in SCHEMAS)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--draws", "2"), "--events: a run of draws"),
        (("--shards", "2"), "--events: the shards"),
        (("--engine", "agent"), "--events: the reference engine"),
        (("--events-start", "2024-01-02"), "2024-01-02 is a Tuesday"),
        (("--events-format", "json"), "--events-format"),
    ],
)
def test_what_cannot_be_logged_is_refused(tmp_path: Path, args: tuple, message: str) -> None:
    # The core model, which the reference engine runs: refused for the log, not the model.
    scenario = write(tmp_path, {**cli_data(), "behaviour": CORE_BEHAVIOUR})
    result = invoke("run", scenario, "--out", tmp_path / "out", "--events", tmp_path / "ev", *args)
    assert result.exit_code == 2
    assert message in result.output
    assert entries(tmp_path) == ["small.yaml"]


def test_the_log_lies_apart_from_the_results_and_strategies_name_folders(tmp_path: Path) -> None:
    data = events_data()
    scenario = write(tmp_path, data)
    with pytest.raises(SimInputError, match="apart from the results folder"):
        sim.run(scenario, out=tmp_path / "out", events=tmp_path / "out" / "events")
    data["strategies"]["a/b"] = data["strategies"].pop("weekly")
    with pytest.raises(SimInputError, match=r"strategies\.a/b: holds a path separator"):
        sim.run(sim.scenario_from_dict(data), events=tmp_path / "events")
    assert entries(tmp_path) == ["small.yaml"]
