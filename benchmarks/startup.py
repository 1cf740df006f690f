"""Start-up cost of the ``loyaltysim`` command: the wall time of commands that do little
(``--version``, ``validate`` of the demo) and of a run of a tiny scenario, each in a fresh
process, so the figure is what a user waits for before any simulation starts.

    python benchmarks/startup.py [--repeat 7]

Prints the median and the range of the runs of each command. Results: docs/performance.md.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO = "scenarios/nordic_retail.yaml"


def commands(folder: Path) -> dict[str, list[str]]:
    """The commands timed, by label."""
    tiny = ["--set", "population.size=100", "--set", "horizon_days=7", "--replications", "1"]
    return {
        "loyaltysim --version": ["--version"],
        f"loyaltysim validate {DEMO}": ["validate", DEMO],
        "loyaltysim run (100 members, 7 days, 1 replication, 1 job)": [
            "run", DEMO, *tiny, "--jobs", "1", "--quiet", "--out", str(folder / "run"),
            "--overwrite",
        ],
    }  # fmt: skip


def wall(argv: list[str]) -> float:
    """Seconds of one fresh ``python -m sim ARGV`` (its output discarded)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sim", *argv], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    print("| command | median s | runs (min-max s) |\n| --- | --- | --- |")
    with tempfile.TemporaryDirectory() as folder:
        for label, argv in commands(Path(folder)).items():
            runs = sorted(wall(argv) for _ in range(args.repeat))
            print(f"| `{label}` | {statistics.median(runs):.2f} | {runs[0]:.2f}-{runs[-1]:.2f} |")


if __name__ == "__main__":
    main()
