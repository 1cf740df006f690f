"""Exponential decay by half-life, shared by pressure, lift and satisfaction."""

from __future__ import annotations


def retention(days: float, half_life_days: float) -> float:
    """Share of a quantity left after ``days``: 2^(-days / half-life)."""
    return 2.0 ** (-days / half_life_days)
