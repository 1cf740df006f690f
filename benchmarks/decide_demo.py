"""The demo's decision under the shipped priors: sim.decide on scenarios/nordic_retail.yaml with
``uncertain: {include: parts/priors.yaml}`` at 5,000 members, 32 draws x 1 replication, both
cores. Prints the wall time, the decision table, EVPI and the largest EVPPIs
(docs/uncertainty.md).

Run: ``python benchmarks/decide_demo.py`` from the repository's root.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import yaml

import sim

SCENARIOS = Path("scenarios")


def main() -> None:
    data = yaml.safe_load((SCENARIOS / "nordic_retail.yaml").read_text(encoding="utf-8"))
    data["uncertain"] = {"include": "parts/priors.yaml"}
    data["population"]["size"] = 5000
    # Beside the shipped scenarios, so that its includes resolve as theirs do.
    path = SCENARIOS / ".decide_demo.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    try:
        started = time.perf_counter()
        decision = sim.decide(str(path), draws=32, replications=1, jobs=2)
        print("wall", round(time.perf_counter() - started, 1), "s")
    finally:
        path.unlink()
    pd.set_option("display.width", 200)
    print(decision.decision.round(3).to_string(index=False))
    print("EVPI", round(decision.evpi, 2))
    print(decision.evppi.head(8).round(2).to_string(index=False))


if __name__ == "__main__":
    main()
