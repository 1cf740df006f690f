"""What every command shares: bad input is reported on stderr and exits with code 2."""

from __future__ import annotations

import sys
from typing import NoReturn

import click

BAD_INPUT = 2


def fail(message: str) -> NoReturn:
    """Print ``error: message`` to stderr and exit 2 (bad input)."""
    click.echo(f"error: {message}", err=True)
    sys.exit(BAD_INPUT)
