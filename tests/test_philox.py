"""The counter-based member draws (sim.engine.philox, sim.engine.rng): the published generator,
uniform, independent across purposes, and a member's draw whatever else is drawn with it."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from sim.engine import philox
from sim.engine.rng import CONSENT, DROPOUT, MESSAGE, PURCHASE, SPEND, Streams

# Random123's known-answer vectors for Philox4x32-10 (tests/kat_vectors of the Random123
# library by D. E. Shaw Research): counter (4 words), key (2 words), the block (4 words).
KNOWN_ANSWERS = [
    ("00000000 00000000 00000000 00000000", "00000000 00000000",
     "6627e8d5 e169c58d bc57ac4c 9b00dbd8"),
    ("ffffffff ffffffff ffffffff ffffffff", "ffffffff ffffffff",
     "408f276d 41c83b0e a20bc7c6 6d5451fd"),
    ("243f6a88 85a308d3 13198a2e 03707344", "a4093822 299f31d0",
     "d16cfe09 94fdcceb 5001e420 24126ea1"),
]  # fmt: skip
N = 1 << 20


def _words(text: str) -> np.ndarray:
    return np.array([int(w, 16) for w in text.split()], dtype=np.uint32)


@pytest.mark.parametrize(("counter", "key", "block"), KNOWN_ANSWERS)
def test_the_block_is_the_published_one(counter: str, key: str, block: str) -> None:
    assert philox.words(_words(counter), _words(key)).tolist() == _words(block).tolist()


def test_a_uniform_is_the_top_53_bits_of_two_words() -> None:
    key = _words("a4093822 299f31d0")
    member, time, sub, purpose = 7, 3, 5, 2
    w = philox.words(np.array([member, purpose * 16, time, sub], dtype=np.uint32), key)
    high_low = [(int(w[0]) << 32 | int(w[1])) >> 11, (int(w[2]) << 32 | int(w[3])) >> 11]
    got = philox.uniforms(key, purpose, time, sub, np.array([member]), 2)[:, 0]
    assert got.tolist() == [v / 2.0**53 for v in high_low]


@pytest.fixture(scope="module")
def streams() -> Streams:
    return Streams(seed=2024, replication=3)


def test_a_members_draw_does_not_depend_on_the_others(streams: Streams) -> None:
    everyone = streams.uniforms(MESSAGE, 1440, np.arange(5000), rows=3, sub=7)
    some = np.sort(np.random.default_rng(0).choice(5000, 300, replace=False))
    assert np.array_equal(streams.uniforms(MESSAGE, 1440, some, rows=3, sub=7), everyone[:, some])
    # Fewer rows are the first rows, so a draw for one purpose never needs the others.
    assert np.array_equal(streams.uniforms(MESSAGE, 1440, some, rows=2, sub=7), everyone[:2, some])
    # The same member drawn twice gets the same uniform twice.
    twice = streams.uniforms(MESSAGE, 1440, np.array([11, 11, 4999]), rows=3, sub=7)
    assert np.array_equal(twice[:, 0], twice[:, 1])


def test_uniforms_are_uniform(streams: Streams) -> None:
    """Kolmogorov-Smirnov and the first two moments over 2^20 draws of one row, and of the
    first three rows pooled; at a fixed key the test is deterministic, its level 1e-4."""
    u = streams.uniforms(PURCHASE, 17, np.arange(N), rows=3)
    assert ((u >= 0) & (u < 1)).all()
    for sample in (u[0], u.ravel()):
        assert stats.kstest(sample, "uniform").pvalue > 1e-4
        se = np.sqrt(1 / 12 / sample.size)
        assert abs(sample.mean() - 0.5) < 4 * se
        assert abs(sample.var() - 1 / 12) < 4 * np.sqrt(1 / 180 / sample.size)


def test_draws_are_uncorrelated_across_members_rows_and_purposes(streams: Streams) -> None:
    """Neighbouring counters must not give related uniforms: correlations within 4 standard
    errors (1 / sqrt(n)) of 0 between adjacent members, the rows of one block and of two
    blocks, two purposes, two days, two sends and two replications."""
    members = np.arange(N)
    u = streams.uniforms(MESSAGE, 600, members, rows=3, sub=0)
    pairs = {
        "adjacent members": (u[0, :-1], u[0, 1:]),
        "rows of one block": (u[0], u[1]),
        "rows of two blocks": (u[1], u[2]),
        "purposes": (streams.uniforms(SPEND, 5, members)[0],
                     streams.uniforms(DROPOUT, 5, members)[0]),
        "days": (streams.uniforms(CONSENT, 5, members)[0],
                 streams.uniforms(CONSENT, 6, members)[0]),
        "sends": (u[0], streams.uniforms(MESSAGE, 600, members, sub=1)[0]),
        "replications": (u[0], Streams(2024, 4).uniforms(MESSAGE, 600, members, sub=0)[0]),
    }  # fmt: skip
    for name, (a, b) in pairs.items():
        assert abs(np.corrcoef(a, b)[0, 1]) < 4 / np.sqrt(a.size), name


def test_the_history_pilots_branch_has_draws_of_its_own() -> None:
    members = np.arange(1000)
    main, branch = Streams(5, 0), Streams(5, 0, (10,))
    assert not np.array_equal(
        main.uniforms(PURCHASE, 0, members), branch.uniforms(PURCHASE, 0, members)
    )
    assert np.array_equal(main.uniforms(PURCHASE, 0, members), Streams(5, 0).uniforms(
        PURCHASE, 0, members
    ))  # fmt: skip


def test_first_is_row_0_of_the_uniforms(streams: Streams) -> None:
    """The one-member draw compiled callers use is the member's uniform of ``uniforms``."""
    members = np.array([0, 1, 77, 4_000_000_000])
    row = streams.uniforms(PURCHASE, 17, members)[0]
    one = [philox.first(streams.member_key, PURCHASE, 17, 0, m) for m in members]
    assert one == row.tolist()


def test_pair_is_those_rows_of_the_uniforms(streams: Streams) -> None:
    """The one-member draw of a block is the member's two uniforms of those rows."""
    members = np.array([0, 1, 77, 4_000_000_000])
    rows = streams.uniforms(CONSENT, 17, members, rows=6, sub=3)
    for b in range(3):
        two = [philox.pair(streams.member_key, CONSENT, 17, 3, m, b) for m in members]
        assert [u for u, _ in two] == rows[2 * b].tolist()
        assert [u for _, u in two] == rows[2 * b + 1].tolist()
