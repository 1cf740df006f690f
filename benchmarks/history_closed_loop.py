"""The history normalisation's closed loop at a larger size (docs/model.md, section 2).

For each seed: simulate the history plan of tests/test_history.py (two emails and a push a
week, lift on open 0.8; no points and nobody leaves unless ``--program``) on a population of
known BG/NBD parameters, with and without ``history: {strategy: plan}``; export the starting
members' transactions (``sim.calibration.synthetic.from_simulation``), fit them with the
calibration code and print each parameter's estimate and z = (estimate - truth) / se, and
the z of the mean rate r / alpha. The pilot's factor, its standard error and passes too.

Run: ``.venv/bin/python benchmarks/history_closed_loop.py --members 20000 --seeds 1 2 3``
(about 15 CPU-seconds a seed at 20,000 members and 730 days).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from test_history import CLOSED_LOOP, OPT_IN, PLAN, TRUTH  # noqa: E402

from sim.calibration import calibrate, synthetic  # noqa: E402
from sim.engine.events import PurchaseLog  # noqa: E402
from sim.engine.history import history_factors  # noqa: E402
from sim.engine.replication import build_context, simulate  # noqa: E402
from sim.io.loader import scenario_from_dict  # noqa: E402
from sim.spec.scenario import Scenario  # noqa: E402


def scenario(members: int, days: int, seed: int, normalised: bool, program: bool) -> Scenario:
    data = {
        "name": "closed_loop",
        "horizon_days": days,
        "seed": seed,
        "replications": 1,
        "population": {
            "size": members,
            "segments": {
                "all": {
                    "share": 1.0,
                    "purchase": TRUTH,
                    "spend": {"p": 6.0, "q": 4.0, "v": 150.0},
                    "opt_in": OPT_IN,
                }
            },
        },
        "behaviour": {"lift": CLOSED_LOOP["behaviour"]["lift"]},
        "strategies": {"plan": PLAN},
    }
    if not program:
        data.update(CLOSED_LOOP)
    if normalised:
        data["history"] = {"strategy": "plan"}
    return scenario_from_dict(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument(
        "--program",
        action="store_true",
        help="keep the default program (1%% points) and leaving (4%% a year), which the test "
        "switches off",
    )
    args = parser.parse_args()
    program = "default program and leaving" if args.program else "no points, nobody leaves"
    print(f"truth {TRUTH}; {args.members:,} members, {args.days} days; {program}")
    print(
        "| seed | history | factor (se, passes) | r (z) | alpha (z) | a (z) | b (z) | z r/alpha |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for seed in args.seeds:
        for normalised in (True, False):
            started = time.process_time()
            sc = scenario(args.members, args.days, seed, normalised, args.program)
            factor = "-"
            if normalised:
                f = history_factors(sc, seed)
                factor = f"{f.factor[0]:.4f} ({f.se[0]:.4f}, {f.passes})"
            log = PurchaseLog(["plan"])
            ctx = build_context(sc, 0, seed, ["plan"], sink=log)
            simulate(ctx)
            tx = synthetic.from_simulation(
                log.transactions("plan"), ctx.state.members.join_day, args.members
            )
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "tx.csv"
                tx.to_csv(path, index=False)
                fit = calibrate(path).fits["all"].purchase
            cells = [
                f"{v:.4g} ({(v - TRUTH[k]) / s:+.2f})"
                for k, v, s in zip(fit.names, fit.estimate, fit.se, strict=True)
            ]
            cov = fit.cov_log
            se = math.sqrt(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
            z = (math.log(fit.params["r"] / fit.params["alpha"]) - math.log(0.01)) / se
            label = "normalised" if normalised else "none"
            print(f"| {seed} | {label} | {factor} | {' | '.join(cells)} | {z:+.2f} |", flush=True)
            print(f"<!-- {time.process_time() - started:.0f} CPU s -->", flush=True)


if __name__ == "__main__":
    main()
