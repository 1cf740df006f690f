"""Purchase lift from messages: how the extra purchases a message brings depend on the
member's own purchase rate (docs/model.md section 6).

A lift l raises a member's purchase rate lambda (purchases/day) by l * lambda * w, where
w = (lambda_ref / lambda)^(1 - e): the extra rate is l * lambda^e * lambda_ref^(1 - e), with e
the rate elasticity and lambda_ref the segment's mean rate. e = 1 multiplies the member's own
rate (heavy buyers gain most); e = 0 gives every member the same extra purchases, those of a
typical member of its segment.

A click can also add purchases whatever the member's rate (conversion): q expected purchases
per click on a relevance-0.5 message, as a rate that fades with the lift's half-life.
"""

from __future__ import annotations

import numpy as np

MAX_WEIGHT = 1e30


def rate_weight(rate: np.ndarray, reference: np.ndarray, elasticity: float) -> np.ndarray:
    """Weight w on the lift of members with purchase rates ``rate`` and segment mean rates
    ``reference`` (both purchases/day): w = (reference / rate)^(1 - elasticity), elasticity in
    [0, 1]. A member whose rate is 0 never buys and gets w = 0."""
    positive = rate > 0
    w = np.zeros(rate.shape, dtype=np.float64)
    w[positive] = (reference[positive] / rate[positive]) ** (1.0 - elasticity)
    # A rate that float32 barely represents would make w overflow; rate * w stays tiny anyway.
    return np.minimum(w, MAX_WEIGHT).astype(np.float32)


def conversion_rate(q: float, relevance: float | np.ndarray, half_life: float) -> np.ndarray:
    """Extra purchases a day to add, on the day of a click, so that the days after it bring
    2 * relevance * q purchases in all (q per click at relevance 0.5): the rate fades by
    2^(-1/h) a day and first acts the next day, already faded once, so the days k >= 1 bring
    c 2^(-k/h) and sum to c / (2^(1/h) - 1). q in purchases per click, h in days."""
    return np.asarray(2.0 * relevance * q * (2.0 ** (1.0 / half_life) - 1.0), dtype=np.float64)
