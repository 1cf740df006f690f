"""Read an engagement event log: who the members are, what was sent to them and how they
responded, what they bought (docs/eventlog.md is the reference of the format).

A log is a folder holding the tables ``members``, ``sends``, ``purchases`` and optionally
``opt_ins``, each ``NAME.parquet`` or ``NAME.csv``, or the same tables named file by file. Each
table is read by sim.io.tables (so the quirks of exports are options), then checked against the
others. All problems are reported at once, each naming the file, the rows and the reason:
first those of the files and cells, then, once every cell could be read, those between rows
and tables. Everything is vectorised: a log of 100,000 members and 5,000,000 sends reads in
seconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from sim.errors import SimInputError, choices_hint
from sim.io.tables import (
    Column,
    Duplicates,
    Table,
    TableOptions,
    count_text,
    read_table,
    rows_text,
)
from sim.spec.fields import CHANNELS

TABLES = ("members", "sends", "purchases", "opt_ins")
OPTIONAL_TABLES = ("opt_ins",)
SUFFIXES = (".parquet", ".csv")
FLAGS = ("delivered", "opened", "clicked", "unsubscribed", "complained")
DAY = pd.Timedelta(days=1)

_MEMBER = Column("member_id", "id", "member ids", aliases=("member", "customer_id", "id"))
COLUMNS: dict[str, tuple[Column, ...]] = {
    "members": (
        _MEMBER,
        Column("joined", "date", "dates"),
        *(Column(f"opt_in_{c}", "bool", "opt-ins") for c in CHANNELS),
        Column("segment", "text", "segments", optional=True, empty=True),
        Column("control", "bool", "control flags", optional=True),
        Column("cell", "text", "cells", optional=True, empty=True),
    ),
    "sends": (
        _MEMBER,
        Column("time", "time", "times"),
        Column("channel", "text", "channels"),
        Column("campaign", "text", "campaigns"),
        Column("relevance", "number", "relevances", optional=True, empty=True),
        *(Column(flag, "bool", "flags") for flag in FLAGS),
    ),
    "purchases": (
        _MEMBER,
        Column("date", "date", "dates"),
        Column("amount", "number", "amounts"),
    ),
    "opt_ins": (
        _MEMBER,
        Column("time", "time", "times"),
        Column("channel", "text", "channels"),
    ),
}


# Purchases carry no transaction id: two equal rows are two purchases of one amount on one day
# as often as a copy (the simulator itself splits a day's basket into equal purchases).
DUPLICATES: Mapping[str, Duplicates] = {"purchases": "keep"}


@dataclass(frozen=True)
class EventLogOptions:
    """How the tables are written: the quirks of the export (shared by every table), per
    table a mapping of the file's column names to ours (``{"sends": {"ts": "time"}}``), and
    per table what to do with rows equal in every column, where ``table.duplicates`` does not
    apply (by default, equal purchases are kept)."""

    table: TableOptions = field(default_factory=TableOptions)
    columns: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    duplicates: Mapping[str, Duplicates] = field(default_factory=lambda: dict(DUPLICATES))


@dataclass(frozen=True)
class EventLog:
    """A checked event log. Times are days since ``origin``; members are referred to by their
    row in ``members``; channels by their index in CHANNELS."""

    source: str  # the folder (or first file) for messages
    origin: pd.Timestamp  # UTC midnight of the earliest `joined` date
    members: pd.DataFrame  # member_id, joined, opt_in_<channel>, segment, control, cell
    sends: pd.DataFrame  # member, time, channel, campaign, relevance, delivered ... complained
    purchases: pd.DataFrame  # member, day, amount
    opt_ins: pd.DataFrame  # member, time, channel (empty when the log has no opt_ins table)
    notes: tuple[str, ...]  # what was dropped or assumed, for the caller to print


def read_event_log(
    path_or_paths: str | Path | Mapping[str, str | Path] | Sequence[str | Path],
    options: EventLogOptions | None = None,
) -> EventLog:
    """Read and check the event log in a folder, or in files given by table name (a mapping
    ``{"members": path, ...}``, or paths whose stems are the table names).

    Raises SimInputError (exit code 2) naming file, rows and reason for anything that cannot
    be used; notes say what was dropped or assumed.
    """
    options = options or EventLogOptions()
    source, files = _locate(path_or_paths)
    unknown = [
        f"{what} for {name!r}: not a table{choices_hint(name, TABLES, 'tables')}"
        for what, given in (("column mapping", options.columns), ("duplicates", options.duplicates))
        for name in given
        if name not in TABLES
    ]
    if unknown:
        raise SimInputError(unknown, source)
    problems: list[str] = []
    tables: dict[str, Table] = {}
    for name, path in files.items():
        try:
            duplicates = options.duplicates.get(name, options.table.duplicates)
            quirks = replace(options.table, duplicates=duplicates)
            tables[name] = read_table(
                path, COLUMNS[name], quirks, options.columns.get(name), problems
            )
        except SimInputError as exc:
            problems.extend(exc.problems)
    if problems:
        raise SimInputError(problems, source)
    return _check_and_build(source, tables, options.table.timezone)


def _locate(
    given: str | Path | Mapping[str, str | Path] | Sequence[str | Path],
) -> tuple[str, dict[str, Path]]:
    """The source for messages and the file of each table present."""
    if isinstance(given, str | Path):
        folder = Path(given)
        if not folder.is_dir():
            what = "not found" if not folder.exists() else "not a folder"
            raise SimInputError(
                f"{folder}: {what}; give the folder of the event log, or its files by table",
                str(folder),
            )
        return str(folder), _tables_in(folder)
    if isinstance(given, Mapping):
        named = dict(given)
        problems = []
    else:
        stems = [Path(path).stem for path in given]
        named = dict(zip(stems, given, strict=True))
        problems = [
            f"{' and '.join(str(p) for p in given if Path(p).stem == stem)}: one table, twice"
            for stem in dict.fromkeys(s for s in stems if stems.count(s) > 1)
        ]
    source = str(next(iter(named.values()), ""))
    problems += [
        f"{path}: not a table of an event log{choices_hint(name, TABLES, 'tables')}"
        for name, path in named.items()
        if name not in TABLES
    ]
    problems += [
        f"no {name} table among the files given"
        for name in TABLES
        if name not in named and name not in OPTIONAL_TABLES
    ]
    if problems:
        raise SimInputError(problems, source)
    return source, {name: Path(named[name]) for name in TABLES if name in named}


def _tables_in(folder: Path) -> dict[str, Path]:
    problems, files = [], {}
    for name in TABLES:
        found = [folder / f"{name}{suffix}" for suffix in SUFFIXES]
        found = [path for path in found if path.exists()]
        if len(found) > 1:
            problems.append(f"{folder}: both {found[0].name} and {found[1].name}; keep one of them")
        elif found:
            files[name] = found[0]
        elif name not in OPTIONAL_TABLES:
            problems.append(f"{folder}: no {name} table ({name}.parquet or {name}.csv)")
    if problems:
        raise SimInputError(problems, str(folder))
    return files


# --- checks between rows and tables ----------------------------------------------------------


def _check_and_build(source: str, tables: dict[str, Table], zone: str) -> EventLog:
    """The checks between rows and tables, then the log in days since the origin."""
    problems: list[str] = []
    notes = [note for table in tables.values() for note in table.notes]
    members = tables["members"]
    if members.frame.empty:
        raise SimInputError(f"{members.source}: no members, only a header", source)
    ids = members.frame["member_id"]
    repeated = ids.duplicated(keep=False).to_numpy()
    if repeated.any():
        what = f"member ids given more than once (e.g. {str(ids[repeated].iloc[0])!r})"
        problems.append(members.problem("member_id", what, repeated))
    ordered = members.frame.sort_values("member_id", kind="stable")
    index = pd.Index(ordered["member_id"])
    origin = pd.Timestamp(ordered["joined"].min()).tz_localize("UTC")
    joined = _days(ordered["joined"], origin)
    member = {
        name: _member_positions(table, index, members.source, problems)
        for name, table in tables.items()
        if name != "members"
    }
    channel = {
        name: channel_codes(tables[name], problems)
        for name in ("sends", "opt_ins")
        if name in tables
    }
    sends, purchases = tables["sends"], tables["purchases"]
    time = _days(sends.frame["time"], origin)
    order = _order(member["sends"], time)
    _check_sends(sends, member["sends"], joined, origin, zone, problems)
    opt_ins = tables.get("opt_ins")
    opt_in_time = np.zeros(0) if opt_ins is None else _days(opt_ins.frame["time"], origin)
    opt_in_member = member.get("opt_ins", np.zeros(0, dtype=np.int64))
    opt_in_channel = channel.get("opt_ins", np.zeros(0, dtype=np.int64))
    notes += _check_exits(
        sends,
        order,
        (member["sends"], channel["sends"], time),
        (opt_in_member, opt_in_channel, opt_in_time),
        problems,
    )
    amount = purchases.frame["amount"].to_numpy(dtype=np.float64)
    negative = amount < 0
    if negative.any():
        what = "negative amounts (take refunds out of the log first)"
        problems.append(purchases.problem("amount", what, negative))
    if problems:
        raise SimInputError(problems, source)

    flags = {flag: sends.frame[flag].to_numpy(dtype=bool) for flag in FLAGS}
    relevance = sends.frame.get("relevance")
    day = _days(purchases.frame["date"], origin)
    return EventLog(
        source=source,
        origin=origin,
        members=pd.DataFrame(
            {
                "member_id": pd.Series(
                    ordered["member_id"].to_numpy(), dtype=ordered["member_id"].dtype
                ),
                "joined": joined,
                **{f"opt_in_{c}": ordered[f"opt_in_{c}"].to_numpy(dtype=bool) for c in CHANNELS},
                "segment": _texts(ordered, "segment"),
                "control": (
                    ordered["control"].to_numpy(dtype=bool)
                    if "control" in ordered
                    else np.zeros(len(ordered), dtype=bool)
                ),
                "cell": _texts(ordered, "cell"),
            }
        ),
        sends=_frame(
            order,
            {
                "member": member["sends"],
                "time": time,
                "channel": channel["sends"].astype(np.int8),
                "campaign": pd.Categorical(sends.frame["campaign"].to_numpy(dtype=object)),
                "relevance": (
                    np.full(len(time), np.nan)
                    if relevance is None
                    else relevance.to_numpy(dtype=np.float64)
                ),
                **flags,
            },
        ),
        purchases=_frame(
            _order(member["purchases"], day),
            {"member": member["purchases"], "day": day, "amount": amount},
        ),
        opt_ins=_frame(
            _order(opt_in_member, opt_in_time),
            {
                "member": opt_in_member,
                "time": opt_in_time,
                "channel": opt_in_channel.astype(np.int8),
            },
        ),
        notes=tuple(notes),
    )


def _days(times: pd.Series, origin: pd.Timestamp) -> np.ndarray:
    """UTC instants, or calendar days (naive, placed at UTC midnight), as float days since
    ``origin``."""
    start = origin if times.dt.tz is not None else origin.tz_localize(None)
    return ((times - start) / DAY).to_numpy(dtype=np.float64)


def _order(member: np.ndarray, time: np.ndarray) -> np.ndarray:
    """The row order by member, then time, then file order."""
    # Two stable sorts: a second of work for millions of rows in file order, next to nothing
    # for a log already written in time order (np.lexsort takes longer in both cases).
    by_time = np.argsort(time, kind="stable")
    return by_time[np.argsort(member[by_time], kind="stable")]


def _frame(order: np.ndarray, columns: dict[str, np.ndarray | pd.Categorical]) -> pd.DataFrame:
    return pd.DataFrame({name: values[order] for name, values in columns.items()})


def _texts(frame: pd.DataFrame, column: str) -> pd.Series:
    """An optional text column, of Python strings and None (where empty or absent)."""
    if column not in frame:
        return pd.Series(np.full(len(frame), None), dtype=object)
    return pd.Series(frame[column].to_numpy(dtype=object), dtype=object)


def _member_positions(
    table: Table, index: pd.Index, members_source: str, problems: list[str]
) -> np.ndarray:
    """Each row's member as its position in ``index`` (the sorted member ids), -1 for ids not
    in the members table (a problem)."""
    ids = table.frame["member_id"]
    # An id given twice (a problem of its own) stands for its first row.
    first = np.flatnonzero(~index.duplicated())
    unique = index[first]
    if ids.dtype == index.dtype:
        found = unique.get_indexer(ids)
    else:  # ids read as integers in one file and as text in another: compare as written
        found = pd.Index(unique.astype(str)).get_indexer(ids.astype(str))
    found = np.where(found >= 0, first[found], -1)
    unknown = found < 0
    if unknown.any():
        what = f"members not in {members_source} (e.g. {str(ids[unknown].iloc[0])!r})"
        problems.append(table.problem("member_id", what, unknown))
    return found.astype(np.int64)


def channel_codes(
    table: Table,
    problems: list[str],
    allowed: Sequence[str] = CHANNELS,
    unknown: str = "unknown channels (e.g. {example!r}; channels: {allowed})",
) -> np.ndarray:
    """Each row's channel (any case) as its index in CHANNELS, -1 where it is not one of
    ``allowed`` (a problem, worded by ``unknown``)."""
    codes, names = pd.factorize(table.frame["channel"])
    known = {name: CHANNELS.index(name) for name in allowed}
    # One look-up per distinct name; the trailing -1 is what an empty cell's code -1 takes.
    of_name = np.array([known.get(str(name).lower(), -1) for name in names] + [-1])
    channel = of_name[codes].astype(np.int64)
    outside = channel < 0
    if outside.any():
        example = str(table.frame["channel"][outside].iloc[0])
        what = unknown.format(example=example, allowed=", ".join(allowed))
        problems.append(table.problem("channel", what, outside))
    return channel


def _check_sends(
    sends: Table,
    member: np.ndarray,
    joined: np.ndarray,
    origin: pd.Timestamp,
    zone: str,
    problems: list[str],
) -> None:
    """Relevance within 0-1, an open only of a delivered send and a click only of an open,
    no send before the member joined."""
    s = sends.frame
    if "relevance" in s:
        relevance = s["relevance"].to_numpy(dtype=np.float64)
        outside = (relevance < 0) | (relevance > 1)
        if outside.any():
            problems.append(sends.problem("relevance", "relevance outside 0 to 1", outside))
    for flag, needs, what in (
        ("opened", "delivered", "an open without a delivered send"),
        ("clicked", "opened", "a click without an open"),
    ):
        bad = (s[flag] & ~s[needs]).to_numpy(dtype=bool)
        if bad.any():
            problems.append(sends.problem(flag, what, bad))
    # Joined is a calendar day: a send is before it if it falls on an earlier day in the zone
    # the log's times are read in, wherever the member's joining day began in UTC.
    wall = s["time"].dt.tz_convert(zone).dt.tz_localize(None)
    local = ((wall - origin.tz_localize(None)) / DAY).to_numpy(dtype=np.float64)
    known = member >= 0
    early = np.zeros(len(s), dtype=bool)
    early[known] = local[known] < joined[member[known]]
    if early.any():
        problems.append(sends.problem("time", "a send before the member joined", early))


def _check_exits(
    sends: Table,
    order: np.ndarray,
    send: tuple[np.ndarray, np.ndarray, np.ndarray],
    opt_in: tuple[np.ndarray, np.ndarray, np.ndarray],
    problems: list[str],
) -> list[str]:
    """Sends on a channel after the member left it, by an unsubscribe or a complaint (a spam
    complaint ends the subscription), with no opt-in on that channel since. Returns a note on
    the complaints that came without an unsubscribe.

    ``send`` and ``opt_in`` are (member position, channel index, time in days) per row;
    ``order`` sorts the sends by member, time and file order.
    """
    s = sends.frame
    rows = s.index.to_numpy()
    unsubscribed = s["unsubscribed"].to_numpy(dtype=bool)
    complained = s["complained"].to_numpy(dtype=bool)
    notes = []
    alone = complained & ~unsubscribed
    if alone.any():
        notes.append(
            f"{sends.source}: {count_text(int(alone.sum()), 'complaint')} without an "
            f"unsubscribe ({rows_text(rows[alone])}): a complaint ends the subscription and "
            "is read as an exit"
        )
    member, channel, time = send
    at = order[(member[order] >= 0) & (channel[order] >= 0)]
    if at.size == 0:
        return notes
    # By member, channel, time and file order: the stable sort keeps the order within a member.
    at = at[np.argsort(member[at] * len(CHANNELS) + channel[at], kind="stable")]
    group = member[at] * len(CHANNELS) + channel[at]
    position = np.arange(at.size)
    start = np.maximum.accumulate(np.where(np.r_[True, group[1:] != group[:-1]], position, 0))
    # The position of the last exit before each send; positions only grow, so a running
    # maximum finds it, and it belongs to the send's member and channel if past its start.
    exits = np.where((unsubscribed | complained)[at], position, -1)
    last_exit = np.r_[-1, np.maximum.accumulate(exits)[:-1]]
    after = np.flatnonzero(last_exit >= start)
    if after.size == 0:
        return notes
    exit_time = time[at[last_exit[after]]]
    restored = np.zeros(after.size, dtype=bool)
    o_member, o_channel, o_time = opt_in
    if o_time.size:
        # The latest opt-in at or before each send; one at or after the exit restores it.
        given = pd.DataFrame({"group": o_member * len(CHANNELS) + o_channel, "time": o_time})
        given["opted"] = given["time"]
        wanted = pd.DataFrame({"group": group[after], "time": time[at[after]]})
        wanted["k"] = np.arange(after.size)
        latest = pd.merge_asof(
            wanted.sort_values("time"), given.sort_values("time"), on="time", by="group"
        ).sort_values("k")
        restored = (latest["opted"] >= exit_time).to_numpy()
    bad = after[~restored]
    if bad.size:
        mask = np.zeros(len(s), dtype=bool)
        mask[at[bad]] = True
        k = bad[np.argmin(rows[at[bad]])]
        what = (
            "sends after an exit (an unsubscribe or complaint on that channel with no opt-in "
            f"since: e.g. data row {rows[at[k]]} after data row {rows[at[last_exit[k]]]})"
        )
        problems.append(sends.problem("channel", what, mask))
    return notes
