"""Read a transaction log (one row per purchase) into the per-customer BG/NBD summary.

The file, CSV or Parquet, is read by sim.io.tables with its options for the quirks of exports.
Time is counted in whole days: purchases of a customer on the same day are one purchase (their
amounts summed). Rows are referred to by data row number, 1 for the first row after the header.
Every problem in the file is reported at once, each naming the column and the rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from sim.errors import SimInputError
from sim.io.tables import Column, Table, TableOptions, count_text, read_table, rows_text

# Names exports give the columns, suggested when the default name is missing.
CUSTOMER_ALIASES = ("customer_id", "customerid", "member_id", "member", "kundenr", "kunde_id")
CUSTOMER_ALIASES += ("kundenummer", "client_id", "id")
DATE_ALIASES = ("purchase_date", "order_date", "transaction_date", "dato", "time", "timestamp")
AMOUNT_ALIASES = ("value", "total", "sum", "revenue", "price", "belop", "beløp", "belopp")
# Without a transaction id, two equal rows are two purchases of one amount on one day (two
# coffees) as often as a copy; they are merged as same-day purchases, and the notes say so.
KEEP_REPEATS = TableOptions(duplicates="keep")


@dataclass(frozen=True)
class Customers:
    """Customers of the calibration cohort (first purchase on or before the calibration end).

    Days are whole days; ``first`` counts from the first date in the file.
    """

    id: np.ndarray  # customer id as written in the file (text)
    x: np.ndarray  # repeat purchase days in the calibration period
    t_x: np.ndarray  # days from the first purchase to the last one in the calibration period
    T: np.ndarray  # days from the first purchase to the calibration end
    spend: np.ndarray  # mean amount of the repeat purchase days (NaN where x = 0), currency
    first: np.ndarray  # day of the first purchase
    holdout: np.ndarray  # repeat purchase days after the calibration end
    segment: np.ndarray  # segment index into TransactionLog.segments

    @property
    def size(self) -> int:
        return int(self.x.size)

    def subset(self, mask: np.ndarray) -> Customers:
        return Customers(**{k: getattr(self, k)[mask] for k in self.__dataclass_fields__})


@dataclass(frozen=True)
class TransactionLog:
    """The summary of a transaction file, as the fits and the diagnostics need it."""

    source: str
    rows: int  # data rows read
    start: date  # first purchase date in the file
    end: date  # last purchase date in the file
    calibration_end: date  # last day of the calibration period
    holdout_days: int  # days after the calibration end up to ``end`` (0: no holdout)
    customers: Customers
    segments: tuple[str, ...]  # segment names (one, "all", without a segment column)
    repeat_day: np.ndarray  # day of every repeat purchase of the cohort, whole file
    repeat_segment: np.ndarray  # its customer's segment index
    notes: tuple[str, ...]  # what was done to the data that the user should know

    @property
    def days(self) -> int:
        """Days from the first date to the last, both included."""
        return (self.end - self.start).days + 1


def read_transactions(
    path: str | Path,
    customer_col: str = "customer",
    date_col: str = "date",
    amount_col: str = "amount",
    segment_col: str | None = None,
    calibration_end: str | date | None = None,
    options: TableOptions | None = None,
) -> TransactionLog:
    """Read, check and summarise the CSV or Parquet file at ``path``.

    Without ``calibration_end`` the whole file is the calibration period; with it, later
    purchases of the cohort form the holdout used to check predictions. ``options`` describe
    how the file is written (separator, decimal comma, time zone, repeated rows); without
    them, rows equal in every column are kept (KEEP_REPEATS).
    """
    source = str(path)
    wanted = [customer_col, date_col, amount_col] + ([segment_col] if segment_col else [])
    repeated = sorted({c for c in wanted if wanted.count(c) > 1})
    if repeated:
        raise SimInputError(
            f"{source}: column {repeated[0]!r} is named for two roles (customer, date, amount, "
            "segment); each needs a column of its own",
            source,
        )
    roles = {"customer": customer_col, "date": date_col, "amount": amount_col}
    roles |= {"segment": segment_col} if segment_col else {}
    problems: list[str] = []
    table = read_table(
        path,
        [
            # Empty ids and segments are checked below, in the words of a transaction log.
            Column("customer", "id", "customer ids", empty=True, aliases=CUSTOMER_ALIASES),
            Column("date", "date", "dates", aliases=DATE_ALIASES),
            Column("amount", "number", "amounts", aliases=AMOUNT_ALIASES),
            *([Column("segment", "text", "segments", empty=True)] if segment_col else []),
        ],
        options or KEEP_REPEATS,
        # Only names the user chose: a default name that is missing gets the aliases as hints.
        rename={theirs: ours for ours, theirs in roles.items() if theirs != ours},
        problems=problems,
    )
    raw = table.frame
    if raw.empty and not problems:
        raise SimInputError(f"{source}: no transactions, only a header", source)
    row = raw.index.to_numpy()
    # Ids as text, as written: a column of plain whole numbers comes back as integers.
    customer = raw["customer"]
    if customer.dtype == np.int64:  # all plain whole numbers: numeric ids, none missing
        customer = pd.Series(customer.to_numpy().astype(str).astype(object), index=raw.index)
    else:
        _check_missing(customer, table, "customer", "no customer id", problems)
        _check_id_kinds(customer, table, problems)
    day = raw["date"].to_numpy().astype("datetime64[D]").astype(np.int64)
    amount = raw["amount"].to_numpy(dtype=np.float64)
    negative = np.isfinite(amount) & (amount < 0)
    if negative.any():
        what = "negative amounts (take refunds out of the log first)"
        problems.append(table.problem("amount", what, negative))
    segment = raw["segment"] if segment_col else None
    if segment is not None:
        _check_missing(segment, table, "segment", "no segment", problems)
    if problems:
        raise SimInputError(problems, source)

    codes, ids = pd.factorize(customer.to_numpy())
    order = np.lexsort((day, codes))
    codes, day, amount, row = codes[order], day[order], amount[order], row[order]
    segment_of, names = _customer_segments(segment, order, codes, row, source, segment_col)
    notes = list(table.notes)
    codes, day, amount = _one_purchase_a_day(codes, day, amount, row, notes)
    start_day, end_day = int(day.min()), int(day.max())
    end_cal = _calibration_end(calibration_end, start_day, end_day, source)
    columns, repeat_day, repeat_customer = _summarise(codes, day - start_day, amount, end_cal)
    cohort = columns.pop("cohort")
    columns["id"] = np.asarray(ids, dtype=object)
    columns["segment"] = segment_of
    customers = Customers(**{k: v[cohort] for k, v in columns.items()})
    if not cohort.all():
        later = count_text(int(np.sum(~cohort)), "customer")
        notes.append(f"{later} first bought after the calibration end: left out")
    for k in np.setdiff1d(np.arange(len(names)), customers.segment):
        notes.append(f"segment {names[k]!r} has no customer in the calibration cohort: left out")
    single = int(np.sum(customers.x == 0))
    if single:
        notes.append(
            f"{count_text(single, 'customer')} without a repeat purchase (x = 0) in calibration"
        )
    in_cohort = cohort[repeat_customer]
    return TransactionLog(
        source=source,
        rows=len(raw),  # after any repeated rows dropped
        start=_to_date(start_day),
        end=_to_date(end_day),
        calibration_end=_to_date(start_day + end_cal),
        holdout_days=end_day - start_day - end_cal,
        customers=customers,
        segments=names,
        repeat_day=repeat_day[in_cohort],
        repeat_segment=segment_of[repeat_customer[in_cohort]],
        notes=tuple(notes),
    )


def _one_purchase_a_day(
    codes: np.ndarray, day: np.ndarray, amount: np.ndarray, row: np.ndarray, notes: list[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge rows of one customer and day (sorted by customer, day, file row), summing amounts.

    Notes rows whose dates go backwards within a customer, and the rows merged away.
    """
    same_customer = codes[1:] == codes[:-1]
    # The sort is stable: within a customer, rows stay in file order unless a date goes back.
    backwards = row[1:][same_customer & (row[1:] < row[:-1])]
    if backwards.size:
        notes.append(f"dates out of order (e.g. {rows_text(np.sort(backwards))}): sorted")
    starts = np.flatnonzero(np.r_[True, ~same_customer | (day[1:] != day[:-1])])
    merged = np.setdiff1d(row, row[starts])
    if merged.size:
        notes.append(
            f"{count_text(merged.size, 'same-day purchase')} merged into the customer's "
            f"first row of that day ({rows_text(merged)})"
        )
    return codes[starts], day[starts], np.add.reduceat(amount, starts)


# --- reading and checking --------------------------------------------------------------------


def _check_missing(
    values: pd.Series, table: Table, col: str, what: str, problems: list[str]
) -> None:
    empty = values.isna().to_numpy()
    if empty.any():
        problems.append(table.problem(col, what, empty))


def _check_id_kinds(ids: pd.Series, table: Table, problems: list[str]) -> None:
    """Ids must be all numbers or all text: a mix usually means two exports were joined, and
    the same customer may then appear under two ids (e.g. 1042 and "C1042")."""
    given = ids.notna().to_numpy()
    codes, distinct = pd.factorize(ids)  # each distinct id is tried once
    numeric = np.append(pd.to_numeric(distinct, errors="coerce").notna(), False)[codes]
    n_num, n_text = int(np.sum(numeric & given)), int(np.sum(~numeric & given))
    if n_num and n_text:
        minority = numeric if n_num < n_text else ~numeric & given
        kind = "numeric" if n_num < n_text else "text"
        what = (
            f"mixes numeric ids ({count_text(n_num, 'row')}) and text ids "
            f"({count_text(n_text, 'row')}); the {kind} ones are"
        )
        problems.append(table.problem("customer", what, minority))


def _customer_segments(
    segment: pd.Series | None,
    order: np.ndarray,
    codes: np.ndarray,
    row: np.ndarray,
    source: str,
    col: str | None,
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Each customer's segment index and the segment names; a customer must keep one."""
    n = int(codes.max()) + 1
    if segment is None:
        return np.zeros(n, dtype=np.int64), ("all",)
    seg_codes, names = pd.factorize(segment.to_numpy()[order], sort=True)
    changes = (codes[1:] == codes[:-1]) & (seg_codes[1:] != seg_codes[:-1])
    if changes.any():
        raise SimInputError(
            f"{source}: column {col!r}: a customer's segment changes in "
            f"{rows_text(np.sort(row[1:][changes]))}; give each customer one segment",
            source,
        )
    of = np.empty(n, dtype=np.int64)
    of[codes] = seg_codes
    return of, tuple(str(v) for v in names)


def _calibration_end(given: str | date | None, first: int, last: int, source: str) -> int:
    """The calibration end as days since the first date in the file."""
    if given is None:
        return last - first
    try:
        end = given if isinstance(given, date) else date.fromisoformat(str(given).strip())
    except ValueError:
        raise SimInputError(
            f"--calibration-end {given!r}: not a date (use YYYY-MM-DD)", source
        ) from None
    day = (end - date(1970, 1, 1)).days
    if not first <= day < last:
        raise SimInputError(
            f"--calibration-end {end}: must lie on or after the first purchase "
            f"({_to_date(first)}) and before the last ({_to_date(last)}) of {source}, "
            "so that both periods hold purchases",
            source,
        )
    return day - first


def _to_date(day: int) -> date:
    return date.fromordinal(date(1970, 1, 1).toordinal() + int(day))


# --- summary ---------------------------------------------------------------------------------


def _summarise(
    codes: np.ndarray, day: np.ndarray, amount: np.ndarray, end: int
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Per-customer columns from purchase days sorted by customer and day.

    Returns the columns (all customers, with a ``cohort`` mask), and the day and customer of
    every repeat purchase.
    """
    n = int(codes.max()) + 1
    first_index = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    first = day[first_index]
    repeat = np.ones(codes.size, dtype=bool)
    repeat[first_index] = False
    calibration = day <= end
    in_cal = repeat & calibration
    x = np.bincount(codes[in_cal], minlength=n)
    last = np.full(n, -1, dtype=np.int64)
    np.maximum.at(last, codes[calibration], day[calibration])
    total = np.bincount(codes[in_cal], weights=amount[in_cal], minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        spend = np.where(x > 0, total / x, np.nan)
    columns = {
        "x": x.astype(np.float64),
        "t_x": np.maximum(last - first, 0).astype(np.float64),
        "T": (end - first).astype(np.float64),
        "spend": spend,
        "first": first,
        "holdout": np.bincount(codes[repeat & ~calibration], minlength=n).astype(np.float64),
        "cohort": first <= end,
    }
    return columns, day[repeat], codes[repeat]
