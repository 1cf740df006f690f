"""sim.io.eventlog: reading an engagement event log (docs/eventlog.md) and every check on it,
with each message's file, rows and reason word for word."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from builders import cli_data, invoke, write

from sim.errors import SimInputError
from sim.io.eventlog import EventLog, EventLogOptions, read_event_log
from sim.io.tables import TableOptions

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "events"

MEMBERS = """member_id,joined,opt_in_email,opt_in_sms,opt_in_push
1,2024-01-01,true,true,true
2,2024-01-02,true,false,true
"""
SENDS_HEADER = "member_id,time,channel,campaign,delivered,opened,clicked,unsubscribed,complained\n"
PURCHASES = "member_id,date,amount\n1,2024-01-05,12.5\n2,2024-01-06,3\n"


def tiny(tmp_path: Path, rows: str, **tables: str) -> Path:
    """A log folder: two members, the sends rows given (after the header), two purchases;
    ``tables`` replaces a table's whole text (members, purchases) or adds opt_ins."""
    folder = tmp_path / "log"
    folder.mkdir()
    texts = {"members": MEMBERS, "sends": SENDS_HEADER + rows, "purchases": PURCHASES, **tables}
    for name, text in texts.items():
        (folder / f"{name}.csv").write_text(text, encoding="utf-8")
    return folder


def problems_of(path: Path, options: EventLogOptions | None = None) -> list[str]:
    with pytest.raises(SimInputError) as info:
        read_event_log(path, options)
    return info.value.problems


def to_parquet(folder: Path, out: Path) -> Path:
    """The CSV log in ``folder`` as Parquet with typed columns, as a data platform writes it."""
    out.mkdir()
    members = pd.read_csv(folder / "members.csv", keep_default_na=False)
    members["joined"] = pd.to_datetime(members["joined"]).dt.date
    members["cell"] = members["cell"].replace("", None)
    members.to_parquet(out / "members.parquet")
    sends = pd.read_csv(folder / "sends.csv")
    sends["time"] = pd.to_datetime(sends["time"], utc=True)
    sends["campaign"] = sends["campaign"].astype("category")
    sends.to_parquet(out / "sends.parquet")
    purchases = pd.read_csv(folder / "purchases.csv")
    purchases["date"] = pd.to_datetime(purchases["date"])
    purchases.to_parquet(out / "purchases.parquet")
    opt_ins = pd.read_csv(folder / "opt_ins.csv")
    opt_ins["time"] = pd.to_datetime(opt_ins["time"], utc=True)
    opt_ins.to_parquet(out / "opt_ins.parquet")
    return out


# --- the example log and the formats ---------------------------------------------------------


def test_the_example_log_reads_as_the_contract_says():
    log = read_event_log(EXAMPLE)
    assert log.source == str(EXAMPLE) and log.notes == ()
    assert log.origin == pd.Timestamp("2024-01-02", tz="UTC")
    assert (len(log.members), len(log.sends), len(log.purchases), len(log.opt_ins)) == (
        12,
        52,
        13,
        1,
    )
    members = log.members
    assert members["member_id"].tolist() == list(range(1001, 1013))
    assert members["joined"].tolist()[:4] == [0.0, 0.0, 1.0, 2.0]
    # One holdout member, outside the test cells, who was sent nothing.
    (holdout,) = np.flatnonzero(members["control"])
    assert members["member_id"][holdout] == 1012 and members["cell"][holdout] is None
    assert set(members["cell"].drop(holdout)) == {"A", "B"}
    assert holdout not in set(log.sends["member"])
    assert dict(log.members.dtypes.astype(str)) == {
        "member_id": "int64",
        "joined": "float64",
        "opt_in_email": "bool",
        "opt_in_sms": "bool",
        "opt_in_push": "bool",
        "segment": "object",
        "control": "bool",
        "cell": "object",
    }
    assert dict(log.sends.dtypes.astype(str)) == {
        "member": "int64",
        "time": "float64",
        "channel": "int8",
        "campaign": "category",
        "relevance": "float64",
        **dict.fromkeys(["delivered", "opened", "clicked", "unsubscribed", "complained"], "bool"),
    }
    # Thursday 4 January, 09:00 in Oslo (+01:00): 2 days and 8 hours after the origin.
    first = log.sends.iloc[0]
    assert (first["member"], first["time"], first["channel"]) == (0, 2 + 8 / 24, 0)
    keys = log.sends[["member", "time"]].to_numpy()
    assert (np.diff(keys[:, 0]) >= 0).all()
    assert all((np.diff(keys[keys[:, 0] == m, 1]) >= 0).all() for m in range(12))
    assert log.purchases.iloc[0].tolist() == [0, 4.0, 249.0]
    assert log.opt_ins.iloc[0].tolist() == pytest.approx([2, 22 + 17.2 / 24, 0])


def assert_same_log(a: EventLog, b: EventLog) -> None:
    assert a.origin == b.origin
    for name in ("members", "sends", "purchases", "opt_ins"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True)


def test_parquet_and_csv_give_the_same_log(tmp_path):
    parquet = to_parquet(EXAMPLE, tmp_path / "parquet")
    assert_same_log(read_event_log(parquet), read_event_log(EXAMPLE))


def test_the_logs_of_a_run_read_alike_in_both_formats(tmp_path):
    scenario = write(tmp_path, cli_data())
    for fmt in ("parquet", "csv"):
        done = invoke(
            "run", scenario, "--replications", "1", "--quiet", "--out", tmp_path / f"out_{fmt}",
            "--events", tmp_path / fmt, "--events-format", fmt,
        )  # fmt: skip
        assert done.exit_code == 0, done.output
    for strategy in ("silent", "weekly", "busy"):
        parquet = read_event_log(tmp_path / "parquet" / strategy / "0")
        assert_same_log(parquet, read_event_log(tmp_path / "csv" / strategy / "0"))
        assert len(parquet.members) >= 300 and (len(parquet.sends) > 0) == (strategy != "silent")
        # A day's basket is split into equal purchases: equal rows are kept, with a note.
        assert all("kept as separate rows" in note for note in parquet.notes)


def test_files_named_by_table(tmp_path):
    parquet = to_parquet(EXAMPLE, tmp_path / "parquet")
    files = {
        "members": EXAMPLE / "members.csv",
        "sends": parquet / "sends.parquet",
        "purchases": EXAMPLE / "purchases.csv",
        "opt_ins": parquet / "opt_ins.parquet",
    }
    log = read_event_log(files)
    assert log.source == str(EXAMPLE / "members.csv")
    assert_same_log(log, read_event_log(EXAMPLE))
    # Paths whose stems are the table names.
    assert_same_log(read_event_log(list(files.values())), log)
    assert problems_of([*files.values(), EXAMPLE / "sends.csv"]) == [
        f"{parquet / 'sends.parquet'} and {EXAMPLE / 'sends.csv'}: one table, twice"
    ]
    assert problems_of({"member": EXAMPLE / "members.csv"}) == [
        f"{EXAMPLE / 'members.csv'}: not a table of an event log (tables: members, sends, "
        "purchases, opt_ins); did you mean 'members'?",
        "no members table among the files given",
        "no sends table among the files given",
        "no purchases table among the files given",
    ]


def test_a_folder_with_a_table_twice_or_missing_is_refused(tmp_path):
    folder = to_parquet(EXAMPLE, tmp_path / "log")
    shutil.copy(EXAMPLE / "sends.csv", folder)
    (folder / "purchases.parquet").unlink()
    assert problems_of(folder) == [
        f"{folder}: both sends.parquet and sends.csv; keep one of them",
        f"{folder}: no purchases table (purchases.parquet or purchases.csv)",
    ]
    assert problems_of(tmp_path / "nowhere") == [
        f"{tmp_path / 'nowhere'}: not found; give the folder of the event log, or its files by "
        "table"
    ]


def test_column_mappings_per_table_and_the_quirks_of_the_export(tmp_path):
    folder = tmp_path / "log"
    shutil.copytree(EXAMPLE, folder)
    members = pd.read_csv(EXAMPLE / "members.csv", dtype=str, keep_default_na=False)
    members = members.rename(columns={"member_id": "kundenr", "joined": "innmeldt"})
    members.to_csv(folder / "members.csv", sep=";", index=False, encoding="utf-8-sig")
    purchases = pd.read_csv(EXAMPLE / "purchases.csv", dtype=str)
    purchases["amount"] = purchases["amount"].str.replace(".", ",")
    purchases.to_csv(folder / "purchases.csv", sep=";", index=False)
    options = EventLogOptions(
        columns={"members": {"kundenr": "member_id", "innmeldt": "joined"}},
    )
    log = read_event_log(folder, options)
    assert_same_log(log, read_event_log(EXAMPLE))
    assert log.notes == (
        f"{folder / 'purchases.csv'}: column 'amount': read with a decimal comma (the file is "
        "';'-separated and its numbers hold commas)",
    )
    assert problems_of(folder, EventLogOptions(columns={"member": {}})) == [
        "column mapping for 'member': not a table (tables: members, sends, purchases, "
        "opt_ins); did you mean 'members'?"
    ]


def test_optional_columns_take_their_defaults(tmp_path):
    log = read_event_log(tiny(tmp_path, "1,2024-01-03T10:00:00Z,email,news,1,1,0,0,0\n"))
    assert log.members["segment"].tolist() == [None, None]
    assert log.members["cell"].tolist() == [None, None]
    assert log.members["control"].tolist() == [False, False]
    assert np.isnan(log.sends["relevance"]).all()
    assert log.opt_ins.empty
    assert dict(log.opt_ins.dtypes.astype(str)) == {
        "member": "int64",
        "time": "float64",
        "channel": "int8",
    }


# --- problems of files and cells -------------------------------------------------------------


def test_missing_columns_of_every_table_are_reported_together(tmp_path):
    sends = "member_id,time,channel,campaign,delivered,opened,clicked,unsubscribed\n"
    folder = tiny(tmp_path, "", sends=sends, purchases="member,date,amount\n")
    assert problems_of(folder) == [
        f"{folder / 'sends.csv'}: no column 'complained' (columns: 'member_id', 'time', "
        "'channel', 'campaign', 'delivered', 'opened', 'clicked', 'unsubscribed'); did you "
        "mean 'campaign'?",
        f"{folder / 'purchases.csv'}: no column 'member_id' (columns: 'member', 'date', "
        "'amount'); did you mean 'member'?",
    ]


def test_unreadable_cells_of_every_table_are_reported_together(tmp_path):
    members = MEMBERS.replace("1,2024-01-01,true", "1,2024-01-01,ja")
    sends = "1,2024-01-03 10:00,email,news,1,1,0,0,0\n1,yesterday,email,news,1,1,0,0,0\n"
    purchases = "member_id,date,amount\n1,2024-01-05,12.5\n2,2024-01-06,three\n"
    folder = tiny(tmp_path, sends, members=members, purchases=purchases)
    assert problems_of(folder) == [
        f"{folder / 'members.csv'}: column 'opt_in_email': unreadable opt-ins in data row 1 "
        "(e.g. 'ja'; use true/false, yes/no, 1/0, t/f or y/n)",
        f"{folder / 'sends.csv'}: column 'time': unreadable times in data row 2 (e.g. "
        "'yesterday'; use ISO 8601, e.g. 2024-03-01T09:30:00+01:00)",
        f"{folder / 'purchases.csv'}: column 'amount': amounts that are not numbers in data row 2",
    ]


def test_repeated_rows_are_refused_or_dropped_with_a_note(tmp_path):
    row = "1,2024-01-03T10:00:00Z,email,news,1,1,0,0,0\n"
    folder = tiny(tmp_path, row + "2,2024-01-03T10:00:00Z,email,news,1,0,0,0,0\n" + row)
    sends = folder / "sends.csv"
    assert problems_of(folder) == [
        f"{sends}: 1 row equal to an earlier row in every column: data row 3 (data row 3 "
        "repeats data row 1); if they are copies, drop them (duplicates: drop), if they are "
        "separate records, keep them (duplicates: keep)"
    ]
    log = read_event_log(folder, EventLogOptions(TableOptions(duplicates="drop")))
    assert len(log.sends) == 2
    assert log.notes == (
        f"{sends}: 1 row equal to an earlier row in every column dropped (data row 3)",
    )


def test_equal_purchases_are_kept_unless_told_otherwise(tmp_path):
    folder = tiny(tmp_path, "", purchases=PURCHASES + "2,2024-01-06,3\n")
    purchases = folder / "purchases.csv"
    log = read_event_log(folder)
    assert log.purchases["amount"].tolist() == [12.5, 3.0, 3.0]
    assert log.notes == (
        f"{purchases}: 1 row equal to an earlier row in every column kept as separate rows "
        "(data row 3)",
    )
    refuse = EventLogOptions(duplicates={"purchases": "error"})
    assert problems_of(folder, refuse)[0].startswith(f"{purchases}: 1 row equal to an earlier")
    assert problems_of(folder, EventLogOptions(duplicates={"purchase": "drop"})) == [
        "duplicates for 'purchase': not a table (tables: members, sends, purchases, opt_ins); "
        "did you mean 'purchases'?"
    ]


# --- problems between rows and tables --------------------------------------------------------


def test_unknown_channels_in_any_case_and_unknown_members(tmp_path):
    sends = (
        "1,2024-01-03T10:00:00Z,EMAIL,news,1,1,0,0,0\n"
        "3,2024-01-03T10:00:00Z,email,news,1,1,0,0,0\n"
        "2,2024-01-03T10:00:00Z,letter,news,1,0,0,0,0\n"
    )
    purchases = PURCHASES + "9,2024-01-07,1\n"
    opt_ins = "member_id,time,channel\n2,2024-01-04T10:00:00Z,sms\n4,2024-01-04T10:00:00Z,sms\n"
    folder = tiny(tmp_path, sends, purchases=purchases, opt_ins=opt_ins)
    members = folder / "members.csv"
    assert problems_of(folder) == [
        f"{folder / 'sends.csv'}: column 'member_id': members not in {members} (e.g. '3') in "
        "data row 2",
        f"{folder / 'purchases.csv'}: column 'member_id': members not in {members} (e.g. '9') "
        "in data row 3",
        f"{folder / 'opt_ins.csv'}: column 'member_id': members not in {members} (e.g. '4') in "
        "data row 2",
        f"{folder / 'sends.csv'}: column 'channel': unknown channels (e.g. 'letter'; channels: "
        "email, sms, push) in data row 3",
    ]


def test_a_member_id_given_twice(tmp_path):
    members = MEMBERS + "1,2024-01-03,true,true,false\n"
    folder = tiny(tmp_path, "", members=members)
    assert problems_of(folder) == [
        f"{folder / 'members.csv'}: column 'member_id': member ids given more than once (e.g. "
        "'1') in data rows 1, 3"
    ]


def test_relevance_opens_clicks_and_sends_before_joining(tmp_path):
    header = SENDS_HEADER.replace("campaign,", "campaign,relevance,")
    sends = (
        "1,2024-01-03T10:00:00Z,email,news,1.5,1,1,0,0,0\n"
        "1,2024-01-04T10:00:00Z,email,news,,0,1,0,0,0\n"
        "1,2024-01-05T10:00:00Z,email,news,0.5,1,0,1,0,0\n"
        "2,2024-01-01T23:30:00Z,push,offer,-0.1,1,0,0,0,0\n"
    )
    folder = tiny(tmp_path, "", sends=header + sends)
    path = folder / "sends.csv"
    assert problems_of(folder) == [
        f"{path}: column 'relevance': relevance outside 0 to 1 in data rows 1, 4",
        f"{path}: column 'opened': an open without a delivered send in data row 2",
        f"{path}: column 'clicked': a click without an open in data row 3",
        f"{path}: column 'time': a send before the member joined in data row 4",
    ]


def test_joining_is_a_calendar_day_in_the_zone_of_the_log(tmp_path):
    # 23:30 UTC on 1 January is 00:30 on 2 January in Oslo, the day member 2 joined.
    folder = tiny(tmp_path, "2,2024-01-01T23:30:00Z,push,offer,1,0,0,0,0\n")
    assert problems_of(folder)[0].endswith("a send before the member joined in data row 1")
    oslo = EventLogOptions(TableOptions(timezone="Europe/Oslo"))
    log = read_event_log(folder, oslo)
    # Dates are placed at UTC midnight, times are instants: the send is half an hour before.
    assert log.members["joined"][1] == 1.0 and log.sends["time"][0] == 1 - 0.5 / 24


def test_sends_after_an_exit_without_an_opt_in_since(tmp_path):
    sends = (
        "1,2024-01-03T10:00:00Z,email,news,1,1,0,1,0\n"  # 1 leaves email
        "1,2024-01-04T10:00:00Z,push,offer,1,0,0,0,0\n"  # push is another channel
        "1,2024-01-05T10:00:00Z,email,news,1,0,0,0,0\n"  # after the exit
        "2,2024-01-03T10:00:00Z,push,offer,1,1,0,0,1\n"  # 2 complains on push: an exit too
        "2,2024-01-04T10:00:00Z,push,offer,1,0,0,0,0\n"  # after it
        "1,2024-01-03T10:00:00Z,email,news,1,0,0,0,0\n"  # same time as the exit, later row
    )
    folder = tiny(tmp_path, sends)
    path = folder / "sends.csv"
    assert problems_of(folder) == [
        f"{path}: column 'channel': sends after an exit (an unsubscribe or complaint on that "
        "channel with no opt-in since: e.g. data row 3 after data row 1) in data rows 3, 5, 6"
    ]
    # An opt-in between the exit and the send restores the channel; one after the send not.
    opt_ins = "member_id,time,channel\n1,2024-01-03T10:00:00Z,email\n2,2024-01-03T12:00:00Z,push\n"
    shutil.rmtree(folder)
    folder = tiny(tmp_path, sends, opt_ins=opt_ins)
    log = read_event_log(folder)
    assert log.notes == (
        f"{path}: 1 complaint without an unsubscribe (data row 4): a complaint ends the "
        "subscription and is read as an exit",
    )
    late = opt_ins.replace("2024-01-03T12:00:00Z", "2024-01-04T12:00:00Z")
    shutil.rmtree(folder)
    folder = tiny(tmp_path, sends, opt_ins=late)
    assert problems_of(folder) == [
        f"{path}: column 'channel': sends after an exit (an unsubscribe or complaint on that "
        "channel with no opt-in since: e.g. data row 5 after data row 4) in data row 5"
    ]


def test_negative_amounts_are_refused_as_calibrate_refuses_them(tmp_path):
    folder = tiny(tmp_path, "", purchases=PURCHASES + "2,2024-01-07,-3\n")
    assert problems_of(folder) == [
        f"{folder / 'purchases.csv'}: column 'amount': negative amounts (take refunds out of "
        "the log first) in data row 3"
    ]


def test_a_log_without_members_is_refused_and_one_without_sends_is_not(tmp_path):
    folder = tiny(tmp_path, "", members=MEMBERS.splitlines()[0] + "\n", purchases=PURCHASES[:22])
    assert problems_of(folder) == [f"{folder / 'members.csv'}: no members, only a header"]
    shutil.rmtree(folder)
    log = read_event_log(tiny(tmp_path, ""))
    assert log.sends.empty and len(log.members) == 2


def test_ids_read_as_integers_in_one_file_and_text_in_another_match(tmp_path):
    folder = tiny(tmp_path, "1,2024-01-03T10:00:00Z,email,news,1,1,0,0,0\n")
    members = pd.read_csv(folder / "members.csv")
    members["member_id"] = members["member_id"].astype(str).str.zfill(1)
    members.to_parquet(folder / "members.parquet")
    (folder / "members.csv").unlink()
    log = read_event_log(folder)
    assert log.members["member_id"].tolist() == ["1", "2"] and log.sends["member"].tolist() == [0]
