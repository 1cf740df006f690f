"""The recovery table of docs/fit.md: the worked example's estimates (``make fit-example``)
beside the values its log was simulated with (examples/fit/company.yaml).

    python benchmarks/fit_recovery.py [examples/fit/fitted.estimates.csv]
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

import sim

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "fit"


def main() -> None:
    estimates = pd.read_csv(sys.argv[1] if len(sys.argv) > 1 else EXAMPLE / "fitted.estimates.csv")
    truth = sim.load_scenario(EXAMPLE / "company.yaml")
    print("| parameter | true | estimate | 95% interval | covers | strength |")
    print("| --- | --- | --- | --- | --- | --- |")
    for row in estimates.itertuples():
        value = float(truth.value_at(row.parameter))
        covers = "yes" if row.low <= value <= row.high else "**no**"
        print(f"| `{row.parameter}` | {value:.4g} | {row.estimate:.4g} | "
              f"[{row.low:.4g}, {row.high:.4g}] | {covers} | {row.strength} |")  # fmt: skip


if __name__ == "__main__":
    main()
