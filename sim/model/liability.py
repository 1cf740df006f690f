"""The points liability under IFRS 15 (customer loyalty programme, IE267-IE270).

Points are a separate performance obligation: part of each purchase price is deferred to them
(allocation by relative stand-alone selling price, paras 74-80) and recognised as revenue as
points are redeemed, in proportion to the redemptions expected in total, so that expected
breakage is recognised along with the redemptions (para B46). Money in the scenario's currency,
points as integers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def points_ssp(
    points: np.ndarray | float, point_value: float, expected_redemption_rate: float
) -> np.ndarray | float:
    """Stand-alone selling price of points (currency): points * value per point (currency)
    * expected redemption rate (fraction), since points that lapse are worth nothing."""
    return points * point_value * expected_redemption_rate


def allocate(
    price: np.ndarray | float, points_ssp: np.ndarray | float
) -> tuple[np.ndarray | float, np.ndarray | float]:
    """Split a transaction price (currency) into (goods, points) by relative stand-alone
    selling prices. The goods' stand-alone price is the price paid, so the points' share is
    price * ssp / (price + ssp). A zero price with zero ssp allocates nothing."""
    price_a = np.asarray(price, dtype=np.float64)
    ssp_a = np.asarray(points_ssp, dtype=np.float64)
    total = price_a + ssp_a
    # Safe denominator: price + ssp is 0 only when both are 0, and then the share is 0.
    share = price_a * ssp_a / np.where(total > 0, total, 1.0)
    goods = price_a - share
    if share.ndim == 0:
        return float(goods), float(share)
    return goods, share


@dataclass
class PointsLedger:
    """Pool-level points ledger for one strategy (all members together).

    Cumulative totals: ``allocated`` and ``recognised`` in currency, ``issued``, ``redeemed``
    and ``expired`` in points. Outstanding points = issued - redeemed - expired.

    Recognition (cumulative): allocated * redeemed / expected total redemptions, clamped to
    [0, allocated]. ``recognise()`` books the difference to what was already recognised. A lower
    estimate of the redemptions to come raises it, a higher one can lower it: a change in
    estimate is caught up cumulatively (as in the example's year 3), so one period's revenue
    may be negative. With no point outstanding the fraction is exactly 1: all deferred revenue
    ends up recognised, through redemption or breakage.

    Expected total redemptions = redeemed + outstanding * rate, where the rate is the observed
    one among resolved points, redeemed / (redeemed + expired), once any are resolved, else the
    prior ``expected_redemption_rate``. Early on the observed rate is biased upwards: points
    are redeemed long before unredeemed ones lapse, so the first resolved points are all
    redemptions. ``prior_weight`` (points, default 0 = the observed rate alone) shrinks it
    towards the prior, and ``revise`` sets an explicit estimate, as in the textbook example,
    until the next ``earn``.
    """

    expected_redemption_rate: float
    allocated: float = 0.0
    issued: int = 0
    redeemed: int = 0
    expired: int = 0
    recognised: float = 0.0
    expected_total_override: float | None = None
    prior_weight: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.expected_redemption_rate <= 1.0:
            raise ValueError("expected_redemption_rate must be in [0, 1]")
        if self.prior_weight < 0:
            raise ValueError("prior_weight must be non-negative")

    @property
    def outstanding(self) -> int:
        """Points issued and neither redeemed nor expired."""
        return self.issued - self.redeemed - self.expired

    @property
    def redemption_rate(self) -> float:
        """Current estimate of the fraction of points that will be redeemed: the observed rate
        among resolved points, shrunk towards the prior by ``prior_weight`` pseudo-points."""
        resolved = self.redeemed + self.expired + self.prior_weight
        if resolved == 0:
            return self.expected_redemption_rate
        return (self.redeemed + self.prior_weight * self.expected_redemption_rate) / resolved

    @property
    def breakage_rate(self) -> float:
        """expired / (redeemed + expired); 0 while no point is resolved."""
        resolved = self.redeemed + self.expired
        return self.expired / resolved if resolved else 0.0

    @property
    def deferred_revenue(self) -> float:
        """Revenue deferred to points so far (currency, cumulative)."""
        return self.allocated

    @property
    def liability(self) -> float:
        """Contract liability (currency): deferred and not yet recognised, never negative."""
        return max(self.allocated - self.recognised, 0.0)

    def earn(
        self, price: np.ndarray | float, points: np.ndarray | int, point_value: float
    ) -> float:
        """Issue points on purchases (prices in currency, one per purchase, with the points
        each earns) and defer their share of the price (allocate). Returns the amount deferred
        (currency). The ssp uses the current redemption-rate estimate."""
        pts = np.asarray(points, dtype=np.int64)
        if pts.size and pts.min() < 0:
            raise ValueError("points must be non-negative")
        _, deferred = allocate(price, points_ssp(pts, point_value, self.redemption_rate))
        total = float(np.asarray(deferred).sum())
        self.allocated += total
        self.issued += int(pts.sum())
        # A total estimated for the earlier points says nothing about the new ones.
        self.expected_total_override = None
        return total

    def redeem(self, points: int) -> None:
        """Record points exchanged for rewards."""
        self._resolve(points)
        self.redeemed += int(points)

    def expire(self, points: int) -> None:
        """Record points forfeited (breakage)."""
        self._resolve(points)
        self.expired += int(points)

    def _resolve(self, points: int) -> None:
        if points < 0 or points > self.outstanding:
            raise ValueError(f"cannot resolve {points} points: {self.outstanding} outstanding")

    def revise(self, expected_total: float) -> None:
        """Set the expected total redemptions (points, over all issued points) explicitly."""
        self.expected_total_override = float(expected_total)

    def expected_redemptions(self) -> float:
        """Expected total redemptions (points) of all points issued so far, bounded by what is
        already redeemed and what could still be."""
        low, high = float(self.redeemed), float(self.redeemed + self.outstanding)
        if self.expected_total_override is not None:
            return min(max(self.expected_total_override, low), high)
        return low + self.outstanding * self.redemption_rate

    def recognition_target(self) -> float:
        """Cumulative revenue (currency) that should be recognised by now."""
        if self.outstanding == 0:
            return self.allocated
        expected = self.expected_redemptions()
        # Nothing redeemed and nothing expected: recognise breakage as points lapse.
        fraction = self.redeemed / expected if expected > 0 else self.expired / self.issued
        return min(max(self.allocated * fraction, 0.0), self.allocated)

    def recognise(self) -> float:
        """Book this period's revenue from points (currency): the cumulative target minus what
        was recognised before; negative when a revised estimate lowers the target."""
        target = self.recognition_target()
        revenue = target - self.recognised
        # Assign the target rather than add, so full resolution gives exactly allocated.
        self.recognised = target
        return revenue
