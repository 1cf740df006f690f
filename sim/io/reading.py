"""Reading the user's files (scenario and sweep YAML, transaction and results CSV): every way a
file can be unusable is one line ``SOURCE: reason``, worded the same for every kind of file.

YAML is read by one safe loader (``load_yaml``) that treats a file as hostile until proven
otherwise: plain scalars follow the YAML 1.2 core schema (``true``/``false`` are the only
booleans, so ``yes``, ``no``, ``on``, ``off`` and ``NO`` stay text; no base-60 numbers, so
``1:30`` is text; no octal from a leading 0; dates stay text), and a document is refused with a
line number when it repeats a key, nests deeper than MAX_DEPTH, expands its aliases beyond
MAX_VALUES values or writes an integer longer than MAX_INT_DIGITS digits.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import yaml

from sim.errors import SimInputError

# Far beyond any scenario (the deepest shipped one nests 6 levels), far below Python's
# recursion limit, which the composer would otherwise hit as a RecursionError.
MAX_DEPTH = 50
# Values after aliases are expanded: a scenario has hundreds; a 1 KB "billion laughs" file
# expands to 10**9 and would take minutes and gigabytes before validation could refuse it.
MAX_VALUES = 100_000
# The largest shipped scenario is a few KB; a megabyte of YAML takes PyYAML seconds to read.
MAX_FILE_BYTES = 1_000_000
# Every count and amount in a scenario fits in 18 digits (int64 holds 9.2e18); longer ones
# are typos or attacks, and Python refuses to parse integers over 4,300 digits.
MAX_INT_DIGITS = 18

_INT = re.compile(r"^[-+]?(?:[0-9][0-9_]*|0x[0-9a-fA-F_]+|0o[0-7_]+)$")
_FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9_]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)


class SafeLoader(yaml.SafeLoader):
    """PyYAML's safe loader with the YAML 1.2 core scalars and the limits of this module."""

    yaml_implicit_resolvers: ClassVar[dict] = {}

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _refusal(self.peek_event(), f"nested more than {MAX_DEPTH} levels deep")
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # ``<<: *base``: its keys may be overridden beside it
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.setdefault(key, key_node)
            except TypeError:
                continue  # an unhashable key: the base class reports it
            if first is not key_node:
                raise _refusal(
                    key_node,
                    f"duplicate key {key!r} (first at line {first.start_mark.line + 1}); "
                    "each key may appear once in a mapping",
                )
        return super().construct_mapping(node, deep)

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        text = str(self.construct_scalar(node)).replace("_", "")
        sign = -1 if text.startswith("-") else 1
        digits = text.lstrip("+-")
        base = {"0x": 16, "0o": 8}.get(digits[:2], 10)
        if base != 10:
            digits = digits[2:]
        if len(digits) > MAX_INT_DIGITS:
            raise _refusal(node, f"an integer of {len(digits)} digits (at most {MAX_INT_DIGITS})")
        return sign * int(digits, base)

    def construct_yaml_float(self, node: yaml.ScalarNode) -> float:
        text = str(self.construct_scalar(node)).replace("_", "").lower()
        if text.lstrip("+-") == ".inf":
            return float("-inf") if text.startswith("-") else float("inf")
        if text == ".nan":
            return float("nan")
        return float(text)


for _tag, _pattern, _first in (
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("int", _INT.pattern, "-+0123456789"),
    ("float", _FLOAT.pattern, "-+0123456789."),
    ("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("merge", r"^(?:<<)$", "<"),
):
    SafeLoader.add_implicit_resolver(
        f"tag:yaml.org,2002:{_tag}", re.compile(_pattern), list(_first)
    )
SafeLoader.add_constructor("tag:yaml.org,2002:int", SafeLoader.construct_yaml_int)
SafeLoader.add_constructor("tag:yaml.org,2002:float", SafeLoader.construct_yaml_float)


class Refused(yaml.MarkedYAMLError):
    """Valid YAML that the loader refuses (a limit or a repeated key), not a syntax error."""


def _refusal(where: yaml.Node | yaml.Event, problem: str) -> Refused:
    return Refused(problem=problem, problem_mark=where.start_mark)


def _expansion(root: yaml.Node) -> tuple[int, int]:
    """(values, depth) of the document once every alias is replaced by what it names, each
    counted no further than past its limit. Aliases share nodes, so both are memoised per
    node; the walk keeps its own stack, since a chain of aliases can be deeper than Python's."""
    known: dict[int, tuple[int, int]] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in known and (children_done is False or known[id(node)] != (-1, -1)):
            continue
        children = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        if not children_done:
            known[id(node)] = (-1, -1)  # in progress: met again below itself, it is a cycle
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in known)
            continue
        values, depth = 1, 1
        for child in children:
            child_values, child_depth = known[id(child)]
            if child_values < 0:  # the node contains itself: it expands forever
                child_values, child_depth = MAX_VALUES + 1, MAX_DEPTH + 1
            values += child_values
            depth = max(depth, child_depth + 1)
        known[id(node)] = (min(values, MAX_VALUES + 1), min(depth, MAX_DEPTH + 1))
    return known[id(root)]


def load_yaml(text: str) -> Any:
    """The YAML document in ``text``, read by SafeLoader; yaml.YAMLError (with its line and
    column where it has them: ``yaml_reason``) for text that is invalid or over a limit."""
    loader = SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        values, depth = _expansion(root)
        if values > MAX_VALUES:
            raise _refusal(root, f"more than {MAX_VALUES:,} values (aliases expanded)")
        if depth > MAX_DEPTH:
            raise _refusal(root, f"aliases nest values more than {MAX_DEPTH} levels deep")
        return loader.construct_document(root)
    finally:
        loader.dispose()


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
        size = Path(path).stat().st_size
        if size > MAX_FILE_BYTES:
            raise SimInputError(
                f"{source}: {size:,} bytes, more than a {kind} file may hold ({MAX_FILE_BYTES:,})",
                source,
            )
        text = Path(path).read_text(encoding="utf-8")
    try:
        data: Any = load_yaml(text)
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
    kind = "" if isinstance(exc, Refused) else "YAML syntax error: "
    return f"line {mark.line + 1}, column {mark.column + 1}: {kind}{problem}"


def read_json_object(path: Path) -> dict | None:
    """The JSON object in the file at ``path``, or None if it is missing, unreadable, not JSON
    or not an object: for state a program wrote itself and only reuses when intact."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
