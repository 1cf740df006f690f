"""``loyaltysim examples``: copy the shipped scenarios into a new folder to start from, or list
them. It reads YAML and copies files only (sim.io.examples), so it answers at once."""

from __future__ import annotations

import shlex
import shutil
import sys
import textwrap

import click

from sim.cli.common import fail
from sim.errors import SimInputError
from sim.io.examples import copy_examples, list_examples


@click.command()
@click.argument("dest", required=False, type=click.Path())
@click.option(
    "--list",
    "show",
    is_flag=True,
    help="List the shipped scenarios with what each is about (also without DEST).",
)
def examples(dest: str | None, show: bool) -> None:
    """Copy the shipped scenarios (the demo, the other studies, the parts they include, the
    validation scenarios and their README) into DEST, a new or empty folder, to edit and run.
    Nothing is ever replaced: a DEST that holds files is refused (exit 2). Without DEST, list
    them."""
    if dest is not None and show:
        fail("give DEST to copy the scenarios, or --list to list them, not both")
    if dest is None:
        _list()
        return
    try:
        written = copy_examples(dest)
    except SimInputError as exc:
        fail(str(exc))
    click.echo(f"Copied the shipped scenarios into {dest} ({len(written)} files):")
    for path in written:
        click.echo(f"  {path}")
    demo = shlex.quote(f"{dest.rstrip('/')}/nordic_retail.yaml")
    click.echo(
        "Next:\n"
        f"  loyaltysim validate {demo}   # checks it and prints what its members imply\n"
        f"  loyaltysim run {demo}        # ranks its strategies (50,000 members, 2 years)\n"
        f"  loyaltysim run {demo} --set population.size=5000   # a quicker first run\n"
        "  loyaltysim examples --list   # what each scenario asks"
    )


def _list() -> None:
    """One line a file: its name, then its description, shortened to the terminal's width on
    a terminal and whole otherwise (for grep)."""
    found = list_examples()
    click.echo(
        "Shipped scenarios (loyaltysim examples DEST copies them, with parts/, validation/ "
        "and a README):"
    )
    width = max(len(name) for name in found)
    room = shutil.get_terminal_size().columns - width - 5 if sys.stdout.isatty() else None
    for name, description in found.items():
        if room is not None and description:
            description = textwrap.shorten(description, max(room, 20), placeholder=" ...")
        click.echo(f"  {name:<{width}}  {description}".rstrip())
