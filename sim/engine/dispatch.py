"""Who receives a message: audience -> control group and sunset -> policy -> quiet hours ->
cooldown and caps -> delivery. Campaigns and journey steps all pass through ``dispatch``.

Held back members are counted by reason in the tallies: ``suppressed`` (control group,
sunset), ``quiet_hours`` (dropped), ``cooldown`` and ``capped``. Quiet hours that hold return
the held members with their release time; the engine schedules the release.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.engine.context import Context
from sim.engine.delivery import relevance, send
from sim.model import fatigue
from sim.spec.fields import CHANNELS
from sim.spec.strategy import Audience, Campaign, Message
from sim.strategies.audience import in_audience, suppressed
from sim.strategies.observe import LatentView, View
from sim.strategies.policy import Oracle, Outgoing, PolicyError, selected
from sim.strategies.rules import CapKey


@dataclass(frozen=True)
class Held:
    """Members whose message waits for the end of quiet hours."""

    at: float  # days
    name: str
    message: Message
    channel: int
    idx: np.ndarray


def dispatch(
    ctx: Context,
    s: int,
    name: str,
    message: Message,
    t: float,
    candidates: np.ndarray | None = None,
) -> list[Held]:
    """Send ``message`` (campaign or journey step ``name``) of strategy s at time t to its
    audience, or to its audience among ``candidates`` (a journey's members)."""
    st, levers = ctx.state, ctx.levers[s]
    policy = levers.policy if not message.is_exempt else None
    own = CHANNELS.index(message.channel)
    # Without a policy only the message's channel matters; a policy may move members to
    # another channel, so it sees everyone reachable somewhere.
    channels = [own] if policy is None else range(len(CHANNELS))
    if candidates is None:  # everyone joined: whole-array masks, the common case
        n = st.members.joined_by(t)
        mask = np.zeros(n, dtype=bool)
        for c in channels:
            mask |= st.reachable(s, c, n)
        idx = mask.nonzero()[0]
    else:
        mask = np.zeros(candidates.size, dtype=bool)
        for c in channels:
            mask |= st.reachable_among(s, c, candidates)
        idx = candidates.compress(mask)
    if isinstance(message.audience, Audience):
        idx = idx.compress(in_audience(ctx.scenario, st, s, message.audience, idx, t))
    held_back = suppressed(levers.strategy, ctx.control, st, s, message, idx, t)
    if held_back is not None:
        # Counted as skipped: those the message would have reached on its own channel.
        skipped = held_back if policy is None else held_back & st.reachable_among(s, own, idx)
        ctx.tally.total["skipped_suppressed"][s] += np.count_nonzero(skipped)
        idx = idx.compress(~held_back)

    if policy is None:
        groups = {own: idx}
    else:
        if isinstance(policy, Oracle):
            channel = getattr(ctx.scenario.channels, message.channel)

            def added(m: np.ndarray) -> np.ndarray:
                r = relevance(ctx, message, m)
                return fatigue.increment(channel.intrusiveness, r, st.members.sensitivity.take(m))

            view: View = LatentView(st, s, levers.observations, t, added)
        else:
            view = View(st, s, levers.observations, t)
        answer = policy.select(Outgoing(name, message, int(t)), idx, view)
        try:
            chosen = selected(answer, message, idx)
        except PolicyError as exc:
            where = f"strategies.{ctx.strategies[s]}.policy"
            raise PolicyError(f"{where}: {name} on day {int(t)}: {exc}") from None
        groups = {
            CHANNELS.index(c): m.compress(st.reachable_among(s, CHANNELS.index(c), m))
            for c, m in chosen.items()
        }
    return [
        h for ch, members in groups.items() if (h := _send(ctx, s, name, message, ch, t, members))
    ]


def release(ctx: Context, s: int, held: Held) -> None:
    """Send a held message at the end of quiet hours to those still reachable."""
    idx = held.idx.compress(ctx.state.reachable_among(s, held.channel, held.idx))
    _send(ctx, s, held.name, held.message, held.channel, held.at, idx)


def _send(
    ctx: Context, s: int, name: str, message: Message, ch: int, t: float, idx: np.ndarray
) -> Held | None:
    """Quiet hours, then cooldown and caps, then delivery, on one channel."""
    levers, tally = ctx.levers[s], ctx.tally.total
    wait_until = levers.rules.quiet_release(message, ch, t)
    if wait_until is not None:
        if levers.strategy.quiet_hours and levers.strategy.quiet_hours.action == "drop":
            tally["skipped_quiet_hours"][s] += idx.size
            return None
        tally["held_quiet_hours"][s] += idx.size
        return Held(wait_until, name, message, ch, idx) if idx.size else None

    def scheduled(key: CapKey, end: float, members: np.ndarray) -> np.ndarray | None:
        return levers.plan.scheduled(message, key, t, end, members, eligible)

    def eligible(campaign: Campaign, members: np.ndarray) -> np.ndarray:
        st = ctx.state
        mask = in_audience(ctx.scenario, st, s, campaign.audience, members, t)
        mask &= st.reachable_among(s, CHANNELS.index(campaign.channel), members)
        held_back = suppressed(levers.strategy, ctx.control, st, s, campaign, members, t)
        return mask if held_back is None else mask & ~held_back

    idx, cooled, capped = levers.rules.admit(message, ch, idx, t, scheduled)
    tally["skipped_cooldown"][s] += cooled
    tally["skipped_capped"][s] += capped
    if name not in levers.strategy.campaigns:  # a journey's message
        tally["journey_sends"][s] += idx.size
    if idx.size:
        send(ctx, s, name, message, ch, t, idx)
    return None
