"""Benchmark: the engagement fit's cost against the size of the log (docs/fit.md, section 7).

Simulates the synthetic company (examples/fit/company.yaml) at the given size and writes its
log (not timed; ``--log DIR`` keeps it there, and a log already there is read instead), then
times reading it, one evaluation of the likelihood and its gradient at the start (nodes
placed), and, unless ``--no-fit``, the whole fit of the response model: on every member, or
with ``--subset N`` on N members drawn at random (``fit --subset``). Reports the peak
resident memory of this process.

    python benchmarks/fit_scale.py --members 2000 --days 120
    python benchmarks/fit_scale.py --members 100000 --days 150 --no-fit
    python benchmarks/fit_scale.py --members 100000 --days 150 --subset 2000 --log build/log100k
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from fit_coverage import HERE, simulate  # benchmarks/, beside this script

import sim
from sim.fitting.likelihood import Likelihood, Nodes
from sim.fitting.responses import (
    Quadrature,
    fit_responses,
    layout,
    messages,
    sensitivity_law,
    subset,
    tolerance_nodes,
)
from sim.fitting.responses import start as starting_point
from sim.io.eventlog import read_event_log


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--no-fit", action="store_true", help="time one evaluation only")
    parser.add_argument("--subset", type=int, help="fit N members drawn at random")
    parser.add_argument("--log", type=Path, help="keep the simulated log here (or read it)")
    args = parser.parse_args()
    base = sim.load_scenario(HERE / "base.yaml")
    with tempfile.TemporaryDirectory() as folder:
        events = args.log or Path(folder) / "events"
        if not events.exists():
            simulate(events, args.members, args.days)
        began = time.perf_counter()
        log = read_event_log(events / "plan" / "0")
        read = time.perf_counter() - began
    began = time.perf_counter()
    whole = messages(log.sends)
    m = whole if args.subset is None else subset(whole, args.subset, seed=0)
    prepared = time.perf_counter() - began
    lay, q = layout(m), Quadrature()
    tolerance = tolerance_nodes(m.members)  # as the fit chooses them
    nodes = Nodes.build(tolerance, q.engagement, *sensitivity_law(base), q.sensitivity)
    lik = Likelihood(m, lay, nodes)
    x = starting_point(lay, base)
    lik.adapt(x)
    lik(x)  # compiled (or loaded from the cache) on first use
    began = time.perf_counter()
    lik(x)
    evaluation = time.perf_counter() - began
    node_count = tolerance * q.engagement * nodes.sensitivity.size
    print(f"{len(log.sends):,} sends, {whole.time.size:,} delivered to {whole.members:,} members")
    if args.subset is not None:
        print(f"fitted on {m.members:,} of them ({m.time.size:,} messages)")
    print(f"read {read:.1f} s, messages prepared {prepared:.1f} s; "
          f"one evaluation {evaluation:.3f} s "
          f"({evaluation / (m.time.size * node_count) * 1e9:.0f} ns per message and node, "
          f"{node_count} nodes)")  # fmt: skip
    if not args.no_fit:
        began = time.perf_counter()
        fit = fit_responses(m, base)
        print(f"fit {time.perf_counter() - began:.1f} s, {fit.iterations} iterations, "
              f"{'converged' if fit.converged else 'NOT converged'}")  # fmt: skip
    print(f"peak memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")


if __name__ == "__main__":
    main()
