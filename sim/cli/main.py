"""The ``loyaltysim`` command: a thin layer over the Python API.

Exit codes: 0 success, 1 a comparison gate tripped, 2 bad input (the message names the file,
the field path and the reason; nothing is written).
"""

from __future__ import annotations

import click

from sim import __version__
from sim.cli.common import Commands

# Each command's module is imported when the command runs, so that ``--version`` and
# ``validate`` do not import the simulator, pandas or scipy.
COMMANDS = {
    "init": "sim.cli.scenario:init",
    "examples": "sim.cli.examples:examples",
    "run": "sim.cli.run:run",
    "validate": "sim.cli.scenario:validate",
    "schema": "sim.cli.scenario:schema",
    "calibrate": "sim.cli.calibrate:calibrate",
    "fit": "sim.cli.fit:fit",
    "compare": "sim.cli.review:compare",
    "report": "sim.cli.review:report",
    "sweep": "sim.cli.sweep:sweep",
}


@click.group(cls=Commands, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="loyaltysim")
def main() -> None:
    """Simulate loyalty-program members receiving email, SMS and push, and rank campaign
    strategies by long-term loyalty."""
