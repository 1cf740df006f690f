"""The points ledger: earn, redeem, expire. Integer points, so conservation is exact:
issued = redeemed + expired + outstanding at every step."""

from __future__ import annotations

import numpy as np


def earned(spend: np.ndarray, per_currency: float, multiplier: np.ndarray) -> np.ndarray:
    """Points earned on a purchase: round(spend paid, net of discounts, * points per
    currency unit * multiplier)."""
    return np.rint(spend * per_currency * multiplier).astype(np.int64)


def redeemable(balance: np.ndarray, threshold: int) -> np.ndarray:
    """Points exchanged for rewards: whole multiples of the redemption threshold."""
    return (balance // threshold) * threshold


def inactive_expiring(
    balance: np.ndarray, last_activity: np.ndarray, today: float, days: int
) -> np.ndarray:
    """Mask of balances that expire today: no purchase for ``days`` days."""
    return (balance > 0) & (today - last_activity >= days)
