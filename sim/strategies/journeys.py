"""Lifecycle journeys: which members each journey fired for on which day.

The daily step reports events (joined, purchased, reward, tier changes) and the day-counting
triggers are found once a day from the state; each journey step then sends, at its hour, to
the members its journey fired for ``delay`` days earlier. Everything is batched per day.
"""

from __future__ import annotations

import numpy as np

from sim.spec.strategy import Journey, RePermission, Sunset
from sim.strategies.audience import engaged_at
from sim.world.state import State

_NOBODY = np.empty(0, dtype=np.intp)


def journeys_of(journeys: dict[str, Journey], sunset: Sunset | None) -> dict[str, Journey]:
    """A strategy's journeys, with sunset's re-permission message as one more."""
    if sunset is None or sunset.re_permission is None:
        return dict(journeys)
    ask: RePermission = sunset.re_permission
    message = Journey(
        trigger="no_engagement",
        days=sunset.after_days,
        channel=ask.channel,
        hour=ask.hour,
        relevance=ask.relevance,
        kind="re_permission",
    )
    return {**journeys, "sunset_re_permission": message}


class JourneyLog:
    """Members each journey fired for, by day, kept until the journey's last step."""

    def __init__(self, journeys: dict[str, Journey]) -> None:
        self.journeys = journeys
        self.triggers = {j.trigger for j in journeys.values()}
        self.fired: dict[str, dict[int, np.ndarray]] = {name: {} for name in journeys}

    def fire(self, trigger: str, day: int, idx: np.ndarray) -> None:
        """Members idx had event ``trigger`` on ``day``."""
        if idx.size == 0:
            return
        for name, journey in self.journeys.items():
            if journey.trigger == trigger:
                held = self.fired[name].get(day)
                self.fired[name][day] = idx if held is None else np.union1d(held, idx)

    def due(self, state: State, s: int, name: str, delay: int, day: int) -> np.ndarray:
        """Members journey ``name``'s step ``delay`` sends to on ``day``. A journey for an
        absence (no purchase, no engagement) stops for members who have since bought or
        engaged, e.g. opened a message earlier on the day of the send."""
        fired = self.fired[name]
        idx = fired.get(day - delay, _NOBODY)
        if delay == self.journeys[name].delay_days[-1]:
            fired.pop(day - delay, None)  # its last step: no longer needed
        trigger = self.journeys[name].trigger
        if trigger == "no_purchase" and idx.size:
            idx = idx.compress(state.last_activity[s].take(idx) < day - delay)
        elif trigger == "no_engagement" and idx.size:
            idx = idx.compress(engaged_at(state, s, idx) < day - delay)
        return idx

    def fire_day_triggers(self, state: State, s: int, day: int, size: int) -> None:
        """Find the day-counting triggers (and joining) of ``day`` for strategy s.

        ``size``: members at day 0; joiners (index >= size) are welcomed on their day."""
        members = state.members
        n = members.joined_by(day)
        if "joined" in self.triggers:
            self.fire("joined", day, np.arange(max(size, members.joined_by(day - 1)), n))
        staying = ~state.left[s, :n]
        for name, journey in self.journeys.items():
            if journey.days is None:
                continue
            if journey.trigger == "expiry_due":
                when, points = state.next_expiry(s)
                hit = (np.floor(when[:n]) - journey.days == day) & (points[:n] > 0)
            elif journey.trigger == "no_purchase":
                hit = state.last_activity[s, :n] == day - journey.days
            else:  # no_engagement
                hit = np.floor(engaged_at(state, s, np.arange(n))) == day - journey.days
            idx = (hit & staying).nonzero()[0]
            if idx.size:
                held = self.fired[name].get(day)
                self.fired[name][day] = idx if held is None else np.union1d(held, idx)
