"""Compiled loops for the model's functions, compiled on first use.

Some of the model's steps are one loop over members, compiled with numba (cached on disk) so
that a step is one pass instead of many NumPy passes. numba is imported only when such a loop
first runs, so the commands that only read scenarios (``validate``, which uses the purchase
model for what a population implies) never load it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any


def compiled(loop: Callable[..., Any]) -> Callable[..., Any]:
    """``loop`` compiled by numba (nopython, cached) when first called."""
    kernel: Callable[..., Any] | None = None

    @functools.wraps(loop)
    def call(*args: Any) -> Any:
        nonlocal kernel
        if kernel is None:
            from numba import njit

            kernel = njit(cache=True)(loop)
        return kernel(*args)

    return call
