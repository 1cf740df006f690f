"""Terminal value: what a member's relationship is still worth at the horizon.

A member who is active (not lapsed) and in the program buys as a Poisson process at rate
lambda (purchases/day) times the strategy's continuation ratio; after each baseline purchase it
drops out with probability p (BG/NBD), and it leaves the program with hazard h (per day). Where
messages act on lapse, the strategy's messages also make reachable members lapse and lapsed
ones active again, and members lose and regain reachability, at the final window's rates
(``chain_purchases``). Money
at t days is discounted by exp(-delta t), delta = ln(1 + annual rate) / 365, the continuous
form of the CLV's (1 + annual rate)^(-t / 365).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg import expm

# The final window of the run whose margin flow the strategy is assumed to continue, days: a
# quarter, long enough to average over campaign cycles and short enough to be the run's end.
WINDOW_DAYS = 91


def daily_discount_rate(annual: float) -> float:
    """Continuous discount rate per day, delta = ln(1 + annual) / 365: exp(-delta t) equals
    (1 + annual)^(-t / 365) at every t (days)."""
    return math.log1p(annual) / 365.0


def discounted_days(decay: np.ndarray | float, within: float = math.inf) -> np.ndarray:
    """Expected discounted days (days) of a state left at rate ``decay`` (per day, discounting
    included): the integral of exp(-decay t) over t in [0, within], 1 / decay for ever."""
    decay = np.asarray(decay, dtype=np.float64)
    if math.isinf(within):
        return 1.0 / decay
    return -np.expm1(-decay * within) / decay


def discounted_purchases(
    rate: np.ndarray,
    dropout: np.ndarray,
    hazard: np.ndarray | float,
    delta: float,
    within: float = math.inf,
) -> np.ndarray:
    """Expected discounted number of purchases from now of an active member (purchases):
    sum_k (1-p)^(k-1) E[exp(-(delta + h) T_k)] = lambda / (delta + p lambda + h), with T_k the
    time of the k-th purchase (Gamma(k, lambda)); counted only within ``within`` days, it is
    lambda (1 - exp(-k within)) / k, k = delta + p lambda + h (dropouts arrive at rate p
    lambda). ``rate`` lambda and ``hazard`` h are per day, ``dropout`` p per purchase."""
    rate = np.asarray(rate, dtype=np.float64)
    decay = delta + np.asarray(dropout, dtype=np.float64) * rate + hazard
    return rate * discounted_days(decay, within)


@dataclass(frozen=True)
class ChainRates:
    """Rates of change of members' state in the program, per day, from a strategy's final
    window: contact lapse of reachable active members and win-back of reachable lapsed
    members (each a number or one per member), loss and regain of reachability."""

    contact: float | np.ndarray = 0.0
    winback: float | np.ndarray = 0.0
    lost: float = 0.0
    gained: float = 0.0


# The chain's states: active or lapsed, reachable on some channel or not; each lapsed state
# follows its active one.
ACTIVE_REACHABLE, LAPSED_REACHABLE, ACTIVE_UNREACHABLE, LAPSED_UNREACHABLE = range(4)
# What the chain counts: days active (purchases happen at rate lambda) and days reachable
# (messages cost).
_COUNTED = np.array([[1.0, 1.0], [0.0, 1.0], [1.0, 0.0], [0.0, 0.0]])
_CHUNK = 100_000  # members per batch of 4 x 4 systems: bounds the memory (~13 MB a batch)


def chain_days(
    rate: np.ndarray,
    dropout: np.ndarray,
    hazard: np.ndarray | float,
    delta: float,
    rates: ChainRates,
    within: float = math.inf,
) -> np.ndarray:
    """Expected discounted days in the program active and reachable (days) of each member from
    each state (ACTIVE_REACHABLE ...), shape (members, 4, 2): [..., 0] active, [..., 1]
    reachable on some channel; the purchases are lambda times the days active.

    A continuous-time Markov chain on (active | lapsed) x (reachable | not): an active member
    lapses at p lambda (BG/NBD: dropout with p after each purchase at rate lambda) plus, if
    reachable, the contact lapse q; a reachable lapsed member becomes active at the win-back
    rate w (q and w the member's own); reachability is lost at rate k and regained at g;
    every state leaves the program at hazard h. With generator Q and M = (delta + h) I - Q,
    the days counted in states b are M^(-1) b for ever and M^(-1) (I - exp(-M within)) b
    within ``within`` days. Without contact lapse and win-back the days active from an
    active state are those of ``discounted_purchases`` / lambda. ``rate`` lambda and
    ``hazard`` h per day."""
    rate = np.asarray(rate, dtype=np.float64)
    dropout = np.asarray(dropout, dtype=np.float64)
    hazard, contact, winback = (
        np.broadcast_to(np.asarray(x, dtype=np.float64), rate.shape)
        for x in (hazard, rates.contact, rates.winback)
    )
    out = np.empty((rate.size, 4, 2))
    for start in range(0, rate.size, _CHUNK):
        part = slice(start, start + _CHUNK)
        lapsing = dropout[part] * rate[part]
        q = np.zeros((lapsing.size, 4, 4))
        q[:, ACTIVE_REACHABLE, LAPSED_REACHABLE] = lapsing + contact[part]
        q[:, LAPSED_REACHABLE, ACTIVE_REACHABLE] = winback[part]
        q[:, ACTIVE_UNREACHABLE, LAPSED_UNREACHABLE] = lapsing
        for reachable, unreachable in (
            (ACTIVE_REACHABLE, ACTIVE_UNREACHABLE),
            (LAPSED_REACHABLE, LAPSED_UNREACHABLE),
        ):
            q[:, reachable, unreachable] = rates.lost
            q[:, unreachable, reachable] = rates.gained
        m = (delta + hazard[part])[:, None, None] * np.eye(4) - q
        m[:, range(4), range(4)] += q.sum(axis=2)  # the generator's diagonal: minus the exits
        b = np.broadcast_to(_COUNTED, (lapsing.size, 4, 2))
        if not math.isinf(within):
            b = b - expm(-m * within) @ _COUNTED
        out[part] = np.linalg.solve(m, b)
    return out


def audience_decay(before: int, after: int, days: float) -> float:
    """Rate at which members stop being reachable while in the program, per day: of ``before``
    members reachable at the start of ``days`` days and still in the program at their end,
    ``after`` are still reachable. Reachability once lost does not return, so it is >= 0."""
    if after == before:
        return 0.0
    return math.log(before / after) / days if after else math.inf


def margin_per_currency(
    gross_margin: float, points_per_currency: float, point_value: float
) -> float:
    """Margin per currency of baseline spend, as the CLV counts it: the gross margin less the
    points earned on it at their value (currency/currency)."""
    return gross_margin - points_per_currency * point_value


def rate_per_day(events: float, days: float) -> float:
    """Events per member-day (per day) over the final window: ``events`` over the member-days
    ``days`` exposed to them; 0 when none was exposed."""
    return events / days if days else 0.0


def member_rates(expected: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Each member's rate per reachable day (per day): its expected events over the final
    window (``expected``) over its days reachable in it (``days``); members never reachable
    in it get the rate of all members together."""
    pooled = rate_per_day(float(expected.sum()), float(days.sum()))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(days > 0, expected / days, pooled)


def continuation_ratio(window_margin: float, window_baseline: float) -> float:
    """The strategy's margin flow relative to the baseline over the final window,
    dimensionless: the realised margin of purchases and breakage over the margin the same
    members' baseline purchases give. 1 (the baseline) when nobody made a baseline purchase."""
    return window_margin / window_baseline if window_baseline else 1.0


def terminal_value(
    margin_per_purchase: np.ndarray,
    rate: np.ndarray,
    dropout: np.ndarray,
    hazard: np.ndarray | float,
    ratio: float,
    delta: float,
    at: float,
    within: float = math.inf,
) -> float:
    """Value at day 0 of active members' relationships from day ``at`` on, currency:
    exp(-delta at) * ratio * sum_i m_i * discounted_purchases_i, with ``margin_per_purchase``
    m_i the member's mean spend times the margin per currency (currency/purchase) and
    ``ratio`` the strategy's continuation ratio."""
    purchases = discounted_purchases(rate, dropout, hazard, delta, within)
    value = float(np.dot(np.asarray(margin_per_purchase, dtype=np.float64), purchases))
    return math.exp(-delta * at) * ratio * value


def future_costs(
    cost_per_day: float,
    hazard: np.ndarray,
    decay: float,
    delta: float,
    at: float,
    within: float = math.inf,
) -> float:
    """Value at day 0 of the message costs from day ``at`` on, currency: each member reachable
    at ``at`` costs ``cost_per_day`` (currency/day) until it leaves (``hazard`` h_i per day) or
    stops being reachable (``decay`` per day): exp(-delta at) * sum_i c / (delta + h_i + decay)."""
    if not cost_per_day or math.isinf(decay):
        return 0.0
    days = discounted_days(delta + np.asarray(hazard, dtype=np.float64) + decay, within)
    return math.exp(-delta * at) * cost_per_day * float(days.sum())
