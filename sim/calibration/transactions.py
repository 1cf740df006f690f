"""Read a transaction log (one row per purchase) into the per-customer BG/NBD summary.

Time is counted in whole days: purchases of a customer on the same day are one purchase (their
amounts summed). Rows are referred to by data row number, 1 for the first row after the header.
Every problem in the file is reported at once, each naming the column and the rows.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from sim.errors import SimInputError, choices_hint
from sim.io.reading import reading

ROWS_SHOWN = 10


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


def count_text(n: int, noun: str) -> str:
    """``"1 row"``, ``"1,234 rows"``."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def rows_text(rows: Sequence[int] | np.ndarray) -> str:
    """``"data rows 3, 8 and 41 more"`` for ascending 1-based data row numbers."""
    rows = [int(r) for r in rows]
    shown = ", ".join(str(r) for r in rows[:ROWS_SHOWN])
    more = f" and {len(rows) - ROWS_SHOWN} more" if len(rows) > ROWS_SHOWN else ""
    return f"data row{'s' if len(rows) > 1 else ''} {shown}{more}"


def read_transactions(
    path: str | Path,
    customer_col: str = "customer",
    date_col: str = "date",
    amount_col: str = "amount",
    segment_col: str | None = None,
    calibration_end: str | date | None = None,
) -> TransactionLog:
    """Read, check and summarise the CSV file at ``path``.

    Without ``calibration_end`` the whole file is the calibration period; with it, later
    purchases of the cohort form the holdout used to check predictions.
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
    raw = read_table(Path(path), source, wanted)
    if raw.empty:
        raise SimInputError(f"{source}: no transactions, only a header", source)
    problems: list[str] = []
    row = np.arange(1, len(raw) + 1)
    customer = raw[customer_col]
    _check_missing(customer, row, source, customer_col, "no customer id", problems)
    _check_id_kinds(customer, row, source, customer_col, problems)
    day = _parse_days(raw[date_col], row, source, date_col, problems)
    amount = _parse_amounts(raw[amount_col], row, source, amount_col, problems)
    segment = raw[segment_col] if segment_col else None
    if segment is not None:
        _check_missing(segment, row, source, str(segment_col), "no segment", problems)
    if problems:
        raise SimInputError(problems, source)

    codes, ids = pd.factorize(customer.to_numpy())
    order = np.lexsort((day, codes))
    codes, day, amount, row = codes[order], day[order], amount[order], row[order]
    segment_of, names = _customer_segments(segment, order, codes, row, source, segment_col)
    notes: list[str] = []
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
        rows=len(raw),
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


def read_table(path: Path, source: str, wanted: list[str]) -> pd.DataFrame:
    """The wanted columns as text, cells stripped of surrounding blanks, empty cells "".

    All columns are read, not only the wanted ones, so that a row with more fields than the
    header (a decimal comma, say) is an error rather than silently cut short.
    """
    try:
        with reading(source, "CSV"), warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            # Everything as text: ids keep their leading zeros and every cell is checked here.
            frame = pd.read_csv(
                path, dtype=str, keep_default_na=False, index_col=False, encoding="utf-8-sig"
            )
    except pd.errors.EmptyDataError:
        raise SimInputError(f"{source}: the file is empty", source) from None
    except (pd.errors.ParserError, pd.errors.ParserWarning) as exc:
        reason = str(exc).strip().removeprefix("Error tokenizing data. C error: ")
        raise SimInputError(
            f"{source}: not a valid CSV file: {reason} (more fields than the header: a decimal "
            "comma, or a comma inside an unquoted field?)",
            source,
        ) from None
    missing = [c for c in dict.fromkeys(wanted) if c not in frame.columns]
    if missing:
        problems = [
            f"{source}: no column {c!r}" + choices_hint(c, frame.columns, "columns", quote=True)
            for c in missing
        ]
        raise SimInputError(problems, source)
    # Rows with fewer fields than the header have NaN in the rest: those cells are empty.
    columns = frame[list(dict.fromkeys(wanted))].astype(object).fillna("")
    return columns.apply(lambda column: column.str.strip())


def _check_missing(
    values: pd.Series, row: np.ndarray, source: str, col: str, what: str, problems: list[str]
) -> None:
    empty = (values == "").to_numpy()
    if empty.any():
        problems.append(f"{source}: column {col!r}: {what} in {rows_text(row[empty])}")


def _check_id_kinds(
    ids: pd.Series, row: np.ndarray, source: str, col: str, problems: list[str]
) -> None:
    """Ids must be all numbers or all text: a mix usually means two exports were joined, and
    the same customer may then appear under two ids (e.g. 1042 and "C1042")."""
    given = (ids != "").to_numpy()
    numeric = pd.to_numeric(ids, errors="coerce").notna().to_numpy()
    n_num, n_text = int(np.sum(numeric & given)), int(np.sum(~numeric & given))
    if n_num and n_text:
        minority = numeric if n_num < n_text else ~numeric & given
        kind = "numeric" if n_num < n_text else "text"
        problems.append(
            f"{source}: column {col!r}: mixes numeric ids ({count_text(n_num, 'row')}) and "
            f"text ids ({count_text(n_text, 'row')}); the {kind} ones are in "
            f"{rows_text(row[minority])}"
        )


def _parse_days(
    text: pd.Series, row: np.ndarray, source: str, col: str, problems: list[str]
) -> np.ndarray:
    """Whole days since 1970-01-01. ISO 8601 dates (with or without a time) are read as such;
    otherwise the format is inferred from the first date and must hold for every row."""
    given = (text != "").to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas warns when it falls back to dateutil
        parsed = _to_datetime(text, format="ISO8601")
        if given.any() and parsed.isna().to_numpy()[given].all():
            parsed = _to_datetime(text, format=None)
    bad = parsed.isna().to_numpy()
    if bad.any():
        examples = ", ".join(repr(v) for v in text[bad].unique()[:3])
        problems.append(
            f"{source}: column {col!r}: missing or unreadable dates in {rows_text(row[bad])} "
            f"(e.g. {examples}; use YYYY-MM-DD)"
        )
        return np.zeros(len(text), dtype=np.int64)
    if parsed.dt.tz is not None:
        parsed = parsed.dt.tz_localize(None)  # the local calendar day of the purchase
    return parsed.to_numpy().astype("datetime64[D]").astype(np.int64)


def _to_datetime(text: pd.Series, format: str | None) -> pd.Series:
    try:
        return pd.to_datetime(text, errors="coerce", format=format)
    except (ValueError, TypeError):
        # Mixed UTC offsets cannot share one time zone: read them as UTC instead.
        return pd.to_datetime(text, errors="coerce", format=format, utc=True)


def _parse_amounts(
    text: pd.Series, row: np.ndarray, source: str, col: str, problems: list[str]
) -> np.ndarray:
    amount = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
    missing = (text == "").to_numpy()
    unreadable = ~missing & ~np.isfinite(amount)
    negative = np.isfinite(amount) & (amount < 0)
    for mask, what in (
        (missing, "missing amounts"),
        (unreadable, "amounts that are not numbers"),
        (negative, "negative amounts (take refunds out of the log first)"),
    ):
        if mask.any():
            problems.append(f"{source}: column {col!r}: {what} in {rows_text(row[mask])}")
    return amount


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
