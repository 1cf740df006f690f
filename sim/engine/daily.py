"""One day of member behaviour for every strategy at once: decay, purchases, points, leaving,
expiry, lapse. Runs at the start of each day; that day's sends come after it.

Most members do nothing on a given day, so after a few passes over all members the work is
done on the sparse sets of buyers, possible leavers and expiring balances.
"""

from __future__ import annotations

import numpy as np

from sim.engine.context import Context
from sim.model import points, purchase
from sim.model import satisfaction as sat
from sim.model.reputation import inbox_placement


def day(ctx: Context, d: int) -> None:
    st, members, beh = ctx.state, ctx.state.members, ctx.scenario.behaviour
    n = members.joined_by(d)
    st.start_day(d)
    _reputation(ctx, d)

    # Draws every strategy shares: one uniform per member for purchases, spend and leaving.
    u_buy = ctx.streams.purchase.random(n)
    u_spend = ctx.streams.spend.random(n)
    u_leave = ctx.streams.leave.random(n)

    # Every strategy's rate is at most rate_bound * (1 + lift_max), so only members whose
    # uniform leaves the zero class at that bound can buy under any strategy: the rest of
    # the work is done on these candidates. The margin covers float32 rounding of the bound.
    bound = st.rate_bound[:n] * (1 + st.lift_bound(n))
    cand = np.flatnonzero(u_buy >= np.exp(-(bound * np.float32(1.0001) + np.float32(1e-6))))
    u_cand, rate = u_buy[cand], st.rate[cand]

    # BG/NBD lapse runs on the baseline purchases, so it is the same for every strategy.
    buyers, base = purchase.poisson_quantile(u_cand, rate)
    last = purchase.dropout_after(
        ctx.streams.dropout.random(buyers.size), members.dropout[cand[buyers]]
    )
    lapsing = base >= last
    limit = np.full(cand.size, purchase.MAX_PURCHASES_PER_DAY, dtype=np.int32)
    limit[buyers[lapsing]] = last[lapsing].astype(np.int32)

    # Only members whose uniform lies under the largest possible leave probability can leave.
    leave_max = sat.leave_probability(
        np.array(-100.0), beh.leave_per_year, beh.satisfaction.leave_slope
    )
    may_leave = np.flatnonzero(u_leave < leave_max)

    slope = beh.satisfaction.purchase_slope
    for s in range(len(ctx.strategies)):
        mult = sat.purchase_multiplier(st.satisfaction_delta(s, cand), slope)
        mult *= 1 + st.lift_of(s, cand)
        pos, counts = purchase.poisson_quantile(u_cand, rate * mult)
        # Compress and take: boolean-mask indexing is several times slower at these sizes.
        keep = np.flatnonzero(~st.left[s].take(cand.take(pos)))
        pos = pos.take(keep)
        idx, counts = cand.take(pos), np.minimum(counts.take(keep), limit.take(pos))
        _purchases(ctx, s, d, idx, counts, u_spend[idx])
        _leave(ctx, s, d, may_leave, u_leave[may_leave])
        _expire(ctx, s, d, n)
    lapse = cand[buyers[lapsing]]
    st.lapsed[lapse] = True
    st.rate[lapse] = 0
    st.rate_bound[lapse] = 0


def _reputation(ctx: Context, d: int) -> None:
    rep = ctx.scenario.channels.email.reputation
    for s, window in enumerate(ctx.complaints):
        ctx.placement[s] = inbox_placement(window.rate(), rep) if rep else 1.0
        window.start_day(d)


def _purchases(
    ctx: Context, s: int, d: int, idx: np.ndarray, counts: np.ndarray, u_spend: np.ndarray
) -> None:
    st, members, sc = ctx.state, ctx.state.members, ctx.scenario
    program, tally = sc.program, ctx.tally.total
    gross = purchase.spend(
        counts,
        members.spend_mean.take(idx),
        members.spend_table,
        members.segment.take(idx),
        u_spend,
    )
    # Offer state is only read for strategies that make such offers: most make none.
    offers = ctx.offer_kinds[s]
    net = gross
    if "discount" in offers:
        off = np.where(st.discount_until[s].take(idx) >= d, st.discount[s].take(idx), 0.0)
        net = gross * (1 - off)
    # Purchases on day d come before that day's sends: credit opens of the N days before.
    window = sc.economics.attribution_window_days
    attributed = d - np.floor(st.last_open[s].take(idx)) <= window

    mult = 1.0
    if "points_multiplier" in offers:
        mult = np.where(st.multiplier_until[s].take(idx) >= d, st.multiplier[s].take(idx), 1.0)
    earned = points.earned(net, program.points_per_currency, mult)
    if "bonus_points" in offers:
        earned += np.where(st.bonus_until[s].take(idx) >= d, st.bonus[s].take(idx), 0)
        st.bonus[s][idx] = 0
    balance = st.balance[s].take(idx) + earned
    redeemed = points.redeemable(balance, program.redemption_threshold)
    st.balance[s][idx] = balance - redeemed
    st.last_activity[s][idx] = d
    rewarded = np.compress(redeemed > 0, idx)
    st.add_to_drivers(s, rewarded, {sat.REWARD: sc.behaviour.satisfaction.redemption_lift})

    # Points are a cost when earned (the liability accrues), not when redeemed.
    gross_margin = gross * sc.economics.gross_margin - (gross - net)
    margin = gross_margin - earned * program.point_value
    starting = idx < sc.population.size
    tally["purchases"][s] += counts.sum()
    tally["revenue"][s] += net.sum()
    net_attributed = np.compress(attributed, net).sum()
    tally["attributed_revenue"][s] += net_attributed
    tally["discount_cost"][s] += (gross - net).sum()
    tally["reward_cost"][s] += redeemed.sum() * program.point_value
    tally["gross_margin"][s] += gross_margin.sum()
    tally["clv_margin"][s] += np.compress(starting, margin).sum() * ctx.discount(d)
    tally["points_issued"][s] += earned.sum()
    tally["points_redeemed"][s] += redeemed.sum()
    week = ctx.week(d)
    ctx.tally.weekly["purchases"][s, week] += counts.sum()
    ctx.tally.weekly["revenue"][s, week] += net.sum()
    ctx.tally.weekly["attributed_revenue"][s, week] += net_attributed


def _leave(ctx: Context, s: int, d: int, candidates: np.ndarray, u: np.ndarray) -> None:
    """Leaving the program is absorbing; the member's points are forfeited (expired)."""
    st, beh = ctx.state, ctx.scenario.behaviour
    p_leave = sat.leave_probability(
        st.satisfaction_delta(s, candidates), beh.leave_per_year, beh.satisfaction.leave_slope
    )
    idx = candidates[(u < p_leave) & ~st.left[s, candidates]]
    st.left[s, idx] = True
    ctx.tally.total["leavers"][s] += idx.size
    _forfeit(ctx, s, d, idx)


def _expire(ctx: Context, s: int, d: int, n: int) -> None:
    """Inactivity expiry. Activity days are whole days, so a balance expires on exactly the
    day its last activity is ``days`` old; only those members are looked at."""
    expiry, st = ctx.scenario.program.expiry, ctx.state
    if expiry.kind == "none":
        return
    idx = np.flatnonzero(st.last_activity[s, :n] == d - expiry.days)
    idx = idx[
        points.inactive_expiring(st.balance[s, idx], st.last_activity[s, idx], d, expiry.days)
    ]
    _forfeit(ctx, s, d, idx)
    st.add_to_drivers(s, idx, {sat.REWARD: -ctx.scenario.behaviour.satisfaction.expiry_drop})


def _forfeit(ctx: Context, s: int, d: int, idx: np.ndarray) -> None:
    """Expire the whole balance of members idx; its accrued cost returns as breakage."""
    balance = ctx.state.balance[s, idx]
    ctx.tally.total["points_expired"][s] += balance.sum()
    starting = idx < ctx.scenario.population.size
    value = ctx.scenario.program.point_value
    ctx.tally.total["clv_margin"][s] += balance[starting].sum() * value * ctx.discount(d)
    ctx.state.balance[s, idx] = 0
