"""A results folder, written all at once or not at all, and read back.

Layout: summary.csv (strategy x replication), strategies.csv (per strategy), timeseries.csv
(weekly series), pressure.csv (members per pressure bin at the horizon) and manifest.json; or
the same tables as .parquet files (``--format parquet``: typed columns, full float precision).
The tables depend only on the scenario and seed: their formatting is fixed so the same run
gives the same bytes. The tables of sweeps and runs of draws (sim.sweeps) are written and read
here too, in either format.
"""

from __future__ import annotations

import json
import os
import shutil
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sim.errors import SimInputError
from sim.io.atomic import atomic_file, naming, sibling, staged_folder
from sim.io.reading import read_json_object
from sim.io.target import exclusive

CSV_FILES: tuple[str, ...] = ("summary", "strategies", "timeseries", "pressure")
# The formats a run's tables are written in (CSV for spreadsheets, the default).
RESULT_FORMATS: tuple[str, ...] = ("csv", "parquet")
MANIFEST = "manifest.json"
# The tables of a run of draws (``loyaltysim run --draws``), which other tools read, and
# their files in the default format (CSV; with ``--format parquet`` NAME.parquet).
DECISION = "decision"  # one row per strategy
EVPPI = "evppi"  # one row per uncertain value
DRAWS_TABLE = "draws"  # one row per draw and strategy: drawn values, KPI means
REPLICATIONS = "replications"  # one row per draw, strategy and replication
DECISION_CSV = f"{DECISION}.csv"
EVPPI_CSV = f"{EVPPI}.csv"
DRAWS_CSV = f"{DRAWS_TABLE}.csv"
REPLICATIONS_CSV = f"{REPLICATIONS}.csv"
# A resumable run (a sweep, a run of draws) keeps each finished task in PARTS/<unit>-000012.csv
# (or .parquet) until it finishes; the unit of a run of draws is DRAW.
PARTS = "parts"
DRAW = "draw"
# Parquet tables merged from parts (a sweep's, a run of draws' replications) are written in
# row groups of this many rows: a few tens of MB of a sweep's hundred columns at a time.
MERGED_ROW_GROUP_ROWS = 1 << 15
# The significant digits of the numbers in the CSV files (write_table's float format).
CSV_DIGITS = 10

# Cells a spreadsheet would run as a formula (or that hide one behind a tab or carriage return).
# The apostrophe itself is escaped too, so reading back can undo exactly one apostrophe.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")

# Two results with these manifest fields equal are the same computation.
# What makes two runs the same computation. A default stands for a manifest written before
# that key existed (an unsharded run of the vector engine); None means the key is required.
_IDENTITY: dict[str, object] = {
    "scenario_hash": None,
    "seed": None,
    "replications": None,
    "shards": 1,
    "engine": "vector",
}


class ResultsExistError(SimInputError):
    """The output folder holds other results and overwriting was not asked for."""


def _visible(char: str) -> str:
    """A control character as its visible stand-in: U+2400-2421 (e.g. a carriage return as
    ␍) where Unicode has one, else the replacement character."""
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)
    return "\u2421" if code == 0x7F else "\ufffd"


def _escape(value: object) -> object:
    """A cell as written: control characters (which split a row or hide a formula from the
    apostrophe) made visible, then an apostrophe before a formula start."""
    if not isinstance(value, str):
        return value
    if not value.isprintable():
        value = "".join(
            _visible(c) if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in value
        )
    if value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _unescape(value: object) -> object:
    if isinstance(value, str) and value.startswith("'"):
        return value[1:]
    return value


def _text_columns(frame: pd.DataFrame) -> list[str]:
    """Columns that may hold strings (object, string or categorical), i.e. not numeric."""
    return [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c].dtype)]


def write_table(frame: pd.DataFrame, path: Path) -> None:
    safe = frame.rename(columns=_escape)
    for column in _text_columns(safe):
        safe[column] = safe[column].map(_escape)
    safe.to_csv(
        path,
        index=False,
        float_format=f"%.{CSV_DIGITS}g",
        lineterminator="\n",
        encoding="utf-8",
    )


def write_table_atomic(frame: pd.DataFrame, path: Path) -> None:
    """``write_table`` (``write_parquet`` for a path ending in ``.parquet``) into place in one
    rename (sim.io.atomic)."""
    writer = write_parquet if Path(path).suffix == ".parquet" else write_table
    with atomic_file(path) as temporary:
        writer(frame, temporary)


def manifest_text(manifest: dict) -> str:
    """A manifest.json's content: indented JSON, no NaN, ending in a newline."""
    return json.dumps(manifest, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def check_format(results_format: str) -> None:
    """SimInputError unless ``results_format`` is one of RESULT_FORMATS."""
    if results_format not in RESULT_FORMATS:
        raise SimInputError(
            f"--format: must be one of {', '.join(RESULT_FORMATS)}, got {results_format!r}"
        )


def table_path(folder: Path, name: str) -> Path:
    """The file of table ``name`` in a results folder: ``name.csv``, else ``name.parquet``
    (the CSV path when neither exists, for messages)."""
    csv, parquet = Path(folder) / f"{name}.csv", Path(folder) / f"{name}.parquet"
    return parquet if parquet.is_file() and not csv.is_file() else csv


def table_file(name: str, results_format: str) -> str:
    """The file name of table ``name`` in ``results_format``: ``sweep.parquet``."""
    check_format(results_format)
    return f"{name}.{results_format}"


def table_format(folder: Path, name: str) -> str:
    """The format table ``name`` is written in in ``folder`` (as ``table_path`` finds it):
    ``csv``, also when it is missing, or ``parquet``."""
    return table_path(folder, name).suffix.removeprefix(".")


def _kind(value: object) -> str:
    """What a cell holds, as far as a Parquet column's type goes."""
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (int, float, np.number)):
        return "number"
    return type(value).__name__


def _mixed_columns(frame: pd.DataFrame) -> list[str]:
    """Object columns whose cells mix text, numbers and booleans (a sweep parameter's values
    may), which a Parquet column cannot hold as they are."""
    mixed = []
    for column in frame.columns:
        if frame[column].dtype == object:
            kinds = {_kind(v) for v in frame[column] if v is not None and v is not pd.NA}
            if len(kinds) > 1:
                mixed.append(column)
    return mixed


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """A table as Parquet (pyarrow, no index): the same frame gives the same bytes. A column
    whose cells mix text, numbers and booleans is written as text, each cell as the CSV
    writes it."""
    mixed = _mixed_columns(frame)
    if mixed:
        frame = frame.assign(**{c: frame[c].map(str).astype(object) for c in mixed})
    frame.to_parquet(path, engine="pyarrow", index=False)


def _merged_type(types: Sequence[pa.DataType]) -> pa.DataType | None:
    """The type of a column typed ``types`` in the tables merged: their one type, floats for
    integers with floats, text for text of either width; None for text mixed with numbers
    or booleans (each cell as the CSV writes it)."""
    known = set(types) - {pa.null()}
    if len(known) <= 1:
        return known.pop() if known else pa.null()
    if all(pa.types.is_integer(t) or pa.types.is_floating(t) for t in known):
        return pa.float64()
    if all(pa.types.is_string(t) or pa.types.is_large_string(t) for t in known):
        return pa.large_string()
    return None


def _as_text(column: pa.ChunkedArray) -> pa.Array:
    """A column's cells as write_table writes them: floats with CSV_DIGITS digits."""
    floats = pa.types.is_floating(column.type)
    return pa.array(
        [
            None if v is None else f"{v:.{CSV_DIGITS}g}" if floats else str(v)
            for v in column.to_pylist()
        ],
        pa.large_string(),
    )


def merge_parquet(parts: Sequence[Path], path: Path, columns: Sequence[str], what: str) -> None:
    """Write the rows of the Parquet files ``parts``, in order, into one Parquet file at
    ``path``, in row groups of MERGED_ROW_GROUP_ROWS rows: one part is read at a time, so
    memory stays that of a row group however many parts there are. Each part must hold
    ``columns``, else RuntimeError naming it (not a part of this ``what``). A column typed
    differently in different parts (a parameter's values, integers in one and floats in
    another) takes a type that holds all (``_merged_type``). The same parts give the same
    bytes."""
    schemas = [pq.read_schema(part) for part in parts]  # the footers only
    for part, schema in zip(parts, schemas, strict=True):
        if schema.names != list(columns):
            raise RuntimeError(f"{part}: not a part of this {what}")
    if not parts:
        write_parquet(pd.DataFrame(columns=list(columns)), path)
        return
    merged = {c: _merged_type([s.field(c).type for s in schemas]) for c in columns}
    schema = pa.schema([(c, pa.large_string() if t is None else t) for c, t in merged.items()])

    def conformed(table: pa.Table) -> pa.Table:
        arrays = [
            _as_text(table[c]) if merged[c] is None else table[c].cast(schema.field(c).type)
            for c in columns
        ]
        return pa.Table.from_arrays(arrays, schema=schema)

    with pq.ParquetWriter(path, schema) as writer:
        pending: list[pa.Table] = []
        rows = 0
        for part in parts:
            table = conformed(pq.read_table(part))
            pending.append(table)
            rows += table.num_rows
            while rows >= MERGED_ROW_GROUP_ROWS:
                waiting = pa.concat_tables(pending)
                writer.write_table(waiting.slice(0, MERGED_ROW_GROUP_ROWS))
                pending = [waiting.slice(MERGED_ROW_GROUP_ROWS)]
                rows = pending[0].num_rows
        if rows:
            writer.write_table(pa.concat_tables(pending))


def at_csv_digits(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its floats rounded to the CSV_DIGITS significant digits the CSV files
    hold, exactly as reading them back gives them: what a result computed from a table read
    back (a decision, Sobol indices) is computed from, so it is the same in either format."""
    floats = [c for c in frame.columns if pd.api.types.is_float_dtype(frame[c].dtype)]
    if not floats:
        return frame
    return frame.assign(
        **{c: [float(f"{v:.{CSV_DIGITS}g}") for v in frame[c].to_numpy()] for c in floats}
    )


def read_table(path: Path) -> pd.DataFrame:
    """A results table, CSV or Parquet by its extension."""
    if Path(path).suffix == ".parquet":
        return pd.read_parquet(path, engine="pyarrow")
    # Only empty cells are missing values: a strategy called "NA" or "null" stays a name,
    # and "strategy" stays text even when a name looks like a number.
    frame = pd.read_csv(
        path, keep_default_na=False, na_values=[""], dtype={"strategy": str}, encoding="utf-8"
    )
    frame = frame.rename(columns=_unescape)
    for column in _text_columns(frame):
        frame[column] = frame[column].map(_unescape)
    return frame


def _same_run(folder: Path, manifest: dict) -> bool:
    """Whether ``folder`` already holds the results of the same computation."""
    old = read_json_object(folder / MANIFEST)
    if old is None:
        return False
    for key, default in _IDENTITY.items():
        value = old.get(key, default)
        if value is None or value != manifest.get(key, default):
            return False
    return True


def check_target(
    out_dir: Path, identity: dict | None, overwrite: bool = False, option: str = "--out"
) -> None:
    """Refuse (ResultsExistError) to replace ``out_dir`` unless it is missing, empty, holds the
    same computation (``identity``: the manifest fields of _IDENTITY; None for a folder
    without a manifest, never the same) or ``overwrite`` is set. A run calls it before
    computing, so a refusal costs nothing; ``option`` names the folder's option."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ResultsExistError(f"{out_dir} exists and is not a folder; choose another {option}")
    if out_dir.exists() and not (
        overwrite
        or not any(out_dir.iterdir())
        or (identity is not None and _same_run(out_dir, identity))
    ):
        raise ResultsExistError(
            f"{out_dir} already holds other results; pass --overwrite to replace them "
            f"or choose another {option}"
        )


@contextmanager
def staged(
    out_dir: Path, identity: dict | None, overwrite: bool = False, option: str = "--out"
) -> Iterator[Path]:
    """A staging folder beside ``out_dir`` for the block to fill, holding ``out_dir``
    (sim.io.target.exclusive) from the start: ``check_target`` first; when the block ends
    without error every file in it is synced and the folder renamed into place, else it is
    removed and ``out_dir`` stays as it was."""
    out_dir = Path(out_dir)
    with exclusive(out_dir), naming(out_dir):
        check_target(out_dir, identity, overwrite, option)
        with staged_folder(out_dir, _move_into_place) as staging:
            yield staging


def write_results(
    out_dir: Path,
    *,
    summary: pd.DataFrame,
    strategies: pd.DataFrame,
    timeseries: pd.DataFrame,
    pressure: pd.DataFrame,
    manifest: dict,
    overwrite: bool = False,
    results_format: str = "csv",
) -> Path:
    """Write a results folder atomically and return its path, its tables in
    ``results_format`` (RESULT_FORMATS): every file is written and synced in a staging
    folder beside it, which is then renamed into place, all while holding the folder
    (sim.io.target.exclusive).

    An existing folder is replaced only if it is empty, holds the same computation (same
    scenario hash, seed and replications) or ``overwrite`` is set; else ResultsExistError.
    """
    out_dir = Path(out_dir)
    frames = {
        "summary": summary,
        "strategies": strategies,
        "timeseries": timeseries,
        "pressure": pressure,
    }
    check_format(results_format)
    writer = write_table if results_format == "csv" else write_parquet
    with staged(out_dir, manifest, overwrite) as staging:
        for name in CSV_FILES:
            writer(frames[name], staging / f"{name}.{results_format}")
        (staging / MANIFEST).write_text(manifest_text(manifest), encoding="utf-8")
    return out_dir


def _move_into_place(staging: Path, out_dir: Path) -> None:
    """Rename ``staging`` to ``out_dir``; an old ``out_dir`` is set aside until that succeeds."""
    if not out_dir.exists():
        os.rename(staging, out_dir)
        return
    old = sibling(out_dir, "old")
    os.rename(out_dir, old)
    try:
        os.rename(staging, out_dir)
    except BaseException:
        os.rename(old, out_dir)
        raise
    # The new results are in place; a leftover old copy is clutter, not an error.
    shutil.rmtree(old, ignore_errors=True)


def read_results(path: Path | str) -> dict[str, pd.DataFrame | dict]:
    """The tables (CSV or Parquet) as data frames and the manifest as a dict, keyed by file
    stem. A folder missing a file, or with one that cannot be read, is a SimInputError."""
    folder = Path(path)
    files = [table_path(folder, name) for name in CSV_FILES] + [folder / MANIFEST]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise SimInputError(f"{folder}: not a results folder (missing {', '.join(missing)})")
    try:
        results: dict[str, pd.DataFrame | dict] = {
            name: read_table(file) for name, file in zip(CSV_FILES, files, strict=False)
        }
        results["manifest"] = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SimInputError(f"{folder}: not a readable results folder ({exc})") from None
    return results
