"""The engine's compiled one-pass steps give, bit for bit, what the NumPy functions they fuse
give, in the float types the engine hands them: values are compared exactly (signed zeros
too), and outcomes with every uniform put at, or one step either side of, the probability the
NumPy functions compute, so a difference in the last bit of any probability flips an outcome."""

from __future__ import annotations

import numpy as np
import pytest

from sim.model import fatigue, lapse, response
from sim.model import satisfaction as sat
from sim.world.state import _add_pressure, _add_to_drivers, _clipped_sum


class _Channel:
    open, click, exit, complaint = 0.2, 0.1, 0.003, 0.0004


def _around(p: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Uniforms at p (as float64), or the next float64 above or below it."""
    p = np.asarray(p, dtype=np.float64)
    step = rng.integers(-1, 2, p.size)
    return np.where(step < 0, np.nextafter(p, 0), np.where(step > 0, np.nextafter(p, 1), p))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("banded", [False, True])
def test_exits_and_complaints_are_those_of_the_probabilities(dtype, banded) -> None:
    rng = np.random.default_rng(7)
    n = 20_000
    hazard = np.exp(rng.normal(0.0, 3.0, n)).astype(dtype)
    idx = np.sort(rng.choice(3 * n, n, replace=False))
    s0 = rng.uniform(40, 95, 3 * n)
    delta = rng.normal(0, 8, n).astype(np.float32)
    table = np.array([2.0, 1.3, 1.0, 0.8, 0.7]) / 1.01
    expected = hazard
    if banded:
        expected = hazard * sat.level_multiplier(s0.take(idx) + delta, table)
    for rate, which in ((_Channel.exit, 1), (_Channel.complaint, 2)):
        p = np.minimum(rate * expected, 1.0)
        u = _around(p, rng)
        level = (s0, idx, delta, table) if banded else None
        got = response.exits_and_complaints(_Channel, hazard, u, level)
        assert got[0].dtype == expected.dtype and np.array_equal(got[0], expected)
        truth = u < (
            response.exit_probability(_Channel, expected)
            if which == 1
            else response.complaint_probability(_Channel, expected)
        )
        assert np.array_equal(got[which], truth)
        assert 0 < truth.sum() < n  # both outcomes occur: the comparison is exercised


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("relevance", ["scalar", "float32", "float64"])
def test_judged_lapse_is_that_of_the_probabilities(dtype, relevance) -> None:
    rng = np.random.default_rng(3)
    n = 20_000
    idx = np.sort(rng.choice(2 * n, n, replace=False))
    lapsed = rng.random(2 * n) < 0.4
    opened, clicked = rng.random(n) < 0.5, rng.random(n) < 0.2
    clicked &= opened
    hazard = np.exp(rng.normal(0.0, 2.0, n)).astype(dtype)
    r = 0.35 if relevance == "scalar" else rng.random(n).astype(relevance)
    per_open, per_click, contact = 0.05, 0.1, 0.02
    was = lapsed.take(idx)
    p_revive = lapse.winback_probability(r, clicked, per_open, per_click)
    p_lapse = lapse.contact_lapse_probability(hazard, contact)
    u = _around(np.where(was, p_revive, p_lapse), rng)
    revived, lapsing = lapse.judged(
        lapsed, idx, r, opened, clicked, hazard, u, per_open, per_click, contact
    )
    assert np.array_equal(revived, (was & opened & (u < p_revive)).nonzero()[0])
    assert np.array_equal(lapsing, (~was & (u < p_lapse)).nonzero()[0])
    assert revived.size and lapsing.size


def test_added_pressure_and_excess_are_those_of_the_fatigue_functions() -> None:
    rng = np.random.default_rng(11)
    n, m = 50_000, 30_000
    on = rng.exponential(2.0, n).astype(np.float32)
    total = (on + rng.exponential(3.0, n)).astype(np.float32)
    idx = np.sort(rng.choice(n, m, replace=False))
    amount = fatigue.increment(1.8, 0.3, rng.lognormal(0, 0.4, m).astype(np.float32))
    factor, cross = np.float32(0.83), 0.5
    tolerance = rng.lognormal(np.log(6), 0.5, n).astype(np.float32)
    on_np, total_np = on.copy(), total.copy()
    stored = amount / factor
    on_np[idx] += stored
    total_np[idx] += stored
    now_on, now_all = on_np.take(idx) * factor, total_np.take(idx) * factor
    expected_on = fatigue.excess(fatigue.felt(now_on, now_all, cross), tolerance.take(idx))
    expected_all = fatigue.excess(now_all, tolerance.take(idx))
    got = _add_pressure(on, total, idx, amount, factor, np.float32(cross), tolerance)
    assert np.array_equal(on, on_np) and np.array_equal(total, total_np)
    assert np.array_equal(got[0], expected_on) and np.array_equal(got[1], expected_all)
    assert got[0].dtype == expected_on.dtype and 0 < np.count_nonzero(got[0]) < m


@pytest.mark.parametrize("tiers", [False, True])
def test_the_clipped_index_change_is_that_of_np_clip(tiers) -> None:
    rng = np.random.default_rng(2)
    n, m = 40_000, 25_000
    s0 = np.clip(rng.normal(72, 15, n), 0, 100).astype(np.float32)  # some exactly 0 or 100
    floor, ceiling = -s0, np.float32(100.0) - s0
    stored = rng.normal(0, 30, n).astype(np.float32)
    stored[:50] = -0.0
    idx = np.sort(rng.choice(n, m, replace=False))
    idx[:50] = np.arange(50)
    factor = np.float32(0.97)
    status = rng.choice(np.float32([0, 2, 4]), m) if tiers else np.float32(0.0)
    expected = np.clip(stored.take(idx) * factor + status, floor.take(idx), ceiling.take(idx))
    got = _clipped_sum(stored, idx, factor, np.atleast_1d(status), floor, ceiling)
    assert got.dtype == expected.dtype
    assert np.array_equal(got.view(np.int32), expected.view(np.int32))  # signed zeros too


@pytest.mark.parametrize("second", [None, np.float32, np.float64])
def test_driver_changes_add_as_numpy_adds_them(second) -> None:
    rng = np.random.default_rng(4)
    n, m = 30_000, 20_000
    drivers = rng.normal(0, 5, (4, n)).astype(np.float32)
    total = drivers.sum(axis=0)
    idx = np.sort(rng.choice(n, m, replace=False))
    scale = 1 / np.float32(0.91)
    first = rng.normal(0, 1, m).astype(np.float32)
    changes = {0: first}
    if second is not None:
        changes[3] = rng.normal(0, 1, m).astype(second)
    d_np, t_np = drivers.copy(), total.copy()
    acc: np.ndarray | float = 0.0
    for d, change in changes.items():
        stored = change * scale
        d_np[d][idx] += stored
        acc = acc + stored
    t_np[idx] += acc
    (d1, c1), *rest = changes.items()
    d2, c2 = rest[0] if rest else (d1, c1)
    _add_to_drivers(drivers, total, idx, scale, d1, c1, d2, c2, bool(rest))
    assert np.array_equal(drivers, d_np) and np.array_equal(total, t_np)


@pytest.mark.parametrize("shift", [False, True])
def test_logits_and_exit_exponent_are_numpys(shift) -> None:
    rng = np.random.default_rng(9)
    m = 30_000
    sens = rng.lognormal(0, 0.4, m).astype(np.float32)
    excess = np.maximum(rng.normal(0, 1, m), 0).astype(np.float32)
    delta = rng.normal(0, 6, m).astype(np.float32)
    z = rng.normal(0, 1, m).astype(np.float32) if shift else None
    r, base, rs, fs = 0.35, 0.21, 0.6, 1.3
    x = response.logit(base) + rs * sens * (2 * r - 1) - fs * excess
    x = x + z if shift else x
    got = response._logit(
        np.float32(response.logit(base)), np.float32(rs), np.float32(2 * r - 1), np.float32(fs),
        sens, excess, z,
    )  # fmt: skip
    assert got.dtype == x.dtype == np.float32 and np.array_equal(got, x)
    es, rxs, ss = 1.5, 0.7, 0.3
    expected = es * excess + rxs * sens * (1 - 2 * r) - ss * delta / 10.0
    got = response._exit_exponent(
        np.float32(es), np.float32(rxs), np.float32(1 - 2 * r), np.float32(ss), sens, excess,
        delta,
    )  # fmt: skip
    assert got.dtype == expected.dtype and np.array_equal(got, expected)


def _purchase_day(rng: np.random.Generator, n: int, m: int) -> dict:
    """A day's buyers of one strategy with every kind of held offer, as the engine holds them."""
    never, d = np.float32(-np.inf), 40
    held = rng.random((4, n)) < 0.5
    return {
        "idx": np.sort(rng.choice(n, m, replace=False)),
        "counts": rng.choice(np.int32([1, 1, 1, 2, 3]), m),
        "spend_mean": rng.gamma(4.0, 60.0, n).astype(np.float32),
        "tables": rng.gamma(6.0, 1 / 6.0, (3, 4096)).astype(np.float32),
        "segment": rng.integers(0, 3, n).astype(np.int16),
        "discount_until": np.where(held[0], np.float32(d + 2), never),
        "discount": rng.choice(np.float32([0.1, 0.15, 0.2]), n),
        "last_open": np.where(held[1], d - rng.uniform(0, 6, n), never).astype(np.float32),
        "multiplier_until": np.where(held[2], np.float32(d), np.float32(d - 1)),
        "multiplier": rng.choice(np.float32([2.0, 3.0, 1.5]), n),
        "balance": rng.integers(0, 6000, n).astype(np.int64),
        "last_activity": rng.integers(0, d, n).astype(np.float32),
        "control": rng.random(n) < 0.1,
        "d": d,
    }


@pytest.mark.parametrize("discounting", [False, True])
@pytest.mark.parametrize("multiplying", [False, True])
@pytest.mark.parametrize("tiers", [False, True])
def test_purchases_are_priced_and_settled_as_numpy_computes_them(
    discounting, multiplying, tiers
) -> None:
    from sim.engine.daily import _priced, _settled
    from sim.engine.philox import uniforms
    from sim.engine.rng import SPEND
    from sim.model import points, purchase

    rng = np.random.default_rng(21)
    n, m = 20_000, 6_000
    x = _purchase_day(rng, n, m)
    idx, counts, d = x["idx"], x["counts"], x["d"]
    key = np.array([12345, 678], dtype=np.uint32)
    ppc, window, threshold, gm, pv, size = 1.0, 3.0, 5000, 0.22, 0.01, n - 2000
    tier = rng.choice([1.0, 1.25, 1.5], m) if tiers else 1.0

    # The NumPy expressions, as the daily step computed them before it was compiled.
    u = uniforms(key, SPEND, d, 0, idx.astype(np.int64), 1)[0]
    gross = purchase.spend(
        counts, x["spend_mean"].take(idx), x["tables"], x["segment"].take(idx), u
    )
    net = gross
    if discounting:
        off = np.where(x["discount_until"].take(idx) >= d, x["discount"].take(idx), 0.0)
        net = gross * (1 - off)
    attributed = d - np.floor(x["last_open"].take(idx)) <= window
    earned = points.earned(net, ppc, tier)
    added = 0
    if multiplying:
        held = x["multiplier_until"].take(idx) >= d
        mult = tier * np.where(held, x["multiplier"].take(idx), 1.0)
        plain, earned = earned, points.earned(net, ppc, mult)
        added = (earned - plain).sum()
    balance = x["balance"].take(idx) + earned
    redeemed = points.redeemable(balance, threshold)
    gross_margin = gross * gm - (gross - net)
    margin = gross_margin - earned * pv
    money = [
        net.sum(), net.compress(x["control"].take(idx)).sum(),
        net.compress(attributed).sum(), (gross - net).sum(), gross_margin.sum(),
        margin.compress(idx < size).sum(),
    ]  # fmt: skip

    got = _priced(
        key, d, idx, counts, x["spend_mean"], x["tables"], x["segment"], discounting,
        x["discount_until"], x["discount"], x["last_open"], np.float32(window), ppc,
        np.atleast_1d(tier), multiplying, x["multiplier_until"], x["multiplier"],
    )  # fmt: skip
    for value, expected in zip(got, (gross, net, earned, added, attributed), strict=True):
        assert np.array_equal(value, expected)
    assert 0 < attributed.sum() < m and (not multiplying or added > 0)
    after = x["balance"].copy()
    after[idx] = balance - redeemed
    activity = x["last_activity"].copy()
    activity[idx] = d
    r, sums, counted = _settled(
        idx, counts, gross, net, earned, attributed, x["balance"], x["last_activity"], d,
        threshold, gm, pv, size, x["control"],
    )  # fmt: skip
    assert np.array_equal(r, redeemed) and 0 < np.count_nonzero(r) < m
    assert np.array_equal(x["balance"], after) and np.array_equal(x["last_activity"], activity)
    assert np.array_equal(sums, np.array(money))  # the same bits: NumPy's order of additions
    assert counted == (counts.sum(), earned.sum(), redeemed.sum())


@pytest.mark.parametrize("complaints", [False, True])
def test_recaptures_are_those_of_the_consent_functions(complaints) -> None:
    from sim.engine.daily import _recaptured
    from sim.engine.philox import uniforms
    from sim.engine.rng import CONSENT
    from sim.model import consent

    rng = np.random.default_rng(5)
    n, m, d = 30_000, 12_000, 9
    key = np.array([99, 7], dtype=np.uint32)
    buyers = np.sort(rng.choice(n, m, replace=False))
    left = rng.random(n) < 0.1
    opted = rng.random((3, n)) < 0.5
    exited = rng.random((3, n)) < 0.1
    complained = rng.random(n) < 0.3
    rates, after = np.array([0.3, 0.0, 0.6]), 0.5
    u = uniforms(key, CONSENT, d, 0, buyers.astype(np.int64), 3)
    expected_opt, expected_exit = opted.copy(), exited.copy()
    expected = np.zeros((3, m), dtype=bool)
    for c in (0, 2):  # the loop the daily step ran before it was compiled
        reachable = ~left.take(buyers) & opted[c].take(buyers) & ~exited[c].take(buyers)
        out = (~reachable).nonzero()[0]
        held = complained.take(buyers.take(out)) if complaints and c == 0 else None
        p = consent.grant_probability(rates[c], held, after)
        won = out.compress(consent.granted(u[c].take(out), p))
        expected[c, won] = True
        expected_opt[c, buyers.take(won)] = True
        expected_exit[c, buyers.take(won)] = False
    kept = complained if complaints else np.empty(0, dtype=bool)
    got = _recaptured(key, d, buyers, rates, left, opted, exited, kept, after)
    assert np.array_equal(got, expected) and expected[0].any() and expected[2].any()
    assert np.array_equal(opted, expected_opt) and np.array_equal(exited, expected_exit)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("converting", [False, True])
@pytest.mark.parametrize("pulling", [False, True])
def test_purchase_means_and_buyers_are_numpys(weighted, converting, pulling) -> None:
    from sim.engine.daily import _bought, _means, _row, _unlifted
    from sim.model import pull_forward, purchase

    rng = np.random.default_rng(8)
    n, m = 40_000, 15_000
    cand = np.sort(rng.choice(n, m, replace=False))
    rate = rng.gamma(1.0, 0.15, m).astype(np.float32)
    mult = np.exp(rng.normal(0, 0.2, m)).astype(np.float32)
    reward = rng.uniform(0.8, 1.3, m).astype(np.float32)
    lift = rng.exponential(0.3, n).astype(np.float32)
    weight = rng.uniform(0.2, 3.0, n).astype(np.float32) if weighted else None
    left, lapsed = rng.random(n) < 0.05, rng.random(n) < 0.1
    conversion = rng.exponential(0.05, n).astype(np.float32) if converting else None
    debt = rng.exponential(0.5, n).astype(np.float32) if pulling else None
    factor, debt_factor = np.float32(0.71), np.float32(0.93)
    due = pull_forward.due(np.float32(1.0), 7.0)
    u = rng.random(m)
    limit = rng.choice(np.int32([1, 60]), m, p=[0.1, 0.9])

    # The daily step's NumPy statements before they were compiled.
    up = lift.take(cand) * factor
    if weighted:
        up = up * weight.take(cand)
    e_mult = mult * (1 + up)
    e_plain = rate * e_mult
    e_mult *= reward
    e_full = rate * e_mult
    e_out = left.take(cand) | lapsed.take(cand)
    e_mean = e_full
    if converting:
        c = conversion.take(cand) * factor
        e_mean, e_plain = e_full + c, e_plain + c
    if pulling:
        owed = debt.take(cand) * debt_factor * due
        e_mean, e_plain = pull_forward.lowered(e_mean, owed), pull_forward.lowered(e_plain, owed)

    got = _means(
        cand, rate, mult, reward, lift, factor, _row(weight, np.float32), left, lapsed,
        _row(conversion, np.float32), _row(debt, np.float32), debt_factor, due,
    )  # fmt: skip
    for value, expected in zip(got, (e_mean, e_plain, e_full, 1 + up), strict=False):
        assert value.dtype == expected.dtype and np.array_equal(value, expected)
    assert np.array_equal(got[5], e_out)

    buyers, counts = purchase.poisson_quantile(u, e_mean)
    keep = (~e_out.take(buyers)).nonzero()[0]
    e_pos = buyers.take(keep)
    pos, n_bought = _bought(u, got[0], got[5], limit)
    assert np.array_equal(pos, e_pos) and 1000 < pos.size < m
    assert np.array_equal(n_bought, np.minimum(counts.take(keep), limit.take(e_pos)))
    assert n_bought.max() > 1 and (n_bought == 1).any()
    if pulling:
        expected = pull_forward.lowered(e_full.take(pos) / (1 + up.take(pos)), owed.take(pos))
        assert np.array_equal(_unlifted(pos, got[2], got[3], got[4]), expected)


@pytest.mark.parametrize("tiers", [False, True])
def test_leaving_is_that_of_the_banded_probabilities(tiers) -> None:
    from sim.engine.context import _banded
    from sim.engine.daily import _leaving

    rng = np.random.default_rng(13)
    n, m = 30_000, 9_000
    s0 = rng.uniform(40, 95, n).astype(np.float32)
    s0[:40] = np.float32(sat.BAND_EDGES[1])  # on an edge, which belongs to the band above
    cand = np.sort(rng.choice(n, m, replace=False))
    cand[:40] = np.arange(40)
    delta = rng.normal(0, 8, m).astype(np.float32)
    delta[:40] = 0.0
    table = np.array([2.0, 1.3, 1.0, 0.8, 0.7]) / 1.01
    tier = rng.choice([1.0, 0.8, 0.6], m) if tiers else 1.0
    expected = tier * sat.level_multiplier(s0.take(cand) + delta, table)
    hazard = _banded(np.atleast_1d(tier), s0, cand, delta, table)
    assert hazard.dtype == expected.dtype and np.array_equal(hazard, expected)
    p = sat.leave_probability(delta, 0.3, 0.5, hazard) * 50
    u = _around(p, rng)
    left = rng.random(n) < 0.2
    expected_left = left.copy()
    leaving = cand.compress((u < p) & ~left.take(cand))
    expected_left[leaving] = True
    got = _leaving(cand, u, p, left)
    assert np.array_equal(got, leaving) and np.array_equal(left, expected_left)
    assert 0 < leaving.size < m


@pytest.mark.parametrize("k", [0, 1, 300, 312, 313, 9_000, 10_000])
def test_the_possible_leavers_are_the_sorted_choice(k) -> None:
    from sim.engine.daily import _subset

    n = 10_000  # sorted below n // 32 = 312 chosen, marked from there on
    drawn, expected = np.random.default_rng(5), np.random.default_rng(5)
    got = _subset(drawn, n, k)
    want = np.sort(expected.choice(n, k, replace=False))
    assert got.dtype == want.dtype and np.array_equal(got, want)
    assert drawn.random() == expected.random()  # the stream is left where the sort left it


def test_points_driven_revenue_and_debts_are_numpys() -> None:
    from sim.engine.daily import _add_debts, _driven, _spent
    from sim.engine.philox import uniforms
    from sim.engine.rng import SPEND
    from sim.model import purchase

    rng = np.random.default_rng(19)
    n, m, d = 30_000, 8_000, 77
    key = np.array([5, 6], dtype=np.uint32)
    x = _purchase_day(rng, n, m)
    cand = x["idx"]
    pos = np.sort(rng.choice(m, 3_000, replace=False))
    pos_other = np.sort(rng.choice(m, 2_500, replace=False))
    counts = rng.choice(np.int32([1, 2, 3]), pos.size)
    counts_other = rng.choice(np.int32([1, 2]), pos_other.size)
    extra = np.zeros(m, dtype=np.int64)  # the NumPy statements the daily step ran
    extra[pos] = counts
    extra[pos_other] -= counts_other
    at = extra.nonzero()[0]
    u = uniforms(key, SPEND, d, 0, cand.take(at).astype(np.int64), 1)[0]
    value = purchase.spend(
        extra.take(at), x["spend_mean"].take(cand.take(at)), x["tables"],
        x["segment"].take(cand.take(at)), u,
    )  # fmt: skip
    got = _driven(
        key, d, cand, pos, counts, pos_other, counts_other, x["spend_mean"], x["tables"],
        x["segment"],
    )  # fmt: skip
    assert np.float64(got).tobytes() == value.sum().tobytes() and (extra < 0).any()
    baseline = np.abs(extra.take(at)).astype(np.int32)  # the baseline's counts are int32
    expected = purchase.spend(
        baseline, x["spend_mean"].take(cand.take(at)), x["tables"],
        x["segment"].take(cand.take(at)), u,
    )  # fmt: skip
    spent = _spent(key, d, cand.take(at), baseline, x["spend_mean"], x["tables"], x["segment"])
    assert np.array_equal(spent, expected)

    debt = rng.exponential(0.4, n).astype(np.float32)
    buyers = cand.take(pos)
    fewer_at = np.sort(rng.choice(pos.size, 1_000, replace=False))
    fewer = np.minimum(counts.take(fewer_at), rng.choice(np.int32([1, 2]), fewer_at.size))
    share, factor = 0.3, np.float32(0.87)
    more = counts.astype(np.int64)
    more[fewer_at] -= fewer
    who = more.nonzero()[0]
    expected = debt.copy()
    expected[buyers.take(who)] += share * more.take(who) / factor
    _add_debts(debt, buyers, counts, fewer_at, fewer, share, factor)
    assert np.array_equal(debt, expected) and who.size < pos.size


@pytest.mark.parametrize("curvature", [1.0, 1.7])
def test_the_reward_multiplier_is_that_of_rewards_multiplier(curvature) -> None:
    import sim
    from sim.model import rewards
    from sim.world.program import ProgramState

    scenario = sim.load_scenario(
        "scenarios/nordic_retail.yaml", [f"behaviour.rewards.goal_curvature={curvature}"]
    )
    rng = np.random.default_rng(23)
    n, m, d = 20_000, 7_000, 300
    program = ProgramState(scenario, ["business_as_usual"], n)
    never = rng.random(n) < 0.4
    program.last_redeemed[0] = np.where(never, -np.inf, rng.integers(0, d, n)).astype(np.float32)
    idx = np.sort(rng.choice(n, m, replace=False))
    balance = rng.integers(0, 20_000, m).astype(np.int64)
    r = scenario.behaviour.rewards
    since = d - program.last_redeemed[0].take(idx)
    expected = rewards.multiplier(
        balance, scenario.program.redemption_threshold, since, r.goal_strength, curvature,
        r.reset_depth, r.rewarded_lift, r.reset_half_life_days,
    ) / program.goal_mean  # fmt: skip
    got = program.rate_multiplier(0, idx, balance, d)
    assert got.dtype == np.float32 and np.array_equal(got, expected.astype(np.float32))
    # Before the cast to float32 too, where a last-bit difference cannot hide.
    from sim.world.program import _LN2, _reward_multiplier, _reward_terms

    progress, redeemed, halvings, growth = _reward_terms(
        balance, scenario.program.redemption_threshold, program.last_redeemed[0], idx,
        np.float32(d), r.reset_half_life_days, _LN2,
    )  # fmt: skip
    exact = _reward_multiplier(
        progress**curvature, r.goal_strength, redeemed, np.exp2(halvings), r.reset_depth,
        np.expm1(growth), r.rewarded_lift, program.goal_mean,
    )  # fmt: skip
    assert np.array_equal(exact, expected)
    assert np.isfinite(since).any() and not np.isfinite(since).all()


@pytest.mark.parametrize("relevance", ["scalar", "float32", "float64"])
@pytest.mark.parametrize("offer", [False, True])
def test_the_lift_of_an_opened_message_is_numpys(relevance, offer) -> None:
    from sim.engine.delivery import _opened

    rng = np.random.default_rng(29)
    n, m = 30_000, 12_000
    idx = np.sort(rng.choice(n, m, replace=False))
    opened = rng.random(m) < 0.4
    clicked = opened & (rng.random(m) < 0.3)
    lift = rng.exponential(0.2, n).astype(np.float32)
    lift_max = (lift * rng.uniform(1.0, 1.5, n)).astype(np.float32)
    last_open = np.full(n, -np.inf, dtype=np.float32)
    # A category offer's relevance is float32 (the members' category shares are).
    r = 0.6 if relevance == "scalar" else rng.uniform(0.1, 1.0, m).astype(relevance)
    on_open, on_click, offer_lift, cap = 0.08, 0.4, 0.05 if offer else 0.0, 0.5
    factor, t = np.float32(0.77), 123.4375

    # The NumPy statements of the send before they were compiled.
    who = idx.compress(opened)
    at = r if np.isscalar(r) else r.compress(opened)
    gain = (on_open + on_click * clicked.compress(opened)) * 2 * at
    if offer:
        gain = gain + offer_lift * 2 * at
    value = np.minimum(lift.take(who) * factor + gain, cap)
    stored = (value / factor).astype(np.float32)
    e_lift, e_max, e_last = lift.copy(), lift_max.copy(), last_open.copy()
    e_lift[who] = stored
    e_max[who] = np.maximum(lift_max.take(who), stored)
    e_last[who] = t
    offer_gain = np.atleast_1d(offer_lift * 2 * r) if offer else np.empty(0)
    _opened(
        lift, lift_max, last_open, idx, opened, clicked,
        np.atleast_1d(np.asarray(r, dtype=np.float64)), on_open, on_click, offer_gain, cap,
        factor, t,
    )  # fmt: skip
    assert np.array_equal(lift, e_lift) and np.array_equal(lift_max, e_max)
    assert np.array_equal(last_open, e_last) and (value == cap).any() and (value < cap).any()


def test_leavers_narrowed_to_the_days_bound_are_the_full_computations(monkeypatch) -> None:
    """A steep leave slope makes nearly every member a candidate to leave each day; _leave
    then computes probabilities only under the strategies' own bound of the day. The run is
    the same, KPI for KPI, as with every candidate's probability computed."""
    from builders import nordic, nordic_data, run_one

    from sim.engine import daily

    data = nordic_data()
    data["behaviour"] = {"satisfaction": {"leave_slope": 1.0}}
    data["horizon_days"] = 120
    strategies = {k: data["strategies"][k] for k in ("business_as_usual", "push_growth_2023")}
    sc = nordic(3000, strategies, data)
    sizes: list[int] = []
    original = daily._leave

    def watched(ctx, s, d, candidates, u):
        sizes.append(candidates.size)
        return original(ctx, s, d, candidates, u)

    monkeypatch.setattr(daily, "_leave", watched)
    narrowed = run_one(sc).tally.total
    assert min(sizes) > daily._MANY_CANDIDATES  # the narrowing ran on every day
    monkeypatch.setattr(daily, "_MANY_CANDIDATES", 10**9)
    full = run_one(sc).tally.total
    assert narrowed["leavers"].min() > 0
    for kpi, values in full.items():
        assert np.array_equal(narrowed[kpi], values), kpi
