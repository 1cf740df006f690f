"""Who a message is for: audience conditions, the control group and sunset.

Everything here is observable to a marketer: segments, tiers, points balances, the last open
or click and the last purchase. Recency counts from the later of the event and the member's
joining, as the run has no history before day 0.
"""

from __future__ import annotations

import numpy as np

from sim.spec.scenario import Scenario
from sim.spec.strategy import Audience, Message, Strategy
from sim.world.state import State


def engaged_at(state: State, s: int, idx: np.ndarray) -> np.ndarray:
    """Day of the last open or click of members idx, or of joining if later (days)."""
    return np.maximum(state.last_open[s].take(idx), state.members.join_day.take(idx))


def purchased_at(state: State, s: int, idx: np.ndarray) -> np.ndarray:
    """Day of the last purchase of members idx, or of joining if later (days)."""
    return state.last_activity[s].take(idx)


def in_audience(
    scenario: Scenario, state: State, s: int, audience: Audience | str, idx: np.ndarray, t: float
) -> np.ndarray:
    """Mask over idx of the members every condition of ``audience`` holds for at time t."""
    keep = np.ones(idx.size, dtype=bool)
    if not isinstance(audience, Audience):
        return keep
    if audience.segments is not None:
        names = list(scenario.population.segments)
        wanted = [names.index(seg) for seg in audience.segments]
        keep &= np.isin(state.members.segment.take(idx), wanted)
    if audience.tiers is not None and scenario.program.tiers is not None:
        names = ["base", *scenario.program.tiers.levels]
        wanted = [names.index(tier) for tier in audience.tiers]
        keep &= np.isin(state.program.level(s, idx, t), wanted)
    if audience.balance is not None:
        balance = state.balance[s].take(idx)
        if audience.balance.min is not None:
            keep &= balance >= audience.balance.min
        if audience.balance.max is not None:
            keep &= balance <= audience.balance.max
    for within, outside, last in (
        (audience.engaged_within_days, audience.not_engaged_within_days, engaged_at),
        (audience.purchased_within_days, audience.not_purchased_within_days, purchased_at),
    ):
        if within is not None or outside is not None:
            age = t - last(state, s, idx)
            if within is not None:
                keep &= age <= within
            if outside is not None:
                keep &= age > outside
    return keep


def control_group(share: float, n_members: int, rng: np.random.Generator) -> np.ndarray | None:
    """Mask of the members in the control group (one uniform per member), or None."""
    if share <= 0:
        return None
    return rng.random(n_members) < share


def suppressed(
    strategy: Strategy,
    control: np.ndarray | None,
    state: State,
    s: int,
    message: Message,
    idx: np.ndarray,
    t: float,
) -> np.ndarray | None:
    """Mask over idx of members no marketing may reach: the control group, and under sunset
    those with no open or click for ``after_days`` (but for the re-permission message).
    None when no rule applies to the message."""
    sunset = strategy.sunset if message.kind != "re_permission" else None
    if message.is_exempt or (control is None and sunset is None):
        return None
    out = np.zeros(idx.size, dtype=bool)
    if control is not None:
        out |= control.take(idx)
    if sunset is not None:
        out |= t - engaged_at(state, s, idx) >= sunset.after_days
    return out
