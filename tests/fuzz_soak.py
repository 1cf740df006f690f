"""The long fuzz (``make fuzz``): random mutations of the shipped scenarios through
``validate`` and through a tiny ``run``, counted by outcome.

    python tests/fuzz_soak.py --validate 5000 --run 500 --seed 1

Prints the counts (passed, refused with exit 2, tracebacks, hangs, partial folders, non-finite
values accepted or written) and every failing case's mutated scenario into --failures, and
exits 1 if any case failed.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fuzzing import SHIPPED, base_data, mutate, run_case, validate_case, write_case


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--validate", type=int, default=5000, help="validate cases")
    parser.add_argument("--run", type=int, default=500, help="tiny run cases")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--failures", type=Path, default=Path("fuzz-failures"))
    args = parser.parse_args()

    rng = random.Random(args.seed)
    bases = {path.stem: base_data(path) for path in SHIPPED}
    counts: dict[str, Counter] = {"validate": Counter(), "run": Counter()}
    failures = 0
    started = time.perf_counter()
    for kind, n, check in (
        ("validate", args.validate, validate_case),
        ("run", args.run, run_case),
    ):
        for case in range(n):
            name = rng.choice(sorted(bases))
            # Runs get gentle mutations: most still validate, so they reach the simulation.
            data = mutate(bases[name], rng, rng.randint(1, 4), gentle=kind == "run")
            with tempfile.TemporaryDirectory() as folder:
                outcome = check(Path(folder), data)
            if outcome.problem is None:
                counts[kind]["exit 0" if outcome.exit_code == 0 else "exit 2"] += 1
                continue
            label = outcome.problem.split(":")[0].split(" (")[0]
            counts[kind][label] += 1
            failures += 1
            args.failures.mkdir(exist_ok=True)
            saved = write_case(args.failures, data)
            saved.rename(args.failures / f"{kind}-{case}-{name}.yaml")
            print(f"{kind} case {case} ({name}): {outcome.problem}", file=sys.stderr)
        print(f"{kind}: {n} cases, {dict(sorted(counts[kind].items()))}", flush=True)
    print(f"{failures} failures in {time.perf_counter() - started:.0f} s (seed {args.seed})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
