"""Event logs of a run (``loyaltysim run --events DIR``): for each strategy and replication,
``DIR/<strategy>/<replication>/`` holds members, sends, purchases and opt_ins, in Parquet
(the default) or CSV, the columns of docs/results.md (Event logs).

The engine hands a replication's events over as they happen (the sinks of
sim.engine.events); each table buffers them and writes a row group whenever
``ROW_GROUP_ROWS`` rows are waiting, so memory stays bounded however many members and days a
run has. ``EventLogWriter`` is the picklable recipe that each worker process turns into the
log of its replication's strategies (``EventLogWriter(...)(replication, strategies)``).

Times: the simulation's clock counts days from the run's start; the log puts day 0 on a
calendar date (the scenario's ``start_date``, a Monday) at midnight UTC, so
the hour of day is the simulation's. A send is timed to its minute, as the engine keys its
draws; purchases and joins are dated by their day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from sim.spec.fields import CHANNELS
from sim.spec.scenario import DEFAULT_START

FORMATS: tuple[str, ...] = ("parquet", "csv")
# About 13 MB of sends per table waiting to be written.
ROW_GROUP_ROWS = 1 << 18
MINUTES_PER_DAY = 1440

_TIME = pa.timestamp("ms", tz="UTC")
SCHEMAS: dict[str, pa.Schema] = {
    "members": pa.schema(
        [
            ("member_id", pa.int64()),
            ("joined", pa.date32()),
            *((f"opt_in_{c}", pa.bool_()) for c in CHANNELS),
            ("segment", pa.string()),
            ("control", pa.bool_()),
            ("cell", pa.string()),
        ]
    ),
    "sends": pa.schema(
        [
            ("member_id", pa.int64()),
            ("time", _TIME),
            ("channel", pa.string()),
            ("campaign", pa.string()),
            ("relevance", pa.float64()),
            ("delivered", pa.bool_()),
            ("opened", pa.bool_()),
            ("clicked", pa.bool_()),
            ("unsubscribed", pa.bool_()),
            ("complained", pa.bool_()),
        ]
    ),
    "purchases": pa.schema(
        [("member_id", pa.int64()), ("date", pa.date32()), ("amount", pa.float64())]
    ),
    "opt_ins": pa.schema([("member_id", pa.int64()), ("time", _TIME), ("channel", pa.string())]),
}


def folder_problem(strategy: str, others: Sequence[str]) -> str | None:
    """Why ``strategy`` cannot name its folder of an event log, or None: a path separator,
    ``.`` or ``..``, more than 255 bytes, or a name that differs from another of ``others``
    only in case (one folder on case-insensitive file systems)."""
    if "/" in strategy or "\\" in strategy or strategy in (".", ".."):
        return "holds a path separator or is . or .."
    if len(strategy.encode("utf-8")) > 255:
        return "is longer than a file name may be (255 bytes)"
    if any(o != strategy and o.casefold() == strategy.casefold() for o in others):
        return "differs from another strategy's name only in case"
    return None


def _dated(days: np.ndarray, start: date) -> pa.Array:
    """Whole days from ``start`` as dates."""
    epoch_day = (start - date(1970, 1, 1)).days
    return pa.array(np.asarray(days, dtype=np.int32) + np.int32(epoch_day), type=pa.date32())


def _timed(t: float, n: int, start: date) -> pa.Array:
    """``n`` times t days after midnight UTC of ``start``, to the minute (as the engine keys
    its draws)."""
    origin = datetime(start.year, start.month, start.day, tzinfo=UTC)
    ms = round(origin.timestamp() * 1000) + round(t * MINUTES_PER_DAY) * 60_000
    return pa.array(np.full(n, ms, dtype=np.int64), type=_TIME)


class _Table:
    """One table's file, written one row group at a time as rows arrive."""

    def __init__(self, path: Path, schema: pa.Schema, fmt: str) -> None:
        self.schema = schema
        if fmt == "csv":  # times as ISO 8601 text with their offset, not Arrow's own layout
            self.out_schema = pa.schema(
                [pa.field(f.name, pa.string()) if f.type == _TIME else f for f in schema]
            )
            self.writer: pq.ParquetWriter | pa_csv.CSVWriter = pa_csv.CSVWriter(
                path, self.out_schema
            )
        else:
            self.writer = pq.ParquetWriter(path, schema)
        self.waiting: list[pa.RecordBatch] = []
        self.rows = 0

    def append(self, columns: list[pa.Array]) -> None:
        """Rows given as one array per column, in the schema's order (copies of the engine's
        arrays: Arrow may share a NumPy array's memory)."""
        batch = pa.RecordBatch.from_arrays(columns, schema=self.schema)
        self.waiting.append(batch)
        self.rows += batch.num_rows
        if self.rows >= ROW_GROUP_ROWS:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        table = pa.Table.from_batches(self.waiting, self.schema)
        self.waiting, self.rows = [], 0
        if isinstance(self.writer, pa_csv.CSVWriter):
            for i, f in enumerate(self.schema):
                if f.type == _TIME:
                    seconds = table.column(i).cast(pa.timestamp("s", tz="UTC"))
                    text = pc.strftime(seconds, format="%Y-%m-%dT%H:%M:%S+00:00")
                    table = table.set_column(i, f.name, text)
            self.writer.write_table(table.cast(self.out_schema))
        else:
            self.writer.write_table(table, row_group_size=ROW_GROUP_ROWS)

    def close(self) -> None:
        self.flush()
        self.writer.close()


@dataclass(frozen=True)
class EventLogWriter:
    """The event logs of a run under ``folder`` in ``fmt`` (parquet or csv), day 0 on
    ``start``. Called with a replication and its strategies, it makes their log (a
    ``sim.engine.events.EventLog``) in the process that simulates them."""

    folder: Path
    fmt: str = "parquet"
    start: date = DEFAULT_START

    def __call__(self, replication: int, strategies: Sequence[str]) -> ReplicationEvents:
        return ReplicationEvents(self, replication, strategies)


class ReplicationEvents:
    """The tables of one replication's strategies, one folder per strategy (an EventLog).
    Arrow may share a NumPy array's memory, so the engine's arrays are copied (booleans are
    bit-packed, always a copy)."""

    def __init__(self, spec: EventLogWriter, replication: int, strategies: Sequence[str]) -> None:
        self.start = spec.start
        self.tables: list[dict[str, _Table]] = []
        for name in strategies:
            folder = spec.folder / name / str(replication)
            folder.mkdir(parents=True, exist_ok=True)
            self.tables.append(
                {
                    table: _Table(folder / f"{table}.{spec.fmt}", schema, spec.fmt)
                    for table, schema in SCHEMAS.items()
                }
            )

    def members(
        self,
        join_day: np.ndarray,
        opt_in: np.ndarray,
        segment: np.ndarray,
        segments: Sequence[str],
        control: np.ndarray | None,
    ) -> None:
        n = join_day.size
        columns = [
            pa.array(np.arange(n, dtype=np.int64)),
            _dated(join_day, self.start),
            *(pa.array(opt_in[c]) for c in range(len(CHANNELS))),
            pa.array(list(segments), pa.string()).take(pa.array(segment.astype(np.int64))),
            pa.array(np.zeros(n, dtype=bool) if control is None else control),
            pa.nulls(n, pa.string()),  # the simulator runs no experiment cells
        ]
        for tables in self.tables:
            tables["members"].append(columns)

    def sends(
        self,
        s: int,
        t: float,
        channel: int,
        campaign: str,
        members: np.ndarray,
        relevance: np.ndarray,
        delivered: np.ndarray,
        opened: np.ndarray,
        clicked: np.ndarray,
        exited: np.ndarray,
        complained: np.ndarray,
    ) -> None:
        n = members.size
        self.tables[s]["sends"].append(
            [
                pa.array(members.astype(np.int64)),
                _timed(t, n, self.start),
                pa.repeat(CHANNELS[channel], n),
                pa.repeat(campaign, n),
                pa.array(np.array(relevance, dtype=np.float64)),
                *map(pa.array, (delivered, opened, clicked, exited, complained)),
            ]
        )

    def opt_ins(self, s: int, t: float, channel: int, members: np.ndarray) -> None:
        n = members.size
        self.tables[s]["opt_ins"].append(
            [
                pa.array(members.astype(np.int64)),
                _timed(t, n, self.start),
                pa.repeat(CHANNELS[channel], n),
            ]
        )

    def baseline(self, day: int, members: np.ndarray, counts: np.ndarray) -> None:
        """Not a strategy's purchases: not logged."""

    def purchases(
        self, s: int, day: int, members: np.ndarray, counts: np.ndarray, amounts: np.ndarray
    ) -> None:
        """One row per purchase: a member's purchases of a day share its basket (docs/model.md,
        section 3), so each gets an equal part of the day's spend (as PurchaseLog does)."""
        counts = counts.astype(np.int64)
        n = int(counts.sum())
        self.tables[s]["purchases"].append(
            [
                pa.array(np.repeat(members.astype(np.int64), counts)),
                _dated(np.full(n, day), self.start),
                pa.array(np.repeat(amounts / np.maximum(counts, 1), counts)),
            ]
        )

    def close(self) -> None:
        for tables in self.tables:
            for table in tables.values():
                table.close()
