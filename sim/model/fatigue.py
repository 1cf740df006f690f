"""Contact pressure: what each delivered message adds and how it fades.

Pressure is in message-equivalents: one relevance-0.5 email adds 1. It decays exponentially
with a half-life and is compared with the member's tolerance (same unit).
"""

from __future__ import annotations

import numpy as np

# How strongly irrelevance inflates the pressure a message adds (per unit of sensitivity):
# a relevance-0 message adds e^0.5 = 1.65 times, a relevance-1 message e^-0.5 = 0.61 times
# what a relevance-0.5 message adds (docs/model.md).
IRRELEVANCE_SLOPE = 0.5


def increment(intrusiveness: float, relevance: float, sensitivity: np.ndarray) -> np.ndarray:
    """Pressure one delivered message adds: intrusiveness * exp(0.5 * sensitivity * (1 - 2r)).

    intrusiveness: the channel's weight (email 1); relevance r in 0-1; sensitivity >= 0.
    """
    return (
        intrusiveness * np.exp(IRRELEVANCE_SLOPE * sensitivity * (1.0 - 2.0 * relevance))
    ).astype(np.float32)


def felt(channel: np.ndarray, total: np.ndarray, cross_channel: float) -> np.ndarray:
    """Pressure felt on one channel: its own plus ``cross_channel`` times the other channels'."""
    return channel + cross_channel * (total - channel)


def excess(pressure: np.ndarray, tolerance: np.ndarray) -> np.ndarray:
    """Pressure beyond tolerance, in tolerances: max(0, P / tolerance - 1). Zero below it."""
    return np.maximum(pressure / tolerance - 1.0, 0.0)
