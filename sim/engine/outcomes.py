"""KPIs of one replication, read off the state and tallies at the horizon, and weekly series."""

from __future__ import annotations

import numpy as np

from sim.engine.context import Context
from sim.model import satisfaction as sat
from sim.spec.fields import CHANNELS
from sim.spec.kpis import KPI_NAMES, measured_incremental
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
    reachable = np.zeros(n, dtype=bool)
    for c in range(len(CHANNELS)):
        reachable |= st.reachable(s, c, n)
    idx = np.flatnonzero(reachable)
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
    member = np.flatnonzero(st.in_program(s, n))
    row = {
        "members": float(member.size),
        "active": float(np.count_nonzero(~st.lapsed[member])),
    }
    for c, name in enumerate(CHANNELS):
        row[f"reachable_{name}"] = float(np.count_nonzero(st.reachable(s, c, n)))
    row["satisfaction_index"] = float(satisfaction_now(ctx, s, member).mean())
    row["pressure_mean"] = mean_pressure(ctx, s, n, t)
    row["inbox_placement"] = float(ctx.placement[s])
    row.update(st.program.tier_counts(s, member, t))  # tier_<name> columns with tiers
    return row


def outcomes(ctx: Context, s: int, horizon: float) -> dict[str, float]:
    """Every KPI of strategy s (``incremental_revenue`` is filled in against silent later)."""
    st, sc = ctx.state, ctx.scenario
    size, n = sc.population.size, st.members.size
    member = np.flatnonzero(st.in_program(s, n))
    staying = ~st.left[s, :size] & ~st.lapsed[:size]
    ch, tot = ctx.tally.channel, ctx.tally.total
    email, sms = CHANNELS.index("email"), CHANNELS.index("sms")
    drivers = st.driver_values(s, member)
    score = satisfaction_now(ctx, s, member)
    out: dict[str, float] = {
        "members_start": size,
        "members_joined": n - size,
        "members_end": member.size,
        "active_end": int(np.count_nonzero(~st.lapsed[member])),
        "retention_rate": float(staying.mean()),
        "program_churn": float(st.left[s, :size].mean()),
    }
    for c, name in enumerate(CHANNELS):
        out[f"reachable_{name}"] = _ratio(np.count_nonzero(st.reachable(s, c, n)), member.size)
    for kind in ("sends", "opens", "clicks", "exits"):
        for c, name in enumerate(CHANNELS):
            out[f"{kind}_{name}"] = int(ch[kind][s, c])
    sent = ch["sends"][s, email]
    out.update(
        complaints_email=int(ch["complaints"][s, email]),
        open_rate_email=_ratio(ch["opens"][s, email], sent),
        click_rate_email=_ratio(ch["clicks"][s, email], sent),
        unsubscribe_rate_email=_ratio(ch["exits"][s, email], sent),
        complaint_rate=_ratio(ch["complaints"][s, email], ch["inbox"][s, email]),
        optout_rate_sms=_ratio(ch["exits"][s, sms], ch["sends"][s, sms]),
        inbox_placement=_ratio(ch["inbox"][s, email], sent),
        pressure_mean=mean_pressure(ctx, s, n, horizon),
        satisfaction_index=float(score.mean()),
        satisfaction_below_60=float((score < sat.DISSATISFIED_BELOW).mean()),
        satisfaction_time_effort=float(drivers[sat.TIME_EFFORT].mean()),
        satisfaction_personalisation=float(drivers[sat.PERSONALISATION].mean()),
        satisfaction_reward=float(drivers[sat.REWARD].mean()),
        satisfaction_expectations=float(drivers[sat.EXPECTATIONS].mean()),
        purchases=int(tot["purchases"][s]),
        revenue=float(tot["revenue"][s]),
        incremental_revenue=float("nan"),
        attributed_revenue=float(tot["attributed_revenue"][s]),
        message_cost=float(tot["message_cost"][s]),
        discount_cost=float(tot["discount_cost"][s]),
        reward_cost=float(tot["reward_cost"][s]),
        margin=float(
            tot["gross_margin"][s]
            - tot["message_cost"][s]
            - (tot["points_issued"][s] - tot["points_expired"][s]) * sc.program.point_value
        ),
        clv_per_member=float(tot["clv_margin"][s] / size),
        points_opening=st.program.opening_total,
        points_issued=int(tot["points_issued"][s]),
        offer_points=int(tot["offer_points"][s]),
        points_redeemed=int(tot["points_redeemed"][s]),
        points_expired=int(tot["points_expired"][s]),
        points_outstanding=int(st.balance[s].sum()),
    )
    out["breakage_rate"] = _ratio(
        out["points_expired"], out["points_redeemed"] + out["points_expired"]
    )
    out["liability"] = out["points_outstanding"] * sc.program.point_value
    ledger = st.program.ledgers[s]
    ledger.recognise()
    out.update(
        points_driven_revenue=float(tot["points_driven_revenue"][s]),
        deferred_revenue=float(ledger.deferred_revenue),
        points_revenue_recognised=float(ledger.recognised),
        contract_liability=float(ledger.liability),
    )
    for k in ("tier_upgrades", "tier_downgrades", "offers_met", "offers_missed"):
        out[k] = int(tot[k][s])
    for k in ("journey_sends", "skipped_suppressed", "skipped_quiet_hours", "skipped_cooldown"):
        out[k] = int(tot[k][s])
    out["skipped_capped"] = int(tot["skipped_capped"][s])
    out["held_quiet_hours"] = int(tot["held_quiet_hours"][s])
    sunset = ctx.levers[s].strategy.sunset
    engaged = engaged_at(st, s, member)
    out["sunset_end"] = (
        int(np.count_nonzero(horizon - engaged >= sunset.after_days)) if sunset else 0
    )
    control = 0 if ctx.control is None else int(np.count_nonzero(ctx.control[:n]))
    out["control_members"] = control
    out["control_revenue"] = float(tot["control_revenue"][s])
    out["incremental_revenue_measured"] = measured_incremental(
        out["revenue"], out["control_revenue"], n, control
    )
    assert tuple(out) == KPI_NAMES, "outcomes and the KPI list must agree"
    return out
