"""The KPI registry (sim.spec.kpis) is the one list of KPIs: the tables of docs/results.md
state it, and its rules read only columns it knows."""

from __future__ import annotations

import re
from pathlib import Path

from sim.spec.kpis import (
    INBOX,
    KPIS,
    MEAN_CI,
    REACHABLE,
    SERIES,
    SETTLED,
    AgainstSilent,
    Kpi,
    Mean,
)

RESULTS_MD = Path(__file__).resolve().parents[1] / "docs" / "results.md"


def _doc_rows(section: str) -> list[tuple[str, ...]]:
    """The rows of the first table under ``## section`` of docs/results.md, cell by cell."""
    text = RESULTS_MD.read_text(encoding="utf-8").split(f"\n## {section}\n", 1)[1]
    body = text.split("\n## ", 1)[0]
    rows = [line for line in body.splitlines() if line.startswith("| `")]
    return [tuple(cell.strip() for cell in row.strip("|").split(" | ")) for row in rows]


def _registry_rows(registry: dict[str, Kpi]) -> list[tuple[str, ...]]:
    return [(f"`{kpi.name}`", kpi.unit, kpi.meaning) for kpi in registry.values()]


def _as_markdown(rows: list[tuple[str, ...]]) -> str:
    return "\n".join(f"| {' | '.join(row)} |" for row in rows)


def test_the_summary_csv_table_of_the_docs_is_the_registry() -> None:
    rows = _doc_rows("summary.csv")
    assert [row[0] for row in rows[:3]] == ["`strategy`", "`replication`", "`seed`"]
    expected = _registry_rows(KPIS)
    assert rows[3:] == expected, "docs/results.md, summary.csv, should read:\n" + _as_markdown(
        expected
    )


def test_the_timeseries_csv_table_of_the_docs_is_the_registry() -> None:
    rows = [row for row in _doc_rows("timeseries.csv") if not row[0].startswith("`tier_")]
    assert [row[0] for row in rows[:3]] == ["`strategy`", "`replication`", "`week`"]
    expected = _registry_rows(SERIES)
    assert rows[3:] == expected, "docs/results.md, timeseries.csv, should read:\n" + _as_markdown(
        expected
    )


def test_the_strategies_csv_table_of_the_docs_names_the_summary_statistics() -> None:
    named = re.findall(r"`<kpi>_(\w+)`", _as_markdown(_doc_rows("strategies.csv")))
    assert named == list(MEAN_CI.statistics)


def test_every_rule_reads_columns_the_registry_knows() -> None:
    for registry, helpers in ((KPIS, {INBOX, SETTLED, REACHABLE}), (SERIES, set())):
        for kpi in registry.values():
            rule = kpi.merge
            if isinstance(rule, Mean):
                read: tuple[str, ...] = (rule.weight,)
            elif isinstance(rule, AgainstSilent):
                read = (rule.kpi,)
            else:
                read = getattr(rule, "inputs", ())
            assert set(read) <= set(registry) | helpers, (kpi.name, read)
