"""What a population's parameters imply, in the figures a marketer knows from their own
program: purchases a year, the share of members still buying after one and two years, the
mean basket and the spend a year. ``loyaltysim validate`` prints them and warns, without
failing, when one lies outside a wide plausibility band (a typo, or a rate per week entered
as per day), so that guessed BG/NBD and Gamma-Gamma values are checked before a run.

Closed forms per segment (sim.model.purchase), for a member active on the day it joins:
E[X(365)] (Fader, Hardie & Lee 2005, eq. 9), P(active at t) = 2F1(r, a; a + b; -t / alpha),
and the Gamma-Gamma mean spend per purchase p v / (q - 1). All members: the segments mixed by
their shares (the basket as spend over purchases).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sim.model.purchase import bgnbd_active_share, bgnbd_expected_purchases
from sim.spec.scenario import Population

YEAR = 365.0  # days
ALL = "all members"
# Plausibility bands (docs/model.md, section 2): wide on purpose. They catch values no
# loyalty program shows, not unusual businesses: fewer than one purchase in two years, more
# than one on most days; nearly everyone or nearly no one buying after two years.
BANDS: dict[str, tuple[float, float, str]] = {
    "purchases_year_1": (0.5, 250.0, "purchases in the first year"),
    "active_after_2_years": (0.02, 0.99, "share still active after two years"),
}


@dataclass(frozen=True)
class Implied:
    """One segment's (or all members') implied figures; money in the scenario's currency."""

    segment: str
    share: float
    purchases_year_1: float
    active_after_1_year: float
    active_after_2_years: float
    mean_basket: float
    spend_year_1: float


def implied(population: Population) -> list[Implied]:
    """The implied figures of each segment, then of all members."""
    rows = []
    for name, segment in population.segments.items():
        bgnbd = segment.purchase
        args = (bgnbd.r, bgnbd.alpha_days, bgnbd.a, bgnbd.b)
        purchases = float(bgnbd_expected_purchases(YEAR, *args))
        spend = segment.spend
        basket = spend.p * spend.v / (spend.q - 1.0)
        rows.append(
            Implied(
                segment=name,
                share=segment.share,
                purchases_year_1=purchases,
                active_after_1_year=bgnbd_active_share(YEAR, *args),
                active_after_2_years=bgnbd_active_share(2 * YEAR, *args),
                mean_basket=basket,
                spend_year_1=purchases * basket,
            )
        )
    total = sum(row.share for row in rows)

    def mixed(field: str) -> float:
        return sum(row.share * getattr(row, field) for row in rows) / total

    purchases, spend = mixed("purchases_year_1"), mixed("spend_year_1")
    rows.append(
        Implied(
            segment=ALL,
            share=1.0,
            purchases_year_1=purchases,
            active_after_1_year=mixed("active_after_1_year"),
            active_after_2_years=mixed("active_after_2_years"),
            mean_basket=spend / purchases if purchases > 0 else float("nan"),
            spend_year_1=spend,
        )
    )
    return rows


def implausible(rows: list[Implied], source: str) -> list[str]:
    """``SOURCE: population.segments.NAME: ...`` for each segment figure outside its band."""
    found = []
    for row in rows:
        if row.segment == ALL:
            continue
        for field, (low, high, what) in BANDS.items():
            value = getattr(row, field)
            if not low <= value <= high:
                found.append(
                    f"{source}: population.segments.{row.segment}: {what} {value:.3g} is "
                    f"outside the plausible {low:g} to {high:g}; check its purchase parameters "
                    "(and time_unit)"
                )
    return found


def as_records(rows: list[Implied]) -> list[dict]:
    """The rows as plain dicts (for JSON)."""
    return [asdict(row) for row in rows]


def format_implied(rows: list[Implied], currency: str) -> str:
    """The figures as a text table, a line per segment and one for all members."""
    width = max(len(row.segment) for row in rows)
    header = (
        f"{'segment':<{width}}  share  purchases in year 1  active after 1 / 2 years"
        f"  mean basket  spend in year 1 ({currency})"
    )
    lines = [header]
    for row in rows:
        lines.append(
            f"{row.segment:<{width}}  {row.share:>5.0%}  {row.purchases_year_1:>19.1f}"
            f"  {row.active_after_1_year:>11.0%} / {row.active_after_2_years:<10.0%}"
            f"  {row.mean_basket:>11,.0f}  {row.spend_year_1:>15,.0f}"
        )
    return "\n".join(lines)
