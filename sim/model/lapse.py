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

from sim.model.jit import compiled


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


def judged(
    lapsed: np.ndarray,
    idx: np.ndarray,
    relevance: float | np.ndarray,
    opened: np.ndarray,
    clicked: np.ndarray,
    hazard: np.ndarray,
    u: np.ndarray,
    per_open: float,
    per_click: float,
    per_message: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Positions in idx of the members revived and of those lapsing on one seen message.

    ``lapsed`` is the lapse state under the strategy (all members; idx's entries judged by it,
    before this message); relevance r (0-1, or one per member of idx); opened, clicked: masks
    over idx; hazard: the exit hazard multiplier of each; u: the member's uniform of the
    message. A lapsed member who opened is revived when u < ``winback_probability``, an
    active one lapses when u < ``contact_lapse_probability``: each in one pass, with the
    same arithmetic (and so the same outcome) as those functions."""
    rel = np.atleast_1d(np.asarray(relevance))
    # Scalars take the array's type, as NumPy's do for a Python number (NEP 50).
    return _judged(
        lapsed, idx, rel, rel.dtype.type(2.0), opened, clicked, hazard,
        hazard.dtype.type(per_message), u, per_open, per_click,
    )  # fmt: skip


@compiled
def _judged(  # type: ignore[no-untyped-def]
    lapsed, idx, rel, two, opened, clicked, hazard, per_message, u, per_open, per_click
):
    n = idx.size
    revived = np.empty(n, dtype=np.int64)
    lapsing = np.empty(n, dtype=np.int64)
    k_rev = k_lap = 0
    one_relevance = rel.size == 1
    for k in range(n):
        if lapsed[idx[k]]:
            if opened[k]:
                r2 = two * rel[0 if one_relevance else k]
                click = per_click * (1.0 if clicked[k] else 0.0)
                if u[k] < min(r2 * (per_open + click), 1.0):
                    revived[k_rev] = k
                    k_rev += 1
        elif u[k] < min(per_message * hazard[k], 1.0):
            lapsing[k_lap] = k
            k_lap += 1
    return revived[:k_rev], lapsing[:k_lap]
