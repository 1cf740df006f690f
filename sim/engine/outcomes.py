"""KPIs of one replication, read off the state and tallies at the horizon, and weekly series."""

from __future__ import annotations

import math

import numpy as np

from sim.engine.context import Context
from sim.model import satisfaction as sat
from sim.model import terminal
from sim.spec.fields import CHANNELS
from sim.spec.kpis import INBOX, KPIS, SETTLED, Derived, Kpi
from sim.strategies.audience import engaged_at


def _ratio(num: float, den: float) -> float:
    """A rate; undefined (NaN) when nothing was counted, e.g. no email sent under silent."""
    return float(num) / float(den) if den else float("nan")


# Bins of pressure relative to tolerance for pressure.csv: below 1 a member is within tolerance.
PRESSURE_BINS: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0, np.inf)


def relative_pressure(ctx: Context, s: int, n: int, t: float) -> np.ndarray:
    """Total pressure relative to tolerance (1 = at tolerance) at t of the members still
    reachable on some channel: those who left every channel feel none, and counting them
    would make driving members away look like relief."""
    st = ctx.state
    idx = (st.reachable_any(s, n)).nonzero()[0]
    return st.total_pressure_now(s, idx, t) / st.members.tolerance[idx]


def mean_pressure(ctx: Context, s: int, n: int, t: float) -> float:
    """Mean relative pressure of reachable members; NaN when nobody is reachable."""
    ratio = relative_pressure(ctx, s, n, t)
    return float(ratio.mean()) if ratio.size else float("nan")


def pressure_histogram(ctx: Context, s: int, t: float) -> np.ndarray:
    """Reachable members per bin of relative pressure (PRESSURE_BINS) at t."""
    ratio = relative_pressure(ctx, s, ctx.state.members.joined_by(t - 1e-9), t)
    return np.histogram(ratio, bins=np.array(PRESSURE_BINS))[0]


def satisfaction_now(ctx: Context, s: int, idx: np.ndarray) -> np.ndarray:
    """Satisfaction index 0-100 of members idx."""
    st = ctx.state
    status = st.program.status_satisfaction(s, idx, st.today)  # while a tier's status holds
    return sat.index(st.members.satisfaction0[idx], st.satisfaction_sum(s, idx) + status)


def snapshot(ctx: Context, s: int, t: float) -> dict[str, float]:
    """Stock variables of strategy s at time t, for the weekly series."""
    st, n = ctx.state, ctx.state.members.joined_by(t - 1e-9)
    member = (st.in_program(s, n)).nonzero()[0]
    row = {
        "members": float(member.size),
        "active": float(np.count_nonzero(~st.lapsed_of(s)[member])),
    }
    for c, name in enumerate(CHANNELS):
        row[f"reachable_{name}"] = float(np.count_nonzero(st.reachable(s, c, n)))
    row["satisfaction_index"] = float(satisfaction_now(ctx, s, member).mean())
    row["pressure_mean"] = mean_pressure(ctx, s, n, t)
    row["inbox_placement"] = float(ctx.placement[s])
    row.update(st.program.tier_counts(s, member, t))  # tier_<name> columns with tiers
    return row


def terminal_value(ctx: Context, s: int, horizon: float, within: float = math.inf) -> float:
    """Discounted value at day 0 of the starting members' relationships from the horizon on
    (counted for ``within`` days; all of it by default), currency (docs/model.md section 9).
    Each member active and in the program buys at its baseline rate times the strategy's
    continuation ratio of the final window until it lapses or leaves (its hazard at the
    horizon); where messages act on lapse, members lapsed at the horizon count too, and all
    move between active and lapsed, reachable and not, at the final window's rates. Each
    member reachable on some channel costs the window's message cost per reachable
    member-day until it leaves or stops being reachable (or, where messages act on lapse,
    while it is reachable), at the window's rates."""
    st, sc, tot = ctx.state, ctx.scenario, ctx.tally.total
    size, members, beh = sc.population.size, ctx.state.members, sc.behaviour
    delta = terminal.daily_discount_rate(sc.economics.discount_rate_annual)

    def hazard(idx: np.ndarray) -> np.ndarray:
        delta_s = st.satisfaction_delta(s, idx)
        factor = ctx.leave_hazard(s, idx, horizon, delta_s)
        return sat.leave_hazard(delta_s, beh.leave_per_year, beh.satisfaction.leave_slope, factor)

    per_currency = terminal.margin_per_currency(
        sc.economics.gross_margin, sc.program.points_per_currency, sc.program.point_value
    )
    ratio = terminal.continuation_ratio(tot["window_margin"][s], tot["window_baseline"][s])
    days = tot["window_reachable_days"][s]
    cost = tot["window_cost"][s] / days if days else 0.0  # per reachable member-day
    if st.lapsed_under is not None:  # messages act on lapse: the chain of terminal.chain_days
        member = (~st.left[s, :size]).nonzero()[0]
        value = ratio * per_currency, cost
        return _chain_value(ctx, s, member, hazard(member), value, horizon, within)
    alive = (~st.left[s, :size] & ~st.lapsed_of(s)[:size]).nonzero()[0]
    purchases = terminal.terminal_value(
        members.spend_mean.take(alive) * per_currency,
        members.rate.take(alive),
        members.dropout.take(alive),
        hazard(alive),
        ratio,
        delta,
        horizon,
        within,
    )
    reachable = (st.reachable_any(s, size)).nonzero()[0]
    if reachable.size == 0 or ctx.reachable_at_window is None:
        return purchases
    before = np.count_nonzero(ctx.reachable_at_window[s] & ~st.left[s, :size])
    decay = terminal.audience_decay(before, reachable.size, min(terminal.WINDOW_DAYS, horizon))
    costs = terminal.future_costs(cost, hazard(reachable), decay, delta, horizon, within)
    return purchases - costs


def _chain_value(
    ctx: Context,
    s: int,
    idx: np.ndarray,
    hazard: np.ndarray,
    value: tuple[float, float],
    horizon: float,
    within: float,
) -> float:
    """Value at day 0 of the relationships from the horizon on of starting members idx in
    the program, active or lapsed, reachable or not, where messages act on lapse: each from
    its state at the horizon through the chain of sim.model.terminal.chain_days at the final
    window's rates. ``value``: margin per currency of baseline spend (the continuation ratio
    times the margin per currency) and message cost per reachable member-day, currency."""
    st, sc, tot, members = ctx.state, ctx.scenario, ctx.tally.total, ctx.state.members
    if ctx.window_lapse is None:  # no final window (a horizon of 0 days)
        expected, exposed = np.zeros((2, idx.size)), np.zeros(idx.size)
    else:
        expected, exposed = ctx.window_lapse[:, s, idx], ctx.window_reachable_days[s, idx]
    rates = terminal.ChainRates(
        contact=terminal.member_rates(expected[1], exposed),
        winback=terminal.member_rates(expected[0], exposed),
        lost=terminal.rate_per_day(
            tot["window_reachability_lost"][s], tot["window_reachable_exposed"][s]
        ),
        gained=terminal.rate_per_day(
            tot["window_reachability_gained"][s], tot["window_unreachable_exposed"][s]
        ),
    )
    delta = terminal.daily_discount_rate(sc.economics.discount_rate_annual)
    rate = members.rate.take(idx)
    days = terminal.chain_days(rate, members.dropout.take(idx), hazard, delta, rates, within)
    reachable = st.reachable_any(s, sc.population.size).take(idx)
    state = np.where(reachable, terminal.ACTIVE_REACHABLE, terminal.ACTIVE_UNREACHABLE)
    state += st.lapsed_of(s).take(idx)
    active, reached = days[np.arange(idx.size), state].T
    margin, cost = value
    purchases = float(np.dot(members.spend_mean.take(idx) * margin, rate * active))
    return math.exp(-delta * horizon) * (purchases - cost * float(reached.sum()))


def outcomes(ctx: Context, s: int, horizon: float) -> dict[str, float]:
    """Every KPI of strategy s, in the registry's order (``sim.spec.kpis``): tallied KPIs as
    counted, rates and estimates by their rule, the rest computed below, one line each.
    ``incremental_revenue`` stays NaN until the runner has silent beside it."""
    st, sc = ctx.state, ctx.scenario
    size, n = sc.population.size, st.members.size
    member = (st.in_program(s, n)).nonzero()[0]
    lapsed = st.lapsed_of(s)
    staying = ~st.left[s, :size] & ~lapsed[:size]
    ch, tot = ctx.tally.channel, ctx.tally.total
    email = CHANNELS.index("email")
    drivers = st.driver_values(s, member)
    score = satisfaction_now(ctx, s, member)
    value = sc.program.point_value
    out: dict[str, float] = {
        kpi.name: int(tot[kpi.name][s]) if kpi.is_count else float(tot[kpi.name][s])
        for kpi in KPIS.values()
        if kpi.tallied
    }
    out.update(
        members_start=size,
        members_joined=n - size,
        members_end=member.size,
        active_end=int(np.count_nonzero(~lapsed[member])),
        retention_rate=float(staying.mean()),
        program_churn=float(st.left[s, :size].mean()),
    )
    for c, name in enumerate(CHANNELS):
        out[f"reachable_{name}"] = _ratio(np.count_nonzero(st.reachable(s, c, n)), member.size)
        for kind in ("sends", "opens", "clicks", "exits"):
            out[f"{kind}_{name}"] = int(ch[kind][s, c])
        out[f"recaptured_{name}"] = int(ch["recaptures"][s, c])
    out.update(
        complaints_email=int(ch["complaints"][s, email]),
        pressure_mean=mean_pressure(ctx, s, n, horizon),
        satisfaction_index=float(score.mean()),
        satisfaction_below_60=float((score < sat.DISSATISFIED_BELOW).mean()),
        satisfaction_time_effort=float(drivers[sat.TIME_EFFORT].mean()),
        satisfaction_personalisation=float(drivers[sat.PERSONALISATION].mean()),
        satisfaction_reward=float(drivers[sat.REWARD].mean()),
        satisfaction_expectations=float(drivers[sat.EXPECTATIONS].mean()),
        margin=float(
            tot["gross_margin"][s]
            - tot["message_cost"][s]
            - (tot["points_issued"][s] - tot["points_expired"][s]) * value
        ),
        clv_per_member=float(tot["clv_margin"][s] / size),
        clv_with_terminal=float((tot["clv_margin"][s] + terminal_value(ctx, s, horizon)) / size),
        points_opening=st.program.opening_total,
        points_outstanding=int(st.balance[s].sum()),
    )
    out["liability"] = out["points_outstanding"] * value
    ledger = st.program.ledgers[s]
    ledger.recognise()
    out.update(
        deferred_revenue=float(ledger.deferred_revenue),
        points_revenue_recognised=float(ledger.recognised),
        contract_liability=float(ledger.liability),
    )
    sunset = ctx.levers[s].strategy.sunset
    engaged = engaged_at(st, s, member)
    out["sunset_end"] = (
        int(np.count_nonzero(horizon - engaged >= sunset.after_days)) if sunset else 0
    )
    out["control_members"] = 0 if ctx.control is None else int(np.count_nonzero(ctx.control[:n]))
    counts = {
        **out,
        INBOX: ch["inbox"][s, email],
        SETTLED: out["points_redeemed"] + out["points_expired"],
    }
    return {kpi.name: _value(kpi, counts) for kpi in KPIS.values()}


def _value(kpi: Kpi, counts: dict[str, float]) -> float:
    """A KPI computed above, or derived from those by its rule."""
    if isinstance(kpi.merge, Derived):
        return kpi.merge.derive(counts)
    if kpi.name not in counts:
        raise KeyError(
            f"KPI {kpi.name!r} is registered but sim.engine.outcomes does not compute it"
        )
    return counts[kpi.name]
