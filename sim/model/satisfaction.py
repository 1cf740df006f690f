"""Satisfaction: a slow state, an index 0-100 in the style of the Norwegian Customer Barometer.

index = clip(baseline + time_effort + personalisation + reward, 0, 100). Each driver is in index
points, starts at 0 and decays towards 0 with the satisfaction half-life.
"""

from __future__ import annotations

import numpy as np

DRIVERS: tuple[str, ...] = ("time_effort", "personalisation", "reward", "expectations")
TIME_EFFORT, PERSONALISATION, REWARD, EXPECTATIONS = range(4)
# Customer Barometer band: under 60 is "very dissatisfied".
DISSATISFIED_BELOW = 60.0


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
    benefit, <= 1)."""
    return -np.expm1(-leave_hazard(delta, per_year, slope, hazard))


def leave_hazard(
    delta: np.ndarray, per_year: float, slope: float, hazard: np.ndarray | float = 1.0
) -> np.ndarray:
    """Hazard of leaving the program, per day: the base yearly probability as a daily hazard,
    -ln(1 - per_year) / 365, times exp(-slope * dS / 10) and ``hazard`` (a tier's benefit)."""
    base_hazard = -np.log1p(-per_year) / 365.0
    return base_hazard * hazard * np.exp(-slope * delta / 10.0)


def time_effort_change(excess_total: np.ndarray, per_excess: float) -> np.ndarray:
    """Driver change from one seen message: -per_excess * (total pressure beyond tolerance)."""
    return -per_excess * excess_total


def personalisation_change(
    relevance: float, sensitivity: np.ndarray, per_message: float
) -> np.ndarray:
    """Driver change from one seen message: per_message * s * (2r - 1); relevant lifts."""
    return per_message * sensitivity * (2 * relevance - 1)
