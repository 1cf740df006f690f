"""Seconds per simulated report with its statistics, what a report fit pays per candidate: the
report example's company (examples/reports/company.yaml, the plan alone, 182 days) at 300 and
1,000 members, best of three rounds of five (docs/performance.md, "Fits from campaign
reports").

    python benchmarks/report_speed.py
"""

from __future__ import annotations

import time

from fit_reports import COMPANY, company

import sim
from sim.fitting.reports import ReportSimulator, fit_scenario
from sim.fitting.summaries import Statistics


def main() -> None:
    scenario = sim.load_scenario(COMPANY)
    for members in (300, 1000):
        observed = company(scenario, members, 1)
        statistics = Statistics.of(observed, scenario.horizon_days)
        model = ReportSimulator(fit_scenario(scenario, members), (), statistics)
        statistics.values(model.report({}, 2))  # compiled and warm before timing
        rounds = []
        for _ in range(3):
            began = time.perf_counter()
            for seed in range(5):
                statistics.values(model.report({}, 10 + seed))
            rounds.append((time.perf_counter() - began) / 5)
        print(f"{members} members: {min(rounds):.3f} s a report with its statistics")


if __name__ == "__main__":
    main()
