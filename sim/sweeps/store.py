"""The output folder of a run of many tasks (a sweep's points, or the parameter draws of
``run --draws``): one part file per finished task, merged in task order at the end. Described
here for a sweep; a run of draws differs only in its file names (``Layout``).

While a sweep runs the folder holds ``state.json`` (the definition's hash, and the format of
its tables unless CSV, written before any point runs) and ``parts/point-000123.csv`` (the rows
of a finished point; ``.parquet`` with ``--format parquet``) or ``parts/point-000123.error``
(why it failed). Every file is written under a temporary name, synced and renamed into place
(sim.io.atomic), so a kill leaves whole files or none: no half-written or duplicated rows.
Finishing streams the parts into ``sweep.csv`` (or ``sweep.parquet``) one at a time, writes
``points.csv`` (``points.parquet``) and, last, ``manifest.json`` (which marks the sweep
finished); then parts/ goes.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sim.errors import SimInputError
from sim.io.atomic import TEMPORARY_GLOB, atomic_file, write_text
from sim.io.reading import read_json_object
from sim.io.results import (
    MANIFEST,
    PARTS,
    RESULT_FORMATS,
    check_format,
    manifest_text,
    merge_parquet,
    table_file,
    write_table,
    write_table_atomic,
)

STATE = "state.json"
# A sweep's tables; each is NAME.csv, or NAME.parquet with --format parquet.
SWEEP_TABLE = "sweep"
POINTS = "points"
SOBOL = "sobol"


@dataclass(frozen=True)
class Layout:
    """What kind of run a folder holds: a sweep of points, or a run of parameter draws."""

    kind: str  # in messages: "sweep"
    unit: str  # one task: "point"; names the part files
    merged: str  # the table the parts merge into
    tables: tuple[str, ...]  # every table the run writes (with manifest.json: all --overwrite
    # may remove, in either format)
    definition: str  # what the definition hash covers, for the message when it changed


SWEEP = Layout(
    "sweep",
    "point",
    SWEEP_TABLE,
    (SWEEP_TABLE, POINTS, SOBOL),
    "the sweep file, its base scenario or the loyaltysim version",
)


class SweepFolderError(SimInputError):
    """The output folder holds something a sweep must not silently replace or mix with."""


class Store:
    """The output folder of one sweep of ``n_points`` points, its tables (and part files) in
    ``results_format`` (sim.io.results.RESULT_FORMATS)."""

    def __init__(
        self, out: Path, n_points: int, layout: Layout = SWEEP, results_format: str = "csv"
    ) -> None:
        check_format(results_format)
        self.out = Path(out)
        self.n_points = n_points
        self.layout = layout
        self.results_format = results_format
        self.parts = self.out / PARTS

    def table(self, name: str) -> Path:
        """The file of table ``name`` (``sweep``) in this run's format."""
        return self.out / table_file(name, self.results_format)

    def part(self, point: int) -> Path:
        return self.parts / table_file(f"{self.layout.unit}-{point:06d}", self.results_format)

    def error_file(self, point: int) -> Path:
        return self.parts / f"{self.layout.unit}-{point:06d}.error"

    def is_done(self, point: int) -> bool:
        """Whether the point finished without error (failed points run again on resume)."""
        return self.part(point).exists()

    def finished(self) -> bool:
        """Whether the run finished: the manifest is written last, after the merged file."""
        return self.table(self.layout.merged).exists() and (self.out / MANIFEST).exists()

    def open(self, definition_hash: str, *, resume: bool, overwrite: bool) -> bool:
        """Make the folder ready for this sweep; True if it already holds it, finished.

        A folder with other content, another sweep or an unfinished one is never replaced
        unless ``overwrite``; an unfinished run of the same definition continues if ``resume``.
        """
        kind = self.layout.kind
        if self.out.exists() and not self.out.is_dir():
            raise SweepFolderError(f"{self.out} exists and is not a folder")
        if overwrite:
            self._remove_ours()
        state = read_json_object(self.out / STATE)
        if state is None:
            if self.out.exists() and any(self.out.iterdir()) and not overwrite:
                raise SweepFolderError(
                    f"{self.out} is not empty and holds no sweep; choose another --out "
                    "or pass --overwrite"
                )
            self.out.mkdir(parents=True, exist_ok=True)
            # The format only when not the default: a CSV sweep's state.json is as it was.
            fmt = {} if self.results_format == "csv" else {"format": self.results_format}
            write_text(self.out / STATE, json.dumps({"definition_hash": definition_hash, **fmt}))
        elif state.get("definition_hash") != definition_hash:
            if resume:
                raise SweepFolderError(
                    f"{self.out}: the {kind} definition changed since this {kind} started "
                    f"({self.layout.definition}); cannot resume. "
                    "Pass --overwrite to start again or choose another --out"
                )
            raise SweepFolderError(
                f"{self.out} holds another {kind}; choose another --out or pass --overwrite"
            )
        elif (written := state.get("format", "csv")) != self.results_format:
            # Parts of one format are invisible to the other: refuse rather than run again.
            written = written if written in RESULT_FORMATS else repr(written)
            raise SweepFolderError(
                f"{self.out} holds this {kind} written as {written}; pass --format {written} "
                f"to {'resume' if resume else 'reuse'} it, or --overwrite to run it again as "
                f"{self.results_format}"
            )
        elif not resume:
            if self.finished():
                raise SweepFolderError(
                    f"{self.out} already holds this {kind}, finished; pass --resume to reuse "
                    "it or --overwrite to run it again"
                )
            unit = self.layout.unit
            pattern = table_file(f"{unit}-*", self.results_format)
            done = sum(1 for p in self.parts.glob(pattern)) if self.parts.is_dir() else 0
            raise SweepFolderError(
                f"{self.out} holds an interrupted run of this {kind} ({done} of "
                f"{self.n_points} {unit}s done); pass --resume to finish it or --overwrite "
                "to start again"
            )
        elif self.finished():
            shutil.rmtree(self.parts, ignore_errors=True)  # left if a kill came just before
            return True
        self.parts.mkdir(exist_ok=True)
        # Temporary files of a killed run are incomplete by definition.
        for tmp in [*self.parts.glob(TEMPORARY_GLOB), *self.out.glob(TEMPORARY_GLOB)]:
            tmp.unlink(missing_ok=True)
        return False

    def _remove_ours(self) -> None:
        tables = [table_file(t, f) for t in self.layout.tables for f in RESULT_FORMATS]
        for name in (STATE, PARTS, *tables, MANIFEST):
            path = self.out / name
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)

    def write_part(self, point: int, rows: pd.DataFrame) -> None:
        write_table_atomic(rows, self.part(point))
        self.error_file(point).unlink(missing_ok=True)  # from an earlier failed attempt

    def write_error(self, point: int, message: str) -> None:
        write_text(self.error_file(point), message)

    def error(self, point: int) -> str | None:
        """Why the point failed, or None if it did not."""
        try:
            return self.error_file(point).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def merge(self, columns: list[str]) -> None:
        """Stream the part files, in point order and one open at a time, into sweep.csv
        (or sweep.parquet, in row groups: sim.io.results.merge_parquet).

        Memory stays that of one copy buffer (one row group) however many points there are.
        Each part must carry the sweep's header: a part from anything else is refused, not
        mixed in.
        """
        if self.results_format == "parquet":
            parts = [self.part(k) for k in range(self.n_points) if self.part(k).exists()]
            with atomic_file(self.table(self.layout.merged)) as tmp:
                merge_parquet(parts, tmp, columns, self.layout.kind)
            return
        with atomic_file(self.table(self.layout.merged)) as tmp:
            write_table(pd.DataFrame(columns=columns), tmp)  # the header line alone
            header = tmp.read_bytes()
            with open(tmp, "ab") as merged:
                for point in range(self.n_points):
                    try:
                        part = open(self.part(point), "rb")  # noqa: SIM115 - closed below
                    except FileNotFoundError:
                        continue  # a failed point: no rows
                    with part:
                        if part.readline() != header:
                            raise RuntimeError(
                                f"{self.part(point)}: not a part of this {self.layout.kind}"
                            )
                        shutil.copyfileobj(part, merged)

    def finish(
        self, columns: list[str], tables: Mapping[str, pd.DataFrame], manifest: dict
    ) -> None:
        """Merge the parts, write each table (table name, e.g. ``points`` -> rows) in this
        run's format, then manifest.json; remove the parts."""
        self.merge(columns)
        for name, table in tables.items():
            write_table_atomic(table, self.table(name))
        write_text(self.out / MANIFEST, manifest_text(manifest))
        shutil.rmtree(self.parts)
