"""NumPy's sum of a float64 array, bit for bit, for compiled loops.

A floating-point sum depends on the order of its additions. ``ndarray.sum`` over a contiguous
float64 array adds pairwise: blocks of at most 128 elements summed in eight interleaved
accumulators, blocks joined in a binary tree, the whole added to 0.0. A compiled loop that
totals what NumPy totalled must add in the same order, or a KPI moves in its last bits from
one revision to the next; ``total`` does. tests/test_summation.py checks it against NumPy on
every length up to a few hundred and on long ones, signed zeros included.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_BLOCK = 128  # NumPy's PW_BLOCKSIZE


@njit(cache=True)
def _block(a, lo, n):  # type: ignore[no-untyped-def]
    """Sum of a[lo:lo + n], n <= 128, in NumPy's order: in sequence below 8 elements, else in
    eight interleaved accumulators joined as a tree, then the remainder in sequence."""
    if n < 8:
        res = 0.0
        for i in range(n):
            res += a[lo + i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    whole = n - n % 8
    i = 8
    while i < whole:
        j = lo + i
        r0, r1, r2, r3 = r0 + a[j], r1 + a[j + 1], r2 + a[j + 2], r3 + a[j + 3]
        r4, r5, r6, r7 = r4 + a[j + 4], r5 + a[j + 5], r6 + a[j + 6], r7 + a[j + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@njit(cache=True)
def total(a):  # type: ignore[no-untyped-def]
    """``a.sum()`` of a contiguous float64 array, the same bits. NumPy halves a run longer
    than a block (the first half a multiple of 8) and adds the halves' sums; the halving is
    walked here with a stack of runs and one of sums (depth below 64)."""
    lo_of, n_of = np.empty(128, np.int64), np.empty(128, np.int64)
    joined = np.empty(128, np.bool_)
    sums = np.empty(128)
    runs, held = 1, 0
    lo_of[0], n_of[0], joined[0] = 0, a.size, False
    while runs:
        runs -= 1
        lo, n = lo_of[runs], n_of[runs]
        if n <= _BLOCK:
            sums[held] = _block(a, lo, n)
            held += 1
        elif not joined[runs]:
            half = n // 2
            half -= half % 8
            # Back on the stack to join its halves once both are summed; the first half is
            # taken first, so its sum lies below the second's.
            joined[runs] = True
            lo_of[runs + 1], n_of[runs + 1], joined[runs + 1] = lo + half, n - half, False
            lo_of[runs + 2], n_of[runs + 2], joined[runs + 2] = lo, half, False
            runs += 3
        else:
            held -= 1
            sums[held - 1] = sums[held - 1] + sums[held]
    return 0.0 + sums[0]
