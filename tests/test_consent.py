"""Consent after joining (sim.model.consent, behaviour.consent, a message's repermission):
opt-ins at purchases and by re-permission, per strategy, held back after a spam complaint."""

from __future__ import annotations

import copy
import itertools
import math
from typing import Any

import numpy as np
import pytest

from sim.engine.agent import unsupported
from sim.engine.context import Context
from sim.engine.outcomes import outcomes
from sim.errors import SimInputError
from sim.model import consent
from sim.spec.fields import CHANNELS
from sim.spec.scenario import Scenario
from tests.builders import (
    CORE_BEHAVIOUR,
    ONE_SEGMENT,
    STAY,
    run_one,
    scenario,
    valid_data,
    weekly_campaign,
)

EMAIL, PUSH = CHANNELS.index("email"), CHANNELS.index("push")
SIZE, HORIZON = 1200, 120


def _scenario(
    strategies: dict[str, Any], exit: float = 0.02, complaint: float = 0.0, **behaviour: Any
) -> Any:
    """ONE_SEGMENT members (email 85%, SMS 60%, push 70% opted in), nobody leaves the program;
    email exits at a high rate so that there are opted-out members to win back."""
    fields = copy.deepcopy(STAY)
    fields["channels"]["email"] = {"exit": exit, "complaint": complaint, "reputation": None}
    # Recapture off unless a test gives it: the defaults' rates would blur the counts below.
    fields["behaviour"]["consent"] = copy.deepcopy(CORE_BEHAVIOUR["consent"])
    fields["behaviour"].update(behaviour)
    return scenario(
        strategies, name="consent", segments=ONE_SEGMENT, size=SIZE, horizon=HORIZON, seed=5,
        **fields,
    )  # fmt: skip


def _kpis(ctx: Context) -> list[dict[str, float]]:
    return [outcomes(ctx, s, HORIZON) for s in range(len(ctx.strategies))]


def _recapture(email: float = 0.0, **rest: Any) -> dict[str, Any]:
    return {"recapture_per_purchase": {"email": email, "sms": 0.0, "push": 0.0}, **rest}


WEEKLY = {"campaigns": {"news": weekly_campaign("email", "mon")}}


def _asking(conversion: float) -> dict[str, Any]:
    """A weekly email asking members to enable push."""
    ask = {"channel": "push", "conversion": conversion}
    return {"campaigns": {"news": weekly_campaign("email", "mon", repermission=ask)}}


# --- the pure functions ---------------------------------------------------------------------------


def test_the_grant_probability_is_the_rate_lowered_after_a_complaint() -> None:
    complained = np.array([False, True])
    assert consent.grant_probability(0.2, None, 0.0) == 0.2
    np.testing.assert_allclose(consent.grant_probability(0.2, complained, 0.25), [0.2, 0.05])
    np.testing.assert_array_equal(
        consent.granted(np.array([0.1, 0.04]), consent.grant_probability(0.2, complained, 0.25)),
        [True, True],
    )
    np.testing.assert_array_equal(
        consent.granted(np.array([0.1, 0.06]), np.array([0.1, 0.05])), [False, False]
    )


# --- the schema -----------------------------------------------------------------------------------


def test_a_message_asks_for_consent_on_another_channel_only() -> None:
    ask = {"channel": "email", "conversion": 0.1}
    with pytest.raises(SimInputError, match=r"repermission\.channel: .* ask for another channel"):
        _scenario({"a": {"campaigns": {"n": weekly_campaign("email", "mon", repermission=ask)}}})


def test_recapture_is_on_by_default_at_the_documented_rates() -> None:
    rates = Scenario.model_validate(valid_data()).behaviour.consent.recapture_per_purchase
    assert (rates.email, rates.sms, rates.push) == (0.003, 0.001, 0.003)
    # A partial block keeps the other channels' defaults.
    given = {"consent": {"recapture_per_purchase": {"email": 0.01}}}
    rates = Scenario.model_validate({**valid_data(), "behaviour": given})
    assert rates.behaviour.consent.recapture_per_purchase.push == 0.003


def test_consent_changes_only_when_switched_on() -> None:
    assert not _scenario({"a": WEEKLY}).consent_changes
    assert _scenario({"a": WEEKLY}, consent=_recapture(0.01)).consent_changes
    assert _scenario({"a": _asking(0.0)}).consent_changes


def test_the_reference_engine_refuses_consent_after_joining() -> None:
    assert "behaviour.consent.recapture_per_purchase" in unsupported(
        _scenario({"a": WEEKLY}, consent=_recapture(0.01))
    )
    assert "strategies.a.campaigns.news.repermission" in unsupported(_scenario({"a": _asking(0.1)}))


# --- the engine ----------------------------------------------------------------------------------


def test_switched_on_without_effect_it_changes_no_other_draw() -> None:
    """Consent on (its own state and streams) but nothing granted: every KPI as when off."""
    off = _kpis(run_one(_scenario({"a": WEEKLY})))
    on = _kpis(run_one(_scenario({"a": _asking(0.0)}, consent=_recapture(email=0.0))))
    assert on == off


def test_reachable_email_rises_with_the_recapture_rate() -> None:
    """Direction: members opted out or never opted in win back at purchases. The same members
    and draws at every rate, so the differences are far beyond the binomial noise of a
    reachable share: 4 standard errors of a difference of two independent shares bound it
    from below (common random numbers only make the difference less noisy)."""
    rates = (0.0, 0.2, 1.0)
    shares = []
    for rate in rates:
        kpi = _kpis(run_one(_scenario({"a": WEEKLY}, consent=_recapture(rate))))[1]
        shares.append((kpi["reachable_email"], kpi["members_end"], kpi["recaptured_email"]))
        assert (kpi["recaptured_email"] > 0) == (rate > 0)
    for (low, n_low, _), (high, n_high, _) in itertools.pairwise(shares):
        se = math.sqrt(low * (1 - low) / n_low + high * (1 - high) / n_high)
        assert high - low > 4 * se, (low, high, se)


def test_without_exits_the_recaptured_are_the_new_reachable() -> None:
    """Under silent nobody exits or leaves: reachable members at the horizon are those opted in
    at joining plus those recaptured, each once (a member reachable is never recaptured)."""
    ctx = run_one(_scenario({"a": WEEKLY}, consent=_recapture(0.02)))
    kpi = _kpis(ctx)[0]
    opted = int(ctx.state.members.opt_in[EMAIL].sum())
    assert kpi["reachable_email"] * kpi["members_end"] == pytest.approx(
        opted + kpi["recaptured_email"], abs=1e-6
    )
    assert kpi["recaptured_email"] > 0


def test_repermission_raises_push_reach_under_the_asking_strategy_only() -> None:
    """An email asking for push consent: push reach rises under that strategy alone; nobody
    exits push (no push is sent) or leaves, so the push reach is the opt-ins at joining plus
    the conversions."""
    ctx = run_one(_scenario({"plain": WEEKLY, "asking": _asking(0.3)}))
    silent, plain, asking = _kpis(ctx)
    opted = int(ctx.state.members.opt_in[PUSH].sum())
    assert plain["recaptured_push"] == silent["recaptured_push"] == 0
    assert plain["reachable_push"] == silent["reachable_push"]
    assert asking["recaptured_push"] > 0
    assert asking["reachable_push"] * asking["members_end"] == pytest.approx(
        opted + asking["recaptured_push"], abs=1e-6
    )
    # Opens of push-less members convert at 0.3: the conversions are binomial in those opens,
    # of which there are at least as many as conversions and at most all email opens.
    assert asking["recaptured_push"] <= asking["opens_email"]
    granted = np.flatnonzero(ctx.state.consent[2, PUSH] & ~ctx.state.members.opt_in[PUSH])
    assert granted.size == asking["recaptured_push"]
    assert not ctx.state.consent[1, PUSH, granted].any()  # the plain strategy: not reachable


@pytest.mark.parametrize("after_complaint", [0.0, 1.0])
def test_members_who_complained_are_not_recaptured_on_email(after_complaint: float) -> None:
    """Every email exit a complaint; recapture at every purchase day: with after_complaint 0
    no complainer is reachable by email again, with 1 those who bought again are."""
    rules = _recapture(1.0, after_complaint=after_complaint)
    st = run_one(_scenario({"a": WEEKLY}, exit=0.05, complaint=0.05, consent=rules)).state
    complained = np.flatnonzero(st.complained[1])
    assert complained.size > 20
    reachable = st.reachable_among(1, EMAIL, complained)
    if after_complaint == 0.0:
        assert not reachable.any()
    else:
        assert reachable.sum() > 20
