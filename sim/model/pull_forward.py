"""Pull-forward: purchases a message's lift adds are partly taken from the member's later ones.

Each purchase the lift adds (against the same draw at the member's rate without lift) creates a
purchase debt of ``share`` purchases. The debt decays with a half-life h (days), and what it
loses from one day to the next is taken off that day's purchase mean:

    due_d = D_d (2^(1/h) - 1),   mean_d <- max(mean_d - due_d, 0),
    D_(d+1) = D_d 2^(-1/h) + share x_d

with D_d the debt at day d (purchases) and x_d the purchases the lift adds on day d. A debt x
taken on day d is due from day d + 1 on, x (2^(1/h) - 1) 2^(-k/h) on day d + k, which sums to x
over k >= 1: in expectation (a Poisson mean lowered by due removes due purchases) a share
``share`` of lift-driven purchases is removed later, while the due stays within the mean.
"""

from __future__ import annotations

import numpy as np


def due(debt: np.ndarray, half_life: float) -> np.ndarray:
    """Purchases due today on a debt of ``debt`` purchases (its value today, before today's
    new debt): D (2^(1/h) - 1), the decay from yesterday's value to today's; h in days."""
    return debt * np.float32(np.exp2(1.0 / half_life) - 1.0)


def lowered(mean: np.ndarray, owed: np.ndarray) -> np.ndarray:
    """The day's purchase mean less what is due, purchases/day, never below 0."""
    return np.maximum(mean - owed, 0.0)
