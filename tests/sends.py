"""Deliveries recorded at ``send`` (the last step of the send pipeline), what the state says
about members at that moment, and the messages and tiers that the control-group, sunset,
audience, journey and policy tests share."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from builders import wrap

import sim.engine.dispatch as dispatch
from sim.engine.context import Context
from sim.spec.fields import CHANNELS
from sim.spec.strategy import Message

EMAIL, SMS, PUSH = (CHANNELS.index(c) for c in ("email", "sms", "push"))

DAILY_EMAIL = {"channel": "email", "every_days": 1, "hour": 9, "relevance": 0.5}
TIERS = {
    "qualify_on": "spend",
    "window": "calendar",
    "levels": {"silver": {"threshold": 1500.0}, "gold": {"threshold": 4000.0}},
}
TIER_NAMES = ["base", "silver", "gold"]


@dataclass(frozen=True)
class Delivery:
    s: int
    message: Message
    ch: int
    t: float
    idx: np.ndarray  # the members it was delivered to
    opened: np.ndarray  # those of them who opened it

    @property
    def day(self) -> int:
        return math.floor(self.t)


class Deliveries(list):
    """Every delivery of a run, recorded at ``send``. ``checks`` run before each delivery
    with send's arguments, when the state is the one the send pipeline decided on."""

    def __init__(self, monkeypatch: Any, *checks: Any) -> None:
        super().__init__()
        opened_before: list[np.ndarray] = []

        def before(ctx, s, name, message, ch, t, idx):
            for check in checks:
                check(ctx, s, message, ch, t, idx)
            opened_before.append(ctx.state.last_open[s].take(idx))

        def after(ctx, s, name, message, ch, t, idx):
            changed = ctx.state.last_open[s].take(idx) != opened_before.pop()
            self.append(Delivery(s, message, ch, t, idx.copy(), np.compress(changed, idx)))

        wrap(monkeypatch, dispatch, "send", before=before, after=after)

    def of(self, s: int, message: Message | None = None) -> list[Delivery]:
        return [d for d in self if d.s == s and (message is None or d.message is message)]


def reachable(ctx: Context, s: int, ch: int, idx: np.ndarray) -> np.ndarray:
    """Mask over idx of members who can receive on ``ch`` now (read from the state)."""
    st_ = ctx.state
    return ~st_.left[s, idx] & st_.members.opt_in[ch, idx] & ~st_.exited[s, ch, idx]


def joined(ctx: Context, t: float) -> np.ndarray:
    return np.flatnonzero(ctx.state.members.join_day <= t)


def engaged(ctx: Context, s: int, idx: np.ndarray) -> np.ndarray:
    """Last open or click, or joining if later (what audiences and sunset count from)."""
    return np.maximum(ctx.state.last_open[s, idx], ctx.state.members.join_day[idx])


def message_of(ctx: Context, s: int, name: str) -> Message:
    strategy = ctx.levers[s].strategy
    return {**strategy.campaigns, **strategy.journeys}[name]
