"""``loyaltysim init``, ``validate`` and ``schema``: start a scenario file from a template,
check one, print the schema. They import only the schema and the YAML reader (and, to print
what a population implies, scipy.special), so they answer in about a second."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from sim.analysis.implied import as_records, format_implied, implausible, implied
from sim.cli.common import BAD_INPUT, echo_json, fail, json_option, set_option
from sim.errors import SimInputError
from sim.io.atomic import write_text
from sim.io.loader import dump_scenario, from_template, load_scenario, template_names
from sim.spec.scenario import Scenario


@click.command()
@click.argument("scenario", type=click.Path(dir_okay=False))
@set_option
@click.option("--resolved", is_flag=True, help="Print the scenario with every default filled in.")
@json_option
def validate(scenario: str, overrides: tuple[str, ...], resolved: bool, as_json: bool) -> None:
    """Check SCENARIO; list every problem with its field path (exit 2), or print a summary."""
    try:
        parsed = load_scenario(scenario, overrides)
    except SimInputError as exc:
        if as_json:
            echo_json({"file": scenario, "valid": False, "problems": exc.problems})
            sys.exit(BAD_INPUT)
        fail(str(exc))
    if resolved:
        click.echo(dump_scenario(parsed), nl=False)
        return
    oracles = [name for name, s in parsed.strategies.items() if s.is_oracle]
    plugins = parsed.plugin_modules
    figures = implied(parsed.population)
    warnings = implausible(figures, scenario)
    summary = {
        "file": scenario,
        "valid": True,
        "name": parsed.name,
        "members": parsed.population.size,
        "horizon_days": parsed.horizon_days,
        "strategies": parsed.strategy_names,
        "campaigns": sum(len(s.campaigns) for s in parsed.strategies.values()),
        "journeys": sum(len(s.journeys) for s in parsed.strategies.values()),
        "replications": parsed.replications,
        "upper_bounds": oracles,
        "plugins": plugins,
        "implied": as_records(figures),
        "warnings": warnings,
    }
    if as_json:
        echo_json(summary)
        return
    click.echo(
        f"{scenario}: valid. {parsed.population.size:,} members, {parsed.horizon_days} days, "
        f"{len(parsed.strategies)} strategies ({', '.join(parsed.strategy_names)}), "
        f"{summary['campaigns']} campaigns, {summary['journeys']} journeys, "
        f"{parsed.replications} replications."
        + (f" Upper bounds (oracle): {', '.join(oracles)}." if oracles else "")
    )
    for name, module in plugins.items():
        click.echo(
            f"strategies.{name}.policy: a plug-in from module {module!r}, not imported by "
            "validate; run needs --allow-plugins to run it"
        )
    click.echo(
        "\nWhat the population implies for a member on the day it joins (BG/NBD, Gamma-Gamma; "
        "before marketing, satisfaction and rewards):"
    )
    click.echo(format_implied(figures, parsed.currency))
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)


@click.command()
def schema() -> None:
    """Print the JSON schema of a scenario file."""
    click.echo(json.dumps(Scenario.model_json_schema(), indent=2))


@click.command()
@click.argument("path", type=click.Path(dir_okay=False))
@click.option(
    "--template",
    type=click.Choice(template_names()),
    default="grocery",
    show_default=True,
    help="The kind of business; its members come from the population preset of that name.",
)
def init(path: str, template: str) -> None:
    """Write a commented scenario to PATH (a .yaml file) from a template, ready to edit,
    validate and run. An existing file is never replaced."""
    target = Path(path)
    if target.suffix not in (".yaml", ".yml"):
        fail(f"{path}: give the scenario a .yaml name")
    if target.exists():
        fail(f"{path} exists: give another name (init never replaces a file)")
    if not target.parent.is_dir():
        fail(f"{target.parent}: no such folder")
    write_text(target, from_template(template, target.stem))
    click.echo(
        f"Wrote {path} from the {template} template. Next:\n"
        f"  loyaltysim validate {path}   # checks it and prints what its members imply\n"
        f"  loyaltysim run {path}        # ranks its strategies"
    )
