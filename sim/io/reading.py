"""Reading the user's files (scenario and sweep YAML, transaction and results CSV): every way a
file can be unusable is one line ``SOURCE: reason``, worded the same for every kind of file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from sim.errors import SimInputError


@contextmanager
def reading(source: str, kind: str) -> Iterator[None]:
    """Turn the errors of opening and decoding a file in the block into SimInputError naming
    ``source``: not found, a directory (``not a KIND file``), unreadable, not UTF-8."""
    try:
        yield
    except FileNotFoundError:
        raise SimInputError(f"{source}: file not found", source) from None
    except IsADirectoryError:
        raise SimInputError(f"{source}: is a directory, not a {kind} file", source) from None
    except OSError as exc:
        raise SimInputError(f"{source}: cannot read: {exc.strerror}", source) from None
    except UnicodeDecodeError as exc:
        raise SimInputError(f"{source}: not UTF-8 text ({exc.reason})", source) from None


def read_yaml_mapping(path: str | Path, source: str | None = None, kind: str = "YAML") -> dict:
    """The mapping at the top of the YAML file ``path``.

    SimInputError, each message starting ``SOURCE:`` (default: the path), if the file is
    missing, a directory, unreadable, not UTF-8, not valid YAML (with line and column), empty
    or not a mapping. ``kind`` names the file in those messages: ``"scenario"`` gives ``is a
    directory, not a scenario file`` and ``must be a mapping of scenario fields``.
    """
    source = str(path) if source is None else source
    with reading(source, kind):
        text = Path(path).read_text(encoding="utf-8")
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SimInputError(f"{source}: {yaml_reason(exc)}", source) from None
    if data is None:
        raise SimInputError(f"{source}: the file is empty", source)
    if not isinstance(data, dict):
        got = type(data).__name__
        raise SimInputError(
            f"{source}: the top level must be a mapping of {kind} fields, "
            f"got {'an' if got[0] in 'aeiou' else 'a'} {got}",
            source,
        )
    return data


def yaml_reason(exc: yaml.YAMLError) -> str:
    """Why PyYAML refused some text, with the line and column where it knows them."""
    mark = getattr(exc, "problem_mark", None)
    if mark is None:
        return f"YAML syntax error: {exc}"
    problem = getattr(exc, "problem", None) or "invalid YAML"
    return f"line {mark.line + 1}, column {mark.column + 1}: YAML syntax error: {problem}"


def read_json_object(path: Path) -> dict | None:
    """The JSON object in the file at ``path``, or None if it is missing, unreadable, not JSON
    or not an object: for state a program wrote itself and only reuses when intact."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
