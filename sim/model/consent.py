"""Consent after joining: members who are not reachable on a channel (never opted in, or
opted out) opt in again, at a purchase (checkout prompt, app install) or by a message asking
for consent on another channel (re-permission).

Probabilities are per event: per purchase day, or per opened message that asks.
"""

from __future__ import annotations

import numpy as np


def grant_probability(
    rate: float, complained: np.ndarray | None, after_complaint: float
) -> np.ndarray | float:
    """P(opt in at one event) of members: ``rate``, times ``after_complaint`` (a fraction
    0-1) for members who complained (``complained``: a mask, or None when nobody can have)."""
    if complained is None:
        return rate
    return np.where(complained, rate * after_complaint, rate)


def granted(u: np.ndarray, probability: np.ndarray | float) -> np.ndarray:
    """Mask of members who opt in: their uniform ``u`` below their probability."""
    return u < probability
