"""Benchmark: `loyaltysim calibrate` on a synthetic log of about 1,000,000 transactions.

Draws the log from known BG/NBD and Gamma-Gamma parameters, writes it as CSV (not timed),
then times the calibration end to end as the command runs it: reading and checking the CSV,
the summary, both fits with their Hessians, the diagnostics, the YAML and the PNG.
Run: ``python benchmarks/calibrate_1m.py [--transactions N]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sim.calibration import bgnbd, calibrate, synthetic

# CDNOW-like purchasing in days (Fader, Hardie & Lee 2005: alpha 4.414 weeks is 30.9 days),
# observed for two years after a 12-week acquisition window.
PURCHASE = {"r": 0.243, "alpha": 30.9, "a": 0.793, "b": 2.426}
SPEND = {"p": 6.25, "q": 3.74, "v": 15.44}
DAYS, ACQUISITION = 730, 84


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=1_000_000)
    args = parser.parse_args()
    # Customers for the requested number of rows: one first purchase plus E[X(t)] repeats at
    # the mean exposure (same-day merges make the count a little lower).
    per_customer = 1 + float(bgnbd.expected(DAYS - ACQUISITION / 2, PURCHASE)[0])
    customers = round(args.transactions / per_customer)
    log = synthetic.transactions(
        customers, PURCHASE, SPEND, days=DAYS, acquisition_days=ACQUISITION, seed=1
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "transactions.csv"
        log.to_csv(path, index=False)
        started = time.perf_counter()
        result = calibrate(path, calibration_end="2023-12-31")
        result.population_yaml()
        result.figure_png()
        wall = time.perf_counter() - started
    print(result.report())
    print(f"\n{len(log):,} transactions, {customers:,} customers: calibrated in {wall:.1f} s")


if __name__ == "__main__":
    main()
