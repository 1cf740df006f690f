"""What every command shares: errors go to stderr as ``error: ...``; bad input exits with 2."""

from __future__ import annotations

import sys
from typing import NoReturn

import click

BAD_INPUT = 2


def fail(message: str, code: int = BAD_INPUT) -> NoReturn:
    """Print ``error: message`` to stderr and exit with ``code`` (default 2, bad input)."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)
