"""A results folder read for the report, checked once for what the figures and the summary
need, so that drawing never meets a missing column: a run's folder (``ReportData``) or a run
of parameter draws (``DecisionData``, from ``loyaltysim run --draws``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from pandas.api.types import is_numeric_dtype
from pydantic import Field

from sim.analysis.decision import DECISION_COLUMNS, DECISION_EXTRA, EVPPI_COLUMNS
from sim.errors import SimInputError
from sim.io.manifest import ReadManifest, checked_manifest
from sim.io.reading import read_json_object
from sim.io.results import (
    CSV_FILES,
    DECISION,
    DRAW,
    DRAWS_TABLE,
    EVPPI,
    MANIFEST,
    PARTS,
    read_results,
    read_table,
    table_file,
    table_format,
    table_path,
)
from sim.spec.fields import CHANNELS
from sim.spec.kpis import KPIS, SERIES, Kpi, summary_columns
from sim.spec.strategy import SILENT
from sim.spec.validation import validate

# Okabe-Ito: distinguishable with the common colour-vision deficiencies. Black is silent's.
PALETTE = ("#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7", "#F0E442")
SILENT_COLOUR = "#000000"


def _registered(registry: dict[str, Kpi], *names: str) -> list[str]:
    """Names of KPIs (or weekly series) the report reads, checked against the registry."""
    unknown = [name for name in names if name not in registry]
    if unknown:
        raise ValueError(f"the report reads {unknown}, which sim.spec.kpis does not register")
    return list(names)


_REACHABLE = [f"reachable_{c}" for c in CHANNELS]
# What the figures and the summary read (the objective's columns are added on loading).
_SUMMARY_KPIS = _registered(
    KPIS,
    "retention_rate",
    "pressure_mean",
    *(f"{k}_{c}" for k in ("sends", "exits") for c in CHANNELS),
)
_SUMMARISED_KPIS = _registered(
    KPIS, "retention_rate", "attributed_revenue", "incremental_revenue", *_REACHABLE
)
_SERIES = _registered(
    SERIES,
    "active",
    "satisfaction_index",
    "pressure_mean",
    "revenue",
    "attributed_revenue",
    *_REACHABLE,
)
_NEEDS = {
    "summary": ["strategy", "replication", *_SUMMARY_KPIS],
    "strategies": [
        "strategy",
        "replications",
        *(column for kpi in _SUMMARISED_KPIS for column in summary_columns(kpi)),
    ],
    "timeseries": ["strategy", "replication", "week", *_SERIES],
    "pressure": ["strategy", "replication", "pressure_from", "pressure_to", "members"],
}
# The tables of a run of draws the report reads, CSV or Parquet (replications is not needed).
DRAWS_FILES = (DECISION, EVPPI, DRAWS_TABLE)


def strategy_style(names: Sequence[str], strategy: str) -> dict[str, str]:
    """Line colour and style of ``strategy`` among ``names``: silent black, the others in
    palette order, so a strategy looks the same in every figure."""
    if strategy == SILENT:
        return {"color": SILENT_COLOUR, "linestyle": "-"}
    i = [s for s in names if s != SILENT].index(strategy)
    styles = ("-", "--", ":", "-.")
    return {"color": PALETTE[i % len(PALETTE)], "linestyle": styles[i // len(PALETTE) % 4]}


def _objective(manifest: dict, folder: Path) -> tuple[str, str]:
    """The objective's KPI and sense from a checked manifest."""
    objective = manifest.get("objective")
    if not isinstance(objective, dict) or "kpi" not in objective:
        raise SimInputError(f"{folder / MANIFEST}: no objective.kpi")
    return str(objective["kpi"]), str(objective.get("sense", "max"))


def _column_problems(
    path: Path, table: pd.DataFrame, columns: Sequence[str], numeric: Sequence[str]
) -> list[str]:
    """What keeps ``table`` (read from ``path``) from holding ``columns``, those in
    ``numeric`` as numbers: one line per problem, none if it does."""
    missing = [c for c in columns if c not in table.columns]
    if missing:
        return [f"{path}: missing columns {missing}"]
    # An empty table holds no value that is not a number, whatever dtype pandas gave it.
    text = [c for c in numeric if len(table) and not is_numeric_dtype(table[c].dtype)]
    if text:
        return [f"{path}: columns {text} hold values that are not numbers"]
    return []


@dataclass(frozen=True)
class ReportData:
    """The tables of one results folder and what the figures share."""

    folder: Path
    summary: pd.DataFrame
    strategies: pd.DataFrame
    timeseries: pd.DataFrame
    pressure: pd.DataFrame
    manifest: dict
    objective: str
    sense: str
    currency: str

    @property
    def names(self) -> list[str]:
        """Strategies in the order of summary.csv (silent first in a run's output)."""
        return [str(s) for s in pd.unique(self.summary["strategy"])]

    def style(self, strategy: str) -> dict[str, str]:
        """Line colour and style of a strategy, the same in every figure."""
        return strategy_style(self.names, strategy)

    @property
    def events(self) -> list[tuple[float, str]]:
        """Scenario-wide events that step every strategy's series, as (week, label): the
        first day points can expire (a step in satisfaction: the reward experience falls for
        the members who lose their balance)."""
        scenario = self.manifest.get("scenario")
        expiry = ((scenario or {}).get("program") or {}).get("expiry") or {}
        horizon = (scenario or {}).get("horizon_days", 0)
        first = {
            "inactivity": expiry.get("days"),
            # Lots earned in month 0 expire `months` months after its end (months of 365/12 days).
            "lots": None if "months" not in expiry else (expiry["months"] + 1) * 365 / 12,
            # Points of year 0 expire at the end of year 1 (years of 365 days).
            "end_of_next_year": 730,
        }.get(expiry.get("kind"))
        if first is None or first >= horizon:
            return []
        return [(first / 7, "first points expire")]


def load_report_data(folder: str | Path) -> ReportData:
    """Read a results folder (data only) and check it holds what the figures need."""
    folder = Path(folder)
    tables = read_results(folder)
    manifest = checked_manifest(tables["manifest"], str(folder / MANIFEST))
    kpi, sense = _objective(manifest, folder)
    needs = dict(_NEEDS)
    needs["summary"] = [*needs["summary"], kpi]
    needs["strategies"] = [*needs["strategies"], *summary_columns(kpi)]
    problems = []
    for name, columns in needs.items():
        table = tables[name]
        found = _column_problems(table_path(folder, name), table, columns, columns[1:])
        if found:
            problems += found
        elif SILENT not in set(tables[name]["strategy"]):
            problems.append(f"{table_path(folder, name)}: no 'silent' strategy to compare against")
    if problems:
        raise SimInputError(problems, str(folder))
    names = {name: sorted(map(str, set(tables[name]["strategy"]))) for name in CSV_FILES}
    if len({tuple(v) for v in names.values()}) > 1:
        listed = "; ".join(f"{table_path(folder, name).name}: {v}" for name, v in names.items())
        raise SimInputError(f"{folder}: the files hold different strategies ({listed})")
    return ReportData(
        folder,
        tables["summary"],
        # A copy: the frame read back is fragmented column by column, which pandas warns about.
        tables["strategies"].copy(),
        tables["timeseries"],
        tables["pressure"],
        manifest,
        kpi,
        sense,
        str(manifest.get("currency", "")),
    )


# --- a run of parameter draws --------------------------------------------------------------------


class _DrawsManifest(ReadManifest):
    """The fields of a draws run's manifest.json the decision section reads, with their types."""

    draws: int
    evpi: float
    evppi_noise: float | None = None
    current_plan: str | None = None
    uncertain: list[str] = Field(default_factory=list)
    priors: str = ""


@dataclass(frozen=True)
class DecisionData:
    """The tables of a run of parameter draws (``loyaltysim run --draws``)."""

    folder: Path
    decision: pd.DataFrame  # one row per strategy, best expected first (decision.csv)
    evppi: pd.DataFrame  # one row per numeric uncertain value, largest first (evppi.csv)
    draws: pd.DataFrame  # one row per draw and strategy (draws.csv)
    manifest: dict
    objective: str
    sense: str
    currency: str

    @property
    def names(self) -> list[str]:
        """Strategies best expected first, as in decision.csv."""
        return [str(s) for s in self.decision["strategy"]]

    @property
    def leader(self) -> str:
        """The strategy of best expected objective, the first row of decision.csv."""
        return self.names[0]

    @property
    def current(self) -> str | None:
        """The current plan (the scenario's history plan), if the run compared against one."""
        current = self.manifest.get("current_plan")
        return current if current in self.names else None

    @property
    def noise(self) -> float | None:
        """The EVPPI a value deciding nothing gets from these draws (manifest evppi_noise)."""
        noise = self.manifest.get("evppi_noise")
        return None if noise is None else float(noise)

    def style(self, strategy: str) -> dict[str, str]:
        """Colour of a strategy: in the scenario's order, as in the report of a normal run."""
        listed = [str(s) for s in self.manifest.get("strategies", [])]
        return strategy_style(listed if set(listed) == set(self.names) else self.names, strategy)


def is_draws_folder(folder: str | Path) -> bool:
    """Whether ``folder`` holds a run of parameter draws, finished or not: decision.csv (or
    .parquet), a manifest with ``draws`` or the part files of an interrupted run."""
    folder = Path(folder)
    manifest = read_json_object(folder / MANIFEST)
    return (
        table_path(folder, DECISION).is_file()
        or (manifest is not None and "draws" in manifest)
        or any((folder / PARTS).glob(f"{DRAW}-*"))
    )


def load_decision_data(folder: str | Path) -> DecisionData:
    """Read a run of parameter draws and check it holds what the decision section needs."""
    folder = Path(folder)
    manifest = read_json_object(folder / MANIFEST)
    if manifest is None or "draws" not in manifest:
        raise SimInputError(
            f"{folder}: no {MANIFEST} of a finished run of draws (an interrupted run finishes "
            f"with `loyaltysim run SCENARIO --draws K --out {folder} --resume`)"
        )
    # One format for the whole folder, so that a missing table is named in it.
    fmt = "parquet" if any(table_format(folder, n) == "parquet" for n in DRAWS_FILES) else "csv"
    files = [folder / table_file(name, fmt) for name in DRAWS_FILES]
    missing_files = [f.name for f in files if not f.is_file()]
    if missing_files:
        written = ", ".join(f"{name}.csv" for name in DRAWS_FILES)
        raise SimInputError(
            f"{folder}: not a complete run of draws (missing {', '.join(missing_files)}; "
            f"`loyaltysim run --draws` writes {written}, or with --format parquet .parquet files)"
        )
    source = str(folder / MANIFEST)
    validate(_DrawsManifest, checked_manifest(manifest, source), source)
    kpi, sense = _objective(manifest, folder)
    try:
        decision, evppi, draws = (read_table(f) for f in files)
    except (OSError, ValueError) as exc:
        raise SimInputError(f"{folder}: not a readable run of draws ({exc})") from None
    decision_file, evppi_file, draws_file = files
    decision_columns = [*DECISION_COLUMNS, *DECISION_EXTRA]
    problems = [
        *_column_problems(decision_file, decision, decision_columns, decision_columns[1:]),
        *_column_problems(evppi_file, evppi, EVPPI_COLUMNS, ["evppi"]),
        *_column_problems(draws_file, draws, ["draw", "strategy", kpi], ["draw", kpi]),
    ]
    # Checked whenever the columns they need are there, so one pass names every problem.
    if "strategy" in decision and (decision.empty or decision["strategy"].duplicated().any()):
        problems.append(f"{decision_file}: not one row per strategy")
    if {"draw", "strategy"} <= set(draws.columns):
        if draws.duplicated(["draw", "strategy"]).any():
            problems.append(f"{draws_file}: more than one row for a draw and strategy")
        if "strategy" in decision and set(draws["strategy"]) != set(decision["strategy"]):
            held = "; ".join(
                f"{f.name}: {sorted(map(str, set(t['strategy'])))}"
                for f, t in ((decision_file, decision), (draws_file, draws))
            )
            problems.append(f"{folder}: the files hold different strategies ({held})")
    if problems:
        raise SimInputError(problems, str(folder))
    return DecisionData(
        folder,
        decision,
        # Largest first, as evppi.csv is written, whatever order a hand-made file has.
        evppi.sort_values("evppi", ascending=False, kind="stable").reset_index(drop=True),
        draws,
        manifest,
        kpi,
        sense,
        str(manifest.get("currency", "")),
    )
