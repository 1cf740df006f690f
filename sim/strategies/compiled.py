"""Strategies compiled once: what the engine asks of a strategy, with its plug-in loaded.

The scenario's strategy blocks are validated data. Compiling turns each into the parts the
engine runs (its calendar plan, journeys, contact rules and policy), refuses a plug-in policy
unless the user allowed plug-ins and then loads and checks it, and gathers what the engine
would otherwise re-read from the scenario. ``levers`` then builds one replication's
per-member state.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.errors import SimInputError
from sim.spec.scenario import Scenario
from sim.spec.strategy import Journey, Strategy
from sim.strategies.calendar import Calendar
from sim.strategies.journeys import JourneyLog, journeys_of
from sim.strategies.observe import Observations
from sim.strategies.plan import Plan
from sim.strategies.policy import PersonalCaps, Policy, PolicyError, build_policy, load_plugin
from sim.strategies.rules import ContactRules

DAYS_A_MONTH = 365.2425 / 12  # the Gregorian calendar's mean month


@dataclass(frozen=True)
class CompiledStrategy:
    """One strategy, ready to run: its spec plus what is derived from it once."""

    name: str
    spec: Strategy
    horizon_days: int
    calendar: Calendar  # dates of the scenario's days
    journeys: dict[str, Journey]  # sunset's re-permission message included
    offer_kinds: frozenset[str]  # kinds of points offer its messages carry

    @property
    def sends_per_day(self) -> float:
        """Calendar sends a day, on average (a measure of its cost to simulate)."""
        per_day = 0.0
        for campaign in self.spec.campaigns.values():
            if campaign.every_days is not None:
                per_day += 1.0 / campaign.every_days
            elif campaign.weekdays is not None:
                per_day += len(campaign.weekdays) / 7.0
            else:  # days or weekdays of the month: about 12 a year each
                per_day += len(campaign.month_days or campaign.month_weekdays or ()) / DAYS_A_MONTH
        return per_day

    def levers(self, n_members: int) -> Levers:
        """Fresh per-member state of this strategy for one replication of n members."""
        policy = build_policy(self.spec.policy, n_members)
        rules = ContactRules(self.spec, n_members, self.calendar)
        if isinstance(policy, PersonalCaps):
            rules.use_personal_caps(policy.limit)
        return Levers(
            strategy=self.spec,
            rules=rules,
            plan=Plan(self.spec.campaigns, self.horizon_days, self.calendar),
            policy=policy,
            observations=Observations(n_members) if policy is not None else None,
            journeys=JourneyLog(self.journeys) if self.journeys else None,
        )


@dataclass
class Levers:
    """One strategy's contact rules, plan, policy and journeys, with their per-member state."""

    strategy: Strategy
    rules: ContactRules
    plan: Plan
    policy: Policy | None
    observations: Observations | None  # kept for policies, which read them
    journeys: JourneyLog | None


def compile_strategy(scenario: Scenario, name: str) -> CompiledStrategy:
    strategy = scenario.strategies[name]
    return CompiledStrategy(
        name=name,
        spec=strategy,
        horizon_days=scenario.horizon_days,
        calendar=Calendar(scenario.start_date),
        journeys=journeys_of(strategy.journeys, strategy.sunset),
        offer_kinds=frozenset(m.offer.kind for m in strategy.messages.values() if m.offer),
    )


def compile_strategies(
    scenario: Scenario, source: str = "<scenario>", *, allow_plugins: bool = False
) -> list[CompiledStrategy]:
    """Every strategy, ``silent`` first, ready to run.

    A plug-in policy runs Python code the scenario names, so it is refused unless the user
    allows it (``allow_plugins``: ``--allow-plugins`` on the command line); allowed, it is
    imported and constructed once here to check it. Problems are reported as
    ``SOURCE: strategies.NAME.policy: reason``."""
    problems = []
    for name, module in scenario.plugin_modules.items():
        where = f"{source}: strategies.{name}.policy"
        if not allow_plugins:
            problems.append(
                f"{where}: a plug-in policy runs the Python code of module {module!r}; "
                "if you trust it, allow it with --allow-plugins (Python: allow_plugins=True)"
            )
            continue
        try:
            load_plugin(scenario.strategies[name].policy)
        except PolicyError as exc:
            problems.append(f"{where}: {exc}")
    if problems:
        raise SimInputError(problems, source)
    return [compile_strategy(scenario, name) for name in scenario.strategy_names]
