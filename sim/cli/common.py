"""What every command shares: errors go to stderr as ``error: ...``; bad input exits with 2."""

from __future__ import annotations

import errno
import functools
import importlib
import io
import json
import math
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import click

BAD_INPUT = 2


class Commands(click.Group):
    """The command group: a failure of the environment (full disk, read-only or missing
    folder, permission denied, file-size limit) ends any command with exit 2 and one line
    naming the path and the reason, never a traceback. What was being written is left whole
    or not at all (sim.io.atomic).

    ``lazy`` maps command names to ``module:attribute``; a command's module is imported only
    when the command is looked up (to run it, or to list it in ``--help``)."""

    def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy and name not in self.commands:
            module, _, attribute = self.lazy[name].partition(":")
            self.add_command(getattr(importlib.import_module(module), attribute), name)
        return super().get_command(ctx, name)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except OSError as exc:
            fail(environment_problem(exc))


def environment_problem(exc: OSError) -> str:
    """``PATH: reason`` for an operating-system error, e.g. ``results/run: No space left on
    device (while writing)``."""
    where = exc.filename if exc.filename is not None else "a file"
    reason = exc.strerror or type(exc).__name__
    if exc.errno is not None and exc.errno in _HINTS:
        reason += f" ({_HINTS[exc.errno]})"
    return f"{where}: {reason}"


_HINTS = {
    errno.ENOSPC: "free some space or choose another --out",
    errno.EROFS: "choose another --out",
    errno.EACCES: "check the folder's permissions or choose another --out",
    errno.EFBIG: "a file-size limit (ulimit -f) stopped the write",
    errno.EDQUOT: "a disk quota stopped the write",
}


set_option = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="PATH=VALUE",
    help="Override a scenario value by its dotted path, e.g. population.size=2000.",
)


json_option = click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the outcome as one JSON document on stdout (docs/results.md, 'JSON output').",
)


def echo_json(document: object) -> None:
    """Print ``document`` as JSON: data frames as lists of records, NaN as null."""
    click.echo(json.dumps(_plain(document), indent=2, allow_nan=False))


def _plain(value: object) -> object:
    """``value`` with data frames, NumPy scalars and non-finite floats made JSON-ready."""
    if hasattr(value, "to_json") and hasattr(value, "columns"):  # a pandas DataFrame
        return json.loads(value.to_json(orient="records", double_precision=15))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # a NumPy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def fail(message: str, code: int = BAD_INPUT) -> NoReturn:
    """Print ``error: message`` to stderr and exit with ``code`` (default 2, bad input)."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


class TaskProgress:
    """A click progress bar over tasks (``unit``: points, draws), created once the number to
    run is known, with the time remaining; the label counts failures. Drawn only when stderr
    is a terminal."""

    def __init__(self, unit: str, show: bool) -> None:
        self.unit = unit
        self.show = show
        self.bar: Any = None

    def __call__(self, done: int, failed: int, todo: int) -> None:
        label = f"{self.unit} ({failed} failed)"
        if self.bar is None:
            self.bar = click.progressbar(
                length=todo,
                label=label,
                show_eta=True,
                show_pos=True,
                file=sys.stderr if self.show else io.StringIO(),
            )
            self.bar.__enter__()
            return
        self.bar.label = label
        self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def dask_option(runs: str) -> Any:
    """``--dask ADDRESS``: run ``runs`` (e.g. "the points") on a Dask cluster."""
    return click.option(
        "--dask",
        "dask_address",
        metavar="ADDRESS",
        help=f"Run {runs} on a Dask cluster, e.g. tcp://host:8786 (needs loyaltysim[dask]).",
    )


def format_option(tables: str, formats: tuple[str, ...]) -> Any:
    """``--format``: the file format of ``tables`` (e.g. "the results tables"), one of
    ``formats`` (sim.io.results.RESULT_FORMATS, passed in so that this module imports no table
    library), passed to the command as ``results_format``."""
    return click.option(
        "--format",
        "results_format",
        type=click.Choice(formats),
        default="csv",
        show_default=True,
        help=f"File format of {tables} (parquet: typed columns, full precision).",
    )


def export_options(duplicates: str, duplicates_help: str) -> Callable[[Callable], Callable]:
    """The options for the quirks of a company's export (separator, decimal mark, encoding,
    time zone, date format, repeated rows), shared by the commands that read one; the
    command receives them as one ``table`` argument (sim.io.tables.TableOptions)."""

    def decorate(command: Callable) -> Callable:
        options = [
            click.option(
                "--sep", help="CSV field separator (one character, or 'tab'); default: sniffed."
            ),
            click.option(
                "--decimal-comma/--decimal-point",
                default=None,
                help="Numbers use a decimal comma (12,50) or point; default: a comma in a "
                "';'-separated file.",
            ),
            click.option(
                "--encoding", help="Text encoding of a CSV without byte-order mark [utf-8]."
            ),
            click.option(
                "--timezone",
                default="UTC",
                show_default=True,
                help="Zone of times without an offset; a date counts as its calendar day in "
                "this zone.",
            ),
            click.option(
                "--date-format", help="strftime format of the dates, e.g. %d.%m.%Y; default ISO."
            ),
            click.option(
                "--duplicates",
                type=click.Choice(["error", "drop", "keep"]),
                default=duplicates,
                show_default=True,
                help=duplicates_help,
            ),
        ]

        @functools.wraps(command)
        def wrapper(**kwargs: Any) -> Any:
            # Imported here: the table reader brings pandas, which --version does not need.
            from sim.io.tables import TableOptions

            names = ("sep", "decimal_comma", "encoding", "timezone", "date_format", "duplicates")
            kwargs["table"] = TableOptions(**{n: kwargs.pop(n) for n in names})
            return command(**kwargs)

        for option in reversed(options):
            wrapper = option(wrapper)
        return wrapper

    return decorate
