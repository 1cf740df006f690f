"""Pydantic validation errors as lines a user can act on: ``SOURCE: field.path: reason``.

One line per problem, every problem at once; union tags and other pydantic internals are left
out of the path, alternatives of a union are merged into one line, and an unknown key lists
the allowed ones with the nearest guess. Used for scenarios (sim.io.loader) and sweep files
(sim.sweeps.spec).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from sim.errors import SimInputError, choices_hint

Loc = tuple[str | int, ...]
Model = TypeVar("Model", bound=BaseModel)

MAX_INPUT_REPR = 40  # a bad value is shown when its repr is at most this long
# Problems listed at most: a file with thousands of bad keys is one mistake repeated (or an
# attack), and describing every one would take longer than fixing the file.
MAX_PROBLEMS = 50


def validate(
    model: type[Model],
    data: dict[str, Any],
    source: str,
    overridden: Sequence[Sequence[str]] = (),
) -> Model:
    """``model`` validated from ``data``, or SimInputError with one line per problem.

    ``overridden``: paths set by ``--set``; a problem at or below one says so.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        # Union alternatives come in runs of a few errors: describing 20 per listed problem
        # keeps them whole while the work stays bounded.
        described = [_describe(err, data, model) for err in errors[: 20 * MAX_PROBLEMS]]
        lines: dict[str, None] = {}  # ordered and without repeats
        for problem in _drop_union_noise(described):
            # Whole-model checks have no location; their message names the fields itself.
            parts = [source, field_path(problem.loc), problem.reason + problem.got]
            line = ": ".join(part for part in parts if part)
            if any(list(problem.loc[: len(p)]) == list(p) for p in overridden):
                line += " (value from --set)"
            lines[line] = None
        listed = list(lines)[:MAX_PROBLEMS]
        if len(lines) > MAX_PROBLEMS or len(errors) > len(described):
            listed.append(f"{source}: more problems not listed; fix these first")
        raise SimInputError(listed, source) from None


def field_path(loc: Loc) -> str:
    """A readable field path, ``a.b[0]``: list positions and keys that hold a dot themselves
    (a sweep parameter ``channels.email.exit``) go in brackets, and keys that are blank or
    hold characters that are not printable as their Python repr (``['\\r=1']``)."""
    text = ""
    for part in loc:
        if isinstance(part, str) and (not part.strip() or not part.isprintable()):
            text += f"[{part!r}]"
        elif isinstance(part, int) or "." in part:
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


class _Problem(typing.NamedTuple):
    loc: Loc
    reason: str
    got: str  # " (got VALUE)" when the bad value is short enough to show, else ""
    # Readable location of the innermost union the error came through, if any.
    union_site: Loc | None


def _describe(err: Any, data: dict[str, Any], model: type[BaseModel]) -> _Problem:
    """Turn one pydantic error into a readable location and reason."""
    loc, union_site = _readable_loc(err["loc"], data, missing=err["type"] == "missing")
    reason = err["msg"].removeprefix("Value error, ")
    show_input = err["type"] not in ("missing", "extra_forbidden")
    if "[key]" in err["loc"]:
        reason = f"invalid key: {reason}"
        show_input = False  # the key is already the last part of the path
    elif err["type"] == "extra_forbidden":
        reason = "unknown key" + choices_hint(
            loc[-1], _allowed_keys(model, loc[:-1], data), "allowed"
        )
    got = repr(err["input"])
    got = f" (got {got})" if show_input and len(got) <= MAX_INPUT_REPR else ""
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


def _allowed_keys(model: type[BaseModel], loc: Loc, data: Any) -> list[str]:
    """Keys of the model(s) at ``loc`` below ``model``, found by walking the schema alongside
    the input."""
    candidates: list[Any] = [model]
    node = data
    for part in loc:
        candidates = [child for tp in candidates for child in _children(tp, part)]
        node = node[part]
    models = [tp for tp in _flatten(candidates) if _is_model(tp)]
    # Several models means a union: keep those whose discriminator the input matches.
    models = [m for m in models if _literals_match(m, node)] or models
    return sorted({key for model in models for key in _fields(model)})


def _children(tp: Any, part: str | int) -> list[Any]:
    """Types that the input found under ``part`` of a value of type ``tp`` may have."""
    children = []
    for option in _flatten([tp]):
        origin = typing.get_origin(option)
        if _is_model(option):
            if part in _fields(option):
                children.append(_fields(option)[part].annotation)
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
        node[key] in typing.get_args(field.annotation)
        for key, field in _fields(model).items()
        if key in node and typing.get_origin(field.annotation) is typing.Literal
    )


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _fields(model: type[BaseModel]) -> dict[str, Any]:
    """A model's fields by the key the input uses for them (the alias where there is one)."""
    return {field.alias or name: field for name, field in model.model_fields.items()}
