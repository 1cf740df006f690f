"""Read one table a company exported, CSV or Parquet, into typed columns under our names.

The format follows the extension: ``.parquet`` or ``.pq`` is Parquet, anything else CSV. The
quirks of real exports are options (``TableOptions``): a separator other than the comma, the
decimal comma, a byte-order mark or another encoding, times in a local zone, booleans spelled
yes/no, repeated rows. Every problem of a table is collected and reported at once, each as
``FILE: column 'NAME': REASON in data rows 3, 8 and 2 more``.

Rows are counted as data rows: data row 1 is the first row below the header, so data row N is
line N + 1 of a CSV file without line breaks inside quoted cells, row N + 1 of the sheet a
spreadsheet shows, and row N - 1 (counting from 0) of a Parquet file. Dropped rows keep their
numbers: a table's index is the data row number of each of its rows.

Cells, by the kind of their column (text cells are stripped of surrounding blanks first):
- id: text; a CSV column of plain whole numbers (no sign, no leading zero) is read as int64,
  so that it matches the same ids in a Parquet file of integers. Parquet ids keep their type.
- text: text; an empty cell is None.
- number: finite numbers without thousands separators. With the decimal comma, ``12,50`` is
  12.5 and a cell holding a dot is refused (``1.234`` may mean 1234). Without the option set,
  a number column of a ``;``-separated file uses the decimal comma if any of its cells holds a
  comma: spreadsheets write ``;`` where the comma is the decimal mark. With ``,`` and tab as
  separator the comma is never guessed to be a decimal mark, as it may group thousands.
- bool: true/false, t/f, yes/no, y/n, 1/0 in any case; Parquet booleans as stored.
- date: a calendar day; ISO 8601 (``2024-03-01``), ``date_format`` or else the format of the
  first date, which must then hold for every row. A date with a time is the day it falls on in
  ``timezone``.
- time: an instant, ISO 8601, returned in UTC: a time with an offset (``+01:00``, ``Z``) is that
  instant, one without is read in ``timezone``. In the hour repeated when clocks go back, a
  time without offset is the first of the two; in the hour skipped when they go forward, it
  moves to the end of the gap.
"""

from __future__ import annotations

import codecs
import re
import warnings
import zoneinfo
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sim.errors import SimInputError, choices_hint
from sim.io.reading import reading

Kind = Literal["id", "text", "number", "bool", "date", "time"]
Duplicates = Literal["error", "drop", "keep"]

ROWS_SHOWN = 10  # data rows named in a message; the rest are counted
EXAMPLES_SHOWN = 3  # unreadable values quoted in a message
PARQUET_SUFFIXES = (".parquet", ".pq")
SEPARATORS = (",", ";", "\t")  # sniffed from the header line, in this order on a tie
BOOLEANS = {"true": True, "t": True, "yes": True, "y": True, "1": True}
BOOLEANS |= {"false": False, "f": False, "no": False, "n": False, "0": False}
BOOLEAN_SPELLINGS = "true/false, yes/no, 1/0, t/f or y/n"
_PLAIN_INT = re.compile(r"0|[1-9][0-9]{0,17}")  # fits int64, round-trips as text
# An offset written after a time of day; a date alone ("2024-01-05") has none.
_OFFSET = re.compile(r".*\d:\d\d(?::\d\d(?:[.,]\d+)?)?\s*(?:[zZ]|[+-]\d\d(?::?\d\d)?)")
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"))
_BOMS += ((codecs.BOM_UTF16_BE, "utf-16"),)


@dataclass(frozen=True)
class Column:
    """A column we read: our name, the kind of its cells and what its cells are called."""

    name: str
    kind: Kind = "text"
    label: str = "values"  # plural noun for its cells in messages: "missing amounts"
    optional: bool = False  # the column may be absent from the file (then absent from the frame)
    empty: bool = False  # cells may be empty (None, NaN or NaT), else an empty cell is a problem
    aliases: tuple[str, ...] = ()  # names exports often give it, suggested when it is missing


@dataclass(frozen=True)
class TableOptions:
    """How an export is written. The defaults read a UTF-8 CSV written by pandas or Excel."""

    sep: str | None = None  # CSV field separator; None: the most frequent of , ; tab in the header
    decimal_comma: bool | None = None  # None: guessed for ;-separated files (module docstring)
    encoding: str | None = None  # None: UTF-8; a byte-order mark (UTF-8, UTF-16) always decides
    timezone: str = "UTC"  # IANA zone of times written without an offset, e.g. Europe/Oslo
    date_format: str | None = None  # strftime format of date columns; None: ISO 8601 or inferred
    duplicates: Duplicates = "error"  # rows equal in every column: refuse, drop or keep them

    def __post_init__(self) -> None:
        problems = []
        if self.sep is not None:
            sep = {"tab": "\t", "\\t": "\t"}.get(self.sep.lower(), self.sep)
            object.__setattr__(self, "sep", sep)
            if len(sep) != 1 or sep in '"\r\n':
                problems.append(f"separator {self.sep!r}: give one character, such as ';' or tab")
        if self.encoding is not None:
            try:
                codecs.lookup(self.encoding)
            except LookupError:
                problems.append(f"encoding {self.encoding!r}: unknown (e.g. utf-8, cp1252)")
        try:
            zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            problems.append(
                f"time zone {self.timezone!r}: unknown (use an IANA name such as Europe/Oslo)"
            )
        if self.duplicates not in ("error", "drop", "keep"):
            problems.append(f"duplicates {self.duplicates!r}: use error, drop or keep")
        if problems:
            raise SimInputError(problems)


@dataclass(frozen=True)
class Table:
    """The columns read from one file, under our names; index: each row's data row number."""

    source: str
    frame: pd.DataFrame
    names: Mapping[str, str]  # our name -> the file's name of each column read
    notes: tuple[str, ...]  # what was assumed or dropped, for the caller to print

    def problem(self, column: str, what: str, rows: np.ndarray | Sequence[int]) -> str:
        """``FILE: column 'NAME': WHAT in data rows ...`` for data row numbers or a row mask."""
        rows = np.asarray(rows)
        if rows.dtype == bool:
            rows = self.frame.index.to_numpy()[rows]
        name = self.names.get(column, column)
        return f"{self.source}: column {name!r}: {what} in {rows_text(np.sort(rows))}"


def count_text(n: int, noun: str) -> str:
    """``"1 row"``, ``"1,234 rows"``."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def rows_text(rows: Sequence[int] | np.ndarray) -> str:
    """``"data rows 3, 8 and 41 more"`` for 1-based data row numbers."""
    shown = ", ".join(str(int(r)) for r in rows[:ROWS_SHOWN])
    more = f" and {len(rows) - ROWS_SHOWN:,} more" if len(rows) > ROWS_SHOWN else ""
    return f"data row{'s' if len(rows) > 1 else ''} {shown}{more}"


def read_table(
    path: str | Path,
    columns: Sequence[Column],
    options: TableOptions | None = None,
    rename: Mapping[str, str] | None = None,
    problems: list[str] | None = None,
) -> Table:
    """Read ``columns`` from the CSV or Parquet file at ``path``.

    ``rename`` maps the file's column names to ours (``{"kundenr": "member_id"}``). Problems
    with the file as a whole (unreadable, a missing column, repeated rows) raise SimInputError
    at once. Problems with cells (empty, unreadable) raise too, all together, unless a
    ``problems`` list is given: then they are appended to it and the table is returned as far
    as it could be read, so that the caller can add its own checks and report everything in
    one pass.
    """
    options = options or TableOptions()
    source = str(path)
    expected = _expected_names(columns, rename or {}, source)
    if Path(path).suffix.lower() in PARQUET_SUFFIXES:
        raw, raw_names = _read_parquet(Path(path), source)
        sep = None
    else:
        raw, raw_names, sep = _read_csv(Path(path), source, options)
    present = _find_columns(columns, expected, raw_names, rename or {}, source)
    notes: list[str] = []
    raw = _handle_duplicates(raw, source, options.duplicates, notes)
    found: list[str] = []
    frame = pd.DataFrame(index=raw.index)
    for column in columns:
        if column.name not in present:
            continue
        values = raw.iloc[:, present[column.name]]
        frame[column.name] = _parse(
            values, column, expected[column.name], source, options, sep, found, notes
        )
    names = {c.name: expected[c.name] for c in columns if c.name in present}
    if found and problems is None:
        raise SimInputError(found, source)
    if problems is not None:
        problems.extend(found)
    return Table(source, frame, names, tuple(notes))


# --- files -----------------------------------------------------------------------------------


def _read_csv(
    path: Path, source: str, options: TableOptions
) -> tuple[pd.DataFrame, list[str], str]:
    """Every column as text (cells as written; short rows padded with ""), the header names,
    and the separator. All columns are read, so that a row with more fields than the header is
    an error rather than silently cut short."""
    with reading(source, "CSV"):
        with path.open("rb") as file:
            start = file.read(4)
        encoding = next(
            (name for bom, name in _BOMS if start.startswith(bom)), options.encoding or "utf-8"
        )
        try:
            with path.open(encoding=encoding, newline="") as file:
                header = file.readline()
            sep = options.sep or max(SEPARATORS, key=header.count)
            with warnings.catch_warnings():
                warnings.simplefilter("error", pd.errors.ParserWarning)
                # Everything as text, the header as the first row (pandas would rename a
                # repeated name): ids keep their leading zeros and every cell is checked.
                frame = pd.read_csv(
                    path,
                    sep=sep,
                    header=None,
                    dtype=str,
                    keep_default_na=False,
                    index_col=False,
                    encoding=encoding,
                )
        except UnicodeDecodeError as exc:
            raise SimInputError(
                f"{source}: not {encoding} text ({exc.reason}); "
                "give the file's encoding (e.g. cp1252)",
                source,
            ) from None
        except pd.errors.EmptyDataError:
            raise SimInputError(f"{source}: the file is empty", source) from None
        except (pd.errors.ParserError, pd.errors.ParserWarning) as exc:
            reason = str(exc).strip().removeprefix("Error tokenizing data. C error: ")
            what = "a decimal comma, or a comma" if sep == "," else f"a {_sep_name(sep)}"
            raise SimInputError(
                f"{source}: not a valid CSV file: {reason} (more fields than the header: "
                f"{what} inside an unquoted field?)",
                source,
            ) from None
    names = [str(name).strip() for name in frame.iloc[0]]
    frame = frame.iloc[1:]
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="data row")
    return frame, names, sep


def _sep_name(sep: str) -> str:
    return {"\t": "tab", ";": "semicolon", "|": "vertical bar"}.get(sep, repr(sep))


# Nullable pandas types keep a missing boolean or integer apart from False and 0.
_NULLABLE = {pa.bool_(): pd.BooleanDtype()} | {
    t: pd.Int64Dtype()
    for t in (pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(), pa.uint16(), pa.uint32())
}


def _read_parquet(path: Path, source: str) -> tuple[pd.DataFrame, list[str]]:
    """Every column: strings as text, dictionaries as categoricals, booleans and integers as
    nullable types, decimals as floats, dates and timestamps as datetime64."""
    with reading(source, "Parquet"):
        try:
            table = pq.read_table(path)
        except pa.ArrowInvalid as exc:
            raise SimInputError(f"{source}: not a valid Parquet file: {exc}", source) from None
    names = [str(name).strip() for name in table.column_names]
    columns = []
    for column in table.columns:
        if pa.types.is_decimal(column.type):
            column = column.cast(pa.float64())
        elif pa.types.is_date(column.type):
            column = column.cast(pa.timestamp("s"))
        columns.append(column)
    positions = [str(i) for i in range(len(names))]  # the file's names may repeat
    frame = pa.Table.from_arrays(columns, names=positions).to_pandas(types_mapper=_NULLABLE.get)
    frame.columns = range(len(names))
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="data row")
    return frame, names


def _expected_names(
    columns: Sequence[Column], rename: Mapping[str, str], source: str
) -> dict[str, str]:
    """Our name -> the name the file should have, checking the mapping."""
    ours = [c.name for c in columns]
    problems = [
        f"{source}: the column mapping names {theirs!r} as {name!r}, which is not a column of "
        f"this table{choices_hint(name, ours, 'columns', quote=True)}"
        for theirs, name in rename.items()
        if name not in ours
    ]
    expected = {name: name for name in ours}
    for theirs, name in rename.items():
        if name in ours and expected[name] != name:
            problems.append(
                f"{source}: the column mapping names both {expected[name]!r} and {theirs!r} "
                f"as {name!r}; give it one"
            )
        expected[name] = theirs
    in_file = list(expected.values())
    for name in dict.fromkeys(n for n in in_file if in_file.count(n) > 1):
        roles = [ours for ours, theirs in expected.items() if theirs == name]
        problems.append(
            f"{source}: column {name!r} is named for {' and '.join(map(repr, roles))}; "
            "each needs a column of its own"
        )
    if problems:
        raise SimInputError(problems, source)
    return expected


def _find_columns(
    columns: Sequence[Column],
    expected: Mapping[str, str],
    names: list[str],
    rename: Mapping[str, str],
    source: str,
) -> dict[str, int]:
    """Our name -> position in the file of each column present; a missing one is an error
    unless optional and not named by the mapping."""
    problems = []
    present = {}
    for column in columns:
        name = expected[column.name]
        at = [i for i, n in enumerate(names) if n == name]
        if len(at) > 1:
            problems.append(f"{source}: column {name!r} appears {len(at)} times in the header")
        elif at:
            present[column.name] = at[0]
        elif not column.optional or name in rename:
            problems.append(
                f"{source}: no column {name!r}{_missing_hint(name, column, names, rename)}"
            )
    if problems:
        raise SimInputError(problems, source)
    return present


def _missing_hint(name: str, column: Column, names: list[str], rename: Mapping[str, str]) -> str:
    """The columns the file has, and the one most likely meant: a near spelling, the same name
    in another case, or (for a name the user did not choose) one of the column's aliases."""
    hint = choices_hint(name, names, "columns", quote=True)
    if "did you mean" in hint:
        return hint
    folded = {n.casefold(): n for n in names}
    aliases = () if name in rename else column.aliases
    guess = next((folded[a.casefold()] for a in (name, *aliases) if a.casefold() in folded), None)
    return hint + (f"; did you mean {guess!r}?" if guess else "")


def _handle_duplicates(
    raw: pd.DataFrame, source: str, duplicates: Duplicates, notes: list[str]
) -> pd.DataFrame:
    """Rows equal to an earlier row in every column of the file: refused, dropped or kept,
    and never without a word."""
    # Rows are compared by a hash first, and exactly only where hashes repeat: comparing
    # millions of rows column by column takes seconds, hashing them a fraction of that.
    hashes = pd.util.hash_pandas_object(raw, index=False)
    candidates = hashes.duplicated(keep=False).to_numpy()
    if not candidates.any():
        return raw
    repeated = np.zeros(len(raw), dtype=bool)
    repeated[candidates] = raw[candidates].duplicated(keep="first").to_numpy()
    if not repeated.any():
        return raw
    rows = raw.index.to_numpy()[repeated]
    what = f"{count_text(rows.size, 'row')} equal to an earlier row in every column"
    if duplicates == "drop":
        notes.append(f"{source}: {what} dropped ({rows_text(rows)})")
        return raw[~repeated]
    if duplicates == "keep":
        notes.append(f"{source}: {what} kept as separate rows ({rows_text(rows)})")
        return raw
    first = raw.loc[rows[0]]
    earlier = raw.loc[: rows[0] - 1]
    same = (earlier.eq(first) | (earlier.isna() & first.isna())).all(axis=1)
    raise SimInputError(
        f"{source}: {what}: {rows_text(rows)} (data row {rows[0]} repeats data row "
        f"{same.index[same.to_numpy()][0]}); if they are copies, drop them (duplicates: drop), "
        "if they are separate records, keep them (duplicates: keep)",
        source,
    )


# --- cells -----------------------------------------------------------------------------------


@dataclass
class _Cells:
    """A column as distinct stripped texts and, per row, the index of its text (-1: empty).

    Parsing the distinct texts only is what makes a column of millions of repeated values
    (channels, campaigns, send times) cheap.
    """

    codes: np.ndarray
    values: pd.Series  # distinct non-empty texts, in order of first appearance

    @classmethod
    def of(cls, column: pd.Series) -> _Cells:
        if isinstance(column.dtype, pd.CategoricalDtype):
            codes, uniques = column.cat.codes.to_numpy(), column.cat.categories
        else:
            codes, uniques = pd.factorize(column)
        stripped = pd.Series(uniques, dtype=object).astype("str").str.strip()
        # Stripping may make two texts one; an empty text is no text.
        merged, values = pd.factorize(stripped.where(stripped != "", None))
        codes = np.append(merged, -1)[codes]
        return cls(codes.astype(np.int64), pd.Series(values, dtype="str"))

    @property
    def empty(self) -> np.ndarray:
        return self.codes < 0

    def take(self, parsed: np.ndarray, missing: object) -> np.ndarray:
        """Per row, the parsed value of its text; ``missing`` where the cell is empty."""
        return np.append(parsed, np.asarray([missing], dtype=parsed.dtype))[self.codes]

    def take_times(self, parsed: pd.DatetimeIndex) -> pd.DatetimeIndex:
        """Per row, the parsed time of its text; NaT where the cell is empty."""
        return parsed.take(self.codes, allow_fill=True)

    def rows(self, bad: np.ndarray) -> np.ndarray:
        """Per row, whether its text is one of the ``bad`` values (a mask over values)."""
        return np.append(bad, False)[self.codes]

    def examples(self, bad: np.ndarray, with_empty: bool) -> str:
        shown = [repr(v) for v in self.values[bad].iloc[:EXAMPLES_SHOWN]]
        if with_empty and len(shown) < EXAMPLES_SHOWN:
            shown.append("''")
        return ", ".join(shown)


Report = Callable[..., None]  # (row mask, what, why="") -> None


def _parse(
    column: pd.Series,
    spec: Column,
    name: str,
    source: str,
    options: TableOptions,
    sep: str | None,
    problems: list[str],
    notes: list[str],
) -> pd.Series:
    """The column's cells as its kind; problems appended, one per reason."""
    rows = column.index.to_numpy()

    def report(mask: np.ndarray, what: str, why: str = "") -> None:
        if mask.any():
            where = rows_text(rows[mask])
            problems.append(f"{source}: column {name!r}: {what} in {where}{why}")

    if not _is_text(column):
        return _parse_typed(column, spec, name, source, options, report)
    cells = _Cells.of(column)
    empty = cells.empty & (not spec.empty)  # the empty cells that are problems
    label, index = spec.label, column.index
    if spec.kind in ("id", "text"):
        report(empty, f"missing {label}")
        values = cells.values
        plain = sep is not None and values.str.fullmatch(_PLAIN_INT).all()  # CSV only
        if spec.kind == "id" and plain and not cells.empty.any():
            return pd.Series(cells.take(values.to_numpy(dtype=np.int64), 0), index=index)
        return pd.Series(cells.take(values.to_numpy(dtype=object), None), index, dtype=object)
    if spec.kind == "number":
        parsed, bad, hint = _numbers(cells, name, source, options, sep, notes)
        report(empty, f"missing {label}")
        report(cells.rows(bad), f"{label} that are not numbers", hint)
        return pd.Series(cells.take(parsed, np.nan), index=index)
    if spec.kind == "bool":
        parsed = cells.values.str.lower().map(BOOLEANS)
        bad = parsed.isna().to_numpy()
        _report_unreadable(report, cells, bad, empty, label, f"use {BOOLEAN_SPELLINGS}")
        flags = pd.Series(cells.take(parsed.fillna(False).to_numpy(dtype=bool), False), index)
        return flags.astype("boolean").mask(cells.empty) if spec.empty else flags
    fmt = options.date_format if spec.kind == "date" else "ISO8601"
    times = _times(cells.values, fmt, options.timezone)
    bad = times.isna()
    if spec.kind == "date":
        use = f"use {options.date_format or 'YYYY-MM-DD'}"
        _report_unreadable(report, cells, bad, empty, label, use)
        days = times.tz_convert(options.timezone).tz_localize(None).normalize()
        return pd.Series(cells.take_times(days), index=index)
    use = "use ISO 8601, e.g. 2024-03-01T09:30:00+01:00"
    _report_unreadable(report, cells, bad, empty, label, use)
    return pd.Series(cells.take_times(times), index=index)


def _is_text(column: pd.Series) -> bool:
    """Whether a column holds text to parse (every CSV column; Parquet strings)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return True
    if column.dtype == object:
        return pd.api.types.infer_dtype(column, skipna=True) in ("string", "empty")
    return pd.api.types.is_string_dtype(column.dtype)


def _report_unreadable(
    report: Report, cells: _Cells, bad: np.ndarray, empty: np.ndarray, label: str, use: str
) -> None:
    """One problem for the cells of a date, time or boolean column that give no value."""
    what = "missing or unreadable" if empty.any() else "unreadable"
    examples = cells.examples(bad, empty.any())
    report(cells.rows(bad) | empty, f"{what} {label}", f" (e.g. {examples}; {use})")


def _numbers(
    cells: _Cells, name: str, source: str, options: TableOptions, sep: str | None, notes: list[str]
) -> tuple[np.ndarray, np.ndarray, str]:
    """Distinct texts as numbers, which of them are not numbers, and a hint on why."""
    text = cells.values.astype(str)
    comma = text.str.contains(",", regex=False).to_numpy()
    dot = text.str.contains(".", regex=False).to_numpy()
    decimal_comma = options.decimal_comma
    if decimal_comma is None and sep == ";" and comma.any():
        decimal_comma = True
        notes.append(
            f"{source}: column {name!r}: read with a decimal comma (the file is "
            "';'-separated and its numbers hold commas)"
        )
    if decimal_comma:
        text = text.str.replace(",", ".", regex=False).where(~dot, "")
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(values)
    hint = ""
    if decimal_comma and (bad & dot).any():
        hint = " (a '.' in a number read with the decimal comma: a thousands separator?)"
    elif not decimal_comma and (bad & comma).any():
        hint = " (a ',' in a number: a decimal comma? read the file with the decimal comma)"
    return values, bad, hint


def _times(text: pd.Series, fmt: str | None, zone: str) -> pd.DatetimeIndex:
    """Distinct texts as UTC instants (NaT where unreadable): those with an offset as
    written, the others in ``zone``. ``fmt`` None: ISO 8601, or else the format of the first
    text."""
    aware = text.str.fullmatch(_OFFSET).to_numpy(dtype=bool)
    out = _no_times(len(text))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas warns when it falls back to dateutil
        for subset, utc in ((aware, True), (~aware, False)):
            if not subset.any():
                continue
            parsed = _to_datetime(text[subset], fmt or "ISO8601", utc)
            if fmt is None and parsed.isna().all():
                parsed = _to_datetime(text[subset], None, utc)
            positions = np.full(len(text), -1, dtype=np.int64)
            positions[subset] = np.arange(int(subset.sum()))
            spread = _in_utc(parsed, zone).as_unit("us").take(positions, allow_fill=True)
            out = out.where(~subset, spread)
    return out


def _no_times(n: int) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(np.full(n, np.datetime64("NaT", "us")), tz="UTC")


def _to_datetime(text: pd.Series, fmt: str | None, utc: bool) -> pd.DatetimeIndex:
    try:
        return pd.DatetimeIndex(pd.to_datetime(text, errors="coerce", format=fmt, utc=utc))
    except (ValueError, TypeError):  # e.g. offsets from a format that cannot share a zone
        return _no_times(len(text))


def _in_utc(times: pd.DatetimeIndex, zone: str) -> pd.DatetimeIndex:
    """Times as UTC instants; wall-clock times (no zone) are in ``zone`` (module docstring:
    when clocks change)."""
    if times.tz is None:
        first = np.ones(len(times), dtype=bool)  # the daylight-saving reading of a repeated hour
        times = times.tz_localize(zone, ambiguous=first, nonexistent="shift_forward")
    return times.tz_convert("UTC")


def _parse_typed(
    column: pd.Series,
    spec: Column,
    name: str,
    source: str,
    options: TableOptions,
    report: Report,
) -> pd.Series:
    """A Parquet column stored as numbers, booleans or timestamps."""
    missing = column.isna().to_numpy()
    if not spec.empty:
        report(missing, f"missing {spec.label}")
    dtype, types = column.dtype, pd.api.types
    if spec.kind == "text":
        text = column.astype(object).where(~missing, None).map(str, na_action="ignore")
        return text.astype(object)
    if spec.kind == "id" and types.is_integer_dtype(dtype):
        return column.fillna(0).astype(np.int64)
    if spec.kind == "number" and types.is_numeric_dtype(dtype) and not types.is_bool_dtype(dtype):
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
        report(~missing & ~np.isfinite(values), f"{spec.label} that are not numbers")
        return pd.Series(values, index=column.index)
    if spec.kind == "bool" and types.is_bool_dtype(dtype):
        return column.astype("boolean") if spec.empty else column.fillna(False).astype(bool)
    if spec.kind == "bool" and types.is_integer_dtype(dtype):
        report(~missing & ~column.isin([0, 1]).to_numpy(), f"{spec.label} other than 0 and 1")
        flags = column.eq(1)
        return flags.astype("boolean") if spec.empty else flags.fillna(False).astype(bool)
    if spec.kind in ("date", "time") and types.is_datetime64_any_dtype(dtype):
        times = _in_utc(pd.DatetimeIndex(column), options.timezone)
        if spec.kind == "date":
            times = times.tz_convert(options.timezone).tz_localize(None).normalize()
        return pd.Series(times, index=column.index)
    expected = {"id": "integers or text", "number": "numbers", "bool": "booleans"}
    raise SimInputError(
        f"{source}: column {name!r}: stored as {dtype}, expected "
        f"{expected.get(spec.kind, 'timestamps, dates or text')}",
        source,
    )
