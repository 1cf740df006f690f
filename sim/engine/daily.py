"""One day of member behaviour for every strategy at once: decay, purchases, points, leaving,
expiry, lapse. Runs at the start of each day; that day's sends come after it.

Most members do nothing on a given day, so after a few passes over all members the work is
done on the sparse sets of buyers, possible leavers and expiring balances.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sim.engine import philox
from sim.engine.context import EMAIL, Context
from sim.engine.rng import CONSENT, DROPOUT, PURCHASE, SPEND
from sim.engine.summation import total
from sim.model import points, pull_forward, purchase, terminal
from sim.model import satisfaction as sat
from sim.spec.fields import CHANNELS

_NO_PURCHASES = np.ones(0, dtype=np.int32)


def day(ctx: Context, d: int) -> None:
    st, members, beh = ctx.state, ctx.state.members, ctx.scenario.behaviour
    n = members.joined_by(d)
    st.start_day(d)
    for levers in ctx.levers:
        if levers.observations is not None:
            levers.observations.start_day(d)
    ctx.update_reputation(d)
    ctx.window_day(d)

    # The draw every strategy shares: one uniform per member for purchases. The spend,
    # dropout and consent uniforms are drawn for the buyers only (sim.engine.rng).
    # Every strategy's rate is at most rate_bound * (1 + lift bound), so only members whose
    # uniform leaves the zero class at that bound can buy under any strategy: the rest of
    # the work is done on these candidates (_candidates), whose uniforms alone are kept. The
    # candidates may include members who buy nowhere, never leave out one who buys.
    weight = _row(st.lift_weight, np.float32)
    cand, u_cand = _candidates(
        ctx.streams.member_key, d, st.rate_bound[:n], st.lift_max[:n], st.lift_clock.factor(d),
        weight, st.conversion_max,
    )  # fmt: skip
    rate = st.rate[cand]

    # BG/NBD lapse runs on the baseline purchases, so it is the same for every strategy
    # where the member is active.
    buyers, base = purchase.poisson_quantile(u_cand, rate)
    last = _dropout(ctx, d, cand[buyers])
    lapsing = base >= last
    limit = np.full(cand.size, purchase.MAX_PURCHASES_PER_DAY, dtype=np.int32)
    limit[buyers[lapsing]] = last[lapsing].astype(np.int32)
    if ctx.sink is not None:
        ctx.sink.baseline(d, cand.take(buyers), np.minimum(base, last).astype(np.int64))
    if ctx.in_window(d):
        _baseline_margin(ctx, d, cand.take(buyers), np.minimum(base, limit.take(buyers)))

    # Leaving: only members whose uniform lies under the largest possible leave probability
    # can leave, so only theirs are drawn: how many (binomial), which (a random subset) and
    # their uniforms (uniform under that probability), the same law as one uniform per member.
    leave_max = ctx.leave_max
    leave = ctx.streams.leave
    may_leave = _subset(leave, n, leave.binomial(n, leave_max))
    u_leave = leave_max * leave.random(may_leave.size)

    slope = beh.satisfaction.purchase_slope
    pulled = beh.lift.pull_forward  # share of lift-driven purchases repaid later (0: off)
    # The share of a debt due each day (pull_forward.due of a debt of 1).
    due = pull_forward.due(np.float32(1.0), beh.lift.pull_forward_half_life_days)
    for s in range(len(ctx.strategies)):
        _expire_lots(ctx, s, d)
        _missed_targets(ctx, s, d)
        downgraded = st.program.start_day(s, d, st.left[s])
        ctx.tally.total["tier_downgrades"][s] += downgraded.size
        ctx.event(s, "tier_down", d, downgraded)
        mult = sat.purchase_multiplier(st.satisfaction_delta(s, cand), slope)
        reward = st.program.rate_multiplier(s, cand, st.balance[s].take(cand), d)
        mean, plain, full, boost, owed, out = _means(
            cand, rate, mult, reward, st.lift[s], st.lift_clock.factor(d), weight, st.left[s],
            _row(st.lapsed_under, np.bool_, s), _row(st.conversion, np.float32, s),
            _row(st.debt if pulled else None, np.float32, s), st.debt_clock.factor(d), due,
        )  # fmt: skip
        pos, counts = _bought(u_cand, mean, out, limit)
        _purchases(ctx, s, d, cand.take(pos), counts)
        if pulled:
            # The purchases the lift adds today, against the same uniforms at the mean without
            # lift (lowered by the same due), each a debt of ``pull_forward`` purchases. The
            # lift only adds, so only today's buyers (positions pos) can buy without it.
            unlifted = _unlifted(pos, full, boost, owed)
            at, fewer = _bought(u_cand.take(pos), unlifted, out.take(pos), limit.take(pos))
            _add_debts(
                st.debt[s], cand.take(pos), counts, at, fewer, pulled, st.debt_clock.factor(d)
            )
        if beh.consent.recaptures:
            _recapture(ctx, s, d, cand.take(pos))
        # Purchases the reward mechanics add (or, in a post-reward dip, take away), with the
        # same uniforms: the points-driven revenue.
        pos_plain, counts_plain = _bought(u_cand, plain, out, limit)
        _points_driven(ctx, s, d, cand, (pos, counts), (pos_plain, counts_plain))
        _leave(ctx, s, d, may_leave, u_leave)
        _expire(ctx, s, d, n)
        journeys = ctx.levers[s].journeys
        if journeys is not None:
            journeys.fire_day_triggers(st, s, d, ctx.scenario.population.size)
    st.lapse(cand[buyers[lapsing]])


def _subset(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """k of 0..n-1 drawn at random without replacement, in increasing order."""
    chosen = rng.choice(n, k, replace=False)
    if k < n // 32:  # a few: sorting them costs less than a pass over all n
        return np.sort(chosen)
    # Many (a steep leave slope makes nearly every member a candidate): marking them and
    # reading the marks back in order is linear, where the sort was n log n.
    marked = np.zeros(n, dtype=np.bool_)
    marked[chosen] = True
    return marked.nonzero()[0]


def _row(array: np.ndarray | None, dtype: type, s: int | None = None) -> np.ndarray:
    """Strategy s's row of an optional per-member array (the array itself without s), or an
    empty array where the mechanism is off: the compiled loops read size 0 as off."""
    if array is None:
        return np.empty(0, dtype=dtype)
    return array if s is None else array[s]


@njit(cache=True)
def _means(  # type: ignore[no-untyped-def]
    cand, rate, mult, reward, lift, lift_factor, weight, left, lapsed, conversion, debt,
    debt_factor, due,
):  # fmt: skip
    """Each candidate's purchase means of the day under one strategy, in one pass, float32
    as NumPy computes them: ``mult`` (the satisfaction multiplier) times 1 + lift (the
    strategy's stored lift at ``lift_factor``, times the member's ``weight`` where lift is
    weighted), times ``rate`` gives the mean without the reward mechanics, and times
    ``reward`` (their multiplier) too the full mean; clicks' purchases (``conversion``, on the
    lift's clock) add to both, and the day's due on a purchase debt (``debt`` at
    ``debt_factor`` times ``due``, pull_forward.due) comes off both (pull_forward.lowered).
    Returns (mean, mean without the reward mechanics, full mean before conversion and
    debt, 1 + lift, the due, out: left or lapsed under the strategy). ``weight``,
    ``lapsed``, ``conversion`` and ``debt`` are empty where their mechanism is off."""
    n = cand.size
    mean, plain = np.empty(n, np.float32), np.empty(n, np.float32)
    full, boost = np.empty(n, np.float32), np.empty(n, np.float32)
    owed, out = np.zeros(n, np.float32), np.empty(n, np.bool_)
    zero = np.float32(0.0)
    for k in range(n):
        i = cand[k]
        up = lift[i] * lift_factor
        if weight.size:
            up = up * weight[i]
        boost[k] = np.float32(1.0) + up
        m = mult[k] * boost[k]
        p = rate[k] * m
        m = m * reward[k]
        f = rate[k] * m
        full[k] = f
        out[k] = left[i] or (lapsed.size > 0 and lapsed[i])
        if conversion.size:
            c = conversion[i] * lift_factor
            f, p = f + c, p + c
        if debt.size:
            w = debt[i] * debt_factor * due
            owed[k] = w
            f, p = f - w, p - w
            f = f if f > zero else zero
            p = p if p > zero else zero
        mean[k], plain[k] = f, p
    return mean, plain, full, boost, owed, out


@njit(cache=True)
def _unlifted(pos, full, boost, owed):  # type: ignore[no-untyped-def]
    """The full means of candidates pos without the lift (divided by 1 + lift), less the
    same due (pull_forward.lowered), float32."""
    out = np.empty(pos.size, np.float32)
    zero = np.float32(0.0)
    for k in range(pos.size):
        j = pos[k]
        v = full[j] / boost[j] - owed[j]
        out[k] = v if v > zero else zero
    return out


@njit(cache=True)
def _past_zero(u, zero, out, mean):  # type: ignore[no-untyped-def]
    """Positions whose uniform u leaves the Poisson zero class (u >= P(0), ``zero``) and
    who are not ``out``, with their means in float64 (purchase.poisson_quantile's first
    step)."""
    keep = np.empty(u.size, np.int64)
    n = 0
    for k in range(u.size):
        if u[k] >= zero[k] and not out[k]:
            keep[n] = k
            n += 1
    pos = keep[:n].copy()
    m = np.empty(n)
    for k in range(n):
        m[k] = np.float64(mean[pos[k]])
    return pos, m


@njit(cache=True)
def _candidates(  # type: ignore[no-untyped-def]
    key, d, rate_bound, lift_max, factor, weight, conversion_max
):
    """Members j (below rate_bound.size) whose purchase uniform of day d can leave the zero
    class at b, the bound over strategies of the purchase mean, with a margin: rate_bound
    (1 + lift) + conversion, the lift the largest over strategies (lift_max at the lift
    clock's ``factor``, times the member's ``weight`` unless that is empty: the lift then
    multiplies the rate) and conversion the largest clicks' purchases (``conversion_max``,
    empty where clicks' purchases are off); and
    their uniforms. The test is against 1 - b + b^2/2 - b^3/6, below exp(-b) for b >= 0, so
    it keeps every member above exp(-b) and a few (about b^4/24 of members) in every
    strategy's zero class, who buy nowhere. It needs no exp, so the pass over every member is
    vectorised; only the candidates' uniforms are kept."""
    keep = np.empty(rate_bound.size, dtype=np.bool_)
    for j in range(rate_bound.size):
        lift = lift_max[j] * factor
        if weight.size:
            lift = lift * weight[j]
        bound = rate_bound[j] * (1 + lift)
        if conversion_max.size:
            bound = bound + conversion_max[j] * factor
        b = bound * 1.0001 + 1e-6  # the margin covers float32 rounding of the bound
        keep[j] = philox.first(key, PURCHASE, d, 0, j) >= 1.0 - b * (1.0 - b * (0.5 - b / 6.0))
    members = keep.nonzero()[0]
    u = np.empty(members.size)
    for k in range(members.size):
        u[k] = philox.first(key, PURCHASE, d, 0, members[k])
    return members, u


def _dropout(ctx: Context, d: int, who: np.ndarray) -> np.ndarray:
    """J, the purchase after which each of the baseline buyers ``who`` drops out, from the
    member's dropout uniform of the day (members lapsed at baseline buy only where a message
    revived them; theirs is drawn alike, so no draw depends on which strategies run)."""
    u = ctx.streams.uniforms(DROPOUT, d, who)[0]
    return purchase.dropout_after(u, ctx.state.members.dropout.take(who))


def _bought(
    u: np.ndarray, mean: np.ndarray, out: np.ndarray, limit: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Positions among the candidates of members who buy, and their purchase counts: the
    Poisson draw (purchase.poisson_quantile, with NumPy's exponentials), less members ``out``
    (left, or lapsed under the strategy), capped where the member lapses today."""
    pos, m = _past_zero(u, np.exp(-mean), out, mean)
    if pos.size == 0:
        return pos, _NO_PURCHASES
    return pos, np.minimum(purchase._counts(u, pos, m, np.exp(-m)), limit.take(pos))


def _purchases(ctx: Context, s: int, d: int, idx: np.ndarray, counts: np.ndarray) -> None:
    st, sc = ctx.state, ctx.scenario
    program, tally, prog, members = sc.program, ctx.tally.total, st.program, st.members
    # Offer state is only read for strategies that make such offers: most make none.
    offers = ctx.offer_kinds[s]
    tier = prog.earn_multiplier(s, idx, d)  # the member's status: 1.0, or one per member
    # Purchases on day d come before that day's sends: they credit opens of the days before.
    gross, net, earned, offer_points, attributed = _priced(
        ctx.streams.member_key, d, idx, counts, members.spend_mean, members.spend_table,
        members.segment, "discount" in offers, st.discount_until[s], st.discount[s],
        st.last_open[s], np.float32(sc.economics.attribution_window_days),
        program.points_per_currency, np.atleast_1d(tier), "points_multiplier" in offers,
        st.multiplier_until[s], st.multiplier[s],
    )  # fmt: skip
    if offer_points:
        tally["offer_points"][s] += offer_points
    if "bonus_points" in offers:
        bonus = np.where(st.bonus_until[s].take(idx) >= d, st.bonus[s].take(idx), 0)
        tally["offer_points"][s] += bonus.sum()
        earned += bonus
        st.bonus[s][idx] = 0
    if "spend_target" in offers:
        reached, bonus = prog.target_progress(s, idx, net, d)
        earned[np.searchsorted(idx, reached)] += bonus
        tally["offer_points"][s] += bonus.sum()
        st.add_to_drivers(s, reached, {sat.EXPECTATIONS: sc.behaviour.satisfaction.offer_met})
        tally["offers_met"][s] += reached.size
    prog.earned(s, idx, earned, net, d)
    qualifying = net if program.tiers is None or program.tiers.qualify_on == "spend" else earned
    upgraded = prog.qualify(s, idx, qualifying, d)
    tally["tier_upgrades"][s] += upgraded.size
    ctx.event(s, "tier_up", d, upgraded)
    ctx.event(s, "purchased", d, idx)
    if ctx.sink is not None:
        ctx.sink.purchases(s, d, idx, counts, net)

    redeemed, money, counted = _settled(
        idx, counts, gross, net, earned, attributed, st.balance[s], st.last_activity[s], d,
        program.redemption_threshold, sc.economics.gross_margin, program.point_value,
        sc.population.size, _row(ctx.control, np.bool_),
    )  # fmt: skip
    rewarded = redeemed.nonzero()[0]
    if rewarded.size:
        prog.redeemed(s, idx.take(rewarded), redeemed.take(rewarded), d)
        ctx.event(s, "reward", d, idx.take(rewarded))
        lift = sc.behaviour.satisfaction.redemption_lift
        st.add_to_drivers(s, idx.take(rewarded), {sat.REWARD: lift})

    revenue, control_revenue, net_attributed, discount_cost, gross_margin, starting_margin = money
    bought, issued, redeemed_points = counted
    tally["purchases"][s] += bought
    tally["revenue"][s] += revenue
    if ctx.control is not None:
        tally["control_revenue"][s] += control_revenue
    tally["attributed_revenue"][s] += net_attributed
    tally["discount_cost"][s] += discount_cost
    # Points are a cost when earned (the liability accrues), not when redeemed.
    tally["reward_cost"][s] += redeemed_points * program.point_value
    tally["gross_margin"][s] += gross_margin
    tally["clv_margin"][s] += starting_margin * ctx.discount(d)
    if ctx.in_window(d):
        tally["window_margin"][s] += starting_margin
    tally["points_issued"][s] += issued
    tally["points_redeemed"][s] += redeemed_points
    week = ctx.week(d)
    ctx.tally.weekly["purchases"][s, week] += bought
    ctx.tally.weekly["revenue"][s, week] += revenue
    ctx.tally.weekly["attributed_revenue"][s, week] += net_attributed


@njit(inline="always")
def _basket(key, d, i, count, spend_mean, tables, segment):  # type: ignore[no-untyped-def]
    """purchase.spend of ``count`` purchases of member i on day d, from its spend uniform:
    count times its mean spend times its segment's quantile table at the uniform, float64."""
    cells = tables.shape[1]
    cell = min(np.int64(philox.first(key, SPEND, d, 0, i) * cells), cells - 1)
    return np.float64(count) * np.float64(spend_mean[i]) * np.float64(tables[segment[i], cell])


@njit(cache=True)
def _priced(  # type: ignore[no-untyped-def]
    key, d, idx, counts, spend_mean, tables, segment, discounting, discount_until, discount,
    last_open, window, per_currency, tier, multiplying, multiplier_until, multiplier,
):  # fmt: skip
    """The purchases of members idx (sorted, unique; ``counts`` each) on day d, in one pass:
    each member's basket of the day (purchase.spend, from its spend uniform), the price paid
    net of a held discount, the points earned (points.earned at the status multiplier
    ``tier``, one value or one per member, times a held points multiplier), the points the
    multiplier added in total, and whether an open in the attribution window precedes the
    purchase. In the types NumPy's expressions in those functions compute them."""
    n = idx.size
    gross, net = np.empty(n), np.empty(n)
    earned = np.empty(n, dtype=np.int64)
    attributed = np.empty(n, dtype=np.bool_)
    one_tier = tier.size == 1
    added = 0
    day32 = np.float32(d)
    for k in range(n):
        i = idx[k]
        g = _basket(key, d, i, counts[k], spend_mean, tables, segment)
        p = g
        if discounting and discount_until[i] >= day32:
            p = g * np.float64(np.float32(1.0) - discount[i])
        gross[k], net[k] = g, p
        status = tier[0] if one_tier else tier[k]
        base = np.int64(np.rint(p * per_currency * status))
        earned[k] = base
        if multiplying:
            m = multiplier[i] if multiplier_until[i] >= day32 else np.float32(1.0)
            # NumPy multiplies a Python 1.0 by the float32 multiplier in float32 (the same
            # value) and an array of statuses in float64.
            earned[k] = np.int64(np.rint(p * per_currency * (np.float64(m) * status)))
            added += earned[k] - base
        attributed[k] = day32 - np.float32(np.floor(last_open[i])) <= window
    return gross, net, earned, added, attributed


@njit(cache=True)
def _settled(  # type: ignore[no-untyped-def]
    idx, counts, gross, net, earned, attributed, balance, last_activity, d, threshold,
    margin_rate, point_value, starting, control,
):  # fmt: skip
    """Points earned go onto the balances (``balance``, the strategy's, changed in place) and
    whole multiples of the redemption threshold are redeemed (points.redeemable); the members'
    last activity becomes day d. Returns the points redeemed per member and the day's totals,
    each summed as NumPy sums it: money (revenue, revenue of control members, attributed
    revenue, discount cost, gross margin, margin of starting members) and counts (purchases,
    points earned, points redeemed). ``control``: the control-group mask, empty without one."""
    n = idx.size
    redeemed = np.empty(n, dtype=np.int64)
    gross_margin, margin = np.empty(n), np.empty(n)
    of_control, of_attributed = np.empty(n), np.empty(n)
    discounts, of_starting = np.empty(n), np.empty(n)
    n_control = n_attributed = n_starting = 0
    bought = issued = spent = 0
    for k in range(n):
        i = idx[k]
        b = balance[i] + earned[k]
        r = (b // threshold) * threshold
        balance[i] = b - r
        last_activity[i] = d
        redeemed[k] = r
        g, p = gross[k], net[k]
        discounts[k] = g - p
        gross_margin[k] = g * margin_rate - (g - p)
        margin[k] = gross_margin[k] - earned[k] * point_value
        if control.size and control[i]:
            of_control[n_control] = p
            n_control += 1
        if attributed[k]:
            of_attributed[n_attributed] = p
            n_attributed += 1
        if i < starting:
            of_starting[n_starting] = margin[k]
            n_starting += 1
        bought += counts[k]
        issued += earned[k]
        spent += r
    money = np.array([
        total(net), total(of_control[:n_control]), total(of_attributed[:n_attributed]),
        total(discounts), total(gross_margin), total(of_starting[:n_starting]),
    ])  # fmt: skip
    return redeemed, money, (bought, issued, spent)


def _recapture(ctx: Context, s: int, d: int, buyers: np.ndarray) -> None:
    """Buyers (in the program) on day d who are not reachable on a channel opt in to it with
    the channel's probability per purchase day, each by its uniform of the day for that
    channel: the same under every strategy."""
    st, rules = ctx.state, ctx.scenario.behaviour.consent
    rates = np.array([getattr(rules.recapture_per_purchase, name) for name in CHANNELS])
    granted = _recaptured(
        ctx.streams.member_key, d, buyers, rates, st.left[s], st.consent[s], st.exited[s],
        _row(st.complained, np.bool_, s), rules.after_complaint,
    )  # fmt: skip
    for c in granted.any(axis=1).nonzero()[0]:
        ctx.grant_consent(s, int(c), d, buyers.compress(granted[c]))


@njit(cache=True)
def _recaptured(  # type: ignore[no-untyped-def]
    key, d, buyers, rates, left, consent, exited, complained, after_complaint
):
    """The opt-ins of ``_recapture`` in one pass over the buyers (consent.grant_probability
    and consent.granted, each channel's uniform row c of the day's CONSENT block): consent
    and exits of the strategy (channel, member) are updated in place; returns the mask
    (channel, buyer) of opt-ins. ``complained``: the strategy's spam complaints, empty where
    they are not kept."""
    granted = np.zeros((rates.size, buyers.size), dtype=np.bool_)
    for k in range(buyers.size):
        i = buyers[k]
        pair, drawn = (0.0, 0.0), -1  # rows 2b and 2b + 1 come from one block b: drawn once
        for c in range(rates.size):
            if rates[c] == 0 or (not left[i] and consent[c, i] and not exited[c, i]):
                continue
            p = rates[c]
            if c == EMAIL and complained.size and complained[i]:
                p = rates[c] * after_complaint
            if drawn != c // 2:
                pair, drawn = philox.pair(key, CONSENT, d, 0, i, c // 2), c // 2
            if pair[c % 2] < p:
                consent[c, i] = True
                exited[c, i] = False
                granted[c, k] = True
    return granted


def _baseline_margin(ctx: Context, d: int, idx: np.ndarray, counts: np.ndarray) -> None:
    """Margin of the day's baseline purchases (``counts``, members idx, sorted) of starting
    members, added for each strategy over those in its program and active under it: the
    denominator of the continuation ratio (clv_with_terminal)."""
    keep = (idx < ctx.scenario.population.size).nonzero()[0]
    idx, counts = idx.take(keep), counts.take(keep)
    sc = ctx.scenario
    per_currency = terminal.margin_per_currency(
        sc.economics.gross_margin, sc.program.points_per_currency, sc.program.point_value
    )
    members = ctx.state.members
    baskets = _spent(
        ctx.streams.member_key, d, idx, counts, members.spend_mean, members.spend_table,
        members.segment,
    )  # fmt: skip
    margin = baskets * per_currency
    st = ctx.state
    for s in range(len(ctx.strategies)):
        # Members lapsed under s are left out as the terminal value leaves them out (a member
        # lapsed at baseline can be a baseline buyer where another strategy revived it).
        active = ~st.left[s].take(idx) & ~st.lapsed_of(s).take(idx)
        ctx.tally.total["window_baseline"][s] += margin.compress(active).sum()


@njit(cache=True)
def _spent(key, d, idx, counts, spend_mean, tables, segment):  # type: ignore[no-untyped-def]
    """Gross spend of ``counts`` purchases of each member of idx on day d (_basket, from the
    member's spend uniform of the day: the same under every strategy), float64."""
    out = np.empty(idx.size)
    for k in range(idx.size):
        out[k] = _basket(key, d, idx[k], counts[k], spend_mean, tables, segment)
    return out


def _points_driven(
    ctx: Context,
    s: int,
    d: int,
    cand: np.ndarray,
    with_rewards: tuple[np.ndarray, np.ndarray],
    without: tuple[np.ndarray, np.ndarray],
) -> None:
    """Revenue of the purchases the reward mechanics add, net of those they remove, valued at
    each member's basket of the day (before any discount)."""
    members = ctx.state.members
    ctx.tally.total["points_driven_revenue"][s] += _driven(
        ctx.streams.member_key, d, cand, *with_rewards, *without, members.spend_mean,
        members.spend_table, members.segment,
    )  # fmt: skip


@njit(cache=True)
def _driven(  # type: ignore[no-untyped-def]
    key, d, cand, pos, counts, pos_other, counts_other, spend_mean, tables, segment
):
    """The purchases per candidate at positions pos (``counts``) less those at pos_other,
    each nonzero difference valued at the member's basket of the day (_basket), summed in
    the candidates' order as NumPy sums."""
    extra = np.zeros(cand.size, np.int64)
    for k in range(pos.size):  # positions are unique in each
        extra[pos[k]] = counts[k]
    for k in range(pos_other.size):
        extra[pos_other[k]] -= counts_other[k]
    values = np.empty(pos.size + pos_other.size)
    n = 0
    for j in range(cand.size):
        if extra[j] != 0:
            values[n] = _basket(key, d, cand[j], extra[j], spend_mean, tables, segment)
            n += 1
    return total(values[:n])


@njit(cache=True)
def _add_debts(debt, idx, counts, at, fewer, share, factor):  # type: ignore[no-untyped-def]
    """Pull-forward debt of the day's buyers idx, added in place to the strategy's stored
    ``debt`` (at the debt clock's ``factor``, as of today): ``share`` of each buyer's purchases the
    lift added, its ``counts`` less ``fewer`` at positions ``at`` (its purchases without
    the lift), added in float64 and stored as float32, as NumPy adds them."""
    extra = counts.astype(np.int64)
    for k in range(at.size):
        extra[at[k]] -= fewer[k]
    for k in range(idx.size):
        if extra[k] != 0:
            i = idx[k]
            debt[i] = np.float64(debt[i]) + share * np.float64(extra[k]) / np.float64(factor)


# Above this many candidates to leave, _leave narrows them to today's bound first.
_MANY_CANDIDATES = 256
# The bound is the probability at the extremes; this margin covers the rounding of probabilities
# computed in float32 (the satisfaction change is float32), which need not be monotone.
_MARGIN = 1.001


def _leave(ctx: Context, s: int, d: int, candidates: np.ndarray, u: np.ndarray) -> None:
    """Leaving the program is absorbing; the member's points are forfeited (expired)."""
    st, beh = ctx.state, ctx.scenario.behaviour
    delta = st.satisfaction_delta(s, candidates)
    if candidates.size > _MANY_CANDIDATES:
        # The day's draw bounds each probability by its value at a change of -100 points,
        # which a steep slope puts near 1, so nearly every member is a candidate. The
        # strategy's own extremes of today bound it far more tightly (the probability is
        # monotone in delta): only uniforms under that bound can mean leaving, so only
        # those candidates' probabilities are computed (the same ones, as NumPy computes
        # each element alike wherever it stands in the array).
        bound = ctx.leave_bound(np.array([delta.min(), delta.max()])) * _MARGIN
        near = (u < bound).nonzero()[0]
        candidates, u, delta = candidates.take(near), u.take(near), delta.take(near)
    hazard = ctx.leave_hazard(s, candidates, d, delta)
    p_leave = sat.leave_probability(delta, beh.leave_per_year, beh.satisfaction.leave_slope, hazard)
    idx = _leaving(candidates, u, p_leave, st.left[s])
    ctx.tally.total["leavers"][s] += idx.size
    _forfeit(ctx, s, d, idx)


@njit(cache=True)
def _leaving(candidates, u, p_leave, left):  # type: ignore[no-untyped-def]
    """The candidates still in the program whose uniform u lies under their probability of
    leaving, marked in ``left`` (the strategy's, in place)."""
    out = np.empty(candidates.size, np.int64)
    n = 0
    for k in range(candidates.size):
        i = candidates[k]
        if u[k] < p_leave[k] and not left[i]:
            left[i] = True
            out[n] = i
            n += 1
    return out[:n].copy()


def _expire(ctx: Context, s: int, d: int, n: int) -> None:
    """Inactivity expiry. Activity days are whole days, so a balance expires on exactly the
    day its last activity is ``days`` old; only those members are looked at."""
    st = ctx.state
    expiry = st.program.expiry[s]
    if expiry.kind != "inactivity":
        return
    last = st.last_activity[s, :n]
    idx = st.program.inactive_due(s, d, last, expiry.days)
    if idx.size == 0:  # most days
        return
    balance = st.balance[s].take(idx)
    idx = idx.compress(points.inactive_expiring(balance, last.take(idx), d, expiry.days))
    _forfeit(ctx, s, d, idx)
    st.add_to_drivers(s, idx, {sat.REWARD: -ctx.scenario.behaviour.satisfaction.expiry_drop})


def _expire_lots(ctx: Context, s: int, d: int) -> None:
    """Lot-based expiry: points whose lot reaches its end are forfeited."""
    st = ctx.state
    idx, lost = st.program.expire_lots(s, d)
    if idx.size == 0:
        return
    st.balance[s][idx] -= lost
    _book_expired(ctx, s, d, idx, lost)
    st.add_to_drivers(s, idx, {sat.REWARD: -ctx.scenario.behaviour.satisfaction.expiry_drop})


def _missed_targets(ctx: Context, s: int, d: int) -> None:
    """Spend targets that ended unreached disappoint: the expectations driver falls."""
    missed = ctx.state.program.missed_targets(s, d)
    if missed.size == 0:
        return
    drop = ctx.scenario.behaviour.satisfaction.offer_missed
    ctx.state.add_to_drivers(s, missed, {sat.EXPECTATIONS: -drop})
    ctx.tally.total["offers_missed"][s] += missed.size


def _forfeit(ctx: Context, s: int, d: int, idx: np.ndarray) -> None:
    """Expire the whole balance of members idx."""
    if idx.size == 0:  # nothing changes: the totals would add zeros
        return
    balance = ctx.state.balance[s].take(idx)
    ctx.state.program.forfeit(s, idx, balance)
    ctx.state.balance[s][idx] = 0
    _book_expired(ctx, s, d, idx, balance)


def _book_expired(ctx: Context, s: int, d: int, idx: np.ndarray, lost: np.ndarray) -> None:
    """Expired points: their cost, accrued when earned, returns as breakage."""
    ctx.tally.total["points_expired"][s] += lost.sum()
    starting = idx < ctx.scenario.population.size
    breakage = lost.compress(starting).sum() * ctx.scenario.program.point_value
    ctx.tally.total["clv_margin"][s] += breakage * ctx.discount(d)
    if ctx.in_window(d):
        ctx.tally.total["window_margin"][s] += breakage
