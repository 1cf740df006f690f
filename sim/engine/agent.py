"""The reference engine: one SimPy process per member, written to be read, not to be fast.

It simulates the model of docs/model.md the way a SimPy user would write it: every member is a
process that lives one day at a time, and every campaign is a process that, at each send time,
visits the members who have joined, one by one. It calls the same model functions
(``sim.model``) as the vectorised engine, for one member at a time, and writes into the same
``State`` and ``Tally``, so that the KPIs are read off by the same code (``sim.engine.outcomes``).
Its random draws are its own, per member. docs/engines.md compares the two engines;
tests/test_differential.py checks that they agree.

Within a member, arrays run over strategies (each strategy is the same member in another world,
with the same daily uniforms, as the model prescribes), never over members.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import simpy

from sim.engine.context import EMAIL, Context
from sim.engine.replication import (
    DayStart,
    Progress,
    ReplicationResult,
    build_context,
    tables,
    week_rows,
)
from sim.model import fatigue, points, purchase, response, terminal
from sim.model import satisfaction as sat
from sim.model.decay import retention
from sim.spec.fields import CHANNELS
from sim.spec.scenario import Channel, Scenario
from sim.spec.strategy import Audience, Campaign, Cap, Offer
from sim.strategies.calendar import Calendar
from sim.strategies.caps import SAME_INSTANT
from sim.strategies.schedule import send_times

# Spawn-key slot of the member streams (sim.engine.rng uses 0-5 for its components and 6 for
# message streams): (replication, MEMBER_STREAMS, member, 0) for the member's daily draws and
# (..., member, k) for the messages of the k-th strategy of the scenario (silent is the first).
MEMBER_STREAMS = 7
# Relative widening of the member's bounds on the purchase multiplier and the leave
# probability, far above the float32 rounding of the quantities they bound.
BOUND_MARGIN = 1.0 + 1e-4
BASELINE = np.ones(1, dtype=np.float32)  # the purchase multiplier of the world without marketing


class MemberCap:
    """A cap for one member, as a marketer would state it. Rolling, "max per d days": the
    times of the member's last ``max`` messages; a new one fits if the oldest of them has left
    the window. Calendar, "max per day, week or month": the count in the current period, named
    by the date it began. The readable reference for the vector engine's caps
    (sim.strategies.caps), which keep every member's state in arrays and are tested against
    this one (tests/test_cap_engines.py)."""

    def __init__(self, cap: Cap, calendar: Calendar) -> None:
        self.max, self.per, self.calendar = cap.max, cap.per, calendar
        self.days = float(cap.days or 0.0)
        self.sent: deque[float] = deque(maxlen=cap.max)
        self.period: date | None = None  # first day of the period the count is in
        self.count = 0

    def _period(self, t: float) -> date:
        day = self.calendar.date(math.floor(t))
        if self.per == "day":
            return day
        if self.per == "week":  # weeks run Monday to Sunday
            return day - timedelta(days=day.weekday())
        return day.replace(day=1)

    def admits(self, t: float) -> bool:
        """Room for a message at t: "exactly d days later" is outside a rolling window."""
        if self.per is not None:
            return self._period(t) != self.period or self.count < self.max
        full = len(self.sent) == self.sent.maxlen
        return not full or self.sent[0] <= t - self.days + SAME_INSTANT

    def record(self, t: float) -> None:
        if self.per is None:
            self.sent.append(t)
            return
        period = self._period(t)
        self.count = self.count + 1 if period == self.period else 1
        self.period = period


@dataclass(frozen=True)
class Send:
    """A campaign of strategy s as the members it visits see it."""

    s: int
    ch: int
    campaign: Campaign
    channel: Channel
    audience: frozenset[int] | None  # segment indices; None for everyone
    cap: Cap | None  # the strategy's cap on the channel


class Agents:
    """What the member and campaign processes of one replication share."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.members: list[Member] = []  # everyone who has joined, in order of joining
        n_strategies, n = len(ctx.strategies), ctx.state.members.size
        beh = ctx.scenario.behaviour
        # Pressure per strategy, channel and member as of the member's last message under the
        # strategy (pressed_at, days): it decays continuously, so it is decayed when read.
        self.pressure = np.zeros((n_strategies, len(CHANNELS), n))
        self.pressed_at = np.zeros((n_strategies, n))
        self.keep_satisfaction = retention(1, beh.satisfaction.half_life_days)
        self.keep_lift = retention(1, beh.lift.half_life_days)
        self.reward_bound = ctx.state.program.bound()  # largest reward-mechanics multiplier
        self.calendar = Calendar(ctx.scenario.start_date)
        # Message streams are keyed by the strategy's place in the scenario, not in this run,
        # so a strategy's results do not depend on which others run beside it.
        self.stream_keys = [1 + ctx.scenario.strategy_names.index(name) for name in ctx.strategies]

    def stream(self, *key: int) -> np.random.Generator:
        streams = self.ctx.streams
        seeds = np.random.SeedSequence(
            streams.seed, spawn_key=(streams.replication, MEMBER_STREAMS, *key)
        )
        return np.random.Generator(np.random.PCG64(seeds))

    def publish(self, t: int) -> None:
        """Write what the KPI readers expect and the member processes do not keep: pressure as
        of time t (``State.today``) and the sum of the satisfaction drivers."""
        st = self.ctx.state
        half_life = self.ctx.scenario.behaviour.fatigue.half_life_days
        st.pressure[...] = self.pressure * retention(t - self.pressed_at, half_life)[:, None, :]
        st.pressure_total[...] = st.pressure.sum(axis=1)
        st.satisfaction[...] = st.drivers.sum(axis=1)
        st.today = t
        # The arrays now hold values as of t: every clock's epoch is t (factor 1).
        for clock in (st.pressure_clock, st.satisfaction_clock, st.lift_clock):
            clock.epoch = t


class Member:
    """One member under every strategy: static attributes, its own random streams, and views
    of its columns in the replication's State (writing them writes the State)."""

    def __init__(self, agents: Agents, i: int) -> None:
        ctx = agents.ctx
        st, static = ctx.state, ctx.state.members
        self.agents, self.ctx, self.i = agents, ctx, i
        self.rng = agents.stream(i, 0)  # the daily draws, shared by every strategy
        self.message_rngs: list[np.random.Generator | None] = [None] * len(ctx.strategies)
        self.starting = i < ctx.scenario.population.size
        self.segment = int(static.segment[i])
        self.rate = static.rate[i]
        self.dropout = static.dropout[i]
        self.spend_mean = np.float64(static.spend_mean[i])  # money in float64, as in the arrays
        self.opt_in = static.opt_in[:, i]
        self.tolerance = static.tolerance[i]
        self.sensitivity = static.sensitivity[i]
        # The index stays within 0-100, so its change from baseline within these bounds.
        self.lowest, self.highest = -static.satisfaction0[i], 100.0 - static.satisfaction0[i]
        # Bounds over every strategy at these extremes, a little wide against rounding: on most
        # days the member's uniforms are past them, and the day's purchases and leaving need
        # not be worked out strategy by strategy (the outcome is the same: none).
        beh = ctx.scenario.behaviour
        self.multiplier_bound = BOUND_MARGIN * float(
            sat.purchase_multiplier(np.float64(self.highest), beh.satisfaction.purchase_slope)
        )
        self.leave_bound = BOUND_MARGIN * float(
            sat.leave_probability(
                np.float64(self.lowest), beh.leave_per_year, beh.satisfaction.leave_slope
            )
        )

        self.left = st.left[:, i]
        self.exited = st.exited[:, :, i]
        self.drivers = st.drivers[:, :, i]
        self.lift = st.lift[:, i]
        self.last_open = st.last_open[:, i]
        self.balance = st.balance[:, i]
        self.last_activity = st.last_activity[:, i]
        self.last_redeemed = st.program.last_redeemed[:, i]
        self.multiplier, self.multiplier_until = st.multiplier[:, i], st.multiplier_until[:, i]
        self.bonus, self.bonus_until = st.bonus[:, i], st.bonus_until[:, i]
        self.discount, self.discount_until = st.discount[:, i], st.discount_until[:, i]
        self.pressure, self.pressed_at = agents.pressure[:, :, i], agents.pressed_at[:, i]
        # The member's caps per strategy and capped channel.
        self.caps = {
            (s, CHANNELS.index(c)): MemberCap(cap, agents.calendar)
            for s, name in enumerate(ctx.strategies)
            for c, cap in ctx.scenario.strategies[name].caps.items()
        }

    def satisfaction_delta(self) -> np.ndarray:
        """Index minus baseline per strategy, index points: the sum of the drivers, clipped
        (np.clip costs more than this on arrays this small)."""
        return np.minimum(np.maximum(self.drivers.sum(axis=1), self.lowest), self.highest)

    # --- the day start -----------------------------------------------------------------------

    def live_day(self, d: int) -> None:
        """Day d under every strategy: decay, purchases, leaving, expiry, lapse (model.md 1)."""
        beh, program = self.ctx.scenario.behaviour, self.ctx.scenario.program
        self.drivers *= self.agents.keep_satisfaction
        self.lift *= self.agents.keep_lift
        # One uniform each for purchases, spend and leaving, shared by every strategy.
        u_buy, u_spend, u_leave = self.rng.random(3)
        lapsing = not self.ctx.state.lapsed[self.i] and self._shop(d, u_buy, u_spend)
        # Leaving reads satisfaction after the day's purchases (a redemption lifts it).
        p_leave = None
        if u_leave < self.leave_bound:
            p_leave = sat.leave_probability(
                self.satisfaction_delta(), beh.leave_per_year, beh.satisfaction.leave_slope
            )
        due = None
        expiry = program.expiry
        if expiry.kind == "inactivity" and d - self.last_activity.min() >= expiry.days:
            due = points.inactive_expiring(self.balance, self.last_activity, d, expiry.days)
        for s in range(len(self.left) if p_leave is not None or due is not None else 0):
            if self.left[s]:
                continue
            if p_leave is not None and u_leave < p_leave[s]:
                self._leave(s, d)  # forfeits the balance: nothing is left to expire
            elif due is not None and due[s]:
                self._expire(s, d)
        if lapsing:
            self.ctx.state.lapsed[self.i] = True

    def _shop(self, d: int, u_buy: float, u_spend: float) -> bool:
        """The day's purchases under every strategy; True if the member lapses today."""
        bound = self.multiplier_bound * (1.0 + float(self.lift.max())) * self.agents.reward_bound
        if u_buy < np.exp(-self.rate * max(1.0, bound)):
            return False  # as below, at the highest satisfaction: no purchase anywhere
        slope = self.ctx.scenario.behaviour.satisfaction.purchase_slope
        program = self.ctx.state.program
        plain = sat.purchase_multiplier(self.satisfaction_delta(), slope) * (1 + self.lift)
        # The Poisson inverse CDF is 0 in every world when u_buy < exp(-largest mean): most
        # days. Checked first against the reward mechanics' upper bound, which leaves the
        # outcome as it is and skips computing them on those days.
        if u_buy < np.exp(-self.rate * max(1.0, plain.max() * self.agents.reward_bound)):
            return False
        mult = plain
        if program.earning:  # the reward mechanics (model.md 7)
            since = d - self.last_redeemed
            mult = plain * program.reward_multiplier(self.balance, since).astype(np.float32)
        # The baseline (multiplier 1) first, then each strategy with and without the reward
        # mechanics (for the points-driven revenue), all on the same uniform.
        means = self.rate * np.concatenate((BASELINE, mult, plain))
        if u_buy < np.exp(-means.max()):
            return False
        buyers, counts = purchase.poisson_quantile(np.full(means.size, u_buy), means)
        limit, lapsing = purchase.MAX_PURCHASES_PER_DAY, False
        if buyers[0] == 0:  # BG/NBD: on the baseline, lapse after the J-th purchase
            last = int(purchase.dropout_after(self.rng.random(), self.dropout))
            if counts[0] >= last:  # then a strategy buys at most up to that purchase
                limit, lapsing = last, True
        bought = np.zeros(means.size, dtype=np.int64)
        bought[buyers] = np.minimum(counts, limit)
        strategies = len(mult)
        if bought[0] and self.starting and self.ctx.in_window(d):
            self._baseline_margin(int(bought[0]), u_spend)
        for s in range(strategies):
            if self.left[s]:
                continue
            extra = bought[1 + s] - bought[1 + strategies + s]
            if extra:
                table = self.ctx.state.members.spend_table
                value = purchase.spend(extra, self.spend_mean, table, self.segment, u_spend)
                self.ctx.tally.total["points_driven_revenue"][s] += value
            if bought[1 + s]:
                self._buy(s, d, int(bought[1 + s]), u_spend)
        return lapsing

    def _baseline_margin(self, count: int, u_spend: float) -> None:
        """Margin of the day's ``count`` baseline purchases, for every strategy whose program
        the member is in: the continuation ratio's denominator (clv_with_terminal)."""
        sc, table = self.ctx.scenario, self.ctx.state.members.spend_table
        per_currency = terminal.margin_per_currency(
            sc.economics.gross_margin, sc.program.points_per_currency, sc.program.point_value
        )
        gross = purchase.spend(count, self.spend_mean, table, self.segment, u_spend)
        self.ctx.tally.total["window_baseline"][~self.left] += gross * per_currency

    def _buy(self, s: int, d: int, count: int, u_spend: float) -> None:
        """``count`` purchases under strategy s on day d: spend, points, tallies (model.md 3, 7)."""
        sc, tally, table = self.ctx.scenario, self.ctx.tally, self.ctx.state.members.spend_table
        program, economics = sc.program, sc.economics
        gross = purchase.spend(count, self.spend_mean, table, self.segment, u_spend)
        discount = self.discount[s] if self.discount_until[s] >= d else 0.0
        net = gross * (1 - discount)
        multiplier = self.multiplier[s] if self.multiplier_until[s] >= d else 1.0
        earned = int(points.earned(net, program.points_per_currency, multiplier))
        offered = earned - int(points.earned(net, program.points_per_currency, 1.0))
        if self.bonus_until[s] >= d:
            earned += int(self.bonus[s])
            offered += int(self.bonus[s])
        self.bonus[s] = 0  # a bonus is used up by the first purchase day
        balance = int(self.balance[s]) + earned
        redeemed = int(points.redeemable(balance, program.redemption_threshold))
        self.balance[s] = balance - redeemed
        self.last_activity[s] = d
        ledger = self.ctx.state.program.ledgers[s]
        ledger.earn(net, earned, program.point_value)
        if redeemed > 0:
            self.drivers[s, sat.REWARD] += sc.behaviour.satisfaction.redemption_lift
            self.last_redeemed[s] = d
            ledger.redeem(redeemed)

        gross_margin = gross * economics.gross_margin - (gross - net)
        attributed = d - np.floor(self.last_open[s]) <= economics.attribution_window_days
        total, week = tally.total, self.ctx.week(d)
        total["purchases"][s] += count
        total["revenue"][s] += net
        total["discount_cost"][s] += gross - net
        total["reward_cost"][s] += redeemed * program.point_value
        total["gross_margin"][s] += gross_margin
        total["points_issued"][s] += earned
        total["offer_points"][s] += offered
        total["points_redeemed"][s] += redeemed
        if self.starting:
            margin = gross_margin - earned * program.point_value
            total["clv_margin"][s] += margin * self.ctx.discount(d)
            if self.ctx.in_window(d):
                total["window_margin"][s] += margin
        tally.weekly["purchases"][s, week] += count
        tally.weekly["revenue"][s, week] += net
        if attributed:
            total["attributed_revenue"][s] += net
            tally.weekly["attributed_revenue"][s, week] += net

    def _leave(self, s: int, d: int) -> None:
        self.left[s] = True
        self.ctx.tally.total["leavers"][s] += 1
        self._forfeit(s, d)

    def _expire(self, s: int, d: int) -> None:
        self._forfeit(s, d)
        self.drivers[s, sat.REWARD] -= self.ctx.scenario.behaviour.satisfaction.expiry_drop

    def _forfeit(self, s: int, d: int) -> None:
        """The whole balance expires; its value, charged when earned, returns as breakage."""
        balance = int(self.balance[s])
        self.ctx.tally.total["points_expired"][s] += balance
        self.ctx.state.program.ledgers[s].expire(balance)
        if self.starting:
            value = balance * self.ctx.scenario.program.point_value
            self.ctx.tally.total["clv_margin"][s] += value * self.ctx.discount(d)
            if self.ctx.in_window(d):
                self.ctx.tally.total["window_margin"][s] += value
        self.balance[s] = 0

    # --- a message -----------------------------------------------------------------------------

    def receive(self, send: Send, t: float) -> None:
        """A send at time t reaches this member, if eligible (model.md 4, 8)."""
        s, ch = send.s, send.ch
        if self.left[s] or not self.opt_in[ch] or self.exited[s, ch]:
            return
        if send.audience is not None and self.segment not in send.audience:
            return
        if send.cap is not None:
            cap = self.caps[s, ch]
            if not cap.admits(t):
                self.ctx.tally.total["skipped_capped"][s] += 1
                return  # no room in the window: dropped, not deferred
            cap.record(t)

        tally, cost = self.ctx.tally, send.channel.cost
        tally.channel["sends"][s, ch] += 1
        tally.weekly["sends"][s, self.ctx.week(t)] += 1
        tally.total["message_cost"][s] += cost
        if self.starting:
            tally.total["clv_margin"][s] -= cost * self.ctx.discount(t)
            if self.ctx.in_window(t):
                tally.total["window_cost"][s] += cost
        rng = self.message_rngs[s]
        if rng is None:
            rng = self.message_rngs[s] = self.agents.stream(self.i, self.agents.stream_keys[s])
        if ch == EMAIL and rng.random() >= self.ctx.placement[s]:
            return  # placed in spam: sent, never seen
        tally.channel["inbox"][s, ch] += 1
        self._see(send, t, rng.random(2))

    def _see(self, send: Send, t: float, uniforms: np.ndarray) -> None:
        """A seen message: pressure, then open, click, exit, complaint, then its effects."""
        s, ch, channel, campaign = send.s, send.ch, send.channel, send.campaign
        beh, r, sens = self.ctx.scenario.behaviour, campaign.relevance, self.sensitivity
        # Pressure decays continuously: bring this strategy's record to t, add the message.
        self.pressure[s] *= retention(t - self.pressed_at[s], beh.fatigue.half_life_days)
        self.pressed_at[s] = t
        self.pressure[s, ch] += fatigue.increment(channel.intrusiveness, r, sens)
        total = self.pressure[s].sum()
        felt = fatigue.felt(self.pressure[s, ch], total, beh.fatigue.cross_channel)
        excess_channel = fatigue.excess(felt, self.tolerance)
        excess_all = fatigue.excess(total, self.tolerance)

        delta = self.satisfaction_delta()[s]
        u_open, u_exit = uniforms
        p_open = response.open_probability(channel, beh, r, sens, excess_channel)
        opened = u_open < p_open
        # Given an open, u_open / p_open is again uniform on (0, 1): it decides the click.
        p_click = response.click_probability(channel, beh, r, sens, excess_channel)
        clicked = opened and u_open < p_open * p_click
        hazard = response.exit_multiplier(beh, r, sens, excess_channel, delta)
        exits = u_exit < response.exit_probability(channel, hazard)
        complains = u_exit < response.complaint_probability(channel, hazard)

        tally = self.ctx.tally
        tally.channel["opens"][s, ch] += opened
        tally.channel["clicks"][s, ch] += clicked
        tally.channel["exits"][s, ch] += exits
        tally.channel["complaints"][s, ch] += complains
        tally.weekly["exits"][s, self.ctx.week(t)] += exits
        if exits:
            self.exited[s, ch] = True
        if ch == EMAIL:
            self.ctx.complaints[s].add(int(t), 1, int(complains))

        per = beh.satisfaction
        effort = sat.time_effort_change(excess_all, per.time_effort_per_excess)
        self.drivers[s, sat.TIME_EFFORT] += effort
        self.drivers[s, sat.PERSONALISATION] += sat.personalisation_change(
            r, sens, per.personalisation_per_message
        )
        if opened:
            gain = beh.lift.on_open + beh.lift.on_click * clicked
            if campaign.offer is not None:
                gain += beh.lift.offer
                self._take_offer(s, campaign.offer, t)
            self.lift[s] = min(self.lift[s] + 2 * r * gain, beh.lift.cap)
            self.last_open[s] = t

    def _take_offer(self, s: int, offer: Offer, t: float) -> None:
        """Opening activates the message's offer. It never worsens one already held: the
        better of the held value (if still valid at t) and the new one, the later expiry."""
        if offer.kind == "points_multiplier":
            value, until, new, none = self.multiplier, self.multiplier_until, offer.multiplier, 1
        elif offer.kind == "bonus_points":
            value, until, new, none = self.bonus, self.bonus_until, offer.points, 0
        else:
            value, until, new, none = self.discount, self.discount_until, offer.percent / 100, 0
        held = value[s] if until[s] >= t else none
        value[s] = max(held, new)
        until[s] = max(until[s], t + offer.days)


# --- processes -------------------------------------------------------------------------------


def _life(env: simpy.Environment, member: Member) -> Iterator[simpy.Event]:
    """A member's daily step, from the day it joins to the horizon."""
    while True:
        member.live_day(int(env.now))
        yield DayStart(env, 1)


def _clock(
    env: simpy.Environment, agents: Agents, weeks: list[dict], on_day: Progress
) -> Iterator[simpy.Event]:
    """The calendar: weekly snapshots, sender reputation and joining members, at each day start
    before the members' own steps."""
    ctx = agents.ctx
    for d in range(ctx.scenario.horizon_days):
        if d and d % 7 == 0:
            agents.publish(d)
            weeks.extend(week_rows(ctx, d // 7, d))
        ctx.update_reputation(d)
        ctx.window_day(d)
        for i in range(len(agents.members), ctx.state.members.joined_by(d)):
            agents.members.append(Member(agents, i))
            env.process(_life(env, agents.members[-1]))
        if on_day:
            on_day(1)
        yield DayStart(env, 1)


def _campaign(
    env: simpy.Environment, agents: Agents, s: int, campaign: Campaign
) -> Iterator[simpy.Event]:
    """At each send time, visit every member who has joined."""
    sc = agents.ctx.scenario
    audience = None
    if isinstance(campaign.audience, Audience):
        names = list(sc.population.segments)
        audience = frozenset(names.index(seg) for seg in campaign.audience.segments or ())
    send = Send(
        s=s,
        ch=CHANNELS.index(campaign.channel),
        campaign=campaign,
        channel=getattr(sc.channels, campaign.channel),
        audience=audience,
        cap=sc.strategies[agents.ctx.strategies[s]].caps.get(campaign.channel),
    )
    for t in send_times(campaign, sc.horizon_days, agents.calendar):
        yield env.timeout(t - env.now)
        for member in agents.members:
            member.receive(send, t)


def simulate_agents(ctx: Context, on_day: Progress = None) -> list[dict]:
    """Run one replication member by member to the horizon; return the weekly rows."""
    env = simpy.Environment()
    agents = Agents(ctx)
    weeks: list[dict] = []
    # Events at the same time and priority run in the order they were scheduled, so the clock,
    # started first, precedes the members at every day start; sends come after (lower priority).
    env.process(_clock(env, agents, weeks, on_day))
    for s, name in enumerate(ctx.strategies):
        for campaign in ctx.scenario.strategies[name].campaigns.values():
            env.process(_campaign(env, agents, s, campaign))
    horizon = ctx.scenario.horizon_days
    env.run(until=horizon)
    agents.publish(horizon)
    weeks.extend(week_rows(ctx, math.ceil(horizon / 7), horizon))
    return weeks


def unsupported(scenario: Scenario) -> list[str]:
    """Features the reference engine does not implement (field paths): it covers the core
    model (docs/engines.md): calendar campaigns to segments under channel caps, rolling or per
    calendar day, week or month. The vector engine covers everything."""
    problems = []
    if scenario.program.tiers is not None:
        problems.append("program.tiers")
    if scenario.program.expiry.kind not in ("inactivity", "none"):
        problems.append(f"program.expiry.kind: {scenario.program.expiry.kind}")
    if scenario.program.control_group > 0:
        problems.append("program.control_group")
    if scenario.behaviour.lapse.enabled:
        problems.append("behaviour.lapse")
    if scenario.behaviour.engagement.on:
        problems.append("behaviour.engagement")
    if scenario.behaviour.lift.rate_elasticity < 1:
        problems.append("behaviour.lift.rate_elasticity")
    if scenario.behaviour.lift.pull_forward > 0:
        problems.append("behaviour.lift.pull_forward")
    if scenario.behaviour.lift.conversion_per_click > 0:
        problems.append("behaviour.lift.conversion_per_click")
    if scenario.behaviour.consent.recaptures:
        problems.append("behaviour.consent.recapture_per_purchase")
    levels = scenario.behaviour.satisfaction.levels
    for effect in ("leave", "exit"):
        if getattr(levels, effect).on:
            problems.append(f"behaviour.satisfaction.levels.{effect}")
    for name, strategy in scenario.strategies.items():
        where = f"strategies.{name}"
        for field in ("expiry", "quiet_hours", "sunset", "policy"):
            if getattr(strategy, field) is not None:
                problems.append(f"{where}.{field}")
        if strategy.organisation != "orchestrated":
            problems.append(f"{where}.organisation: {strategy.organisation}")
        if strategy.cooldown_hours:
            problems.append(f"{where}.cooldown_hours")
        if strategy.journeys:
            problems.append(f"{where}.journeys")
        for scope in strategy.caps:
            if scope not in CHANNELS:
                problems.append(f"{where}.caps.{scope}: only caps per channel")
        for cname, campaign in strategy.campaigns.items():
            offer = campaign.offer
            at = f"{where}.campaigns.{cname}"
            if offer is not None and offer.kind == "spend_target":
                problems.append(f"{at}.offer.kind: spend_target")
            if getattr(offer, "category", None) is not None:
                problems.append(f"{at}.offer.category")
            if campaign.priority or campaign.exempt is not None or campaign.is_exempt:
                problems.append(f"{at}: priority and exemption")
            if campaign.repermission is not None:
                problems.append(f"{at}.repermission")
            audience = campaign.audience
            if isinstance(audience, Audience) and audience.model_fields_set - {"segments"}:
                problems.append(f"{at}.audience: only segments")
    return problems


def run_replication_agent(
    scenario: Scenario,
    replication: int,
    seed: int,
    on_day: Progress = None,
    strategies: Sequence[str] | None = None,
) -> ReplicationResult:
    """``run_replication`` with the reference engine: the same population, the same tables
    (``incremental_revenue`` is left to the runner, as there); ``on_day(1)`` at each day start."""
    ctx = build_context(scenario, replication, seed, strategies)
    return tables(ctx, simulate_agents(ctx, on_day), replication, seed)
