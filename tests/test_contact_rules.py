"""Contact rules together: random caps, cooldowns, quiet hours and channel teams, with random
campaigns and journeys, hold for every delivery.

The engine is checked from outside: every delivery is recorded where dispatch hands it to
delivery, and the rules are re-derived from that record alone (windows, gaps, hours of the
day), without asking the engine's own counters (contact_record.py). Every member stays
reachable (no channel exits, no leaving), so that a strategy and its twin without rules are
offered every send to the same members and their counts compare exactly. The rules one by one
are tested in test_caps.py, test_cooldowns_quiet_hours.py, test_priority.py,
test_channel_teams.py and test_exempt_messages.py.
"""

from __future__ import annotations

import numpy as np
from builders import ONE_SEGMENT as SEGMENTS
from builders import contact_rules_scenario as scenario
from contact_record import (
    MINUTES_PER_DAY,
    SLACK,
    in_quiet,
    is_exempt,
    minute_of_day,
    most_under_cap,
    parse_cap,
    release_minute,
    run,
    shortest_gap,
)
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sim.spec.fields import CHANNELS

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
