"""Exceptions for bad user input (the CLI maps :class:`SimInputError` to exit code 2) and the
hint that follows an unknown name in their messages."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence


class SimInputError(Exception):
    """Bad user input: one full line per problem, e.g. ``"x.yaml: population.size: ..."``.

    Every problem found is carried, not just the first, so users can fix them in one pass.
    """

    def __init__(self, problems: Sequence[str] | str, source: str | None = None) -> None:
        self.problems: list[str] = [problems] if isinstance(problems, str) else list(problems)
        self.source = source
        # Both constructor arguments go to args so the exception survives pickling
        # (e.g. when raised inside a worker process).
        super().__init__(self.problems, source)

    def __str__(self) -> str:
        if len(self.problems) == 1:
            return self.problems[0]
        prefix = f"{self.source}: " if self.source else ""
        header = f"{prefix}{len(self.problems)} problems:"
        return "\n".join([header, *self.problems])


def choices_hint(
    name: object, choices: Iterable[object], label: str | None = None, quote: bool = False
) -> str:
    """What to say after naming an unknown ``name``: `` (LABEL: a, b, c)`` when ``label`` is
    given, then ``; did you mean 'x'?`` when one of ``choices`` is close; "" without choices.

    ``quote`` writes the choices as ``'a', 'b'`` (for names that may hold spaces or commas).
    The one place that lists valid names and guesses the nearest, e.g.
    ``f"unknown key{choices_hint(key, fields, 'allowed')}"``.
    """
    names = [str(choice) for choice in choices]
    if not names:
        return ""
    hint = ""
    if label is not None:
        shown = ", ".join(map(repr, names) if quote else names)
        hint = f" ({label}: {shown})"
    nearest = difflib.get_close_matches(str(name), names, n=1, cutoff=0.6)
    if nearest:
        hint += f"; did you mean {nearest[0]!r}?"
    return hint
