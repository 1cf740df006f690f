"""Sampling members: static per-member attributes drawn once per replication.

All strategies of a replication share these draws (common random numbers).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
from scipy import stats

from sim.model import engagement as eng
from sim.model import history
from sim.spec.fields import CHANNELS
from sim.spec.scenario import LogNormal, Population, Segment

# Points of the per-segment quantile table used to draw spend per purchase.
SPEND_TABLE_SIZE = 4096


@dataclass(frozen=True)
class Members:
    """Static attributes, one entry per member, sorted by join day.

    rate: baseline purchase rate while active, purchases/day (BG/NBD lambda).
    dropout: probability of lapsing after each purchase (BG/NBD p).
    spend_mean: mean spend per purchase, currency (Gamma-Gamma p / nu).
    opt_in: (channel, member) opted in when joining.
    tolerance: contact pressure the member accepts before fatigue bites, pressure units.
    sensitivity: sensitivity to relevance, dimensionless (1 = typical).
    satisfaction0: baseline satisfaction, index 0-100.
    join_day: day the member joined (0 for starting members).
    preference: (category, member) share of the member's spend in each product category
    (empty when the scenario has no categories).
    progress: uniform 0-1, where a starting member stands in the run-up to the next reward.
    engagement: standard-normal engagement factor z_e, correlated with the member's rate
    within its segment (empty when engagement is off).
    mean_rate: (segment) mean purchase rate of each segment's members, purchases/day (r/alpha).
    """

    segment: np.ndarray
    rate: np.ndarray
    dropout: np.ndarray
    spend_mean: np.ndarray
    opt_in: np.ndarray
    tolerance: np.ndarray
    sensitivity: np.ndarray
    satisfaction0: np.ndarray
    join_day: np.ndarray
    spend_table: np.ndarray
    preference: np.ndarray
    progress: np.ndarray
    engagement: np.ndarray
    mean_rate: np.ndarray

    @property
    def size(self) -> int:
        return int(self.rate.size)

    def joined_by(self, day: float) -> int:
        """Number of members who have joined by ``day`` (members are sorted by join day)."""
        return int(np.searchsorted(self.join_day, day, side="right"))

    def normalised(self, factor: np.ndarray) -> Members:
        """The members with the history factor of their segment (``factor[segment]``,
        dimensionless) taken out of their fitted rates: rate / factor, and dropout x factor
        (at most 1) so that the daily lapse probability stays as fitted (sim.model.history)."""
        rate, dropout = history.normalise(self.rate, self.dropout, factor[self.segment])
        mean_rate = self.mean_rate / factor  # the segments' mean rates, as the members'
        return replace(self, rate=rate.astype(np.float32), dropout=dropout, mean_rate=mean_rate)


def segment_counts(population: Population) -> np.ndarray:
    """Starting members per segment: shares of ``size`` by largest remainder (sums to size)."""
    shares = np.array([s.share for s in population.segments.values()])
    raw = shares * population.size
    counts = np.floor(raw).astype(np.int64)
    short = population.size - counts.sum()
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[:short]] += 1
    return counts


# Kept per shape (read-only): the inverse incomplete gamma function takes some milliseconds a
# table, which is most of a small simulation's set-up when a fit simulates thousands.
@lru_cache(maxsize=64)
def spend_quantiles(p: float, size: int = SPEND_TABLE_SIZE) -> np.ndarray:
    """Quantiles of Gamma(p, 1) / p at mid-points, rescaled to mean exactly 1 (read-only)."""
    grid = (np.arange(size) + 0.5) / size
    table = stats.gamma.ppf(grid, p)
    table = (table / table.mean()).astype(np.float32)
    table.flags.writeable = False
    return table


def _lognormal(dist: LogNormal, n: int, rng: np.random.Generator) -> np.ndarray:
    return dist.median * np.exp(dist.sigma * rng.standard_normal(n))


def _sample_segment(seg: Segment, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    buy = seg.purchase
    nu = rng.gamma(seg.spend.q, 1.0 / seg.spend.v, n)
    return {
        "rate": rng.gamma(buy.r, 1.0 / buy.alpha_days, n),
        "dropout": rng.beta(buy.a, buy.b, n),
        "spend_mean": seg.spend.p / nu,
        "opt_in": np.stack([rng.random(n) < getattr(seg.opt_in, c) for c in CHANNELS]),
        "tolerance": _lognormal(seg.tolerance, n, rng),
        "sensitivity": _lognormal(seg.relevance_sensitivity, n, rng),
        "satisfaction0": np.clip(
            seg.satisfaction.mean + seg.satisfaction.sd * rng.standard_normal(n), 0.0, 100.0
        ),
    }


def sample_members(
    population: Population,
    horizon_days: int,
    rng_population: np.random.Generator,
    rng_acquisition: np.random.Generator,
    engagement: tuple[float, np.random.Generator] | None = None,
) -> Members:
    """Draw the starting members and everyone who joins before the horizon.

    Joins per day ~ Poisson(acquisition_per_day); a joiner's segment is drawn by share.
    ``engagement`` (correlation, stream), given when engagement is on: each member's engagement
    factor, with one standard normal per member from the stream.
    """
    segments = list(population.segments.values())
    start = segment_counts(population)
    days = np.arange(1, horizon_days)
    joins = rng_acquisition.poisson(population.acquisition_per_day, days.size)
    shares = np.array([s.share for s in segments])
    joiner_segment = rng_acquisition.choice(len(segments), size=int(joins.sum()), p=shares)
    join_day = np.concatenate([np.zeros(population.size), np.repeat(days, joins)])
    segment = np.concatenate([np.repeat(np.arange(len(segments)), start), joiner_segment])

    columns: dict[str, np.ndarray] = {}
    for k, seg in enumerate(segments):
        idx = np.flatnonzero(segment == k)
        for name, values in _sample_segment(seg, idx.size, rng_population).items():
            if name not in columns:
                shape = (*values.shape[:-1], segment.size)
                columns[name] = np.empty(shape, dtype=values.dtype)
            columns[name][..., idx] = values
    # Drawn after everything else, so that adding categories leaves the other draws alone.
    shares = np.array(list(population.categories.values()))
    preference = np.empty((0, segment.size), dtype=np.float32)
    if shares.size:
        alpha = population.preference_concentration * shares * shares.size
        preference = rng_population.dirichlet(alpha, segment.size).T.astype(np.float32)
    progress = rng_population.random(segment.size)
    factor = np.empty(0, dtype=np.float32)
    if engagement is not None:
        correlation, rng_engagement = engagement
        score = np.empty(segment.size)
        for k, seg in enumerate(segments):
            idx = np.flatnonzero(segment == k)
            buy = seg.purchase
            score[idx] = eng.normal_score(columns["rate"][idx], buy.r, buy.alpha_days)
        noise = rng_engagement.standard_normal(segment.size)
        factor = eng.factor(score, noise, correlation).astype(np.float32)
    return Members(
        segment=segment.astype(np.int16),
        rate=columns["rate"].astype(np.float32),
        dropout=columns["dropout"].astype(np.float64),
        spend_mean=columns["spend_mean"].astype(np.float32),
        opt_in=columns["opt_in"],
        tolerance=columns["tolerance"].astype(np.float32),
        sensitivity=columns["sensitivity"].astype(np.float32),
        satisfaction0=columns["satisfaction0"].astype(np.float32),
        join_day=join_day.astype(np.float64),
        spend_table=np.stack([spend_quantiles(s.spend.p) for s in segments]),
        preference=preference,
        progress=progress,
        engagement=factor,
        mean_rate=np.array([s.purchase.r / s.purchase.alpha_days for s in segments]),
    )
