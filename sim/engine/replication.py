"""One replication: every strategy in lockstep on one SimPy clock (unit: day).

The daily behaviour process runs at the start of each day with urgent priority, so it always
precedes sends scheduled for the same instant. Each strategy's calendar campaigns are one
process (its plan), each journey step another that wakes once a day, and messages held by quiet
hours are released by a process of their own; all send through ``dispatch``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import simpy
from simpy.events import URGENT

from sim.engine.context import Context
from sim.engine.daily import day
from sim.engine.dispatch import Held, dispatch, release
from sim.engine.events import PurchaseSink, SendSink
from sim.engine.outcomes import PRESSURE_BINS, outcomes, pressure_histogram, snapshot
from sim.engine.rng import Streams
from sim.engine.tally import WEEKLY, Tally
from sim.spec.scenario import Scenario
from sim.spec.strategy import Journey
from sim.world.population import Members, sample_members
from sim.world.program import ProgramState
from sim.world.state import State

Progress = Callable[[int], None] | None


@dataclass(frozen=True)
class ReplicationResult:
    summary: pd.DataFrame  # one row per strategy
    timeseries: pd.DataFrame  # one row per strategy and week
    pressure: pd.DataFrame  # one row per strategy and pressure bin, at the horizon


class DayStart(simpy.events.Event):
    """A timeout with urgent priority: the day's behaviour precedes same-time sends."""

    def __init__(self, env: simpy.Environment, delay: float) -> None:
        super().__init__(env)
        self._ok = True
        self._value = None
        env.schedule(self, URGENT, delay)


def _days(
    env: simpy.Environment,
    ctx: Context,
    horizon: int,
    weeks: list[dict] | None,
    on_day: Progress,
) -> object:
    for d in range(horizon):
        if weeks is not None and d and d % 7 == 0:
            weeks.extend(week_rows(ctx, d // 7, d))
        day(ctx, d)
        if on_day:
            on_day(1)
        yield DayStart(env, 1)


def _plan(env: simpy.Environment, ctx: Context, s: int) -> object:
    """A strategy's calendar campaigns, in send order."""
    plan = ctx.levers[s].plan
    for t, name, campaign in plan.sends():
        yield env.timeout(t - env.now)
        plan.sending(name)
        _hold(env, ctx, s, dispatch(ctx, s, name, campaign, t))


def _journey_step(
    env: simpy.Environment, ctx: Context, s: int, name: str, journey: Journey, delay: int
) -> object:
    """One step of a journey: each day at its hour, to the members due that day."""
    log = ctx.levers[s].journeys
    assert log is not None
    for d in range(ctx.scenario.horizon_days):
        t = d + journey.hour / 24.0
        yield env.timeout(t - env.now)
        due = log.due(ctx.state, s, name, delay, d)
        if due.size:
            _hold(env, ctx, s, dispatch(ctx, s, name, journey, t, due))


def _hold(env: simpy.Environment, ctx: Context, s: int, held: list[Held]) -> None:
    """Release messages held by quiet hours when the hours end (within the horizon)."""
    for h in held:
        if h.at < ctx.scenario.horizon_days:
            env.process(_release(env, ctx, s, h))


def _release(env: simpy.Environment, ctx: Context, s: int, held: Held) -> object:
    yield env.timeout(held.at - env.now)
    release(ctx, s, held)


def week_rows(ctx: Context, week: int, t: float) -> list[dict]:
    """timeseries.csv rows of every strategy for ``week`` (its KPIs read at time t)."""
    rows = []
    for s, name in enumerate(ctx.strategies):
        row = {"strategy": name, "week": week, **snapshot(ctx, s, t)}
        row.update({k: ctx.tally.weekly[k][s, week - 1] for k in WEEKLY})
        rows.append(row)
    return rows


def draw_members(scenario: Scenario, streams: Streams) -> Members:
    """The members of a replication (or of the history pilot) from its streams: starting
    members, joiners and, when engagement is on, their engagement factors."""
    engagement = scenario.behaviour.engagement
    return sample_members(
        scenario.population,
        scenario.horizon_days,
        streams.population,
        streams.acquisition,
        (engagement.correlation, streams.engagement) if engagement.on else None,
    )


def build_context(
    scenario: Scenario,
    replication: int,
    seed: int,
    strategies: Sequence[str] | None = None,
    sink: PurchaseSink | None = None,
    send_sink: SendSink | None = None,
) -> Context:
    """Replication ``replication`` of ``seed``, ready to simulate: its members (normalised
    for the history plan when the scenario names one) and state. ``sink`` receives each
    day's purchases, ``send_sink`` the members, sends and opt-ins (sim.engine.events)."""
    streams = Streams(seed, replication)
    members = draw_members(scenario, streams)
    if scenario.history is not None:
        # The pilot simulates replications itself, so it is imported here, not at the top.
        from sim.engine.history import history_factors

        members = members.normalised(history_factors(scenario, seed).factor)
    return make_context(scenario, members, streams, strategies, sink, send_sink)


def make_context(
    scenario: Scenario,
    members: Members,
    streams: Streams,
    strategies: Sequence[str] | None = None,
    sink: PurchaseSink | None = None,
    send_sink: SendSink | None = None,
) -> Context:
    """The context of a replication of ``members`` drawing from ``streams``; ``send_sink``
    is told the members here."""
    names = list(strategies) if strategies is not None else scenario.strategy_names
    weeks = math.ceil(scenario.horizon_days / 7)
    ctx = Context(
        scenario=scenario,
        strategies=names,
        state=State(
            members,
            len(names),
            scenario.behaviour,
            ProgramState(scenario, names, members.size),
            consent_changes=scenario.consent_changes,
        ),
        streams=streams,
        tally=Tally(len(names), weeks),
        sink=sink,
        send_sink=send_sink,
    )
    if send_sink is not None:
        segments = list(scenario.population.segments)
        send_sink.members(members.join_day, members.opt_in, members.segment, segments, ctx.control)
    return ctx


def simulate(ctx: Context, on_day: Progress = None, weekly: bool = True) -> list[dict]:
    """Run the clock to the horizon; return the weekly rows (none unless ``weekly``: the
    history pilot reads only its purchases, and the rows only read the state)."""
    horizon = ctx.scenario.horizon_days
    env = simpy.Environment()
    weeks: list[dict] = []
    env.process(_days(env, ctx, horizon, weeks if weekly else None, on_day))
    for s, levers in enumerate(ctx.levers):
        env.process(_plan(env, ctx, s))
        if levers.journeys is not None:
            for name, journey in levers.journeys.journeys.items():
                for delay in journey.delay_days:
                    env.process(_journey_step(env, ctx, s, name, journey, delay))
    env.run(until=horizon)
    if weekly:
        weeks.extend(week_rows(ctx, math.ceil(horizon / 7), horizon))
    return weeks


def run_replication(
    scenario: Scenario,
    replication: int,
    seed: int,
    on_day: Progress = None,
    strategies: Sequence[str] | None = None,
    sink: PurchaseSink | None = None,
    send_sink: SendSink | None = None,
) -> ReplicationResult:
    """Simulate the strategies of one replication (all, or the named subset); KPIs per
    strategy, weekly series and the pressure distribution. ``sink`` (e.g. a
    ``sim.engine.events.PurchaseLog``) receives each day's purchases, ``send_sink`` the
    members, sends and opt-ins.

    A strategy's results do not depend on which others run beside it: the draws they share
    are made per member and day, and message streams are keyed by send, not by strategy. So
    strategies of one replication may run in separate processes and be merged.
    ``incremental_revenue`` needs silent and is filled in by the runner.
    ``on_day(1)`` is called after each simulated day (for progress bars)."""
    ctx = build_context(scenario, replication, seed, strategies, sink, send_sink)
    return tables(ctx, simulate(ctx, on_day), replication, seed)


def run_summary(scenario: Scenario, replication: int, seed: int) -> pd.DataFrame:
    """The summary rows of every strategy of one replication, as ``run_replication`` gives
    them, without the weekly series and the pressure table, which a point of a sweep or a run
    of draws does not keep (the weekly rows only read the state)."""
    ctx = build_context(scenario, replication, seed)
    simulate(ctx, weekly=False)
    return summary_table(ctx, replication, seed)


def summary_table(ctx: Context, replication: int, seed: int) -> pd.DataFrame:
    """The KPIs of each strategy of a simulated replication, read off its state and tallies."""
    horizon = ctx.scenario.horizon_days
    summary = pd.DataFrame([outcomes(ctx, s, horizon) for s in range(len(ctx.strategies))])
    summary.insert(0, "seed", seed)
    summary.insert(0, "replication", replication)
    summary.insert(0, "strategy", ctx.strategies)
    return summary


def tables(ctx: Context, weeks: list[dict], replication: int, seed: int) -> ReplicationResult:
    """The tables of a simulated replication, read off its state, tallies and weekly rows."""
    horizon = ctx.scenario.horizon_days
    series = pd.DataFrame(weeks)
    series.insert(1, "replication", replication)
    return ReplicationResult(
        summary=summary_table(ctx, replication, seed),
        timeseries=series.astype({"week": np.int64}),
        pressure=_pressure_table(ctx, replication, horizon),
    )


def _pressure_table(ctx: Context, replication: int, horizon: float) -> pd.DataFrame:
    """Reachable members per bin of pressure relative to tolerance at the horizon."""
    low, high = PRESSURE_BINS[:-1], PRESSURE_BINS[1:]
    frames = [
        pd.DataFrame(
            {
                "strategy": name,
                "replication": replication,
                "pressure_from": low,
                "pressure_to": high,
                "members": pressure_histogram(ctx, s, horizon),
            }
        )
        for s, name in enumerate(ctx.strategies)
    ]
    return pd.concat(frames, ignore_index=True)
