"""The history pilot: the factors that take the history plan's marketing out of fitted
purchase rates (sim.model.history; docs/model.md, section 2).

When a scenario names ``history: {strategy: NAME}``, a pilot simulates NAME alone on a
population of its own: the scenario's with ``size`` at most PILOT_MEMBERS (acquisition scaled
alike), drawn from the branch (0, PILOT) of the seed's tree (sim.engine.rng), so no
replication's draws move. Over the whole horizon it counts, per segment, the plan's purchases
and the baseline purchases (multiplier 1) of the same member-days (members active and in the
program under the plan). Their ratio is the segment's history factor m. The factors then
normalise the pilot's own members and the pilot runs again, on the same draws, until no factor
moves by more than TOLERANCE (relative): the plan's mean multiplier hardly depends on the
rates, so the second pass confirms the first. Every replication of the run uses the same
factors: they are a property of the scenario and the seed, like its calibration.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.engine.replication import draw_members, make_context, simulate
from sim.engine.rng import PILOT, Streams
from sim.model import history
from sim.spec.scenario import Scenario

# Starting members of the pilot population: the factor of a segment is a ratio of purchases
# counted on the same uniforms, so its standard error is small, about 0.3% at the demo's
# rates for 20,000 members and a year (docs/model.md, section 2).
PILOT_MEMBERS = 20_000
# The passes stop when no factor moved by more than SETTLED standard errors (or TOLERANCE,
# relative, for factors known more precisely than that).
SETTLED = 2.0
TOLERANCE = 1e-3
MAX_PASSES = 5


@dataclass(frozen=True)
class HistoryFactors:
    """The pilot's outcome: one history factor per segment (in the scenario's order)."""

    strategy: str
    segments: tuple[str, ...]
    factor: np.ndarray  # history purchases / baseline purchases, dimensionless
    se: np.ndarray  # standard errors of the factors (members as independent units)
    history_purchases: np.ndarray  # per segment, of the last pass
    baseline_purchases: np.ndarray
    members: int  # members in the pilot population (starting members and joiners)
    passes: int

    def manifest(self) -> dict:
        """The manifest entry: the factors and how they were estimated."""
        return {
            "strategy": self.strategy,
            "history_factor": {
                name: round(float(f), 6) for name, f in zip(self.segments, self.factor, strict=True)
            },
            # None (JSON null) where a segment had too few members or purchases to tell.
            "history_factor_se": {
                name: round(float(e), 6) if np.isfinite(e) else None
                for name, e in zip(self.segments, self.se, strict=True)
            },
            "pilot_members": self.members,
            "pilot_passes": self.passes,
            "pilot_streams": f"numpy SeedSequence(seed, spawn_key=(0, {PILOT}))",
        }


# Factors already estimated in this process, by scenario and seed: every replication of a run
# (and every group of strategies of one) reuses them instead of running the pilot again.
_ESTIMATED: dict[tuple[str, int], HistoryFactors] = {}
_KEEP = 16


def history_factors(scenario: Scenario, seed: int) -> HistoryFactors:
    """The history factors of ``scenario`` (which names a history plan) under ``seed``."""
    key = (scenario.model_dump_json(exclude={"replications"}), seed)
    found = _ESTIMATED.get(key)
    if found is None:
        if len(_ESTIMATED) >= _KEEP:
            _ESTIMATED.clear()
        found = _ESTIMATED[key] = pilot(scenario, seed)
    return found


def pilot_scenario(scenario: Scenario) -> Scenario:
    """The scenario the pilot simulates: at most PILOT_MEMBERS starting members and the
    acquisition in the same proportion."""
    population = scenario.population
    size = min(population.size, PILOT_MEMBERS)
    scaled = population.model_copy(
        update={
            "size": size,
            "acquisition_per_day": population.acquisition_per_day * size / population.size,
        }
    )
    return scenario.model_copy(update={"population": scaled})


def pilot(scenario: Scenario, seed: int) -> HistoryFactors:
    """Run the pilot until the factors settle (at most MAX_PASSES passes)."""
    if scenario.history is None:
        raise ValueError("the scenario names no history plan")
    name = scenario.history.strategy
    sc = pilot_scenario(scenario)
    segments = tuple(sc.population.segments)
    drawn = Streams(seed, 0, (PILOT,))
    members = draw_members(sc, drawn)
    factor = np.ones(len(segments))
    passes = 0
    while passes < MAX_PASSES:
        passes += 1
        # Every pass draws the same numbers: only the factors differ between passes.
        ctx = make_context(sc, members.normalised(factor), Streams(seed, 0, (PILOT,)), [name])
        totals = _Totals(ctx.state.left[0])
        ctx.sink = totals
        simulate(ctx, weekly=False)
        h = np.bincount(members.segment, weights=totals.history, minlength=len(segments))
        b = np.bincount(members.segment, weights=totals.base, minlength=len(segments))
        measured = history.factor(h, b)
        se = history.factor_se(totals.history, totals.base, members.segment, len(segments))
        moved = np.abs(measured - factor)
        factor = measured
        if np.all((moved <= SETTLED * se) | (moved <= TOLERANCE * measured)):
            break
    return HistoryFactors(
        strategy=name,
        segments=segments,
        factor=factor,
        se=se,
        history_purchases=h,
        baseline_purchases=b,
        members=members.size,
        passes=passes,
    )


class _Totals:
    """Each member's purchases over the horizon under the pilot's one strategy and at the
    baseline, both counted while the member is in the program (``left``: the strategy's
    live array of members who left)."""

    def __init__(self, left: np.ndarray) -> None:
        self.left = left
        self.history = np.zeros(left.size)
        self.base = np.zeros(left.size)

    def baseline(self, day: int, members: np.ndarray, counts: np.ndarray) -> None:
        stay = ~self.left.take(members)
        self.base[members[stay]] += counts[stay]  # a member appears once a day

    def purchases(
        self, s: int, day: int, members: np.ndarray, counts: np.ndarray, amounts: np.ndarray
    ) -> None:
        self.history[members] += counts
