"""Lapse under marketing: win-back of lapsed members and lapse caused by unwanted contact.

BG/NBD lapse (sim.model.purchase) runs on the baseline purchases and is the same under every
strategy. Messages change it in two ways, each per seen message and per strategy:

- win-back: a lapsed member who opens a message becomes active again with a probability that
  grows with the message's relevance, as purchase lift does (docs/model.md section 6);
- contact lapse: an active member lapses with a probability proportional to the message's
  hazard multiplier of unwanted contact, the one that scales channel exits (over-contact,
  irrelevance, dissatisfaction): contact reminds the members it annoys that they can stop.
"""

from __future__ import annotations

import numpy as np


def winback_probability(
    relevance: float | np.ndarray,
    clicked: np.ndarray,
    per_open: float,
    per_click: float,
) -> np.ndarray:
    """P(a lapsed member who opened the message becomes active again), 0-1:
    min(1, 2r (per_open + per_click * clicked)); a relevance-0.5 message gives exactly
    per_open (per_open + per_click with a click). relevance r in 0-1; clicked a mask."""
    return np.minimum(2.0 * relevance * (per_open + per_click * clicked), 1.0)


def contact_lapse_probability(multiplier: np.ndarray, per_message: float) -> np.ndarray:
    """P(an active member lapses on seeing the message), 0-1: min(1, per_message * H), with H
    the message's exit hazard multiplier (sim.model.response.exit_multiplier; 1 for a
    relevance-0.5 message to a member within tolerance at baseline satisfaction)."""
    return np.minimum(per_message * multiplier, 1.0)
