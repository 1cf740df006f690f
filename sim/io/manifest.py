"""manifest.json: what was run, with what, where and when.

It is the one file of a results folder that records time and environment; the CSV files
hold only what the scenario and seed determine, so they stay byte-identical across machines
and job counts.
"""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from sim.errors import SimInputError
from sim.spec.scenario import Objective, Scenario
from sim.spec.validation import validate

# Distributions whose versions can change results; "loyaltysim" is this package.
_DISTRIBUTIONS = ("loyaltysim", "numpy", "pandas", "scipy", "simpy", "pydantic", "click", "pyyaml")
_PACKAGE_DIR = Path(__file__).resolve().parents[1]


def scenario_hash(scenario: Scenario) -> str:
    """sha256 of the resolved scenario as canonical JSON (sorted keys, no whitespace)."""
    canonical = json.dumps(scenario.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    for name in _DISTRIBUTIONS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _git(*args: str) -> str | None:
    """Output of a git command run in the package directory, or None if it cannot run."""
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=_PACKAGE_DIR,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def _git_state() -> tuple[str | None, bool | None]:
    """(commit, dirty) of the checkout the package runs from; (None, None) if there is none."""
    # An installed copy may sit inside some unrelated repository: require that git tracks
    # this very package before trusting the commit.
    if _git("ls-files", "--error-unmatch", "__init__.py") is None:
        return None, None
    commit = _git("rev-parse", "HEAD")
    if commit is None:
        return None, None
    # Only the package source matters; changes to results or docs do not make a run dirty.
    status = _git("status", "--porcelain", "--", ".")
    return commit, None if status is None else status != ""


def run_identity(scenario: Scenario, shards: int, engine: str) -> dict:
    """The manifest fields that make two runs the same computation (sim.io.results)."""
    return {
        "scenario_hash": scenario_hash(scenario),
        "seed": scenario.seed,
        "replications": scenario.replications,
        "shards": shards,
        "engine": engine,
    }


def build_manifest(
    scenario: Scenario,
    *,
    scenario_path: str | None,
    seeds: list[int],
    wall_time_s: float,
    jobs: int,
    overrides: list[str],
) -> dict:
    """The manifest of one run; ``seeds`` are the per-replication seeds actually used."""
    if len(seeds) != scenario.replications:
        raise ValueError(f"{len(seeds)} seeds for {scenario.replications} replications")
    commit, dirty = _git_state()
    return {
        "name": scenario.name,
        "scenario_file": scenario_path,
        "scenario_hash": scenario_hash(scenario),
        "seed": scenario.seed,
        "replications": scenario.replications,
        "seeds": list(seeds),
        "strategies": scenario.strategy_names,
        "objective": scenario.objective.model_dump(mode="json"),
        "currency": scenario.currency,
        "overrides": list(overrides),
        "versions": _versions(),
        "git_commit": commit,
        "git_dirty": dirty,
        "wall_time_s": wall_time_s,
        "jobs": jobs,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        # Last, so the short facts above are what a reader sees first.
        "scenario": scenario.model_dump(mode="json"),
    }


class ReadManifest(BaseModel):
    """The fields of a manifest.json that compare and report read, with their types: a
    hand-edited or hostile manifest is refused (exit 2) instead of breaking them."""

    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False)

    name: str = ""
    currency: str = ""
    objective: Objective | None = None
    scenario: dict = {}
    seed: int | None = None
    replications: int | None = None
    strategies: list[str] = []


def checked_manifest(data: object, source: str) -> dict:
    """``data`` (a manifest read from ``source``) if the fields readers use have their types,
    else SimInputError naming each field."""
    if not isinstance(data, dict):
        raise SimInputError(f"{source}: not a manifest (expected a JSON object)", source)
    validate(ReadManifest, data, source)
    return data
