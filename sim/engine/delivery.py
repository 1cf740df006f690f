"""What a delivered message does: inbox placement (email) -> pressure -> open, click, exit,
complaint -> satisfaction drivers, purchase lift, offers. Who receives it is decided before,
in ``sim.engine.dispatch``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sim.engine.context import EMAIL, Context
from sim.model import consent, engagement, fatigue, lapse, lift, response
from sim.model import satisfaction as sat
from sim.spec.fields import CHANNELS
from sim.spec.strategy import (
    BonusOffer,
    DiscountOffer,
    Message,
    MultiplierOffer,
    SpendTargetOffer,
)

# The offer lift of a message without an offer.
_NO_GAIN = np.empty(0)


def category_share(ctx: Context, category: str, idx: np.ndarray) -> np.ndarray:
    """Share of members idx's spend in ``category`` (``preferred``: their largest)."""
    preference = ctx.state.members.preference
    if category == "preferred":
        return preference[:, idx].max(axis=0)
    return preference[list(ctx.scenario.population.categories).index(category)].take(idx)


def relevance(ctx: Context, message: Message, idx: np.ndarray) -> float | np.ndarray:
    """Relevance of the message to members idx: the message's, or for a category offer the
    message's scaled by the member's share of spend in the category against the typical
    share (1 / number of categories), capped at 1."""
    category = getattr(message.offer, "category", None)
    if category is None:
        return message.relevance
    typical = 1.0 / len(ctx.scenario.population.categories)
    share = category_share(ctx, category, idx)
    return np.minimum(message.relevance * share / typical, 1.0)


def send(
    ctx: Context, s: int, name: str, message: Message, ch: int, t: float, idx: np.ndarray
) -> None:
    """Deliver ``message`` (campaign or journey step ``name``) on channel ``ch`` at time t
    (days) to members idx (sorted, unique, reachable and admitted by the contact rules) under
    strategy s."""
    channel = getattr(ctx.scenario.channels, CHANNELS[ch])
    # Each recipient's uniforms for opening, exits and (email) placement: the same for every
    # strategy sending at this minute.
    u = ctx.message_uniforms(s, ch, t, idx)
    ctx.tally.channel["sends"][s, ch] += idx.size
    ctx.tally.weekly["sends"][s, ctx.week(t)] += idx.size
    ctx.tally.total["message_cost"][s] += idx.size * channel.cost
    starting_cost = np.count_nonzero(idx < ctx.scenario.population.size) * channel.cost
    ctx.tally.total["clv_margin"][s] -= starting_cost * ctx.discount(t)
    if ctx.in_window(t):
        ctx.tally.total["window_cost"][s] += starting_cost
    observed = ctx.levers[s].observations
    if observed is not None:
        observed.add("sends", ch, idx)

    sent = idx
    delivered = None
    # Emails placed in spam are sent but never seen; at a placement of 1 every uniform is
    # below it, so there is nothing to take out (the usual case: a copy of every row saved).
    if ch == EMAIL and ctx.placement[s] < 1.0:
        delivered = u[2] < ctx.placement[s]
        idx, u = idx.compress(delivered), u.compress(delivered, axis=1)
    ctx.tally.channel["inbox"][s, ch] += idx.size
    responses = None
    if idx.size:
        responses = _respond(ctx, s, ch, message, t, idx, u[0], u[1])
    if ctx.send_sink is not None:
        _log_send(ctx, s, name, message, ch, t, sent, delivered, responses)


def _log_send(
    ctx: Context,
    s: int,
    name: str,
    message: Message,
    ch: int,
    t: float,
    sent: np.ndarray,
    delivered: np.ndarray | None,
    responses: tuple[np.ndarray, ...] | None,
) -> None:
    """Hand the send sink one row per member sent to: the responses of ``_respond``, drawn for
    the members the message reached (``delivered``, a mask over ``sent``; None: all of them),
    spread over every member sent to, False where it was not seen."""
    assert ctx.send_sink is not None
    seen = np.ones(sent.size, dtype=bool) if delivered is None else delivered
    outcomes = np.zeros((4, sent.size), dtype=bool)
    if responses is not None:
        outcomes[:, seen] = responses
    r = np.broadcast_to(np.asarray(relevance(ctx, message, sent), dtype=np.float64), sent.shape)
    ctx.send_sink.sends(s, t, ch, name, sent, r, seen, *outcomes)


def _respond(
    ctx: Context,
    s: int,
    ch: int,
    message: Message,
    t: float,
    idx: np.ndarray,
    u_open: np.ndarray,
    u_exit: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Effects of a seen message on members ``idx``, given their open and exit uniforms; the
    masks over idx of who opened, clicked, exited and complained."""
    st, members, beh = ctx.state, ctx.state.members, ctx.scenario.behaviour
    channel = getattr(ctx.scenario.channels, CHANNELS[ch])
    r = relevance(ctx, message, idx)
    # Boolean-mask indexing is several times slower than compress / take at these sizes.
    sens = members.sensitivity.take(idx)

    # Pressure: decay to now, add this message, then judge against tolerance.
    added = fatigue.increment(channel.intrusiveness, r, sens)
    excess_ch, excess_all = st.add_pressure(s, ch, idx, added, t, beh.fatigue.cross_channel)

    delta = st.satisfaction_delta(s, idx)
    shift_open, shift_click = _engagement_shifts(ctx, ch, idx)
    p_open = response.open_probability(channel, beh, r, sens, excess_ch, shift_open)
    opened = u_open < p_open
    # Given an open, u_open / p_open is again uniform on (0, 1): it decides the click.
    p_click = response.click_probability(channel, beh, r, sens, excess_ch, shift_click)
    clicked = opened & (u_open < p_open * p_click)
    hazard = response.exit_multiplier(beh, r, sens, excess_ch, delta)
    # Times the multiplier of the band of the member's index, when levels act on exits.
    level = None if ctx.level_exit is None else (members.satisfaction0, idx, delta, ctx.level_exit)
    hazard, exits, complaints = response.exits_and_complaints(channel, hazard, u_exit, level)

    tally = ctx.tally.channel
    tally["opens"][s, ch] += np.count_nonzero(opened)
    tally["clicks"][s, ch] += np.count_nonzero(clicked)
    tally["exits"][s, ch] += np.count_nonzero(exits)
    tally["complaints"][s, ch] += np.count_nonzero(complaints)
    ctx.tally.weekly["exits"][s, ctx.week(t)] += np.count_nonzero(exits)
    st.exited[s, ch, idx.compress(exits)] = True
    if st.complained is not None:  # a complaint holds back a later opt-in to email
        st.complained[s, idx.compress(complaints)] = True
    observed = ctx.levers[s].observations
    if observed is not None:
        observed.add("opens", ch, idx.compress(opened))
        observed.add("clicks", ch, idx.compress(clicked))
        observed.opted_out[ch, idx.compress(exits)] = t
    if ch == EMAIL:
        ctx.complaints[s].add(int(t), idx.size, int(np.count_nonzero(complaints)))
    if st.lapsed_under is not None:  # messages act on lapse (behaviour.lapse)
        # The exit uniform's upper tail: 1 - u is uniform too, so no extra draw per member,
        # and lapse changes only on messages that ended in no exit (unless the two
        # probabilities sum past 1): two rare outcomes of one message made disjoint.
        _lapse(ctx, s, idx, r, opened, clicked, hazard, 1.0 - u_exit)
        if ctx.in_window(t):
            _lapse_intensity(ctx, s, idx, r, p_open, p_click, hazard)

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

    if st.conversion is not None:  # a click's own purchases, whatever the member's rate
        at = r if np.isscalar(r) else r.compress(clicked)
        q, h = beh.lift.conversion_per_click, beh.lift.half_life_days
        st.add_conversion(s, idx.compress(clicked), lift.conversion_rate(q, at, h))
    # An opened message lifts the short-term purchase rate, in proportion to its relevance.
    who = idx.compress(opened)
    # The offer's lift as NumPy computes it: float32 where a category's relevance is float32.
    offer = _NO_GAIN if message.offer is None else np.atleast_1d(beh.lift.offer * 2 * r)
    _opened(
        st.lift[s], st.lift_max, st.last_open[s], idx, opened, clicked,
        np.atleast_1d(np.asarray(r, dtype=np.float64)), beh.lift.on_open, beh.lift.on_click,
        offer, beh.lift.cap, st.lift_clock.factor(st.today), t,
    )  # fmt: skip
    _activate_offer(ctx, s, message, t, who)
    if message.repermission is not None:
        _request_consent(ctx, s, ch, message, t, who)
    return opened, clicked, exits, complaints


@njit(cache=True)
def _opened(  # type: ignore[no-untyped-def]
    lift, lift_max, last_open, idx, opened, clicked, r, on_open, on_click, offer, cap, factor, t
):
    """The lift of a message on the members of idx who opened it, in one pass, as NumPy
    computes it: (on_open + on_click * clicked) * 2r, plus an offer's lift (``offer``: empty
    without an offer, else one value or one per member of idx), added to the member's lift
    today (the stored ``lift`` at the lift clock's ``factor``, float32) in float64, capped at
    ``cap``, stored back at the clock (float32, keeping ``lift_max`` a bound); the message's
    time t becomes the member's last open. ``r``: the relevance, one value or one per member
    of idx."""
    one, one_offer = r.size == 1, offer.size == 1
    for k in range(idx.size):
        if not opened[k]:
            continue
        i = idx[k]
        gain = (on_open + on_click * np.float64(clicked[k])) * 2 * r[0 if one else k]
        if offer.size:
            gain = gain + np.float64(offer[0 if one_offer else k])
        value = np.float64(lift[i] * factor) + gain
        value = value if value < cap else cap
        stored = np.float32(value / np.float64(factor))
        lift[i] = stored
        lift_max[i] = lift_max[i] if lift_max[i] > stored else stored
        last_open[i] = t


def _request_consent(
    ctx: Context, s: int, ch: int, message: Message, t: float, who: np.ndarray
) -> None:
    """Members who opened a message asking for consent on another channel, and are not
    reachable on it, opt in with the request's conversion probability."""
    st, request = ctx.state, message.repermission
    assert request is not None
    target = CHANNELS.index(request.channel)
    asked = who.compress(~st.reachable_among(s, target, who))
    if asked.size == 0:
        return
    u = ctx.request_uniforms(s, ch, t, asked)
    complained = st.complained_among(s, asked) if target == EMAIL else None
    p = consent.grant_probability(
        request.conversion, complained, ctx.scenario.behaviour.consent.after_complaint
    )
    ctx.grant_consent(s, target, t, asked.compress(consent.granted(u, p)))


def _lapse(
    ctx: Context,
    s: int,
    idx: np.ndarray,
    r: float | np.ndarray,
    opened: np.ndarray,
    clicked: np.ndarray,
    hazard: np.ndarray,
    u: np.ndarray,
) -> None:
    """Win-back and contact lapse under strategy s from one message seen by members idx. One
    uniform per member serves both: a lapsed member can only be revived, an active one can
    only lapse (each judged by its state before this message)."""
    st, params = ctx.state, ctx.scenario.behaviour.lapse
    assert st.lapsed_under is not None
    revived, lapsing = lapse.judged(
        st.lapsed_under[s], idx, r, opened, clicked, hazard, u,
        params.winback_per_open, params.winback_per_click, params.contact_hazard,
    )  # fmt: skip
    revived, lapsing = idx.take(revived), idx.take(lapsing)
    st.revive(s, revived)
    st.contact_lapse(s, lapsing)
    ctx.tally.total["winbacks"][s] += revived.size
    ctx.tally.total["contact_lapses"][s] += lapsing.size


def _lapse_intensity(
    ctx: Context,
    s: int,
    idx: np.ndarray,
    r: float | np.ndarray,
    p_open: np.ndarray,
    p_click: np.ndarray,
    hazard: np.ndarray,
) -> None:
    """In the final window, add to each starting member's expected win-backs (were it
    lapsed) and contact lapses (were it active) the chances this message gives it: the rates
    the terminal value continues after the horizon, member by member."""
    params, size = ctx.scenario.behaviour.lapse, ctx.scenario.population.size
    k = int(np.searchsorted(idx, size))  # idx is sorted: the starting members come first
    if k < idx.size:
        idx, r = idx[:k], r if np.ndim(r) == 0 else r[:k]
        p_open, p_click, hazard = p_open[:k], p_click[:k], hazard[:k]
    no_click, click = (
        lapse.winback_probability(r, c, params.winback_per_open, params.winback_per_click)
        for c in (False, True)
    )
    winback = p_open * (no_click + p_click * (click - no_click))
    ctx.window_lapse[0, s, idx] += winback
    ctx.window_lapse[1, s, idx] += lapse.contact_lapse_probability(hazard, params.contact_hazard)


def _engagement_shifts(
    ctx: Context, ch: int, idx: np.ndarray
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """What members idx's engagement adds to the open and click-to-open logits on channel ch
    (None for a slope of 0), centred so the population's mean responses stay the base rates."""
    spec = ctx.scenario.behaviour.engagement
    if not spec.on:
        return None, None
    channel = getattr(ctx.scenario.channels, CHANNELS[ch])
    open_offset = engagement.open_offset(channel.open, spec.open_slope) if spec.open_slope else 0.0
    click_offset = 0.0
    if spec.click_slope:
        click_offset = engagement.click_offset(
            channel.open, channel.click, spec.open_slope, spec.click_slope
        )
    shift_open, shift_click = engagement.logit_shifts(
        ctx.state.members.engagement, idx, (spec.open_slope, open_offset),
        (spec.click_slope, click_offset),
    )  # fmt: skip
    if not spec.open_slope:
        shift_open = None
    if not spec.click_slope:
        shift_click = None
    return shift_open, shift_click


def _activate_offer(ctx: Context, s: int, message: Message, t: float, who: np.ndarray) -> None:
    """Members who opened the message hold its offer until it runs out."""
    offer, st = message.offer, ctx.state
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
