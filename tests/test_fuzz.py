"""Fuzzing in make test: hypothesis picks mutations of the shipped scenarios (tests/fuzzing.py)
and each goes through ``validate``, or a tiny ``run``. Every case must exit 0 or 2 (never a
traceback), answer within its time limit, leave no partial folder and accept or write no
non-finite value. A small fixed sample here; ``make fuzz`` runs thousands."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

from fuzzing import SHIPPED, base_data, mutate, run_case, validate_case
from hypothesis import given, settings
from hypothesis import strategies as st

BASES = {path.stem: base_data(path) for path in SHIPPED}
cases = st.tuples(st.sampled_from(sorted(BASES)), st.integers(0, 2**32), st.integers(1, 4))


@settings(max_examples=40, derandomize=True, deadline=None)
@given(case=cases)
def test_validate_answers_every_mutation_with_exit_0_or_2(case: tuple[str, int, int]) -> None:
    name, seed, mutations = case
    data = mutate(BASES[name], random.Random(seed), mutations)
    with tempfile.TemporaryDirectory() as folder:
        outcome = validate_case(Path(folder), data)
    assert outcome.problem is None, (name, seed, mutations, outcome.problem)


@settings(max_examples=10, derandomize=True, deadline=None)
@given(case=cases)
def test_a_tiny_run_survives_every_gentle_mutation(case: tuple[str, int, int]) -> None:
    name, seed, mutations = case
    data = mutate(BASES[name], random.Random(seed), mutations, gentle=True)
    with tempfile.TemporaryDirectory() as folder:
        outcome = run_case(Path(folder), data)
    assert outcome.problem is None, (name, seed, mutations, outcome.problem)
