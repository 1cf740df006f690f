"""Satisfaction: a slow state, an index 0-100 in the style of the Norwegian Customer Barometer.

index = clip(baseline + time_effort + personalisation + reward, 0, 100). Each driver is in index
points, starts at 0 and decays towards 0 with the satisfaction half-life. It is an experience
score built from contact and program events, not a survey measure.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

DRIVERS: tuple[str, ...] = ("time_effort", "personalisation", "reward", "expectations")
TIME_EFFORT, PERSONALISATION, REWARD, EXPECTATIONS = range(4)
# Customer Barometer band: under 60 is "very dissatisfied".
DISSATISFIED_BELOW = 60.0
# The Customer Barometer's bands, lowest first, and the index values between them: a band
# holds its lower edge (60 is indifferent, 80 delighted).
BANDS: tuple[str, ...] = (
    "very_dissatisfied",
    "indifferent",
    "satisfied",
    "very_satisfied",
    "delighted",
)
BAND_EDGES: tuple[float, ...] = (DISSATISFIED_BELOW, 70.0, 75.0, 80.0)


def index(baseline: np.ndarray, drivers_total: np.ndarray) -> np.ndarray:
    """Satisfaction index 0-100: baseline (index) plus the sum of the drivers (points)."""
    return np.clip(baseline + drivers_total, 0.0, 100.0)


def purchase_multiplier(delta: np.ndarray, slope: float) -> np.ndarray:
    """Purchase-rate multiplier exp(slope * dS / 10); dS = index - baseline, index points."""
    return np.exp(slope * delta / 10.0)


def leave_probability(
    delta: np.ndarray, per_year: float, slope: float, hazard: np.ndarray | float = 1.0
) -> np.ndarray:
    """P(leave the program today): base yearly probability as a daily hazard, times
    exp(-slope * dS / 10), so dissatisfied members leave faster, times ``hazard`` (a tier's
    benefit, <= 1, times the multiplier of the member's satisfaction band)."""
    return -np.expm1(-leave_hazard(delta, per_year, slope, hazard))


def leave_hazard(
    delta: np.ndarray, per_year: float, slope: float, hazard: np.ndarray | float = 1.0
) -> np.ndarray:
    """Hazard of leaving the program, per day: the base yearly probability as a daily hazard,
    -ln(1 - per_year) / 365, times exp(-slope * dS / 10) and ``hazard`` (a tier's benefit times
    the multiplier of the member's satisfaction band)."""
    base_hazard = -np.log1p(-per_year) / 365.0
    return base_hazard * hazard * np.exp(-slope * delta / 10.0)


def band(level: np.ndarray) -> np.ndarray:
    """Index of the Customer Barometer band (BANDS) of each index value 0-100: the number of
    band edges at or below it (with four edges, comparisons are many times faster than a
    binary search per value)."""
    level = np.asarray(level)
    out = np.zeros(level.shape, dtype=np.intp)
    for edge in BAND_EDGES:
        out += level >= edge
    return out


def band_shares(mean: float, sd: float) -> np.ndarray:
    """Share of members in each band when the index is clip(Normal(mean, sd), 0, 100), index
    points. The clip moves mass only to 0 and 100, inside the lowest and highest bands."""
    if sd == 0:
        return np.eye(len(BANDS))[int(band(np.array(mean)))]
    cdf = [0.5 * (1 + math.erf((edge - mean) / (sd * math.sqrt(2)))) for edge in BAND_EDGES]
    return np.diff([0.0, *cdf, 1.0])


def level_multipliers(
    multipliers: Iterable[float], baselines: Iterable[tuple[float, float, float]]
) -> np.ndarray:
    """Hazard multipliers by band (BANDS order), divided by their mean over the members at
    their baseline satisfaction, so that at baseline the mean hazard is unchanged.
    ``baselines``: (share, mean, sd) of each segment's baseline index."""
    table = np.asarray(list(multipliers), dtype=np.float64)
    mean = sum(share * band_shares(m, sd) @ table for share, m, sd in baselines)
    return table / mean


def level_multiplier(level: np.ndarray, table: np.ndarray) -> np.ndarray:
    """The multiplier of the band of each index value (``table`` from level_multipliers)."""
    return table.take(band(level))


def time_effort_change(excess_total: np.ndarray, per_excess: float) -> np.ndarray:
    """Driver change from one seen message: -per_excess * (total pressure beyond tolerance)."""
    return -per_excess * excess_total


def personalisation_change(
    relevance: float, sensitivity: np.ndarray, per_message: float
) -> np.ndarray:
    """Driver change from one seen message: per_message * s * (2r - 1); relevant lifts."""
    return per_message * sensitivity * (2 * relevance - 1)
