"""Two result sets side by side: per strategy and KPI, B - A with a 95% interval, the scenario
parameters that differ, and gates that fail a CI job when a difference crosses a threshold.

Intervals are paired by replication when both sides ran the same replications with the same
seeds (common random numbers: the shared noise cancels), Welch's otherwise. A strategies.csv
alone holds no replications, so only its means can be compared.

A row is called significant when its difference is at least the minimum effect that matters,
shows in the printed digits, and survives the Benjamini-Hochberg control of the false discovery
rate over every row compared (scipy.stats.false_discovery_control on the rows' t-test p-values):
among many KPIs and strategies some intervals exclude 0 by chance alone.
"""

from __future__ import annotations

import html
import json
import math
import operator
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from sim.analysis.summary import (
    format_estimate,
    format_number,
    round_to,
    t_interval,
    text_table,
    unit_of,
)
from sim.errors import SimInputError, choices_hint
from sim.io.manifest import checked_manifest
from sim.io.reading import reading
from sim.io.results import MANIFEST, read_table, table_path, write_table_atomic

COLUMNS = (
    "strategy",
    "kpi",
    "a",
    "b",
    "diff",
    "rel_diff",
    "ci_low",
    "ci_high",
    "method",
    "p_value",
    "q_value",
)
GATE_MODES = {
    "point": "the difference B - A crosses the limit",
    "ci": "the whole confidence interval of B - A lies beyond the limit",
}
_IDS = ("strategy", "replication", "seed")
METHODS = {
    "paired": "paired by replication (same replications and seeds on both sides)",
    "welch": "Welch intervals (the sides ran different replications or seeds)",
    "means": "means only (no replications in a strategies.csv, so no interval; it stores 10 "
    "significant digits)",
}
ABSENT = "(absent)"


@dataclass(frozen=True)
class ResultSet:
    """One side of a comparison: per-strategy means, and the replications when known."""

    source: str
    means: pd.DataFrame  # index strategy, one column per KPI
    replications: pd.DataFrame | None  # summary rows: strategy, replication, seed, KPIs
    manifest: dict | None


@dataclass(frozen=True)
class MinEffect:
    """The smallest difference that matters: per KPI in its own unit, and/or relative to |A|
    for every KPI. A difference below it is hidden and never significant."""

    absolute: dict[str, float]
    relative: float = 0.0  # a fraction of |A|

    def small(self, kpi: str, a: float, diff: float) -> bool:
        limit = max(self.absolute.get(kpi, 0.0), self.relative * abs(a))
        return limit > 0 and abs(diff) < limit

    def describe(self) -> str:
        parts = [f"{k} {v:g}" for k, v in self.absolute.items()]
        parts += [f"{self.relative:.4g} of |A|"] if self.relative else []
        return ", ".join(parts)


NO_MIN_EFFECT = MinEffect({})


@dataclass(frozen=True)
class Comparison:
    """The tidy table (``COLUMNS`` plus ``small`` and ``significant``) and what else a
    reviewer needs."""

    a: str
    b: str
    table: pd.DataFrame
    parameters: list[tuple[str, object, object]] | None  # None: a side has no manifest
    warnings: list[str]
    currency: str
    confidence: float
    min_effect: MinEffect = NO_MIN_EFFECT


def _read(path: Path) -> pd.DataFrame:
    kind = "Parquet" if path.suffix == ".parquet" else "CSV"
    try:
        with reading(str(path), kind):
            frame = read_table(path)
    except pd.errors.EmptyDataError:
        raise SimInputError(f"{path}: the file is empty") from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise SimInputError(f"{path}: not a readable {kind} file ({exc})") from None
    if frame.empty:
        raise SimInputError(f"{path}: the file has a header but no rows")
    return frame


def _numeric(frame: pd.DataFrame, columns: Sequence[str], path: Path) -> None:
    bad = [c for c in columns if not pd.api.types.is_numeric_dtype(frame[c].dtype)]
    if bad:
        raise SimInputError(f"{path}: columns {bad} hold values that are not numbers")


def _from_summary(frame: pd.DataFrame, path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    missing = [c for c in _IDS if c not in frame.columns]
    if missing:
        raise SimInputError(f"{path}: missing columns {missing} (a summary.csv starts {_IDS})")
    kpis = [c for c in frame.columns if c not in _IDS]
    if not kpis:
        raise SimInputError(f"{path}: no KPI columns after {list(_IDS)}")
    _numeric(frame, ["replication", "seed", *kpis], path)
    if frame.duplicated(["strategy", "replication"]).any():
        raise SimInputError(f"{path}: more than one row for a strategy and replication")
    means = frame.groupby("strategy", sort=False)[kpis].mean()
    return means, frame


def _from_strategies(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    columns = [c for c in frame.columns if c.endswith("_mean")]
    if "strategy" not in frame.columns or not columns:
        raise SimInputError(
            f"{path}: neither a summary.csv (columns strategy, replication, seed, KPIs) nor a "
            "strategies.csv (columns strategy and <kpi>_mean)"
        )
    _numeric(frame, columns, path)
    if frame["strategy"].duplicated().any():
        raise SimInputError(f"{path}: more than one row for a strategy")
    means = frame.set_index("strategy")[columns]
    return means.rename(columns=lambda c: c.removesuffix("_mean"))


def _manifest(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise SimInputError(f"{path}: not a readable manifest ({exc})") from None
    return checked_manifest(manifest, str(path))


def load_result_set(path: str | Path) -> ResultSet:
    """A results folder (its summary table, else strategies, CSV or Parquet) or one of those
    files.

    Files are parsed as data only; a manifest.json beside them is read when present."""
    path = Path(path)
    if path.is_dir():
        folder = path
        files = [table_path(path, "summary"), table_path(path, "strategies")]
        present = [f for f in files if f.is_file()]
        if not present:
            raise SimInputError(f"{path}: not a results folder (no summary.csv or strategies.csv)")
        path = present[0]
    elif path.exists():
        folder = path.parent
    else:
        raise SimInputError(f"{path}: no such file or folder")
    frame = _read(path)
    if "replication" in frame.columns:
        means, replications = _from_summary(frame, path)
    else:
        means, replications = _from_strategies(frame, path), None
    return ResultSet(str(path), means, replications, _manifest(folder / MANIFEST))


def _as_written(side: ResultSet) -> ResultSet:
    means = side.means.map(lambda x: float(f"{x:.10g}"))
    return ResultSet(side.source, means, side.replications, side.manifest)


def _flatten(value: object, prefix: str = "") -> dict[str, object]:
    """Nested dicts as {dotted.path: leaf}; lists and empty dicts are leaves."""
    if isinstance(value, dict) and value:
        flat: dict[str, object] = {}
        for key, inner in value.items():
            flat |= _flatten(inner, f"{prefix}{key}.")
        return flat
    return {prefix.removesuffix("."): value}


def parameter_changes(a: dict, b: dict) -> list[tuple[str, object, object]]:
    """(dotted path, A value, B value) of every resolved-scenario parameter that differs."""
    flat_a, flat_b = _flatten(a.get("scenario", {})), _flatten(b.get("scenario", {}))
    paths = list(flat_a) + [p for p in flat_b if p not in flat_a]
    return [
        (p, flat_a.get(p, ABSENT), flat_b.get(p, ABSENT))
        for p in paths
        if flat_a.get(p, ABSENT) != flat_b.get(p, ABSENT)
    ]


def _exact(diff: float) -> tuple[float, float, float]:
    """A difference without spread is exact: its interval is the point, and its p-value 0
    (1 if it is 0). scipy would give 0/0."""
    return diff, diff, 0.0 if diff != 0 else 1.0


def _welch(a: np.ndarray, b: np.ndarray, confidence: float) -> tuple[float, float, float]:
    """(low, high, p-value) of Welch's t-test of B - A."""
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if len(a) < 2 or len(b) < 2:
        return math.nan, math.nan, math.nan
    if np.ptp(a) == 0 and np.ptp(b) == 0:
        return _exact(float(b[0] - a[0]))
    test = stats.ttest_ind(b, a, equal_var=False)
    ci = test.confidence_interval(confidence)
    return float(ci.low), float(ci.high), float(test.pvalue)


def _paired(diffs: np.ndarray, confidence: float) -> tuple[float, float, float]:
    """(low, high, p-value) of the one-sample t-test of paired differences B - A."""
    diffs = diffs[~np.isnan(diffs)]
    if len(diffs) < 2:
        return math.nan, math.nan, math.nan
    if np.ptp(diffs) == 0:
        return _exact(float(diffs[0]))
    _, low, high = t_interval(diffs, confidence)
    return low, high, float(stats.ttest_1samp(diffs, 0.0).pvalue)


def _interval(
    a: ResultSet, b: ResultSet, strategy: str, kpis: list[str], confidence: float
) -> Iterator[tuple[str, float, float, float]]:
    """Yield (method, low, high, p-value) per KPI for one strategy."""
    if a.replications is None or b.replications is None:
        yield from (("means", math.nan, math.nan, math.nan) for _ in kpis)
        return
    rows_a = a.replications[a.replications["strategy"] == strategy].sort_values("replication")
    rows_b = b.replications[b.replications["strategy"] == strategy].sort_values("replication")
    keys_a = rows_a[["replication", "seed"]].to_numpy().tolist()
    paired = keys_a == rows_b[["replication", "seed"]].to_numpy().tolist()
    for kpi in kpis:
        values_a, values_b = rows_a[kpi].to_numpy(float), rows_b[kpi].to_numpy(float)
        if paired:
            yield ("paired", *_paired(values_b - values_a, confidence))
        else:
            yield ("welch", *_welch(values_a, values_b, confidence))


def _common(name: str, a: list[str], b: list[str], sides: tuple[str, str]) -> tuple[list, str]:
    """Names in both (A's order) and a warning naming those on one side only."""
    common = [x for x in a if x in set(b)]
    only = [
        (side, [x for x in mine if x not in set(theirs)])
        for side, mine, theirs in ((sides[0], a, b), (sides[1], b, a))
    ]
    parts = [f"only in {side}: {', '.join(map(str, names))}" for side, names in only if names]
    warning = f"{name} on one side only, not compared ({'; '.join(parts)})" if parts else ""
    return common, warning


def compare(
    a: str | Path | ResultSet,
    b: str | Path | ResultSet,
    kpis: Sequence[str] | None = None,
    confidence: float = 0.95,
    *,
    lead: Sequence[str] = (),
    min_effect: MinEffect = NO_MIN_EFFECT,
) -> Comparison:
    """Compare B against A for every strategy and KPI both hold (or only ``kpis``). Rows go
    KPI by KPI: the scenario's objective first (from a manifest), then ``lead`` (e.g. the
    gated KPIs), then the rest in file order. A row is ``small`` when its difference is below
    ``min_effect``, and ``significant`` when it is not small, its printed digits are not all
    zero, and its Benjamini-Hochberg q-value is below 1 - ``confidence``."""
    a = a if isinstance(a, ResultSet) else load_result_set(a)
    b = b if isinstance(b, ResultSet) else load_result_set(b)
    if (a.replications is None) != (b.replications is None):
        # strategies.csv holds means to 10 significant digits: round the other side's alike
        # so that a run compared with its own strategies.csv shows no differences.
        a, b = (_as_written(side) for side in (a, b))
    sides = (f"A ({a.source})", f"B ({b.source})")
    strategies, strategy_warning = _common(
        "strategies", list(a.means.index), list(b.means.index), sides
    )
    if not strategies:
        raise SimInputError(
            f"no strategies in common: {sides[0]} has {list(a.means.index)}, "
            f"{sides[1]} has {list(b.means.index)}"
        )
    common_kpis, kpi_warning = _common("KPIs", list(a.means.columns), list(b.means.columns), sides)
    if kpis:
        unknown = [k for k in kpis if k not in common_kpis]
        if unknown:
            raise SimInputError(
                [
                    f"KPI {k!r} is not in both {sides[0]} and {sides[1]}"
                    + choices_hint(k, common_kpis)
                    for k in unknown
                ]
            )
        common_kpis, kpi_warning = [k for k in common_kpis if k in kpis], ""
    if not common_kpis:
        raise SimInputError(f"no KPIs in common between {sides[0]} and {sides[1]}")

    objective = [m["objective"]["kpi"] for m in (b.manifest, a.manifest) if m and "objective" in m]
    first = [k for k in dict.fromkeys([*objective[:1], *lead]) if k in common_kpis]
    common_kpis = [*first, *(k for k in common_kpis if k not in first)]
    rows = []
    for strategy in strategies:
        intervals = _interval(a, b, strategy, common_kpis, confidence)
        for kpi, (method, low, high, p) in zip(common_kpis, intervals, strict=True):
            mean_a, mean_b = float(a.means.at[strategy, kpi]), float(b.means.at[strategy, kpi])
            diff = mean_b - mean_a
            rel = diff / abs(mean_a) if mean_a != 0 else math.nan
            rows.append((strategy, kpi, mean_a, mean_b, diff, rel, low, high, method, p))
    table = pd.DataFrame(rows, columns=list(COLUMNS[:-1]))
    order = {k: i for i, k in enumerate(common_kpis)}
    table = table.sort_values("kpi", key=lambda k: k.map(order), kind="stable")
    table = table.reset_index(drop=True)
    table["q_value"] = _false_discovery(table["p_value"].to_numpy(dtype=float))
    table["small"] = [min_effect.small(r.kpi, r.a, r.diff) for r in table.itertuples(index=False)]
    # NaN q-values compare False, so a row without an interval is never significant.
    table["significant"] = (
        (table["q_value"] < 1 - confidence) & ~table["small"] & ~_prints_as_zero(table)
    )

    warnings = [w for w in (strategy_warning, kpi_warning) if w]
    manifests = (a.manifest, b.manifest)
    parameters = parameter_changes(*manifests) if all(manifests) else None
    if parameters is None:
        lacking = [s for s, m in zip(sides, manifests, strict=True) if not m]
        warnings.append(f"no manifest.json beside {' and '.join(lacking)}: parameters not compared")
    currencies = {m.get("currency") for m in manifests if m}
    if len(currencies) > 1:
        warnings.append(f"the sides use different currencies {sorted(currencies)}")
    currency = str(next((m["currency"] for m in manifests if m and "currency" in m), ""))
    return Comparison(
        a.source, b.source, table, parameters, warnings, currency, confidence, min_effect
    )


def _false_discovery(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values) of the rows that have a p-value."""
    q = np.full(p.shape, np.nan)
    known = ~np.isnan(p)
    if known.any():
        q[known] = stats.false_discovery_control(p[known], method="bh")
    return q


def _prints_as_zero(table: pd.DataFrame) -> pd.Series:
    """Rows whose difference prints with nothing but zeros in its KPI's unit."""
    return pd.Series(
        [
            not any(c in "123456789" for c in format_number(d, unit_of(k), diff=True))
            for k, d in zip(table["kpi"], table["diff"], strict=True)
        ],
        index=table.index,
    )


# --- gates ------------------------------------------------------------------------------------

_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_GATE = re.compile(r"^\s*([A-Za-z_]\w*)\s*(<=|>=|<|>)\s*(\S+?)\s*(%?)\s*$")


@dataclass(frozen=True)
class Gate:
    """``KPI OP THRESHOLD`` on B - A; a ``%`` threshold is relative to |A|."""

    text: str
    kpi: str
    op: str
    threshold: float
    relative: bool

    def limit(self, a: float) -> float:
        """The threshold in the KPI's own unit for a strategy whose A value is ``a``."""
        # value * |a| / 100 (not value / 100 * |a|) keeps whole-number cases exact.
        return self.threshold * abs(a) / 100 if self.relative else self.threshold

    def trips(self, a: float, diff: float) -> bool:
        """Whether B - A = ``diff`` crosses the gate; an undefined difference never does."""
        return bool(_OPS[self.op](diff, self.limit(a)))

    def trips_surely(self, a: float, low: float, high: float) -> bool:
        """Whether the whole interval [low, high] of B - A lies beyond the limit."""
        # Below a limit (< or <=) the upper bound must be; above it, the lower bound.
        return bool(_OPS[self.op](high if self.op in ("<", "<=") else low, self.limit(a)))


@dataclass(frozen=True)
class Trip:
    """A gate crossed by one strategy: its B - A and the limit it crossed."""

    gate: Gate
    strategy: str
    diff: float
    limit: float
    interval: tuple[float, float] | None = None  # the CI that crossed, with --gate-on ci


def parse_gate(text: str) -> Gate:
    """``"retention_rate < -1%"`` -> Gate; OP is one of <, <=, >, >=."""
    match = _GATE.match(text)
    try:
        threshold = float(match[3]) if match else math.nan
    except ValueError:
        threshold = math.nan
    if not match or not math.isfinite(threshold):
        raise SimInputError(
            f"--fail-if {text!r}: expected 'KPI OP THRESHOLD' with OP one of <, <=, >, >= and "
            "a number, optionally with % (relative to A), e.g. 'retention_rate < -1%'"
        )
    return Gate(text.strip(), match[1], match[2], threshold, match[4] == "%")


def check_gates(comparison: Comparison, gates: Sequence[Gate], on: str = "point") -> list[Trip]:
    """Every (gate, strategy) where B - A crosses the gate, in gate then strategy order.
    ``on`` is a key of GATE_MODES: ``point`` judges the difference itself, ``ci`` its whole
    interval (a row without an interval, e.g. from a strategies.csv, is judged on its
    difference: nothing shows that it stays within the limit)."""
    if on not in GATE_MODES:
        raise SimInputError(f"--gate-on: must be one of {sorted(GATE_MODES)}, got {on!r}")
    compared = list(pd.unique(comparison.table["kpi"]))
    trips = []
    for gate in gates:
        if gate.kpi not in compared:
            hint = choices_hint(gate.kpi, compared, "compared KPIs")
            raise SimInputError(f"--fail-if {gate.text!r}: KPI {gate.kpi!r} is not compared{hint}")
        for row in comparison.table[comparison.table["kpi"] == gate.kpi].itertuples():
            interval = None if math.isnan(row.ci_low) else (row.ci_low, row.ci_high)
            if on == "ci" and interval is not None:
                if gate.trips_surely(row.a, *interval):
                    trips.append(
                        Trip(gate, str(row.strategy), row.diff, gate.limit(row.a), interval)
                    )
            elif gate.trips(row.a, row.diff):
                trips.append(Trip(gate, str(row.strategy), row.diff, gate.limit(row.a)))
    return trips


def describe_trip(trip: Trip, currency: str = "") -> str:
    """One line naming the gate, the strategy and the difference against the limit."""
    unit = unit_of(trip.gate.kpi)
    diff, limit = (format_number(v, unit, diff=True) for v in (trip.diff, trip.limit))
    suffix = f" {currency}" if unit == "currency" and currency else ""
    whole = ""
    if trip.interval is not None:
        low, high = (format_number(v, unit, diff=True) for v in trip.interval)
        whole = f" (its whole CI [{low}, {high}] is beyond the limit)"
    return (
        f"gate {trip.gate.text!r} tripped for strategy {trip.strategy!r}: "
        f"B - A = {diff}{suffix}, limit {limit}{suffix}{whole}"
    )


def parse_min_effect(texts: Sequence[str]) -> MinEffect:
    """``KPI=VALUE`` (in the KPI's unit) or ``P%`` (relative to |A|, every KPI) -> MinEffect."""
    absolute: dict[str, float] = {}
    relative = 0.0
    for text in texts:
        kpi, sep, value = (part.strip() for part in text.partition("="))
        number = value if sep else kpi.removesuffix("%")
        try:
            amount = float(number)
        except ValueError:
            amount = math.nan
        if not math.isfinite(amount) or amount < 0 or (not sep and not kpi.endswith("%")):
            raise SimInputError(
                f"--min-effect {text!r}: expected KPI=VALUE (a number >= 0 in the KPI's unit, "
                "e.g. clv_per_member=5) or a percentage of A for every KPI, e.g. 1%"
            )
        if sep:
            absolute[kpi] = amount
        else:
            relative = amount / 100
    return MinEffect(absolute, relative)


# --- output -----------------------------------------------------------------------------------


def _rows(frame: pd.DataFrame, currency: str) -> list[list[str]]:
    """[strategy, KPI, A, B, B - A with interval, relative] as text in each KPI's unit."""
    rows = []
    for _, r in frame.iterrows():
        unit = unit_of(r["kpi"])
        money = f" {currency}" if unit == "currency" and currency else ""
        values = [format_number(r[s], unit) + ("" if math.isnan(r[s]) else money) for s in "ab"]
        diff = format_estimate(r["diff"], r["ci_low"], r["ci_high"], unit, currency, True)
        rel = "n/a" if math.isnan(r["rel_diff"]) else f"{round_to(r['rel_diff'] * 100, 1):+.1f}%"
        # Without a known currency format_estimate leaves a double space: normalise it.
        rows.append([str(r["strategy"]), str(r["kpi"]), *values, " ".join(diff.split()), rel])
    return rows


def _changed(table: pd.DataFrame) -> pd.DataFrame:
    """Rows where A and B differ by at least the minimum effect (NaN on both sides counts
    as equal)."""
    same = (table["a"] == table["b"]) | (table["a"].isna() & table["b"].isna())
    return table[~same & ~table["small"]]


def _hidden(comparison: Comparison) -> str:
    """How many rows the minimum effect hides, or ''."""
    n = int(comparison.table["small"].sum())
    if not n:
        return ""
    return f"{n} differences below the minimum effect ({comparison.min_effect.describe()}) hidden"


def _significance(comparison: Comparison) -> str:
    level = 1 - comparison.confidence
    return (
        f"significant: Benjamini-Hochberg q < {level:.2g} over the {len(comparison.table)} "
        "rows compared (false discovery rate), beyond any minimum effect"
    )


def _preamble(comparison: Comparison) -> tuple[str, list[str]]:
    """The confidence level as text and one line per interval method used."""
    level = f"{comparison.confidence:.0%}"
    used = pd.unique(comparison.table["method"])
    return level, [f"B - A with {level} CI, {METHODS[m]}" for m in used]


def _short(value: object, width: int = 60) -> str:
    text = ABSENT if value is ABSENT else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= width else text[: width - 3] + "..."


def format_table(comparison: Comparison) -> str:
    """The comparison as compact terminal text; identical values are counted, not listed."""
    level, methods = _preamble(comparison)
    lines = [f"A: {comparison.a}", f"B: {comparison.b}", *methods, ""]
    if comparison.parameters:
        lines.append("Scenario parameters that differ (A -> B)")
        lines += [f"  {p}: {_short(x)} -> {_short(y)}" for p, x, y in comparison.parameters]
        lines.append("")
    elif comparison.parameters is not None:
        lines += ["The resolved scenarios are identical.", ""]
    table, changed = comparison.table, _changed(comparison.table)
    if len(changed):
        rows = _rows(changed, comparison.currency)
        marks = ["*" if s else "" for s in changed["significant"]]
        header = ["strategy", "KPI", "A", "B", f"B - A [{level} CI]", "relative", ""]
        lines += text_table(header, [[*r, m] for r, m in zip(rows, marks, strict=True)], left=2)
        if any(marks):
            lines.append(f"* {_significance(comparison)}")
    identical = len(table) - len(changed) - int(table["small"].sum())
    if identical:
        lines.append(f"{identical} of {len(table)} values are identical (not listed)")
    if hidden := _hidden(comparison):
        lines.append(hidden)
    return "\n".join(lines) + "\n"


def _md(text: object) -> str:
    """Safe inside Markdown, table cells included: no HTML, no cell breaks."""
    return html.escape(str(text), quote=False).replace("|", "\\|").replace("\n", " ")


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(_md(c) for c in r) + " |" for r in rows]


def format_markdown(comparison: Comparison, trips: Sequence[Trip] = (), gates: int = 0) -> str:
    """A pull-request comment: gates, warnings, parameter changes, significant differences,
    then every changed value in a collapsed section."""
    level, methods = _preamble(comparison)
    lines = ["### loyaltysim compare", "", f"**A**: {_md(comparison.a)}  "]
    lines += [f"**B**: {_md(comparison.b)}", ""]
    if gates:
        lines.append(f"**Gates: {len(trips)} tripped**" if trips else f"Gates: all {gates} passed")
        lines += [f"- {_md(describe_trip(t, comparison.currency))}" for t in trips] + [""]
    lines += [f"- warning: {_md(w)}" for w in comparison.warnings] + [f"- {m}" for m in methods]
    if comparison.parameters:
        rows = [[p, _short(x), _short(y)] for p, x, y in comparison.parameters]
        lines += [
            "",
            "**Scenario parameters that differ**",
            "",
            *_md_table(["parameter", "A", "B"], rows),
        ]
    elif comparison.parameters is not None:
        lines += ["", "The resolved scenarios are identical."]
    table, changed = comparison.table, _changed(comparison.table)
    header = ["strategy", "KPI", "A", "B", f"B − A [{level} CI]", "relative"]
    significant = table[table["significant"]]
    if len(significant):
        lines += ["", "**Significant differences**", "", f"({_significance(comparison)})", ""]
        lines += _md_table(header, _rows(significant, comparison.currency))
    else:
        lines += ["", f"No difference is significant ({_significance(comparison)})."]
    if hidden := _hidden(comparison):
        lines += ["", hidden]
    lines += ["", f"<details><summary>{len(changed)} of {len(table)} values changed</summary>", ""]
    lines += _md_table(header, _rows(changed, comparison.currency)) if len(changed) else []
    return "\n".join([*lines, "", "</details>"]) + "\n"


def write_csv(comparison: Comparison, path: str | Path) -> Path:
    """The tidy table as CSV (formula-safe names, stable numbers), replaced in one step."""
    path = Path(path)
    try:
        write_table_atomic(comparison.table, path)
    except OSError as exc:
        raise SimInputError(f"{path}: cannot write ({exc.strerror or exc})") from None
    return path
