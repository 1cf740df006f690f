"""One campaign send of one strategy: who receives it and what it does to them.

Order within a send: audience -> contact cap -> inbox placement (email) -> pressure -> open,
click, exit, complaint -> satisfaction drivers, purchase lift, offers.
"""

from __future__ import annotations

import numpy as np

from sim.engine.context import EMAIL, Context
from sim.io.scenario import (
    CHANNELS,
    Audience,
    BonusOffer,
    Campaign,
    DiscountOffer,
    MultiplierOffer,
    SpendTargetOffer,
)
from sim.model import fatigue, response
from sim.model import satisfaction as sat


def audience_mask(ctx: Context, campaign: Campaign, n: int) -> np.ndarray | None:
    """Mask of the campaign's segments among the first n members, or None for everyone."""
    if not isinstance(campaign.audience, Audience):
        return None
    names = list(ctx.scenario.population.segments)
    wanted = [names.index(seg) for seg in campaign.audience.segments]
    return np.isin(ctx.state.members.segment[:n], wanted)


def category_share(ctx: Context, category: str, idx: np.ndarray) -> np.ndarray:
    """Share of members idx's spend in ``category`` (``preferred``: their largest)."""
    preference = ctx.state.members.preference
    if category == "preferred":
        return preference[:, idx].max(axis=0)
    return preference[list(ctx.scenario.population.categories).index(category)].take(idx)


def relevance(ctx: Context, campaign: Campaign, idx: np.ndarray) -> float | np.ndarray:
    """Relevance of the message to members idx: the campaign's, or for a category offer the
    campaign's scaled by the member's share of spend in the category against the typical
    share (1 / number of categories), capped at 1."""
    category = getattr(campaign.offer, "category", None)
    if category is None:
        return campaign.relevance
    typical = 1.0 / len(ctx.scenario.population.categories)
    share = category_share(ctx, category, idx)
    return np.minimum(campaign.relevance * share / typical, 1.0)


def deliver(ctx: Context, s: int, campaign: Campaign, t: float) -> None:
    """Send ``campaign`` for strategy ``s`` at time t (days) to every eligible member."""
    st, members = ctx.state, ctx.state.members
    ch = CHANNELS.index(campaign.channel)
    channel = getattr(ctx.scenario.channels, campaign.channel)
    n = members.joined_by(t)
    # One uniform per member for opening and one for exits; email adds one for placement.
    # A member's uniforms are the same for every strategy sending at this minute.
    u = ctx.message_uniforms(s, ch, t, 3 if ch == EMAIL else 2, n)

    eligible = st.reachable(s, ch, n)
    audience = audience_mask(ctx, campaign, n)
    if audience is not None:
        eligible &= audience
    idx = np.flatnonzero(eligible)
    cap = ctx.caps[s].get(ch)
    if cap is not None:
        idx = np.compress(cap.allows(idx, t), idx)
        cap.record(idx, t)
    ctx.tally.channel["sends"][s, ch] += idx.size
    ctx.tally.weekly["sends"][s, ctx.week(t)] += idx.size
    ctx.tally.total["message_cost"][s] += idx.size * channel.cost
    ctx.tally.total["clv_margin"][s] -= (
        np.count_nonzero(idx < ctx.scenario.population.size) * channel.cost * ctx.discount(t)
    )

    if ch == EMAIL:  # emails placed in spam are sent but never seen
        idx = np.compress(u[2].take(idx) < ctx.placement[s], idx)
    ctx.tally.channel["inbox"][s, ch] += idx.size
    if idx.size == 0:
        return
    _respond(ctx, s, ch, campaign, t, idx, u[0].take(idx), u[1].take(idx))


def _respond(
    ctx: Context,
    s: int,
    ch: int,
    campaign: Campaign,
    t: float,
    idx: np.ndarray,
    u_open: np.ndarray,
    u_exit: np.ndarray,
) -> None:
    """Effects of a seen message on members ``idx``, given their open and exit uniforms."""
    st, members, beh = ctx.state, ctx.state.members, ctx.scenario.behaviour
    channel = getattr(ctx.scenario.channels, campaign.channel)
    r = relevance(ctx, campaign, idx)
    # Boolean-mask indexing is several times slower than compress / take at these sizes.
    sens = members.sensitivity.take(idx)
    tol = members.tolerance.take(idx)

    # Pressure: decay to now, add this message, then judge against tolerance.
    added = fatigue.increment(channel.intrusiveness, r, sens)
    st.add_pressure(s, ch, idx, added, t)
    on_channel = st.channel_pressure_now(s, ch, idx, t)
    total = st.total_pressure_now(s, idx, t)
    excess_ch = fatigue.excess(fatigue.felt(on_channel, total, beh.fatigue.cross_channel), tol)
    excess_all = fatigue.excess(total, tol)

    delta = st.satisfaction_delta(s, idx)
    p_open = response.open_probability(channel, beh, r, sens, excess_ch)
    opened = u_open < p_open
    # Given an open, u_open / p_open is again uniform on (0, 1): it decides the click.
    p_click = response.click_probability(channel, beh, r, sens, excess_ch)
    clicked = opened & (u_open < p_open * p_click)
    hazard = response.exit_multiplier(beh, r, sens, excess_ch, delta)
    exits = u_exit < response.exit_probability(channel, hazard)
    complaints = u_exit < response.complaint_probability(channel, hazard)

    tally = ctx.tally.channel
    tally["opens"][s, ch] += np.count_nonzero(opened)
    tally["clicks"][s, ch] += np.count_nonzero(clicked)
    tally["exits"][s, ch] += np.count_nonzero(exits)
    tally["complaints"][s, ch] += np.count_nonzero(complaints)
    ctx.tally.weekly["exits"][s, ctx.week(t)] += np.count_nonzero(exits)
    st.exited[s, ch, np.compress(exits, idx)] = True
    if ch == EMAIL:
        ctx.complaints[s].add(int(t), idx.size, int(np.count_nonzero(complaints)))

    st.add_to_drivers(
        s,
        idx,
        {
            sat.TIME_EFFORT: sat.time_effort_change(
                excess_all, beh.satisfaction.time_effort_per_excess
            ),
            sat.PERSONALISATION: sat.personalisation_change(
                r, sens, beh.satisfaction.personalisation_per_message
            ),
        },
    )

    # An opened message lifts the short-term purchase rate, in proportion to its relevance.
    who = np.compress(opened, idx)
    r = r if np.isscalar(r) else np.compress(opened, r)
    gain = (beh.lift.on_open + beh.lift.on_click * np.compress(opened, clicked)) * 2 * r
    if campaign.offer is not None:
        gain = gain + beh.lift.offer * 2 * r
    st.set_lift(s, who, np.minimum(st.lift_of(s, who) + gain, beh.lift.cap))
    st.last_open[s][who] = t
    _activate_offer(ctx, s, campaign, t, who)


def _activate_offer(ctx: Context, s: int, campaign: Campaign, t: float, who: np.ndarray) -> None:
    """Members who opened the message hold its offer until it runs out."""
    offer, st = campaign.offer, ctx.state
    if offer is None or who.size == 0:
        return
    until = t + offer.days
    # A new offer never worsens one the member already holds: keep the better and the later.
    if isinstance(offer, MultiplierOffer):
        multiplier = offer.multiplier
        if offer.category is not None:  # the extra points apply to the category's spend
            multiplier = 1.0 + (multiplier - 1.0) * category_share(ctx, offer.category, who)
        held = np.where(st.multiplier_until[s, who] >= t, st.multiplier[s, who], 1.0)
        st.multiplier[s, who] = np.maximum(held, multiplier)
        st.multiplier_until[s, who] = np.maximum(st.multiplier_until[s, who], until)
    elif isinstance(offer, BonusOffer):
        held = np.where(st.bonus_until[s, who] >= t, st.bonus[s, who], 0)
        st.bonus[s, who] = np.maximum(held, offer.points)
        st.bonus_until[s, who] = np.maximum(st.bonus_until[s, who], until)
    elif isinstance(offer, DiscountOffer):
        held = np.where(st.discount_until[s, who] >= t, st.discount[s, who], 0.0)
        st.discount[s, who] = np.maximum(held, offer.percent / 100.0)
        st.discount_until[s, who] = np.maximum(st.discount_until[s, who], until)
    elif isinstance(offer, SpendTargetOffer):
        st.program.offer_target(s, who, offer, t)
