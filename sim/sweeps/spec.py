"""The sweep file: a base scenario, the parameters to vary and the design that picks their values.

Validated once, at the edge: every problem is one line ``FILE: field.path: reason`` and the
command exits with code 2. Parameters are scenario values named by their dotted path, checked
against the resolved base scenario, so a typo fails before any point runs.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from sim.errors import SimInputError, choices_hint
from sim.io.loader import load_scenario
from sim.io.manifest import scenario_hash
from sim.io.reading import read_yaml_mapping
from sim.spec.fields import control_problem, name_problem
from sim.spec.kpis import KPI_NAMES
from sim.spec.scenario import MAX_REPLICATIONS, Scenario
from sim.spec.validation import field_path, validate

# Columns of sweep.csv besides the parameters; a parameter may not take one of these names.
ROW_COLUMNS: tuple[str, ...] = ("point", "strategy", "replication", "seed", *KPI_NAMES)
# Scenario values the sweep itself sets for every point.
_SET_BY_SWEEP = ("seed", "replications")


class _Strict(BaseModel):
    # As for scenarios: YAML types its values, so "5" for a number is a mistake to report.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Parameter(_Strict):
    """A varied value: a list of ``values`` (grid) or a ``low``-``high`` range (sampled designs).

    ``paths`` lets one parameter set several scenario values at once (the parameter's name is
    then just its column name); by default the name is the dotted path itself.
    """

    values: Annotated[list[Any], Field(min_length=1)] | None = None
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False
    paths: Annotated[list[str], Field(min_length=1)] | None = None


# A sweep of more points than this is a typo: at the smallest useful run (about 0.05 s a
# replication) it would take days on one machine, and its sweep.csv tens of gigabytes.
MAX_POINTS = 1_000_000


class Design(_Strict):
    kind: Literal["grid", "random", "lhs", "saltelli"]
    # Points for random and lhs; base samples N for saltelli (N x (parameters + 2) points).
    points: Annotated[int, Field(ge=1, le=MAX_POINTS)] | None = None


class Analysis(_Strict):
    """What ``--analyze sobol`` reports on: KPIs, strategies, and whether as differences to
    silent (paired by replication)."""

    kpis: Annotated[list[str], Field(min_length=1)] | None = None  # default: the objective
    strategies: Annotated[list[str], Field(min_length=1)] | None = None  # default: all but silent
    versus_silent: bool = False
    confidence: Annotated[float, Field(gt=0.5, lt=1.0)] = 0.95
    resamples: Annotated[int, Field(ge=100, le=100_000)] = 999


class SweepSpec(_Strict):
    description: str = ""
    base: Annotated[str, Field(min_length=1)]  # scenario file, relative to the sweep file
    # Fixed overrides of the base, exactly like ``run --set PATH=VALUE``.
    fixed: dict[str, Any] = Field(default={}, alias="set")
    design: Design
    parameters: Annotated[dict[str, Parameter], Field(min_length=1)]
    replications: Annotated[int, Field(ge=1, le=MAX_REPLICATIONS)] | None = None  # default: base's
    seed: Annotated[int, Field(ge=0)] | None = None  # default: the base scenario's
    analysis: Analysis = Analysis()


@dataclass(frozen=True)
class Sweep:
    """A validated sweep with its base scenario resolved: everything a run needs."""

    spec: SweepSpec
    source: str  # the sweep file as given, or "<sweep>" for an in-memory definition
    name: str  # the sweep file's stem: the default output folder's name
    scenario: Scenario  # the base with ``set`` applied
    base_data: dict[str, Any]  # that scenario as plain data; point overrides apply to it
    replications: int
    seed: int
    definition_hash: str  # changes whenever anything that shapes the results changes

    @property
    def parameters(self) -> tuple[str, ...]:
        return tuple(self.spec.parameters)

    def paths(self, name: str) -> list[str]:
        """The scenario values parameter ``name`` sets."""
        return self.spec.parameters[name].paths or [name]


def override(path: str, value: Any) -> str:
    """``PATH=VALUE`` for the scenario loader, with VALUE as YAML that reads back to ``value``
    exactly (PyYAML writes ``1e-05`` as ``1.0e-05``, which it also reads as a number)."""
    text = yaml.safe_dump(
        value, default_flow_style=True, sort_keys=False, allow_unicode=True, width=math.inf
    )
    return f"{path}={text}"


def load_sweep(source: str | Path | SweepSpec | Mapping[str, Any] | Sweep) -> Sweep:
    """Validate a sweep file (or an in-memory definition, whose ``base`` is relative to the
    current directory) and resolve its base scenario. Raises SimInputError listing every
    problem. A Sweep is returned as it is."""
    if isinstance(source, Sweep):
        return source
    if isinstance(source, (str, Path)):
        label, folder, name = str(source), Path(source).parent, Path(source).stem
        spec = validate(SweepSpec, read_yaml_mapping(source, label, "sweep"), label)
    else:
        label, folder, name = "<sweep>", Path.cwd(), "sweep"
        spec = source if isinstance(source, SweepSpec) else validate(SweepSpec, dict(source), label)
    problems = _check(spec, label)
    if problems:
        raise SimInputError(problems, label)
    base = load_scenario(folder / spec.base, [override(k, v) for k, v in spec.fixed.items()])
    base_data = base.model_dump(mode="json")
    problems = _check_against_base(spec, label, base, base_data)
    if problems:
        raise SimInputError(problems, label)
    replications = spec.replications or base.replications
    seed = base.seed if spec.seed is None else spec.seed
    definition = {
        "sweep": spec.model_dump(mode="json", by_alias=True),
        "base_scenario_hash": scenario_hash(base),
        "replications": replications,
        "seed": seed,
        "loyaltysim": package_version(),
    }
    digest = hashlib.sha256(
        json.dumps(definition, sort_keys=True, separators=(",", ":")).encode("utf-8")
    ).hexdigest()
    return Sweep(spec, label, name, base, base_data, replications, seed, digest)


def package_version() -> str | None:
    """The installed loyaltysim version (None when run from a source tree not installed)."""
    try:
        return metadata.version("loyaltysim")
    except metadata.PackageNotFoundError:
        return None


# --- reading and validating ------------------------------------------------------------------


def _check(spec: SweepSpec, label: str) -> list[str]:
    """Rules across fields that the types alone do not express."""
    problems: list[str] = []
    kind, points = spec.design.kind, spec.design.points
    if kind == "grid" and points is not None:
        problems.append(f"{label}: design.points: a grid runs every combination of the values")
    if (
        kind == "grid"
        and (size := math.prod(len(p.values or ()) for p in spec.parameters.values())) > MAX_POINTS
    ):
        problems.append(
            f"{label}: parameters: the grid has {size:,} points, more than {MAX_POINTS:,}"
        )
    if kind == "saltelli" and points and points * (len(spec.parameters) + 2) > MAX_POINTS:
        problems.append(
            f"{label}: design.points: saltelli would run {points * (len(spec.parameters) + 2):,} "
            f"points, more than {MAX_POINTS:,}"
        )
    if kind in ("random", "lhs") and points is None:
        problems.append(f"{label}: design.points: the {kind} design needs a number of points")
    if kind == "saltelli" and (points is None or points & (points - 1)):
        problems.append(
            f"{label}: design.points: saltelli needs a power of 2 base samples, got {points}"
        )
    for name, p in spec.parameters.items():
        where = f"{label}: {field_path(('parameters', name))}"
        problems += [f"{where}: {problem}" for problem in _parameter_problems(name, p, kind)]
    return problems


def _parameter_problems(name: str, p: Parameter, kind: str) -> list[str]:
    problems = []
    # The name is a column of sweep.csv and its text values are cells: both must be plain.
    texts = [v for v in p.values or [] if isinstance(v, str)]
    plain = [name_problem(name), *(control_problem(v, "value") for v in texts)]
    problems += [problem for problem in plain if problem]
    if name in ROW_COLUMNS:
        problems.append(f"{name!r} is a column of sweep.csv already; name it otherwise")
    for path in p.paths or [name]:
        if not all(part.strip() for part in path.split(".")):
            problems.append(f"{path!r}: a dotted path with an empty key")
        elif path in _SET_BY_SWEEP:
            problems.append(f"{path} is set by the sweep (its top-level {path}:)")
    if kind == "grid":
        if p.values is None or p.low is not None or p.high is not None:
            problems.append("a grid takes a list of values, not low and high")
        if p.log or p.integer:
            problems.append("log and integer apply to low-high ranges, not to values")
        bad = [v for v in p.values or [] if not isinstance(v, (int, float, str, bool))]
        if bad:
            problems.append(f"values must be numbers, text or true/false, got {bad[0]!r}")
        return problems
    if p.values is not None or p.low is None or p.high is None:
        problems.append(f"the {kind} design samples a range: give low and high, not values")
        return problems
    if not (math.isfinite(p.low) and math.isfinite(p.high)) or p.high <= p.low:
        problems.append(f"high must be above low, got low={p.low} high={p.high}")
    elif p.log and p.low <= 0:
        problems.append(f"log: true needs low above 0, got {p.low}")
    elif p.integer and not (p.low.is_integer() and p.high.is_integer()):
        problems.append("integer: true needs whole numbers for low and high")
    return problems


def _check_against_base(
    spec: SweepSpec, label: str, base: Scenario, data: dict[str, Any]
) -> list[str]:
    problems = []
    for name, p in spec.parameters.items():
        for path in p.paths or [name]:
            parts = path.split(".")
            node: Any = data
            for i, part in enumerate(parts):
                if not isinstance(node, dict) or part not in node:
                    hint = choices_hint(part, node if isinstance(node, dict) else ())
                    problems.append(
                        f"{label}: {field_path(('parameters', name))}: the base scenario has no "
                        f"{'.'.join(parts[: i + 1])} (its values: loyaltysim validate "
                        f"{spec.base} --resolved){hint}"
                    )
                    break
                node = node[part]
    analysis = spec.analysis
    for kpi in analysis.kpis or []:
        if kpi not in KPI_NAMES:
            hint = choices_hint(kpi, KPI_NAMES)
            problems.append(f"{label}: analysis.kpis: unknown KPI {kpi!r}{hint}")
    for strategy in analysis.strategies or []:
        if strategy not in base.strategy_names:
            hint = choices_hint(strategy, base.strategy_names, "known")
            problems.append(f"{label}: analysis.strategies: no strategy {strategy!r}{hint}")
        elif strategy == "silent" and analysis.versus_silent:
            problems.append(f"{label}: analysis.strategies: silent minus silent is always 0")
    return problems
