"""Read scenario YAML, apply ``--set`` overrides and validate, reporting every problem at once.

Each problem is one line ``FILE: field.path: reason`` so a user can fix the file in one pass.
"""

from __future__ import annotations

import copy
import difflib
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from sim.errors import SimInputError
from sim.io.reading import read_yaml_mapping, yaml_reason
from sim.spec.merge import deep_merge
from sim.spec.scenario import Scenario

Loc = tuple[str | int, ...]

_MAX_INPUT_REPR = 40


INCLUDE = "include"


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
    return _validate(data, source, [_override_path(o) for o in overrides])


def scenario_from_dict(data: dict[str, Any], source: str = "<scenario>") -> Scenario:
    """Validate an in-memory scenario mapping (the Python API), with the same error messages."""
    if not isinstance(data, dict):
        raise SimInputError(
            f"{source}: a scenario must be a mapping of fields, got {type(data).__name__}", source
        )
    return _validate(data, source, [])


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
        if not all(parts):
            problems.append(f"{label}: the path has an empty key")
            continue
        try:
            value = yaml.safe_load(text)
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
                if len(shown) > _MAX_INPUT_REPR:
                    shown = f"a {type(node[key]).__name__}"
                problems.append(f"{label}: {where} is {shown}, not a mapping")
                break
            node = node[key]
        else:
            node[parts[-1]] = value
    if problems:
        raise SimInputError(problems, source)
    return result


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


def _override_path(override: str) -> list[str]:
    return [part.strip() for part in override.partition("=")[0].strip().split(".")]


# --- validation errors -----------------------------------------------------------------------


class _Problem(typing.NamedTuple):
    loc: Loc
    reason: str
    got: str  # " (got VALUE)" when the bad value is short enough to show, else ""
    # Readable location of the innermost union the error came through, if any.
    union_site: Loc | None


def _validate(data: dict[str, Any], source: str, overridden: list[list[str]]) -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        problems = _drop_union_noise([_describe(err, data) for err in exc.errors()])
        lines: list[str] = []
        for problem in problems:
            # Whole-model checks have no location; their message names the fields itself.
            where = ".".join(str(part) for part in problem.loc)
            parts = [source, where, problem.reason + problem.got]
            line = ": ".join(part for part in parts if part)
            if any(list(problem.loc[: len(p)]) == p for p in overridden):
                line += " (value from --set)"
            if line not in lines:
                lines.append(line)
        raise SimInputError(lines, source) from None


def _describe(err: Any, data: dict[str, Any]) -> _Problem:
    """Turn one pydantic error into a readable location and reason."""
    loc, union_site = _readable_loc(err["loc"], data, missing=err["type"] == "missing")
    reason = err["msg"].removeprefix("Value error, ")
    show_input = err["type"] not in ("missing", "extra_forbidden")
    if "[key]" in err["loc"]:
        reason = f"invalid key: {reason}"
        show_input = False  # the key is already the last part of the path
    elif err["type"] == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1], data)
        reason = f"unknown key (allowed: {', '.join(allowed)})" if allowed else "unknown key"
        nearest = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
        if nearest:
            reason += f"; did you mean {nearest[0]!r}?"
    got = repr(err["input"])
    got = f" (got {got})" if show_input and len(got) <= _MAX_INPUT_REPR else ""
    return _Problem(loc, reason, got, union_site)


def _readable_loc(loc: Loc, data: Any, missing: bool) -> tuple[Loc, Loc | None]:
    """Keep the parts of a pydantic ``loc`` that exist in the input; the rest are union tags.

    Pydantic inserts tags such as ``'discount'`` or ``"literal['all']"`` for union members
    and ``'[key]'`` for dict-key errors; users never wrote those. A missing field is kept.
    """
    kept: list[str | int] = []
    union_site: Loc | None = None
    node = data
    for i, part in enumerate(loc):
        if (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        ):
            node = node[part]
        elif not (missing and i == len(loc) - 1):
            if part != "[key]":
                union_site = tuple(kept)
            continue
        kept.append(part)
    return tuple(kept), union_site


def _drop_union_noise(problems: list[_Problem]) -> list[_Problem]:
    """Drop union members the input plainly was not meant for; merge the rest per location.

    If the input got past a member's type check (an error deeper than the union), the other
    members' "should be a ..." errors are noise. Otherwise list the alternatives on one line.
    """
    deep_sites = {p.union_site for p in problems if p.union_site not in (None, p.loc)}
    result: list[_Problem] = []
    merged_at: dict[Loc, int] = {}  # union site -> index in result of its merged line
    for problem in problems:
        if problem.union_site is None or problem.loc != problem.union_site:
            result.append(problem)
        elif problem.union_site in deep_sites:
            continue
        elif problem.loc in merged_at:
            i = merged_at[problem.loc]
            result[i] = result[i]._replace(reason=f"{result[i].reason}, or {problem.reason}")
        else:
            merged_at[problem.loc] = len(result)
            result.append(problem)
    return result


def _allowed_keys(loc: Loc, data: Any) -> list[str]:
    """Field names of the model(s) at ``loc``, found by walking the schema alongside the input."""
    candidates: list[Any] = [Scenario]
    node = data
    for part in loc:
        candidates = [child for tp in candidates for child in _children(tp, part)]
        node = node[part]
    models = [tp for tp in _flatten(candidates) if _is_model(tp)]
    # Several models means a union: keep those whose discriminator the input matches.
    models = [m for m in models if _literals_match(m, node)] or models
    return sorted({name for model in models for name in model.model_fields})


def _children(tp: Any, part: str | int) -> list[Any]:
    """Types that the input found under ``part`` of a value of type ``tp`` may have."""
    children = []
    for option in _flatten([tp]):
        origin = typing.get_origin(option)
        if _is_model(option):
            if part in option.model_fields:
                children.append(option.model_fields[part].annotation)
        elif origin is dict:
            children.append(typing.get_args(option)[1])
        elif origin is list and isinstance(part, int):
            children.append(typing.get_args(option)[0])
    return children


def _flatten(tps: list[Any]) -> list[Any]:
    """Unwrap ``Annotated`` and unions (``X | Y``, ``Optional``) into plain member types."""
    flat = []
    for tp in tps:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            flat.extend(_flatten([typing.get_args(tp)[0]]))
        elif origin is typing.Union or origin is types.UnionType:
            flat.extend(_flatten(list(typing.get_args(tp))))
        else:
            flat.append(tp)
    return flat


def _literals_match(model: type[BaseModel], node: Any) -> bool:
    """False if the input sets a ``Literal`` field (a union discriminator) to another value."""
    if not isinstance(node, dict):
        return True
    return all(
        node[name] in typing.get_args(field.annotation)
        for name, field in model.model_fields.items()
        if name in node and typing.get_origin(field.annotation) is typing.Literal
    )


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)
