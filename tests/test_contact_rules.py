"""Contact rules: caps over rolling and calendar windows, cooldowns, quiet hours, exempt
messages, the priority rule and siloed against orchestrated channel teams.

The cap counters are checked against a brute-force count of every message they recorded.
The engine is checked from outside: every delivery is recorded where dispatch hands it to
delivery, and the rules are re-derived from that record alone (windows, gaps, hours of the
day), without asking the engine's own counters. Most scenarios keep every member reachable
(no channel exits, no leaving), so that a strategy and its twin without rules are offered
every send to the same members and their counts compare exactly.
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from builders import wrap
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import sim.engine.dispatch as dispatch
import sim.engine.replication as replication
from sim.engine.replication import build_context, simulate
from sim.io.loader import scenario_from_dict
from sim.spec.fields import CHANNELS
from sim.spec.strategy import Cap
from sim.strategies.caps import CalendarCap, RollingCap, make_cap

EMAIL, SMS, PUSH = (CHANNELS.index(c) for c in ("email", "sms", "push"))
EXEMPT_KINDS = ("transactional", "service")
MINUTES_PER_DAY = 1440
# Sends fall on whole minutes; this is far below a minute and far above float rounding.
SLACK = 1e-6

SEGMENTS: dict[str, Any] = {
    "members": {
        "share": 1.0,
        "purchase": {"r": 1.0, "alpha": 10.0, "a": 0.8, "b": 5.0},
        "spend": {"p": 6.0, "q": 4.0, "v": 150.0},
        # Partial opt-in, so that members are reachable on one, two or all three channels.
        "opt_in": {"email": 0.85, "sms": 0.6, "push": 0.7},
    }
}
# No channel exits (so no complaints either) and no leaving: every member stays reachable
# whatever a strategy sends, and twin strategies are offered every send to the same members.
STAY: dict[str, Any] = {
    "channels": {
        "email": {"exit": 0.0, "complaint": 0.0, "reputation": None},
        "sms": {"exit": 0.0},
        "push": {"exit": 0.0},
    },
    "behaviour": {"leave_per_year": 0.0, "fatigue": {"exit_slope": 0.0}},
}


def scenario(strategies: dict[str, Any], size: int = 600, horizon: int = 28, **changes: Any) -> Any:
    """A one-segment scenario without exits or leaving, with the given strategies."""
    data: dict[str, Any] = {
        "name": "contact-rules",
        "horizon_days": horizon,
        "seed": 11,
        "replications": 1,
        "population": {"size": size, "segments": SEGMENTS},
        "strategies": strategies,
        **copy.deepcopy(STAY),
    }
    data.update(changes)
    return scenario_from_dict(data)


def daily(channel: str, hour: float, **extra: Any) -> dict[str, Any]:
    return {"channel": channel, "every_days": 1, "hour": hour, **extra}


def weekly(channel: str, day: str, hour: float = 9, **extra: Any) -> dict[str, Any]:
    return {"channel": channel, "weekdays": [day], "hour": hour, **extra}


def is_exempt(kind: str, exempt: bool | None) -> bool:
    return kind in EXEMPT_KINDS if exempt is None else exempt


def minute_of_day(t: np.ndarray | float) -> np.ndarray:
    return np.round((np.asarray(t) % 1.0) * MINUTES_PER_DAY).astype(np.int64) % MINUTES_PER_DAY


def in_quiet(minutes: np.ndarray, start: float, end: float) -> np.ndarray:
    """Mask: minutes of the day within quiet hours [start, end) (wrapping midnight)."""
    lo, hi = round(start * 60), round(end * 60)
    if lo > hi:
        return (minutes >= lo) | (minutes < hi)
    return (minutes >= lo) & (minutes < hi)


def release_minute(t: float, start: float, end: float) -> int:
    """The minute since day 0 at which quiet hours containing t end."""
    day = math.floor(t + SLACK)
    if start > end and minute_of_day(t) >= round(start * 60):
        day += 1
    return day * MINUTES_PER_DAY + round(end * 60)


def run(sc: Any, monkeypatch: Any) -> tuple[Any, Deliveries]:
    with monkeypatch.context() as patch:
        log = Deliveries(patch)
        ctx = build_context(sc, 0, sc.seed)
        simulate(ctx)
    return ctx, log


# --- a record of every delivery ----------------------------------------------------------------


@dataclass
class Table:
    """Deliveries of one strategy, one row per member and message."""

    member: np.ndarray
    ch: np.ndarray
    t: np.ndarray
    name: np.ndarray
    kind: np.ndarray
    exempt: np.ndarray
    released: np.ndarray  # sent when quiet hours ended, not at the campaign's own time

    def where(self, mask: np.ndarray) -> Table:
        return Table(**{k: v[mask] for k, v in vars(self).items()})

    def per_member(self, n: int) -> np.ndarray:
        return np.bincount(self.member, minlength=n)


class Deliveries:
    """Records what dispatch offers each channel step (``_send``: after audience, control
    group and reachability, before quiet hours and the rules) and what it delivers (``send``),
    and whether the step is a release at the end of quiet hours."""

    def __init__(self, monkeypatch: Any) -> None:
        self.offers: list[tuple[int, str, Any, int, float, bool, np.ndarray]] = []
        self.rows: list[tuple[int, str, str, bool, int, float, bool, np.ndarray]] = []
        self._name = ""
        self._releasing = False
        wrap(monkeypatch, dispatch, "_send", before=self._offered)
        wrap(monkeypatch, dispatch, "send", before=self._delivered)
        wrap(monkeypatch, replication, "release", before=self._release, after=self._released)

    def _release(self, *args: Any) -> None:
        self._releasing = True

    def _released(self, *args: Any) -> None:
        self._releasing = False

    def _offered(self, ctx, s, name, message, ch, t, idx) -> None:
        self._name = name
        self.offers.append((s, name, message, ch, t, self._releasing, idx.copy()))

    def _delivered(self, ctx, s, message, ch, t, idx) -> None:
        exempt = is_exempt(message.kind, message.exempt)
        row = (s, self._name, message.kind, exempt, ch, t, self._releasing, idx.copy())
        self.rows.append(row)

    def table(self, s: int) -> Table:
        rows = [r for r in self.rows if r[0] == s]
        sizes = [r[-1].size for r in rows]

        def column(i: int, dtype: Any) -> np.ndarray:
            return np.repeat(np.array([r[i] for r in rows], dtype=dtype), sizes)

        return Table(
            member=np.concatenate([r[-1] for r in rows]).astype(np.int64)
            if rows
            else np.zeros(0, dtype=np.int64),
            ch=column(4, np.int64),
            t=column(5, np.float64),
            name=column(1, object),
            kind=column(2, object),
            exempt=column(3, bool),
            released=column(6, bool),
        )


def recipients(d: Table, name: str, n: int) -> np.ndarray:
    """Deliveries of message ``name`` per member."""
    return d.where(d.name == name).per_member(n)


def reachable(ctx: Any, s: int, ch: int) -> np.ndarray:
    """Members reachable on channel ch at the horizon: in these scenarios nobody exits or
    leaves, so these are the members opted in to it, reachable all along."""
    n = ctx.state.members.size
    return ctx.state.reachable(s, ch, n)


# --- independent checks on a record ------------------------------------------------------------


def parse_cap(text: str) -> tuple[int, float | None, float | None]:
    """(max, rolling days, calendar period length in days) of a cap's text."""
    if m := re.fullmatch(r"(\d+) per (\d+(?:\.\d+)?)d", text):
        return int(m[1]), float(m[2]), None
    m = re.fullmatch(r"(\d+) per (day|week)", text)
    assert m, text
    return int(m[1]), None, 1.0 if m[2] == "day" else 7.0


def most_in_rolling_window(member: np.ndarray, t: np.ndarray, days: float) -> int:
    """The most deliveries any member had within any window (t - days, t]."""
    if member.size == 0:
        return 0
    # One sorted key per delivery: members far apart, times in order within a member.
    key = np.sort(member * 1e5 + t)
    upto = np.searchsorted(key, key + SLACK, "right")
    after_start = np.searchsorted(key, key - days + SLACK, "right")
    return int((upto - after_start).max())


def most_in_calendar_period(member: np.ndarray, t: np.ndarray, length: float) -> int:
    """The most deliveries any member had within one calendar day or week."""
    if member.size == 0:
        return 0
    period = np.floor(t / length + SLACK).astype(np.int64)
    _, counts = np.unique(np.stack([member, period]), axis=1, return_counts=True)
    return int(counts.max())


def capped_groups(d: Table, scope: str, siloed: bool) -> list[Table]:
    """The deliveries that count against the cap on ``scope``, per plan that owns a copy."""
    counted = ~d.exempt
    if scope in CHANNELS:
        return [d.where(counted & (d.ch == CHANNELS.index(scope)))]
    if scope != "all":
        counted &= d.kind == scope
    if siloed:  # each channel team its own copy
        return [d.where(counted & (d.ch == c)) for c in range(len(CHANNELS))]
    return [d.where(counted)]


def most_under_cap(d: Table, scope: str, text: str, siloed: bool) -> int:
    _, days, length = parse_cap(text)
    most = 0
    for g in capped_groups(d, scope, siloed):
        if days is not None:
            most = max(most, most_in_rolling_window(g.member, g.t, days))
        else:
            assert length is not None
            most = max(most, most_in_calendar_period(g.member, g.t, length))
    return most


def shortest_gap(member: np.ndarray, t: np.ndarray) -> float:
    """The shortest time between two deliveries to one member (inf if none had two)."""
    order = np.lexsort((t, member))
    m, tt = member[order], t[order]
    same = m[1:] == m[:-1]
    gaps = np.diff(tt)[same]
    return float(gaps.min()) if gaps.size else math.inf


# --- the cap counters against a brute-force count ---------------------------------------------

N_MEMBERS = 6
# Minutes to the next operation: often whole quarters of a day, so that times land exactly on
# window edges, sometimes any minute.
STEPS = st.one_of(st.integers(0, 12).map(lambda k: 360 * k), st.integers(0, 3 * MINUTES_PER_DAY))
OPERATIONS = st.lists(
    st.tuples(
        STEPS,
        st.lists(st.integers(0, N_MEMBERS - 1), unique=True),  # members to record
        st.lists(st.integers(0, 3), min_size=N_MEMBERS, max_size=N_MEMBERS),  # pending
        st.lists(st.integers(0, 5), min_size=N_MEMBERS, max_size=N_MEMBERS),  # personal limits
    ),
    min_size=1,
    max_size=40,
)
# Rolling windows of whole minutes (so that the brute count is exact in integers).
CAPS = st.one_of(
    st.builds(
        "{} per {}d".format, st.integers(1, 4), st.sampled_from(["0.25", "1", "2.5", "3", "7"])
    ),
    st.builds("{} per {}".format, st.integers(1, 4), st.sampled_from(["day", "week"])),
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    text=CAPS,
    # Far into a long horizon as well as from day 0, and not only from a Monday.
    start_minute=st.sampled_from([0, 1, 5 * MINUTES_PER_DAY + 17, 3000 * MINUTES_PER_DAY]),
    operations=OPERATIONS,
)
@example(
    text="2 per 7d",
    start_minute=0,
    operations=[(0, [0], [0] * 6, [2] * 6), (10080, [0], [0] * 6, [1] * 6)],
)
def test_cap_counters_match_a_brute_force_count(text, start_minute, operations):
    cap_spec = Cap.model_validate(text)
    cap = make_cap(cap_spec, N_MEMBERS)
    most, days, length = parse_cap(text)
    assert isinstance(cap, RollingCap if days is not None else CalendarCap)
    recorded: list[list[int]] = [[] for _ in range(N_MEMBERS)]  # minutes of each message
    idx = np.arange(N_MEMBERS)
    minute = start_minute
    for step, who, pending, limits in operations:
        minute += step
        t = minute / MINUTES_PER_DAY
        if days is not None:  # in the window (t - days, t]
            window_start = minute - round(days * MINUTES_PER_DAY)
            brute = np.array([sum(m > window_start for m in ms) for ms in recorded])
            end = t + days
        else:  # in the calendar period of t
            assert length is not None
            period = minute // round(length * MINUTES_PER_DAY)
            brute = np.array(
                [sum(m // round(length * MINUTES_PER_DAY) == period for m in ms) for ms in recorded]
            )
            end = (period + 1) * length
        extra = np.array(pending)
        where = f"{text} at minute {minute}"
        assert cap.count_within(t).tolist() == brute.tolist(), where
        assert cap.count(idx, t).tolist() == brute.tolist(), where
        assert cap.allows(idx, t).tolist() == (brute < most).tolist(), where
        assert cap.allows(idx, t, extra).tolist() == (brute + extra < most).tolist(), where
        # A subset of members in any order: the answers follow the members asked about.
        subset = idx[::-2]
        assert (
            cap.allows(subset, t, extra[subset]).tolist()
            == (brute[subset] + extra[subset] < most).tolist()
        ), where
        # Personal limits (an adaptive policy's) apply where under the cap's maximum.
        limit = np.array(limits, dtype=np.int16)
        under = np.minimum(limit, most)
        assert cap.allows(idx, t, None, limit).tolist() == (brute < under).tolist(), where
        assert cap.allows(idx, t, extra, limit).tolist() == (brute + extra < under).tolist()
        assert cap.window_end(t) == pytest.approx(end, abs=SLACK), where
        # As in the engine, only members the cap allows are recorded.
        admitted = np.array(sorted(m for m in who if brute[m] < most), dtype=np.int64)
        cap.record(admitted, t)
        for m in admitted:
            recorded[m].append(minute)


def test_rolling_cap_resolves_minutes_late_in_a_long_horizon():
    # horizon_days may be up to 36500: times must be kept to the minute over the whole
    # horizon (float32 spacing exceeds a minute beyond day 8192), so that a message one
    # minute inside the window is refused and one exactly at its end let through.
    member = np.array([0])
    wrong = []
    for day in (100, 3650, 9000, 20000, 36000):
        for minute in range(0, MINUTES_PER_DAY, 7):
            cap = RollingCap(Cap.model_validate("1 per 7d"), 1)
            sent = day + minute / MINUTES_PER_DAY
            cap.record(member, sent)
            inside = sent + 7 - 1 / MINUTES_PER_DAY  # one minute before the window ends
            if cap.allows(member, inside)[0] or not cap.allows(member, sent + 7)[0]:
                wrong.append((day, minute))
    assert not wrong, f"{len(wrong)} wrong answers, first {wrong[:3]} (day, minute)"


# --- random rules in the engine -----------------------------------------------------------------

ENGINE_CAPS = st.one_of(
    st.builds("{} per {}d".format, st.integers(1, 3), st.sampled_from(["1", "2.5", "7"])),
    st.builds("{} per {}".format, st.integers(1, 3), st.sampled_from(["day", "week"])),
)
QUIET = st.builds(
    lambda hours, channels, action: {
        "start": hours[0],
        "end": hours[1],
        "channels": channels,
        "action": action,
    },
    st.tuples(st.integers(0, 23), st.integers(0, 23)).filter(lambda h: h[0] != h[1]),
    st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=3, unique=True),
    st.sampled_from(["hold", "drop"]),
)
RULES = st.fixed_dictionaries(
    {
        "organisation": st.sampled_from(["orchestrated", "siloed"]),
        "caps": st.dictionaries(
            st.sampled_from(["email", "sms", "push", "all", "newsletter", "promo"]),
            ENGINE_CAPS,
            max_size=3,
        ),
        "cooldown_hours": st.dictionaries(
            st.sampled_from(CHANNELS), st.sampled_from([6.0, 16.0, 24.0, 30.0]), max_size=3
        ),
    },
    optional={"quiet_hours": QUIET},
)
CADENCES = st.one_of(
    st.sampled_from([0.5, 1, 1.5, 2]).map(lambda e: {"every_days": e}),
    st.lists(
        st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]),
        min_size=1,
        max_size=4,
        unique=True,
    ).map(lambda w: {"weekdays": w}),
)
CAMPAIGN = st.builds(
    lambda base, cadence: {**base, **cadence},
    st.fixed_dictionaries(
        {
            "channel": st.sampled_from(CHANNELS),
            "kind": st.sampled_from(["newsletter", "promo", "transactional"]),
            "hour": st.integers(0, 95).map(lambda q: q / 4),  # quarter hours
            "priority": st.sampled_from([0, 50, 90]),
        },
        optional={"exempt": st.booleans()},
    ),
    CADENCES,
)
CAMPAIGNS = st.lists(CAMPAIGN, min_size=2, max_size=5).map(
    lambda cs: {f"c{i}": c for i, c in enumerate(cs)}
)
# A welcome series for the members who join during the run: journeys obey the same rules.
JOURNEYS = st.one_of(
    st.just({}),
    st.fixed_dictionaries(
        {
            "trigger": st.just("joined"),
            "channel": st.sampled_from(CHANNELS),
            "kind": st.sampled_from(["welcome", "promo", "service"]),
            "hour": st.integers(0, 95).map(lambda q: q / 4),
            "delay_days": st.sampled_from([[0], [0, 1], [0, 2, 5]]),
            "priority": st.sampled_from([0, 50, 90]),
        }
    ).map(lambda j: {"welcome": j}),
)
EVERY_RULE = {
    "organisation": "siloed",
    "caps": {"all": "2 per week", "email": "1 per 2.5d", "promo": "1 per day"},
    "cooldown_hours": {"sms": 30.0, "push": 6.0},
    "quiet_hours": {"start": 21, "end": 8, "channels": ["sms", "push"], "action": "hold"},
}
BUSY = {
    "news": {"channel": "email", "every_days": 0.5, "hour": 7, "priority": 50},
    "promo": {"channel": "sms", "kind": "promo", "every_days": 1, "hour": 22, "priority": 90},
    "push": {"channel": "push", "kind": "promo", "weekdays": ["mon", "thu"], "hour": 8},
    "receipt": {"channel": "sms", "kind": "transactional", "every_days": 1.5, "hour": 23.5},
}
WELCOME = {"welcome": {"trigger": "joined", "channel": "push", "hour": 21.5, "delay_days": [0, 1]}}


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rules=RULES, campaigns=CAMPAIGNS, journeys=JOURNEYS)
@example(rules=EVERY_RULE, campaigns=BUSY, journeys=WELCOME)
@example(rules={**EVERY_RULE, "organisation": "orchestrated"}, campaigns=BUSY, journeys=WELCOME)
@example(
    rules={**EVERY_RULE, "quiet_hours": {**EVERY_RULE["quiet_hours"], "action": "drop"}},
    campaigns=BUSY,
    journeys=WELCOME,
)
def test_random_rules_hold_for_every_delivery(monkeypatch, rules, campaigns, journeys):
    horizon = 28
    messages = {"campaigns": campaigns, "journeys": journeys}
    # Members also join during the run, and a control group gets exempt messages only.
    sc = scenario(
        {"ruled": {**rules, **messages}, "free": messages},
        size=400,
        horizon=horizon,
        population={"size": 400, "acquisition_per_day": 3.0, "segments": SEGMENTS},
        program={"control_group": 0.1},
    )
    ctx, log = run(sc, monkeypatch)
    ruled, free = ctx.strategies.index("ruled"), ctx.strategies.index("free")
    d = log.table(ruled)
    tally = ctx.tally.total
    assert ctx.control is not None
    assert not ctx.control[d.member[~d.exempt]].any()
    # The record is complete: it has every send the engine counted.
    sends = ctx.tally.channel["sends"]
    assert np.bincount(d.ch, minlength=len(CHANNELS)).tolist() == sends[ruled].tolist()
    kinds = {n: c.get("kind", "newsletter") for n, c in campaigns.items()}
    kinds.update({n: j.get("kind", "welcome") for n, j in journeys.items()})
    exempt = {n: m.get("exempt") for n, m in {**campaigns, **journeys}.items()}
    assert d.exempt.tolist() == [is_exempt(kinds[n], exempt[n]) for n in d.name]
    assert tally["journey_sends"][ruled] == np.isin(d.name, list(journeys)).sum()

    # Caps: no window or period holds more than the cap of non-exempt messages.
    siloed = rules["organisation"] == "siloed"
    for scope, text in rules["caps"].items():
        most = most_under_cap(d, scope, text, siloed)
        assert most <= parse_cap(text)[0], (scope, text, most)

    # Cooldowns: non-exempt messages on one channel to one member at least that far apart.
    marketing = d.where(~d.exempt)
    for channel, hours in rules["cooldown_hours"].items():
        on = marketing.where(marketing.ch == CHANNELS.index(channel))
        assert shortest_gap(on.member, on.t) >= hours / 24 - SLACK, channel

    # Quiet hours: nothing non-exempt on a quiet channel inside them; what they held went
    # out when they ended, to members they held, and was counted.
    quiet = rules.get("quiet_hours")
    held_by_release: dict[tuple[str, int, int], set[int]] = {}
    held = reoffered = 0
    if quiet is not None:
        quiet_channels = [CHANNELS.index(c) for c in quiet["channels"]]
        on_quiet = marketing.where(np.isin(marketing.ch, quiet_channels))
        inside = in_quiet(minute_of_day(on_quiet.t), quiet["start"], quiet["end"])
        assert not inside.any(), on_quiet.t[inside][:5]
        for s, name, message, ch, t, releasing, idx in log.offers:
            if s != ruled or releasing or ch not in quiet_channels:
                continue
            if is_exempt(message.kind, message.exempt):
                continue
            if in_quiet(minute_of_day(t), quiet["start"], quiet["end"]):
                held += idx.size
                at = release_minute(t, quiet["start"], quiet["end"])
                held_by_release.setdefault((name, ch, at), set()).update(idx.tolist())
                if quiet["action"] == "hold" and at < horizon * MINUTES_PER_DAY:
                    reoffered += idx.size
    hold = quiet is not None and quiet["action"] == "hold"
    assert tally["held_quiet_hours"][ruled] == (held if hold else 0)
    assert tally["skipped_quiet_hours"][ruled] == (0 if hold else held)
    released = d.where(d.released)
    if hold:
        assert (minute_of_day(released.t) == round(quiet["end"] * 60)).all()
        for member, name, ch, t in zip(
            released.member, released.name, released.ch, released.t, strict=True
        ):
            at = round(t * MINUTES_PER_DAY)
            assert member in held_by_release.get((name, ch, at), set()), (name, ch, t)
    else:
        assert released.member.size == 0

    # Exact accounting against the twin without rules: each send it made was, under the
    # rules, sent, or held back by one rule, or dropped in quiet hours, or held and offered
    # again (or never, when the quiet hours end after the horizon).
    skipped = sum(tally[k][ruled] for k in ("skipped_capped", "skipped_cooldown"))
    assert sends[free].sum() == sends[ruled].sum() + skipped + held - reoffered
    for k in ("skipped_capped", "skipped_cooldown", "skipped_quiet_hours", "held_quiet_hours"):
        assert tally[k][free] == 0, k


# --- caps and cooldowns bind, and every skipped message is accounted for ------------------------


@pytest.mark.parametrize(
    ("cap", "per_member"),
    [
        ("2 per week", 2 * 4),  # Monday and Tuesday of each of 4 weeks
        ("1 per day", 28),
        ("3 per 7d", 3 * 4),  # days 0-2, 7-9, 14-16, 21-23
        ("1 per 3d", 10),  # days 0, 3, ..., 27: a message exactly 3 days back has left
        ("2 per 2.5d", 19),  # two days in every three: each third day has two within 2.5
    ],
)
def test_a_channel_cap_binds_exactly_and_skipped_messages_add_up(monkeypatch, cap, per_member):
    campaigns = {"news": daily("email", 9), "sms": daily("sms", 12)}
    sc = scenario(
        {
            "capped": {"caps": {"email": cap}, "campaigns": campaigns},
            "free": {"campaigns": campaigns},
        }
    )
    ctx, log = run(sc, monkeypatch)
    capped, free = ctx.strategies.index("capped"), ctx.strategies.index("free")
    n = ctx.state.members.size
    on_email = reachable(ctx, capped, EMAIL)
    emails = log.table(capped).where(log.table(capped).ch == EMAIL)
    # Every member reachable by email got exactly the cap's share of the 28 daily emails.
    assert on_email.sum() > 300
    assert emails.per_member(n)[on_email].tolist() == [per_member] * int(on_email.sum())
    assert emails.per_member(n)[~on_email].sum() == 0
    sends, tally = ctx.tally.channel["sends"], ctx.tally.total
    assert sends[free, EMAIL] == 28 * on_email.sum()
    assert tally["skipped_capped"][capped] == (28 - per_member) * on_email.sum()
    assert sends[capped, EMAIL] + tally["skipped_capped"][capped] == sends[free, EMAIL]
    # A cap on email leaves the other channels alone.
    assert sends[capped, SMS] == sends[free, SMS] > 0
    assert tally["skipped_cooldown"][capped] == 0


@pytest.mark.parametrize(
    ("hours", "per_member"),
    [
        (6, 56),  # 09:00 and 15:00 are exactly 6 hours apart: both go out
        (16, 28),  # only 09:00
        (24, 28),  # 09:00 each day, exactly 24 hours apart
        (25, 19),  # 09:00 on days 0, 3, ..., 27 and 15:00 on days 1, 4, ..., 25
    ],
)
def test_a_cooldown_binds_exactly_at_its_edge(monkeypatch, hours, per_member):
    campaigns = {"morning": daily("email", 9), "afternoon": daily("email", 15)}
    sc = scenario(
        {
            "cooled": {"cooldown_hours": {"email": hours}, "campaigns": campaigns},
            "free": {"campaigns": campaigns},
        }
    )
    ctx, log = run(sc, monkeypatch)
    cooled, free = ctx.strategies.index("cooled"), ctx.strategies.index("free")
    on_email = reachable(ctx, cooled, EMAIL)
    d = log.table(cooled)
    counts = d.per_member(ctx.state.members.size)
    assert counts[on_email].tolist() == [per_member] * int(on_email.sum())
    assert shortest_gap(d.member, d.t) >= hours / 24 - SLACK
    sends, tally = ctx.tally.channel["sends"], ctx.tally.total
    assert tally["skipped_cooldown"][cooled] == (56 - per_member) * on_email.sum()
    assert sends[cooled].sum() + tally["skipped_cooldown"][cooled] == sends[free].sum()
    assert tally["skipped_capped"][cooled] == 0


def test_caps_and_cooldowns_together_count_each_skip_once(monkeypatch):
    # Every member is offered 3 emails a day; each skipped one is counted by exactly one rule
    # (the cooldown first), so sends and skips add up to the twin's sends.
    campaigns = {
        "morning": daily("email", 8),
        "noon": daily("email", 12, kind="promo"),
        "evening": daily("email", 20, kind="promo"),
        "sms": {"channel": "sms", "every_days": 0.5, "hour": 10, "kind": "promo"},
    }
    rules = {
        "caps": {"all": "5 per week", "promo": "3 per 7d", "sms": "1 per day"},
        "cooldown_hours": {"email": 8, "sms": 6},
    }
    sc = scenario({"ruled": {**rules, "campaigns": campaigns}, "free": {"campaigns": campaigns}})
    ctx, _ = run(sc, monkeypatch)
    ruled, free = ctx.strategies.index("ruled"), ctx.strategies.index("free")
    sends, tally = ctx.tally.channel["sends"], ctx.tally.total
    capped, cooled = tally["skipped_capped"][ruled], tally["skipped_cooldown"][ruled]
    assert capped > 0 and cooled > 0
    assert sends[ruled].sum() + capped + cooled == sends[free].sum()
    assert sends[ruled].sum() < 0.4 * sends[free].sum()


# --- exempt messages ---------------------------------------------------------------------------


def test_exempt_messages_ignore_every_rule_and_do_not_count(monkeypatch):
    rules = {
        "caps": {"all": "1 per week", "sms": "1 per week", "push": "1 per 7d"},
        "cooldown_hours": {"email": 24, "sms": 24, "push": 24},
        "quiet_hours": {"start": 21, "end": 8, "channels": ["sms", "push"], "action": "drop"},
    }
    marketing = {"sms": daily("sms", 12, kind="promo"), "push": daily("push", 13)}
    exempt = {
        # Inside quiet hours, within the cooldown of the marketing message and past every cap.
        "receipt": daily("sms", 23, kind="transactional"),
        "account": daily("push", 22.5, kind="service"),
        # Marketing kinds may be declared exempt; they go out however often they are sent.
        "alert": {"channel": "email", "every_days": 0.5, "hour": 6, "exempt": True},
    }
    sc = scenario(
        {
            "marketing": {**rules, "campaigns": marketing},
            "with_exempt": {**rules, "campaigns": {**marketing, **exempt}},
        },
        program={"control_group": 0.1},
    )
    ctx, log = run(sc, monkeypatch)
    plain, mixed = ctx.strategies.index("marketing"), ctx.strategies.index("with_exempt")
    n = ctx.state.members.size
    assert ctx.control is not None
    control = ctx.control[:n]
    d = log.table(mixed)
    for name, ch, per_member, minute in (
        ("receipt", SMS, 28, 23 * 60),
        ("account", PUSH, 28, 22 * 60 + 30),
        ("alert", EMAIL, 56, None),
    ):
        got = d.where(d.name == name)
        on = reachable(ctx, mixed, ch)
        # Everyone reachable, the control group included, got every one, on time.
        assert on.sum() > 100 and (on & control).any()
        assert got.per_member(n)[on].tolist() == [per_member] * int(on.sum()), name
        if minute is not None:
            assert (minute_of_day(got.t) == minute).all(), name
    # The marketing messages went out exactly as without the exempt ones: these neither
    # used up a cap nor started a cooldown; the control group got none of them.
    a = log.table(plain)
    b = d.where(~d.exempt)
    assert sorted(zip(a.member, a.ch, a.t, strict=True)) == sorted(
        zip(b.member, b.ch, b.t, strict=True)
    )
    assert not control[b.member].any()
    for k in ("skipped_capped", "skipped_cooldown", "skipped_quiet_hours", "skipped_suppressed"):
        assert ctx.tally.total[k][mixed] == ctx.tally.total[k][plain], k
    # ...and the marketing messages were capped, so the exempt ones did meet binding rules.
    assert ctx.tally.total["skipped_capped"][plain] > 0


# --- quiet hours -------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["hold", "drop"])
def test_quiet_hours_hold_until_they_end_or_drop(monkeypatch, action):
    campaigns = {
        "late": daily("sms", 22),  # inside 21-8, held to 08:00 the next day
        "start": daily("push", 12),  # inside 12-14 (the start is inside): held to 14:00
        "end": daily("push", 14, kind="promo"),  # 14:00 is outside (the end is not inside)
        "email": daily("email", 23),  # email has no quiet hours
    }
    quiet = {"channels": ["sms"], "start": 21, "end": 8, "action": action}
    sc = scenario(
        {
            "night": {"quiet_hours": quiet, "campaigns": campaigns},
            "midday": {
                "quiet_hours": {**quiet, "channels": ["push"], "start": 12, "end": 14},
                "campaigns": campaigns,
            },
        }
    )
    ctx, log = run(sc, monkeypatch)
    night, midday = ctx.strategies.index("night"), ctx.strategies.index("midday")
    n = ctx.state.members.size
    on_sms, on_push = reachable(ctx, night, SMS).sum(), reachable(ctx, night, PUSH).sum()
    tally = ctx.tally.total
    hold = action == "hold"
    key, other = ("held_quiet_hours", "skipped_quiet_hours")[:: 1 if hold else -1]

    d = log.table(night)
    late = d.where(d.name == "late")
    # Held every night; released each morning but the last, which falls after the horizon.
    assert tally[key][night] == 28 * on_sms and tally[other][night] == 0
    assert late.member.size == (27 * on_sms if hold else 0)
    if hold:
        assert (minute_of_day(late.t) == 8 * 60).all() and late.released.all()
        assert late.per_member(n).max() == 27
    for name in ("start", "end", "email"):  # untouched by the night's quiet hours
        assert not d.where(d.name == name).released.any()
        assert d.where(d.name == name).member.size > 0

    d = log.table(midday)
    start, end = d.where(d.name == "start"), d.where(d.name == "end")
    # Released at 14:00 the same day, so none is lost to the horizon.
    assert tally[key][midday] == 28 * on_push and tally[other][midday] == 0
    assert start.member.size == (28 * on_push if hold else 0)
    assert (minute_of_day(start.t) == 14 * 60).all()
    assert end.member.size == 28 * on_push and not end.released.any()
    assert d.where(d.name == "late").member.size == 28 * on_sms


def test_held_messages_meet_the_other_rules_when_released(monkeypatch):
    # The 13:00 sms is held to 14:00, three hours after the 11:00 sms: inside a 4-hour
    # cooldown, and over a cap of one sms a day. Released messages obey both.
    campaigns = {"before": daily("sms", 11), "noon": daily("sms", 13, kind="promo")}
    quiet = {"start": 12, "end": 14, "channels": ["sms"], "action": "hold"}
    sc = scenario(
        {
            "cooled": {"quiet_hours": quiet, "cooldown_hours": {"sms": 4}, "campaigns": campaigns},
            "capped": {"quiet_hours": quiet, "caps": {"sms": "1 per day"}, "campaigns": campaigns},
            "free": {"quiet_hours": quiet, "campaigns": campaigns},
        }
    )
    ctx, log = run(sc, monkeypatch)
    n = ctx.state.members.size
    for name, skipped in (("cooled", "skipped_cooldown"), ("capped", "skipped_capped")):
        s = ctx.strategies.index(name)
        on_sms = reachable(ctx, s, SMS)
        d = log.table(s)
        assert recipients(d, "noon", n).sum() == 0, name
        assert recipients(d, "before", n)[on_sms].tolist() == [28] * int(on_sms.sum())
        assert ctx.tally.total["held_quiet_hours"][s] == 28 * on_sms.sum()
        assert ctx.tally.total[skipped][s] == 28 * on_sms.sum(), name
    # Without those rules every held message goes out at 14:00.
    s = ctx.strategies.index("free")
    noon = log.table(s).where(log.table(s).name == "noon")
    assert noon.member.size == 28 * reachable(ctx, s, SMS).sum() > 0
    assert (minute_of_day(noon.t) == 14 * 60).all() and noon.released.all()


# --- priority (Adobe Campaign pressure rules) ----------------------------------------------------


@pytest.mark.parametrize("cap", ["1 per week", "1 per 7d"])
@pytest.mark.parametrize(("low", "high"), [(10, 90), (50, 50)])
def test_priority_keeps_the_slot_for_a_later_higher_message(monkeypatch, cap, low, high):
    campaigns = {
        "monday": weekly("email", "mon", priority=low),
        "thursday": weekly("email", "thu", priority=high),
    }
    sc = scenario({"pressure": {"caps": {"email": cap}, "campaigns": campaigns}})
    ctx, log = run(sc, monkeypatch)
    s, n = ctx.strategies.index("pressure"), ctx.state.members.size
    on_email = reachable(ctx, s, EMAIL)
    d = log.table(s)
    monday, thursday = recipients(d, "monday", n), recipients(d, "thursday", n)
    weeks = 4
    winner, loser = (thursday, monday) if high > low else (monday, thursday)
    # With priorities the later, higher message reaches everyone reachable each week and the
    # earlier one nobody; with equal priorities the earlier one takes each week's slot.
    assert winner[on_email].tolist() == [weeks] * int(on_email.sum())
    assert loser.sum() == 0
    assert ctx.tally.total["skipped_capped"][s] == weeks * on_email.sum()


@pytest.mark.parametrize(("cap", "monday_sent"), [("2 per week", False), ("3 per week", True)])
def test_priority_counts_every_higher_message_still_scheduled(monkeypatch, cap, monday_sent):
    campaigns = {
        "monday": weekly("email", "mon", priority=10),
        "later": {"channel": "email", "weekdays": ["tue", "thu"], "hour": 9, "priority": 90},
    }
    sc = scenario({"pressure": {"caps": {"email": cap}, "campaigns": campaigns}})
    ctx, log = run(sc, monkeypatch)
    s, n = ctx.strategies.index("pressure"), ctx.state.members.size
    on_email = reachable(ctx, s, EMAIL)
    d = log.table(s)
    # Tuesday's and Thursday's of each of 4 weeks; Monday's only if the cap has room for 3.
    assert recipients(d, "later", n).tolist() == (8 * on_email).tolist()
    assert recipients(d, "monday", n)[on_email].tolist() == [4 * monday_sent] * int(on_email.sum())


@pytest.mark.parametrize(
    ("cap", "low", "high", "expected"),
    [
        # The higher message exactly 7 days after the lower: its window (t - 7, t] does not
        # hold the lower one, so nothing is reserved and all four go out.
        (
            "1 per 7d",
            {"every_days": 14, "hour": 9},
            {"every_days": 14, "start_day": 7, "hour": 9},
            (2, 2),
        ),
        # The higher message at Monday 00:00 is in the next week: Sunday's lower one of the
        # first week goes out; in later weeks Monday's took the week's slot.
        (
            "1 per week",
            {"weekdays": ["sun"], "hour": 9},
            {"weekdays": ["mon"], "hour": 0, "start_day": 1},
            (1, 3),
        ),
    ],
)
def test_priority_reserves_nothing_beyond_the_window(monkeypatch, cap, low, high, expected):
    campaigns = {
        "low": {"channel": "email", **low, "priority": 10},
        "high": {"channel": "email", **high, "priority": 90},
    }
    sc = scenario({"pressure": {"caps": {"email": cap}, "campaigns": campaigns}})
    ctx, log = run(sc, monkeypatch)
    s, n = ctx.strategies.index("pressure"), ctx.state.members.size
    on_email = reachable(ctx, s, EMAIL)
    d = log.table(s)
    for name, count in zip(("low", "high"), expected, strict=True):
        assert recipients(d, name, n).tolist() == (count * on_email).tolist(), name


@pytest.mark.parametrize("organisation", ["orchestrated", "siloed"])
def test_priority_reserves_room_only_where_the_higher_message_counts(monkeypatch, organisation):
    # The higher message goes by sms. One plan keeps room for it only for members it reaches:
    # those not opted in to sms keep the earlier email. Siloed, the email team does not see
    # the sms team's campaigns and each team has its own cap: everyone gets both.
    campaigns = {
        "email": weekly("email", "mon", priority=10),
        "sms": weekly("sms", "thu", priority=90),
    }
    rules = {"organisation": organisation, "caps": {"all": "1 per week"}}
    sc = scenario({"pressure": {**rules, "campaigns": campaigns}})
    ctx, log = run(sc, monkeypatch)
    s, n = ctx.strategies.index("pressure"), ctx.state.members.size
    on_email, on_sms = reachable(ctx, s, EMAIL), reachable(ctx, s, SMS)
    d = log.table(s)
    email, sms = recipients(d, "email", n), recipients(d, "sms", n)
    assert (on_email & ~on_sms).sum() > 50 and (on_email & on_sms).sum() > 50
    gets_email = on_email & ~on_sms if organisation == "orchestrated" else on_email
    assert email.tolist() == (4 * gets_email).tolist()
    assert sms.tolist() == (4 * on_sms).tolist()


@pytest.mark.parametrize(("first", "second"), [(10, 90), (0, 0)])
def test_sends_at_the_same_minute_go_in_priority_order(monkeypatch, first, second):
    campaigns = {
        "declared_first": daily("push", 9, priority=first),
        "declared_second": daily("push", 9, priority=second),
    }
    sc = scenario({"pressure": {"caps": {"push": "1 per day"}, "campaigns": campaigns}})
    ctx, log = run(sc, monkeypatch)
    s, n = ctx.strategies.index("pressure"), ctx.state.members.size
    on_push = reachable(ctx, s, PUSH)
    d = log.table(s)
    winner = "declared_second" if second > first else "declared_first"
    loser = "declared_first" if winner == "declared_second" else "declared_second"
    assert recipients(d, winner, n)[on_push].tolist() == [28] * int(on_push.sum())
    assert recipients(d, loser, n).sum() == 0


def test_a_released_message_does_not_jump_a_higher_one_at_the_same_minute(monkeypatch):
    # A low-priority sms held by quiet hours is released at 08:00, the minute a priority-90
    # sms campaign sends, under a cap of one sms a day. The higher one is still scheduled
    # when the release is judged, whichever of the two the clock reaches first, so the 08:00
    # campaign wins every day, and an unrelated email campaign (which changes the order of
    # the clock's events) must not change who gets which sms.
    quiet = {"start": 21, "end": 8, "channels": ["sms"], "action": "hold"}
    morning: dict[Any, list[int]] = {}
    late: dict[Any, int] = {}
    for unrelated in (None, 23, 7.5):
        campaigns: dict[str, Any] = {
            "late": daily("sms", 22, priority=10),
            "morning": daily("sms", 8, priority=90),
        }
        if unrelated is not None:
            campaigns["unrelated"] = daily("email", unrelated)
        rules = {"caps": {"sms": "1 per day"}, "quiet_hours": quiet}
        sc = scenario({"pressure": {**rules, "campaigns": campaigns}})
        ctx, log = run(sc, monkeypatch)
        s, n = ctx.strategies.index("pressure"), ctx.state.members.size
        on_sms = reachable(ctx, s, SMS)
        d = log.table(s)
        morning[unrelated] = recipients(d, "morning", n)[on_sms].tolist()
        late[unrelated] = int(recipients(d, "late", n).sum())
    assert morning[23] == morning[7.5] == morning[None], "an email campaign moved sms sends"
    assert late[23] == late[7.5] == late[None]
    assert morning[None] == [28] * len(morning[None]) and late[None] == 0


# --- siloed and orchestrated teams --------------------------------------------------------------


def test_siloed_teams_each_keep_the_all_cap_while_members_get_the_sum(monkeypatch):
    campaigns = {
        "email": daily("email", 9),
        "sms": daily("sms", 12),
        "push": daily("push", 15),
    }
    caps = {"all": "2 per week"}
    sc = scenario(
        {
            "orchestrated": {"organisation": "orchestrated", "caps": caps, "campaigns": campaigns},
            "siloed": {"organisation": "siloed", "caps": caps, "campaigns": campaigns},
        }
    )
    ctx, log = run(sc, monkeypatch)
    n = ctx.state.members.size
    o, s = ctx.strategies.index("orchestrated"), ctx.strategies.index("siloed")
    opted = np.stack([reachable(ctx, o, c) for c in range(len(CHANNELS))])
    channels_per_member = opted.sum(axis=0)
    for name, strategy in (("orchestrated", o), ("siloed", s)):
        d = log.table(strategy)
        week = np.floor(d.t / 7).astype(np.int64)
        for w in range(4):
            this_week = d.where(week == w)
            total = this_week.per_member(n)
            if name == "orchestrated":
                # Two a week in all, whatever the number of channels (daily on each).
                assert total.tolist() == (2 * (channels_per_member > 0)).tolist()
            else:
                for c in range(len(CHANNELS)):
                    assert this_week.where(this_week.ch == c).per_member(n).max() == 2
                # Each channel team sends its own two: up to six a week in all.
                assert total.tolist() == (2 * channels_per_member).tolist()
                assert (total > 2).sum() > 100 and total.max() == 6


@pytest.mark.parametrize("organisation", ["orchestrated", "siloed"])
def test_a_kind_cap_counts_that_kind_across_channels_or_per_team(monkeypatch, organisation):
    campaigns = {
        "email_promo": daily("email", 9, kind="promo"),
        "sms_promo": daily("sms", 12, kind="promo"),
        "news": daily("email", 15),  # another kind: not counted
    }
    sc = scenario(
        {
            "kinds": {
                "organisation": organisation,
                "caps": {"promo": "1 per day"},
                "campaigns": campaigns,
            }
        }
    )
    ctx, log = run(sc, monkeypatch)
    s, n = ctx.strategies.index("kinds"), ctx.state.members.size
    on_email, on_sms = reachable(ctx, s, EMAIL), reachable(ctx, s, SMS)
    d = log.table(s)
    email_promo, sms_promo = recipients(d, "email_promo", n), recipients(d, "sms_promo", n)
    assert (on_email & on_sms).sum() > 100
    assert email_promo.tolist() == (28 * on_email).tolist()
    assert recipients(d, "news", n).tolist() == (28 * on_email).tolist()
    if organisation == "orchestrated":  # one promo a day in all: the earlier one, by email
        assert sms_promo.tolist() == (28 * (on_sms & ~on_email)).tolist()
    else:  # the sms team has its own promo a day
        assert sms_promo.tolist() == (28 * on_sms).tolist()
