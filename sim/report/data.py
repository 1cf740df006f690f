"""A results folder read for the report, checked once for what the figures and the summary
need, so that drawing never meets a missing column."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from pandas.api.types import is_numeric_dtype

from sim.errors import SimInputError
from sim.io.manifest import checked_manifest
from sim.io.results import CSV_FILES, MANIFEST, read_results
from sim.spec.fields import CHANNELS
from sim.spec.kpis import KPIS, SERIES, Kpi, summary_columns
from sim.spec.strategy import SILENT

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
        if strategy == SILENT:
            return {"color": SILENT_COLOUR, "linestyle": "-"}
        i = [s for s in self.names if s != SILENT].index(strategy)
        styles = ("-", "--", ":", "-.")
        return {"color": PALETTE[i % len(PALETTE)], "linestyle": styles[i // len(PALETTE) % 4]}


def load_report_data(folder: str | Path) -> ReportData:
    """Read a results folder (data only) and check it holds what the figures need."""
    folder = Path(folder)
    files = [f"{name}.csv" for name in CSV_FILES] + [MANIFEST]
    missing_files = [f for f in files if not (folder / f).is_file()]
    if missing_files:
        raise SimInputError(f"{folder}: not a results folder (missing {', '.join(missing_files)})")
    try:
        tables = read_results(folder)
    except (OSError, ValueError) as exc:
        raise SimInputError(f"{folder}: not a readable results folder ({exc})") from None
    manifest = checked_manifest(tables["manifest"], str(folder / "manifest.json"))
    objective = manifest.get("objective")
    if not isinstance(objective, dict) or "kpi" not in objective:
        raise SimInputError(f"{folder / 'manifest.json'}: no objective.kpi")
    kpi = str(objective["kpi"])
    needs = dict(_NEEDS)
    needs["summary"] = [*needs["summary"], kpi]
    needs["strategies"] = [*needs["strategies"], *summary_columns(kpi)]
    problems = []
    for name, columns in needs.items():
        table = tables[name]
        missing = [c for c in columns if c not in table.columns]
        text = [c for c in columns[1:] if c in table and not is_numeric_dtype(table[c].dtype)]
        if missing:
            problems.append(f"{folder / name}.csv: missing columns {missing}")
        elif text:
            problems.append(f"{folder / name}.csv: columns {text} hold values that are not numbers")
        elif SILENT not in set(tables[name]["strategy"]):
            problems.append(f"{folder / name}.csv: no 'silent' strategy to compare against")
    if problems:
        raise SimInputError(problems, str(folder))
    names = {name: sorted(map(str, set(tables[name]["strategy"]))) for name in CSV_FILES}
    if len({tuple(v) for v in names.values()}) > 1:
        listed = "; ".join(f"{name}.csv: {v}" for name, v in names.items())
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
        str(objective.get("sense", "max")),
        str(manifest.get("currency", "")),
    )
