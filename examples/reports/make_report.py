"""Write the synthetic company's campaign report, holdout result and monthly program figures
from one simulated run: the platform export a company would send (campaigns.csv), the holdout
test's result over the same period (test.csv) and the loyalty platform's figures for each whole
month (program.csv; the run's plan simulated again on the same draws, as the report sink and
the run's event log agree). Used by `make reports-example`:

    python examples/reports/make_report.py RESULTS_DIR EVENTS_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

from sim.engine.history import history_factors
from sim.fitting.reports import ReportSimulator
from sim.io.eventlog import read_event_log
from sim.io.eventlog_write import DEFAULT_START
from sim.io.loader import scenario_from_dict
from sim.io.reports import campaign_report

HERE = Path(__file__).resolve().parent


def main(results: Path, events: Path) -> None:
    campaign_report(read_event_log(events / "plan" / "0")).to_csv(
        HERE / "campaigns.csv", index=False
    )
    row = pd.read_csv(results / "summary.csv").set_index("strategy").loc["plan"]
    held = int(row["control_members"])
    treated = int(row["members_start"] + row["members_joined"]) - held
    test = pd.DataFrame(
        {
            "cell": ["treated", "holdout"],
            "members": [treated, held],
            "revenue_per_member": [
                round((row["revenue"] - row["control_revenue"]) / treated, 2),
                round(row["control_revenue"] / held, 2),
            ],
        }
    )
    test.to_csv(HERE / "test.csv", index=False)
    program_figures(results).to_csv(HERE / "program.csv", index=False)


def program_figures(results: Path) -> pd.DataFrame:
    """Members, active members and points of each whole calendar month of the run's period
    (day 0 on the event logs' default start, a Monday)."""
    manifest = json.loads((results / "manifest.json").read_text(encoding="utf-8"))
    scenario = scenario_from_dict(manifest["scenario"])
    start = pd.Timestamp(DEFAULT_START)
    months = pd.period_range(start, start + pd.Timedelta(days=scenario.horizon_days - 1), freq="M")
    spans = tuple(
        ((m.start_time - start).days, (m.end_time.normalize() - start).days)
        for m in months
        if m.start_time >= start and (m.end_time.normalize() - start).days < scenario.horizon_days
    )
    seed = manifest["seeds"][0]
    model = ReportSimulator(scenario, (), None, history_factors(scenario, seed).factor, spans)  # type: ignore[arg-type]
    figures = model.report({}, seed).program
    assert figures is not None
    figures.insert(
        0, "month", [(start + pd.Timedelta(days=int(d))).date() for d in figures["first_day"]]
    )
    return figures.drop(columns=["first_day", "last_day"])


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
