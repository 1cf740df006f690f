"""Random mutations of the shipped scenarios, and the command-line cases that run them.

Used by tests/test_fuzz.py (a small fixed-seed sample in make test) and tests/fuzz_soak.py
(``make fuzz``: thousands of cases). A case passes when the command exits 0 or 2 (never a
traceback), within its time limit, leaves no partial folder, and, when it succeeds, accepted no
non-finite number (validate) or wrote none (run).
"""

from __future__ import annotations

import copy
import math
import random
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from builders import ROOT, invoke

from sim.cli.common import BAD_INPUT
from sim.io.loader import load_scenario

SHIPPED = sorted(p for p in (ROOT / "scenarios").glob("*.yaml") if p.stem != "bench_1m")

# Values a careless user or an attacker might put anywhere.
HOSTILE: tuple[Any, ...] = (
    math.inf,
    -math.inf,
    math.nan,
    1e308,
    -1e308,
    1e18,
    10**18 - 1,
    -1,
    0,
    0.0,
    1e-300,
    2**63,
    True,
    None,
    "",
    "  ",
    "\r=1+1",
    "a\nb",
    "x" * 300,
    "1:30",
    "yes",
    [],
    {},
    [1, 2, 3],
    {"kind": "plugin", "path": "subprocess:Popen", "options": {"args": ["true"]}},
    {"unknown": 1},
)


def base_data(path: Path) -> dict[str, Any]:
    """The shipped scenario at ``path`` resolved (includes, defaults) as plain data."""
    return load_scenario(path).model_dump(mode="json")


def _paths(node: Any, prefix: tuple = ()) -> Iterator[tuple]:
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, (*prefix, i))


# Factors a number is scaled by in a gentle mutation: values that may still validate.
SCALES = (0, 1e-9, 1e-3, 0.1, 0.5, 2, 10, 1e3, 1e6, 1e9)


def mutate(
    data: dict[str, Any], rng: random.Random, mutations: int, gentle: bool = False
) -> dict[str, Any]:
    """``data`` with ``mutations`` random changes: a value replaced by a hostile one or
    scaled by a huge or tiny factor, a key removed, renamed or added, a block copied.
    ``gentle``: numbers scaled by SCALES only (most still valid: what a run must survive)."""
    data = copy.deepcopy(data)
    if gentle:
        numbers = [p for p in _paths(data) if _is_number(_at(data, p))]
        for _ in range(mutations):
            path = rng.choice(numbers)
            parent = _at(data, path[:-1])
            scaled = parent[path[-1]] * rng.choice(SCALES)
            parent[path[-1]] = int(scaled) if isinstance(parent[path[-1]], int) else scaled
        return data
    for _ in range(mutations):
        paths = [p for p in _paths(data) if p]
        path = rng.choice(paths)
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        key = path[-1]
        value = parent[key]
        action = rng.randrange(6)
        if action == 0 and isinstance(parent, dict):
            del parent[key]
        elif action == 1 and isinstance(parent, dict):
            parent[rng.choice(["\r=1+1", "", "new key", key + "x", "a\tb"])] = value
        elif action == 2 and isinstance(value, int | float) and not isinstance(value, bool):
            parent[key] = value * rng.choice([1e6, 1e12, 1e-9, -1, 1e300, 0])
        elif action == 3 and isinstance(parent, dict):
            parent[key] = copy.deepcopy(rng.choice(paths_values(data, paths, rng)))
        else:
            parent[key] = copy.deepcopy(rng.choice(HOSTILE))
    return data


def _at(data: Any, path: tuple) -> Any:
    for part in path:
        data = data[part]
    return data


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def paths_values(data: dict[str, Any], paths: list[tuple], rng: random.Random) -> list[Any]:
    """A few values found elsewhere in ``data`` (to copy one in the wrong place)."""
    values = []
    for path in rng.sample(paths, min(3, len(paths))):
        node: Any = data
        for part in path:
            node = node[part]
        values.append(node)
    return values


class Hang(Exception):
    """A case ran past its time limit."""


@contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    """Raise Hang in the block after ``seconds`` (SIGALRM: the main thread, POSIX only)."""

    def expire(signum: int, frame: Any) -> None:
        raise Hang(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Outcome:
    """What went wrong in a case, if anything: ``problem`` is None for a pass."""

    exit_code: int | None
    problem: str | None


def write_case(folder: Path, data: dict[str, Any]) -> Path:
    path = folder / "case.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def validate_case(folder: Path, data: dict[str, Any], seconds: int = 20) -> Outcome:
    """``loyaltysim validate --resolved`` on ``data``."""
    path = write_case(folder, data)
    try:
        with time_limit(seconds):
            result = invoke("validate", path, "--resolved")
    except Hang as exc:
        return Outcome(None, f"hang: {exc}")
    outcome = _exit(result)
    if outcome.problem is None and result.exit_code == 0:
        resolved = yaml.safe_load(result.stdout)
        if any(_non_finite(v) for v in _leaves(resolved)):
            return Outcome(0, "accepted a non-finite value")
    return outcome


# Forced onto every run case after mutation, so that each stays tiny (validate covers sizes).
TINY = (
    "population.size=60",
    "horizon_days=14",
    "population.acquisition_per_day=1",
    "replications=1",
)


def run_case(folder: Path, data: dict[str, Any], seconds: int = 120) -> Outcome:
    """``loyaltysim run`` of ``data`` made tiny, into folder/results/run."""
    path = write_case(folder, data)
    out = folder / "results" / "run"
    args = [a for o in TINY for a in ("--set", o)]
    try:
        with time_limit(seconds):
            result = invoke("run", path, *args, "--out", out, "--jobs", "1", "--quiet")
    except Hang as exc:
        return Outcome(None, f"hang: {exc}")
    outcome = _exit(result)
    leftovers = (
        [p.name for p in out.parent.glob(".*") if p.name.startswith((".tmp-", ".old-"))]
        if out.parent.exists()
        else []
    )
    if leftovers:
        return Outcome(result.exit_code, f"partial folder left: {leftovers}")
    if result.exit_code != 0 and out.exists():
        return Outcome(result.exit_code, "failed, yet wrote a results folder")
    if outcome.problem is None and result.exit_code == 0:
        for name in ("summary", "strategies", "timeseries", "pressure"):
            # The top pressure bin is open: its pressure_to is inf by design (docs/results.md).
            frame = pd.read_csv(out / f"{name}.csv").drop(columns="pressure_to", errors="ignore")
            numbers = frame.select_dtypes("number").to_numpy(float)
            if np.isinf(numbers).any():
                return Outcome(0, f"wrote an infinite value into {name}.csv")
    return outcome


def _exit(result: Any) -> Outcome:
    if result.exit_code == 0 or (
        result.exit_code == BAD_INPUT and isinstance(result.exception, SystemExit | None)
    ):
        return Outcome(result.exit_code, None)
    kind = type(result.exception).__name__ if result.exception else "none"
    return Outcome(result.exit_code, f"exit {result.exit_code} ({kind}: {result.exception})")


def _leaves(node: Any) -> Iterator[Any]:
    if isinstance(node, dict):
        for value in node.values():
            yield from _leaves(value)
    elif isinstance(node, list):
        for value in node:
            yield from _leaves(value)
    else:
        yield node


def _non_finite(value: Any) -> bool:
    return isinstance(value, float) and not math.isfinite(value)
