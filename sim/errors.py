"""Exceptions for bad user input; the CLI maps :class:`SimInputError` to exit code 2."""

from __future__ import annotations

from collections.abc import Sequence


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
