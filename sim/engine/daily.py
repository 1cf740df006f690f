"""One day of member behaviour for every strategy at once: decay, purchases, points, leaving,
expiry, lapse. Runs at the start of each day; that day's sends come after it."""

from __future__ import annotations

import numpy as np

from sim.engine.context import Context
from sim.model import points, purchase
from sim.model import satisfaction as sat
from sim.model.reputation import inbox_placement


def day(ctx: Context, d: int) -> None:
    st, members, sc = ctx.state, ctx.state.members, ctx.scenario
    beh = sc.behaviour
    n = members.joined_by(d)
    _reputation(ctx, d)
    st.drivers[:, :, :n] *= np.float32(sat.daily_retention(beh.satisfaction.half_life_days))
    st.lift[:, :n] *= np.float32(sat.daily_retention(beh.lift.half_life_days))

    # Draws every strategy shares: one uniform per member for purchases, spend and leaving.
    u_buy = ctx.streams.purchase.random(n)
    u_spend = ctx.streams.spend.random(n)
    u_leave = ctx.streams.leave.random(n)
    active = ~st.lapsed[:n]
    rate = members.rate[:n]

    # BG/NBD lapse runs on the baseline purchases, so it is the same for every strategy.
    base = purchase.poisson_quantile(u_buy, np.where(active, rate, 0.0))
    buyers = np.flatnonzero(base)
    last = purchase.dropout_after(ctx.streams.dropout.random(buyers.size), members.dropout[buyers])
    lapsing = base[buyers] >= last
    limit = np.full(n, purchase.MAX_PURCHASES_PER_DAY, dtype=np.int32)
    limit[buyers[lapsing]] = last[lapsing].astype(np.int32)

    for s in range(len(ctx.strategies)):
        in_program = ~st.left[s, :n]
        delta = sat.index(members.satisfaction0[:n], st.drivers[s][:, :n]) - members.satisfaction0[:n]
        mult = sat.purchase_multiplier(delta, beh.satisfaction.purchase_slope) * (1 + st.lift[s, :n])
        counts = purchase.poisson_quantile(u_buy, np.where(active & in_program, rate * mult, 0.0))
        np.minimum(counts, limit, out=counts)
        idx = np.flatnonzero(counts)
        _purchases(ctx, s, d, idx, counts[idx], u_spend[idx])
        p_leave = sat.leave_probability(delta, beh.leave_per_year, beh.satisfaction.leave_slope)
        _leave(ctx, s, (u_leave < p_leave) & in_program)
        _expire(ctx, s, d, n)
    st.lapsed[buyers[lapsing]] = True


def _reputation(ctx: Context, d: int) -> None:
    rep = ctx.scenario.channels.email.reputation
    for s, window in enumerate(ctx.complaints):
        window.start_day(d)
        ctx.placement[s] = inbox_placement(window.rate(), rep) if rep else 1.0


def _purchases(
    ctx: Context, s: int, d: int, idx: np.ndarray, counts: np.ndarray, u_spend: np.ndarray
) -> None:
    st, members, sc = ctx.state, ctx.state.members, ctx.scenario
    program, tally = sc.program, ctx.tally.total
    gross = purchase.spend(
        counts, members.spend_mean[idx], members.spend_table, members.segment[idx], u_spend
    )
    off = np.where(st.discount_until[s, idx] >= d, st.discount[s, idx], 0.0)
    net = gross * (1 - off)
    attributed = d + 0.5 - st.last_open[s, idx] <= sc.economics.attribution_window_days

    mult = np.where(st.multiplier_until[s, idx] >= d, st.multiplier[s, idx], 1.0)
    bonus = np.where(st.bonus_until[s, idx] >= d, st.bonus[s, idx], 0)
    st.bonus[s, idx] = 0
    earned = points.earned(net, program.points_per_currency, mult) + bonus
    balance = st.balance[s, idx] + earned
    redeemed = points.redeemable(balance, program.redemption_threshold)
    st.balance[s, idx] = balance - redeemed
    st.last_activity[s, idx] = d
    st.drivers[s, sat.REWARD, idx[redeemed > 0]] += sc.behaviour.satisfaction.redemption_lift

    reward = redeemed * program.point_value
    margin = gross * sc.economics.gross_margin - (gross - net) - reward
    starting = idx < sc.population.size
    tally["purchases"][s] += counts.sum()
    tally["revenue"][s] += net.sum()
    tally["attributed_revenue"][s] += net[attributed].sum()
    tally["discount_cost"][s] += (gross - net).sum()
    tally["reward_cost"][s] += reward.sum()
    tally["gross_margin"][s] += (gross * sc.economics.gross_margin - (gross - net)).sum()
    tally["clv_margin"][s] += margin[starting].sum() * ctx.discount(d)
    tally["points_issued"][s] += earned.sum()
    tally["points_redeemed"][s] += redeemed.sum()
    week = ctx.week(d)
    ctx.tally.weekly["purchases"][s, week] += counts.sum()
    ctx.tally.weekly["revenue"][s, week] += net.sum()
    ctx.tally.weekly["attributed_revenue"][s, week] += net[attributed].sum()


def _leave(ctx: Context, s: int, leaving: np.ndarray) -> None:
    """Leaving the program is absorbing; the member's points are forfeited (expired)."""
    st = ctx.state
    idx = np.flatnonzero(leaving)
    st.left[s, idx] = True
    ctx.tally.total["leavers"][s] += idx.size
    ctx.tally.total["points_expired"][s] += st.balance[s, idx].sum()
    st.balance[s, idx] = 0


def _expire(ctx: Context, s: int, d: int, n: int) -> None:
    expiry, st = ctx.scenario.program.expiry, ctx.state
    if expiry.kind == "none":
        return
    idx = np.flatnonzero(
        points.inactive_expiring(st.balance[s, :n], st.last_activity[s, :n], d, expiry.days)
    )
    ctx.tally.total["points_expired"][s] += st.balance[s, idx].sum()
    st.balance[s, idx] = 0
    st.drivers[s, sat.REWARD, idx] -= ctx.scenario.behaviour.satisfaction.expiry_drop
