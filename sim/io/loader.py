"""Read scenario YAML, apply ``--set`` overrides and validate, reporting every problem at once.

Each problem is one line ``FILE: field.path: reason`` so a user can fix the file in one pass.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from sim.errors import SimInputError, choices_hint
from sim.io.reading import MAX_DEPTH, load_yaml, read_yaml_mapping, yaml_reason
from sim.spec.merge import deep_merge
from sim.spec.scenario import Scenario
from sim.spec.uncertain import Uncertain
from sim.spec.validation import MAX_INPUT_REPR, Loc, validate

INCLUDE = "include"
# The shipped priors of the model's behavioural assumptions (docs/model.md section 10).
DEFAULT_PRIORS = Path(__file__).with_name("priors.yaml")
# Shipped populations, by name (``population: {preset: grocery}``); each file says its source.
PRESETS = Path(__file__).with_name("presets")
PRESET = "preset"


# Shipped scenarios to start from, by business kind (``loyaltysim init``).
TEMPLATES = Path(__file__).with_name("templates")


def preset_names() -> list[str]:
    """The shipped population presets."""
    return sorted(path.stem for path in PRESETS.glob("*.yaml"))


def template_names() -> list[str]:
    """The shipped scenario templates."""
    return sorted(path.stem for path in TEMPLATES.glob("*.yaml"))


def from_template(kind: str, name: str) -> str:
    """The text of template ``kind`` (comments kept) with the scenario named ``name``."""
    text = (TEMPLATES / f"{kind}.yaml").read_text(encoding="utf-8")
    return re.sub(r"(?m)^name: .*$", f"name: {name}", text, count=1)


def load_scenario(path: str | Path, overrides: Sequence[str] = ()) -> Scenario:
    """Load, override and validate the scenario file at ``path``.

    Any mapping in the file may say ``include: other.yaml`` (a path relative to the including
    file): the other file's mapping is the base and the keys beside ``include`` override it,
    e.g. ``population: {include: calibrated.yaml, size: 50000}``.
    """
    source = str(path)
    data = read_yaml_mapping(path, source, "scenario")
    data = _resolve_includes(data, Path(path), source, (), (Path(path).resolve(),))
    data = apply_overrides(data, overrides, source)
    return validate(Scenario, data, source, [_override_path(o) for o in overrides])


def scenario_from_dict(data: dict[str, Any], source: str = "<scenario>") -> Scenario:
    """Validate an in-memory scenario mapping (the Python API), with the same error messages."""
    if not isinstance(data, dict):
        raise SimInputError(
            f"{source}: a scenario must be a mapping of fields, got {type(data).__name__}", source
        )
    return validate(Scenario, data, source)


def apply_overrides(data: dict[str, Any], overrides: Sequence[str], source: str) -> dict[str, Any]:
    """Return a deep copy of ``data`` with each ``PATH=VALUE`` override set.

    PATH is dotted (``population.size``); VALUE is parsed as YAML, so ``2000`` is an int,
    ``[mon, fri]`` a list and ``abc`` a string. Missing intermediate mappings are created.
    """
    result = copy.deepcopy(data)
    problems: list[str] = []
    for override in overrides:
        if "=" not in override:
            problems.append(f"{source}: --set {override!r}: expected PATH=VALUE")
            continue
        text = override.partition("=")[2]
        parts = _override_path(override)
        label = f"{source}: --set {'.'.join(parts)}"
        if len(parts) > MAX_DEPTH:
            problems.append(f"{source}: --set: a path of {len(parts)} parts (at most {MAX_DEPTH})")
            continue
        if not all(parts):
            problems.append(f"{label}: the path has an empty key")
            continue
        try:
            value = load_yaml(text)
        except yaml.YAMLError as exc:
            problems.append(f"{label}: value {text!r} is not valid YAML ({yaml_reason(exc)})")
            continue
        node = result
        for depth, key in enumerate(parts[:-1]):
            # An empty block (``caps:``) loads as None: treat it as an empty mapping.
            if node.get(key) is None:
                node[key] = {}
            if not isinstance(node[key], dict):
                where = ".".join(parts[: depth + 1])
                shown = repr(node[key])
                if len(shown) > MAX_INPUT_REPR:
                    shown = f"a {type(node[key]).__name__}"
                problems.append(f"{label}: {where} is {shown}, not a mapping")
                break
            node = node[key]
        else:
            node[parts[-1]] = value
    if problems:
        raise SimInputError(problems, source)
    return result


def with_default_priors(scenario: Scenario) -> Scenario:
    """The scenario with the shipped priors (DEFAULT_PRIORS) as its uncertain block: those of
    the values it holds (a scenario without SMS leaves out the SMS priors)."""
    source = str(DEFAULT_PRIORS)
    shipped = validate(Uncertain, read_yaml_mapping(DEFAULT_PRIORS, source, "priors"), source)
    held = scenario.holding(shipped.parameters)
    return scenario.model_copy(update={"uncertain": Uncertain(**held)})


def dump_scenario(scenario: Scenario) -> str:
    """The fully resolved scenario (defaults filled in) as YAML, in schema field order."""
    return yaml.safe_dump(scenario.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


# --- reading ---------------------------------------------------------------------------------


def _resolve_includes(
    node: Any, path: Path, source: str, where: Loc, chain: tuple[Path, ...]
) -> Any:
    """``node`` with every ``include:`` replaced by the included mapping, deep-merged under
    the keys given beside it. ``chain`` holds the files being included, to refuse cycles."""
    if isinstance(node, list):
        return [_resolve_includes(v, path, source, (*where, i), chain) for i, v in enumerate(node)]
    if not isinstance(node, dict):
        return node
    node = {k: _resolve_includes(v, path, source, (*where, k), chain) for k, v in node.items()}
    if where == ("population",) and PRESET in node:
        node = _preset_as_include(node, source)
    if INCLUDE not in node:
        return node
    label = f"{source}: {'.'.join(map(str, (*where, INCLUDE)))}"
    target = node.pop(INCLUDE)
    if not isinstance(target, str) or not target:
        raise SimInputError(f"{label}: must be a file path, got {target!r}", source)
    included_path = (path.parent / target).resolve()
    if included_path in chain:
        raise SimInputError(f"{label}: {target} includes itself (directly or through others)")
    included = read_yaml_mapping(included_path, f"{label}: {target}", "scenario")
    included = _resolve_includes(included, included_path, source, where, (*chain, included_path))
    # null beside an include is a value (reputation: null turns reputation off).
    return deep_merge(included, node, null_removes=False)


def _preset_as_include(node: dict[str, Any], source: str) -> dict[str, Any]:
    """``population: {preset: NAME, ...}`` as an include of the shipped preset file, the keys
    beside it merged over it."""
    node = dict(node)
    name = node.pop(PRESET)
    if INCLUDE in node:
        raise SimInputError(f"{source}: population: give preset or include, not both", source)
    names = preset_names()
    if not isinstance(name, str) or name not in names:
        hint = choices_hint(name, names, "presets", quote=True)
        raise SimInputError(f"{source}: population.preset: unknown preset {name!r}{hint}", source)
    return {INCLUDE: str(PRESETS / f"{name}.yaml"), **node}


def _override_path(override: str) -> list[str]:
    return [part.strip() for part in override.partition("=")[0].strip().split(".")]
