"""Synthetic transaction logs drawn from BG/NBD and Gamma-Gamma with known parameters.

For examples, tests and benchmarks: fitting such a log should recover the parameters.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd


def transactions(
    customers: int,
    purchase: Mapping[str, float],
    spend: Mapping[str, float],
    *,
    days: int = 365,
    acquisition_days: int = 90,
    start: str = "2023-01-01",
    first_id: int = 1,
    seed: int = 0,
) -> pd.DataFrame:
    """A transaction log: one row per purchase, columns customer, date, amount; date order.

    purchase: BG/NBD r, alpha, a, b with alpha in days; spend: Gamma-Gamma p, q, v (currency).
    Time is continuous: customers make their first purchase at a time uniform over the first
    ``acquisition_days`` days and are observed to the end of the log, ``days`` days from
    ``start``; each purchase is dated by the day it falls in, so purchases of a customer on
    one day are separate rows (the reader merges them). Customer ids are the integers from
    ``first_id``; amounts are rounded to cents.
    """
    rng = np.random.default_rng(seed)
    r, alpha, a, b = (float(purchase[k]) for k in ("r", "alpha", "a", "b"))
    first = rng.random(customers) * acquisition_days
    exposure = days - first  # days from the first purchase to the end of the log
    rate = rng.gamma(r, 1.0 / alpha, customers)
    dropout = rng.beta(a, b, customers)
    # Purchases while active: the first J ~ Geometric(p) of the Poisson process, in order.
    last = rng.geometric(np.clip(dropout, 1e-12, 1.0))
    n_events = rng.poisson(rate * exposure)
    owner = np.repeat(np.arange(customers), n_events)
    when = rng.random(owner.size) * exposure[owner]
    order = np.lexsort((when, owner))
    owner, when = owner[order], when[order]
    rank = np.arange(owner.size) - np.repeat(np.cumsum(n_events) - n_events, n_events)
    keep = rank < last[owner]
    owner, when = owner[keep], when[keep]

    who = np.concatenate([np.arange(customers), owner])
    day = np.floor(np.concatenate([first, first[owner] + when])).astype(np.int64)
    nu = rng.gamma(float(spend["q"]), 1.0 / float(spend["v"]), customers)
    amount = rng.gamma(float(spend["p"]), 1.0 / nu[who])
    order = np.lexsort((who, day))
    return pd.DataFrame(
        {
            "customer": who[order] + first_id,
            "date": pd.Timestamp(start) + pd.to_timedelta(day[order], unit="D"),
            "amount": np.round(amount[order], 2),
        }
    )


def from_simulation(
    purchases: pd.DataFrame,
    join_day: np.ndarray,
    members: int,
    *,
    start: str = "2024-01-01",
) -> pd.DataFrame:
    """The transaction log of a simulated strategy's first ``members`` members (the starting
    members), as ``loyaltysim calibrate`` reads it: columns customer, date, amount.

    ``purchases`` has one row per purchase, columns member_id, day, amount (day 0 is the
    first day of the run: ``sim.engine.events.PurchaseLog.transactions``); ``join_day[i]`` is
    member i's join day. A simulated member starts as a BG/NBD customer right after its first
    purchase (docs/calibration.md), so each member gets that purchase as a row of amount 0
    (the fits use repeat purchases only) on the day before it joins: the purchases of its
    join day are then repeat purchases, dated at most a day after they happen, rather than
    merged into the first one. Dates run from ``start`` = day 0.
    """
    mine = purchases[purchases["member_id"] < members]
    who = np.concatenate([np.arange(members), mine["member_id"].to_numpy()])
    day = np.concatenate([join_day[:members] - 1, mine["day"].to_numpy()]).astype(np.int64)
    amount = np.concatenate([np.zeros(members), mine["amount"].to_numpy()])
    order = np.lexsort((who, day))
    return pd.DataFrame(
        {
            "customer": who[order],
            "date": pd.Timestamp(start) + pd.to_timedelta(day[order], unit="D"),
            "amount": np.round(amount[order], 2),
        }
    )
