"""Responses to one delivered message: open, click, exit (unsubscribe, STOP, disable), complaint.

Open and click-through are logistic in relevance and fatigue around the channel's base rates;
exits and complaints are base rates times a hazard multiplier. A relevance-0.5 message to an
unfatigued member at baseline satisfaction gets exactly the base rates.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from sim.model.jit import compiled
from sim.model.satisfaction import BAND_EDGES


class Channel(Protocol):
    """A channel's base rates per delivered message (fractions): the scenario's channel block."""

    open: float
    click: float
    exit: float
    complaint: float


class _Slopes(Protocol):
    open_slope: float
    click_slope: float
    exit_slope: float


class _ExitSlope(Protocol):
    exit_slope: float


class Behaviour(Protocol):
    """The dimensionless slopes the responses read: the scenario's behaviour block."""

    relevance: _Slopes
    fatigue: _Slopes
    satisfaction: _ExitSlope


def logit(p: float) -> float:
    """log(p / (1 - p)), with p kept within 1e-9 of 0 and 1."""
    p = min(max(p, 1e-9), 1 - 1e-9)
    return float(np.log(p / (1 - p)))


def _logistic(
    base: float,
    relevance_slope: float,
    fatigue_slope: float,
    relevance: float,
    sensitivity: np.ndarray,
    excess: np.ndarray,
    shift: np.ndarray | None,
) -> np.ndarray:
    """expit(logit(base) + relevance_slope * s * (2r - 1) - fatigue_slope * excess + shift)."""
    if _float32(relevance, sensitivity, excess, shift):  # the engine's case: one pass
        x = _logit(
            np.float32(logit(base)), np.float32(relevance_slope), np.float32(2 * relevance - 1),
            np.float32(fatigue_slope), sensitivity, excess, shift,
        )  # fmt: skip
    else:
        x = logit(base) + relevance_slope * sensitivity * (2 * relevance - 1)
        x = x - fatigue_slope * excess
        if shift is not None:
            x = x + shift
    # Far below 0 (a draw with extreme fatigue) exp overflows to inf and the probability is 0,
    # as it should be: no warning for that.
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


def open_probability(
    channel: Channel,
    behaviour: Behaviour,
    relevance: float,
    sensitivity: np.ndarray,
    excess: np.ndarray,
    shift: np.ndarray | None = None,
) -> np.ndarray:
    """P(open | delivered): logit(open) + rel_slope * s * (2r - 1) - fatigue_slope * excess,
    plus the member's engagement ``shift`` of the logit if given (sim.model.engagement)."""
    return _logistic(
        channel.open,
        behaviour.relevance.open_slope,
        behaviour.fatigue.open_slope,
        relevance,
        sensitivity,
        excess,
        shift,
    )


def click_probability(
    channel: Channel,
    behaviour: Behaviour,
    relevance: float,
    sensitivity: np.ndarray,
    excess: np.ndarray,
    shift: np.ndarray | None = None,
) -> np.ndarray:
    """P(click | opened): the same form around the base click-to-open rate click / open."""
    if channel.open == 0:
        return np.zeros_like(excess)
    return _logistic(
        channel.click / channel.open,
        behaviour.relevance.click_slope,
        behaviour.fatigue.click_slope,
        relevance,
        sensitivity,
        excess,
        shift,
    )


def exit_multiplier(
    behaviour: Behaviour,
    relevance: float,
    sensitivity: np.ndarray,
    excess: np.ndarray,
    satisfaction_delta: np.ndarray,
) -> np.ndarray:
    """Hazard multiplier on exits and complaints (dimensionless).

    exp(fatigue_slope * excess + rel_slope * s * (1 - 2r) - sat_slope * dS / 10), where dS is
    satisfaction minus the member's baseline, index points: over-contact, irrelevance and
    dissatisfaction each raise the chance of leaving a channel.
    """
    fatigue_slope = behaviour.fatigue.exit_slope
    relevance_slope = behaviour.relevance.exit_slope
    satisfaction_slope = behaviour.satisfaction.exit_slope
    if _float32(relevance, sensitivity, excess, satisfaction_delta):  # the engine's case
        return np.exp(
            _exit_exponent(
                np.float32(fatigue_slope), np.float32(relevance_slope),
                np.float32(1 - 2 * relevance), np.float32(satisfaction_slope), sensitivity,
                excess, satisfaction_delta,
            )
        )  # fmt: skip
    return np.exp(
        fatigue_slope * excess
        + relevance_slope * sensitivity * (1 - 2 * relevance)
        - satisfaction_slope * satisfaction_delta / 10.0
    )


def exit_probability(channel: Channel, multiplier: np.ndarray) -> np.ndarray:
    """P(exit | delivered) = min(1, base exit * multiplier)."""
    return np.minimum(channel.exit * multiplier, 1.0)


def complaint_probability(channel: Channel, multiplier: np.ndarray) -> np.ndarray:
    """P(spam complaint | delivered) = min(1, base complaint * multiplier); a subset of exits."""
    return np.minimum(channel.complaint * multiplier, 1.0)


def exits_and_complaints(
    channel: Channel,
    hazard: np.ndarray,
    u: np.ndarray,
    level: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which members exit and which complain on a seen message, in one pass: u < the
    ``exit_probability`` and u < the ``complaint_probability`` of their hazard multipliers,
    each first multiplied, when ``level`` = (satisfaction0, idx, delta, table) is given, by
    the multiplier of the band of the member's index satisfaction0[idx] + delta
    (sim.model.satisfaction.level_multiplier with ``table``). Returns (hazard, exits,
    complaints), the hazard as multiplied; the arithmetic and types are those of the
    functions named, so the outcomes are theirs bit for bit."""
    if level is None:
        s0, idx, delta, table = _UNBANDED
        out_type = hazard.dtype.type
    else:
        s0, idx, delta, table = level
        out_type = np.result_type(hazard, table).type
    # Python numbers take the array's type in NumPy's arithmetic (NEP 50): so here.
    return _exits(
        hazard, u, out_type(channel.exit), out_type(channel.complaint), level is not None,
        s0, idx, delta, table, _EDGES, np.empty(hazard.size, out_type),
    )  # fmt: skip


# The band edges as the compiled loop reads them, and its placeholders when no band applies.
_EDGES = np.array(BAND_EDGES)
_UNBANDED = (np.zeros(1), np.zeros(0, np.int64), np.zeros(1), np.ones(1))


@compiled
def _exits(  # type: ignore[no-untyped-def]
    hazard, u, exit_rate, complaint_rate, banded, s0, idx, delta, table, edges, h_out
):
    exits = np.empty(hazard.size, dtype=np.bool_)
    complaints = np.empty(hazard.size, dtype=np.bool_)
    for k in range(hazard.size):
        # Two branches, so that each keeps its own type: float32 stays float32 unbanded.
        if banded:
            level = s0[idx[k]] + delta[k]
            band = 0
            for e in edges:
                if level >= e:
                    band += 1
            h = hazard[k] * table[band]
            h_out[k] = h
            exits[k] = u[k] < min(exit_rate * h, 1.0)
            complaints[k] = u[k] < min(complaint_rate * h, 1.0)
        else:
            g = hazard[k]
            h_out[k] = g
            exits[k] = u[k] < min(exit_rate * g, 1.0)
            complaints[k] = u[k] < min(complaint_rate * g, 1.0)
    return h_out, exits, complaints


def _float32(relevance: object, *arrays: np.ndarray | None) -> bool:
    """Whether the compiled passes apply: a Python number for relevance (NumPy then computes
    in the arrays' type) and float32 arrays."""
    return type(relevance) is float and all(a is None or a.dtype == np.float32 for a in arrays)


@compiled
def _logit(base, relevance_slope, irrelevance, fatigue_slope, sensitivity, excess, shift):  # type: ignore[no-untyped-def]
    """_logistic's logit in one pass, float32 in NumPy's order of operations."""
    x = np.empty(excess.size, dtype=np.float32)
    for k in range(excess.size):
        x[k] = base + relevance_slope * sensitivity[k] * irrelevance - fatigue_slope * excess[k]
    if shift is not None:
        for k in range(excess.size):
            x[k] = x[k] + shift[k]
    return x


@compiled
def _exit_exponent(
    fatigue_slope, relevance_slope, irrelevance, satisfaction_slope, sensitivity, excess, delta
):  # type: ignore[no-untyped-def]
    """exit_multiplier's exponent in one pass, float32 in NumPy's order of operations."""
    out = np.empty(excess.size, dtype=np.float32)
    ten = np.float32(10.0)
    for k in range(excess.size):
        a = fatigue_slope * excess[k] + relevance_slope * sensitivity[k] * irrelevance
        out[k] = a - satisfaction_slope * delta[k] / ten
    return out
