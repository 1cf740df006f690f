"""Counter-based uniforms: Philox4x32-10 (Salmon, Moraes, Dror and Shaw, "Parallel random
numbers: as easy as 1, 2, 3", SC 2011), evaluated at any counter, compiled.

A sequential generator gives member k's draw only after every draw before it, so a draw for a
few members costs a pass over all of them. Philox maps a 128-bit counter and a 64-bit key to
128 random bits with no state in between, so the uniforms of members idx are computed for those
members alone and are the same whichever other members are drawn with them. NumPy's own
``Philox`` is Philox4x64 behind a sequential interface; the 4x32 variant here needs only 32 x 32
-> 64-bit products, which the compiler vectorises (about 2 ns a block on this project's
machine, against about 70 ns for 4x64 with 64-bit products split in halves).
tests/test_philox.py checks the published known-answer vectors of the Random123 library.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# The multipliers and the key schedule's increments (Weyl sequence) of Philox4x32.
_M0, _M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
_W0, _W1 = np.uint32(0x9E3779B9), np.uint32(0xBB67AE85)
_LOW = np.uint64(0xFFFFFFFF)
_32 = np.uint64(32)
_2_21 = 2.0**21
ROUNDS = 10
_ULP = 2.0**-53  # a uniform is a 53-bit fraction in [0, 1), as numpy.random.Generator.random


@njit(inline="always")
def block(c0, c1, c2, c3, k0, k1):  # type: ignore[no-untyped-def]
    """The four 32-bit words of Philox4x32-10 at counter (c0, c1, c2, c3) and key (k0, k1),
    all np.uint32."""
    for r in range(ROUNDS):
        if r > 0:
            k0 = np.uint32(k0 + _W0)
            k1 = np.uint32(k1 + _W1)
        p0 = _M0 * np.uint64(c0)
        p1 = _M1 * np.uint64(c2)
        c0, c1, c2, c3 = (
            np.uint32(p1 >> _32) ^ c1 ^ k0,
            np.uint32(p1 & _LOW),
            np.uint32(p0 >> _32) ^ c3 ^ k1,
            np.uint32(p0 & _LOW),
        )
    return c0, c1, c2, c3


@njit(inline="always")
def _fraction(high, low):  # type: ignore[no-untyped-def]
    """The uniform of the 64 bits (high, low): its top 53 bits as a fraction of 2^53."""
    # Two exact conversions of numbers below 2^32 (the sum is below 2^53, so exact too): a
    # conversion the vector units have, where one of a 64-bit integer may not be.
    return (np.float64(high) * _2_21 + np.float64(low >> np.uint32(11))) * _ULP


@njit(cache=True)
def uniforms(key, stream, time, sub, members, rows):  # type: ignore[no-untyped-def]
    """Uniforms (rows, m) of the m members ``members`` (int64, below 2^32) at counter words
    (member, stream * 16 + block, time, sub) under ``key`` (two uint32). Each block gives two
    uniforms: row r is half r % 2 of block r // 2 (rows at most 32)."""
    k0, k1 = np.uint32(key[0]), np.uint32(key[1])
    c2, c3 = np.uint32(time), np.uint32(sub)
    out = np.empty((rows + rows % 2, members.size))
    # Blocks outside, members inside: the inner loop has no branch, so it is vectorised.
    for b in range((rows + 1) // 2):
        c1 = np.uint32(stream * 16 + b)
        first, second = out[2 * b], out[2 * b + 1]
        for j in range(members.size):
            w0, w1, w2, w3 = block(np.uint32(members[j]), c1, c2, c3, k0, k1)
            first[j] = _fraction(w0, w1)
            second[j] = _fraction(w2, w3)
    return out[:rows]


@njit(inline="always")
def first(key, stream, time, sub, member):  # type: ignore[no-untyped-def]
    """Row 0 of ``uniforms`` for one member: its first uniform at that counter (for compiled
    callers that test a member's uniform before deciding to keep it)."""
    w0, w1, _, _ = block(
        np.uint32(member), np.uint32(stream * 16), np.uint32(time), np.uint32(sub),
        np.uint32(key[0]), np.uint32(key[1]),
    )  # fmt: skip
    return _fraction(w0, w1)


@njit(inline="always")
def pair(key, stream, time, sub, member, b):  # type: ignore[no-untyped-def]
    """Rows 2b and 2b + 1 of ``uniforms`` for one member: the two halves of block b."""
    w0, w1, w2, w3 = block(
        np.uint32(member), np.uint32(stream * 16 + b), np.uint32(time), np.uint32(sub),
        np.uint32(key[0]), np.uint32(key[1]),
    )  # fmt: skip
    return _fraction(w0, w1), _fraction(w2, w3)


@njit(cache=True)
def words(counter, key):  # type: ignore[no-untyped-def]
    """The raw block at ``counter`` (four words) and ``key`` (two words), as uint32: for tests."""
    w = block(
        np.uint32(counter[0]), np.uint32(counter[1]), np.uint32(counter[2]),
        np.uint32(counter[3]), np.uint32(key[0]), np.uint32(key[1]),
    )  # fmt: skip
    return np.array(w, dtype=np.uint32)
