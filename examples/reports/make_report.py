"""Write the synthetic company's campaign report and holdout result from one simulated run:
the platform export a company would send (campaigns.csv) and the holdout test's result over
the same period (test.csv). Used by `make reports-example`:

    python examples/reports/make_report.py RESULTS_DIR EVENTS_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from sim.io.eventlog import read_event_log
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


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
