"""The output folder of a run of many tasks (a sweep's points, or the parameter draws of
``run --draws``): one part file per finished task, merged in task order at the end. Described
here for a sweep; a run of draws differs only in its file names (``Layout``).

While a sweep runs the folder holds ``state.json`` (the definition's hash, written before any
point runs) and ``parts/point-000123.csv`` (the rows of a finished point) or
``parts/point-000123.error`` (why it failed). Every file is written under a temporary name,
synced and renamed into place (sim.io.atomic), so a kill leaves whole files or none: no
half-written or duplicated rows. Finishing streams the parts into ``sweep.csv`` one at a time,
writes ``points.csv`` and, last, ``manifest.json`` (which marks the sweep finished); then
parts/ goes.
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
from sim.io.results import MANIFEST, PARTS, manifest_text, write_table, write_table_atomic

STATE = "state.json"
SWEEP_CSV = "sweep.csv"
POINTS_CSV = "points.csv"
SOBOL_CSV = "sobol.csv"


@dataclass(frozen=True)
class Layout:
    """What kind of run a folder holds: a sweep of points, or a run of parameter draws."""

    kind: str  # in messages: "sweep"
    unit: str  # one task: "point"; names the part files
    merged: str  # the file the parts merge into
    files: tuple[str, ...]  # every file the run writes: all --overwrite may remove
    definition: str  # what the definition hash covers, for the message when it changed


SWEEP = Layout(
    "sweep",
    "point",
    SWEEP_CSV,
    (SWEEP_CSV, POINTS_CSV, MANIFEST, SOBOL_CSV),
    "the sweep file, its base scenario or the loyaltysim version",
)


class SweepFolderError(SimInputError):
    """The output folder holds something a sweep must not silently replace or mix with."""


class Store:
    """The output folder of one sweep of ``n_points`` points."""

    def __init__(self, out: Path, n_points: int, layout: Layout = SWEEP) -> None:
        self.out = Path(out)
        self.n_points = n_points
        self.layout = layout
        self.parts = self.out / PARTS

    def part(self, point: int) -> Path:
        return self.parts / f"{self.layout.unit}-{point:06d}.csv"

    def error_file(self, point: int) -> Path:
        return self.parts / f"{self.layout.unit}-{point:06d}.error"

    def is_done(self, point: int) -> bool:
        """Whether the point finished without error (failed points run again on resume)."""
        return self.part(point).exists()

    def finished(self) -> bool:
        """Whether the run finished: the manifest is written last, after the merged file."""
        return all((self.out / name).exists() for name in (self.layout.merged, MANIFEST))

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
            write_text(self.out / STATE, json.dumps({"definition_hash": definition_hash}))
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
        elif not resume:
            if self.finished():
                raise SweepFolderError(
                    f"{self.out} already holds this {kind}, finished; pass --resume to reuse "
                    "it or --overwrite to run it again"
                )
            unit = self.layout.unit
            done = sum(1 for p in self.parts.glob(f"{unit}-*.csv")) if self.parts.is_dir() else 0
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
        for name in (STATE, PARTS, *self.layout.files):
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
        """Stream the part files, in point order and one open at a time, into sweep.csv.

        Memory stays that of one copy buffer however many points there are. Each part must
        carry the sweep's header: a part from anything else is refused, not mixed in.
        """
        with atomic_file(self.out / self.layout.merged) as tmp:
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
        """Merge the parts, write each table (file name -> rows), then manifest.json; remove
        the parts."""
        self.merge(columns)
        for name, table in tables.items():
            write_table_atomic(table, self.out / name)
        write_text(self.out / MANIFEST, manifest_text(manifest))
        shutil.rmtree(self.parts)
