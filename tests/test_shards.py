"""Sharded runs: exact merge rules, determinism, and agreement with an unsharded run.

The statistical check uses a scenario whose complaint rate (about 1e-4) stays far under the
reputation's ``good_below`` (1e-3), so inbox placement is 1 in every shard and the per-shard
reputation, the one approximation beyond drawing other random numbers, cannot bite.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from builders import email_every, nordic
from scipy import stats

import sim
from sim.engine.replication import ReplicationResult, run_replication
from sim.engine.shards import (
    RULES,
    SERIES_RULES,
    merge_shards,
    shard_seed,
    shard_sizes,
)
from sim.errors import SimInputError
from sim.spec.kpis import KPI_NAMES, SERIES_NAMES, Mean, Ratio, Sum

MAIN_KPIS = (
    "clv_per_member",
    "retention_rate",
    "revenue",
    "satisfaction_index",
    "reachable_email",
    "open_rate_email",
)


def _small(size: int = 1500, **changes: object) -> sim.Scenario:
    return nordic(size, {"weekly": email_every(1)}, horizon_days=90, replications=2, **changes)


@pytest.mark.parametrize(("size", "shards"), [(10, 3), (8000, 4), (7, 7), (1001, 2)])
def test_shard_sizes_sum_to_the_population(size: int, shards: int) -> None:
    sizes = shard_sizes(size, shards)
    assert len(sizes) == shards and sum(sizes) == size
    assert max(sizes) - min(sizes) <= 1


def test_every_kpi_and_series_has_a_merge_rule() -> None:
    assert set(RULES) == set(KPI_NAMES)
    assert set(SERIES_RULES) == set(SERIES_NAMES)


def test_shard_seeds_differ() -> None:
    seeds = {shard_seed(7, i, k) for i in range(3) for k in range(4)}
    assert len(seeds) == 12


def test_merging_copies_adds_counts_and_keeps_rates() -> None:
    one = run_replication(_small(), 0, 5)
    merged = merge_shards([one, one, one], seed=5)
    for name, rule in RULES.items():
        got, want = merged.summary[name], one.summary[name]
        if isinstance(rule, Sum):
            np.testing.assert_allclose(got, 3 * want, rtol=1e-12, err_msg=name)
        elif isinstance(rule, Ratio | Mean):
            np.testing.assert_allclose(got, want, rtol=1e-12, equal_nan=True, err_msg=name)
    for name, rule in SERIES_RULES.items():
        factor = 3 if isinstance(rule, Sum) else 1
        got, want = merged.timeseries[name], one.timeseries[name]
        np.testing.assert_allclose(got, factor * want, rtol=1e-12, equal_nan=True, err_msg=name)
    np.testing.assert_array_equal(merged.pressure["members"], 3 * one.pressure["members"])
    for merged_table, table in zip(_parts(merged), _parts(one), strict=True):
        assert list(merged_table.columns) == list(table.columns)
        assert (merged_table.dtypes == table.dtypes).all()


def test_merge_weights_means_by_their_members() -> None:
    """Two shards with different members: a mean is weighted, a rate is a ratio of sums."""
    a, b = run_replication(_small(1000), 0, 5), run_replication(_small(3000), 0, 6)
    merged = merge_shards([a, b], seed=5).summary.set_index("strategy")
    sa, sb = a.summary.set_index("strategy"), b.summary.set_index("strategy")
    w = sa["members_end"], sb["members_end"]
    expected = (sa["satisfaction_index"] * w[0] + sb["satisfaction_index"] * w[1]) / (w[0] + w[1])
    pd.testing.assert_series_equal(merged["satisfaction_index"], expected, check_names=False)
    rate = (sa["opens_email"] + sb["opens_email"]) / (sa["sends_email"] + sb["sends_email"])
    assert merged.loc["weekly", "open_rate_email"] == pytest.approx(rate["weekly"], rel=1e-12)
    retained = sa["retention_rate"] * 1000 + sb["retention_rate"] * 3000
    assert merged.loc["weekly", "retention_rate"] == pytest.approx(retained["weekly"] / 4000)


def _parts(result: ReplicationResult) -> list[pd.DataFrame]:
    return [result.summary, result.timeseries, result.pressure]


def _tables(results: sim.Results) -> list[pd.DataFrame]:
    return [results.summary, results.strategies, results.timeseries, results.pressure]


def test_one_shard_is_the_unsharded_run() -> None:
    scenario = _small()
    plain, one = sim.run(scenario, jobs=1), sim.run(scenario, jobs=1, shards=1)
    for a, b in zip(_tables(plain), _tables(one), strict=True):
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert one.manifest["shards"] == 1


def test_sharded_results_do_not_depend_on_jobs() -> None:
    scenario = _small()
    serial, parallel = sim.run(scenario, jobs=1, shards=2), sim.run(scenario, jobs=2, shards=2)
    for a, b in zip(_tables(serial), _tables(parallel), strict=True):
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert (serial.summary["seed"] == scenario.seed).all()
    assert serial.summary["members_start"].eq(scenario.population.size).all()
    assert serial.manifest["shards"] == 2


@pytest.mark.parametrize("shards", [0, 1501])
def test_shards_are_validated(shards: int) -> None:
    with pytest.raises(SimInputError, match="--shards"):
        sim.run(_small(), shards=shards)


@pytest.mark.slow
def test_sharded_run_agrees_with_the_unsharded_run() -> None:
    """Both are unbiased estimates of the same expectations: the Welch 99% interval of each
    main KPI's difference covers 0, for every strategy."""
    scenario = nordic(8000, {"weekly": email_every(1)}, horizon_days=365, replications=6)
    plain = sim.run(scenario, jobs=2).summary
    sharded = sim.run(scenario, jobs=2, shards=4).summary
    assert (sharded["inbox_placement"].dropna() == 1.0).all()  # reputation is not binding
    for strategy in scenario.strategy_names:
        a = sharded[sharded["strategy"] == strategy]
        b = plain[plain["strategy"] == strategy]
        for kpi in MAIN_KPIS:
            if a[kpi].isna().all():  # open rate under silent: nothing sent
                continue
            test = stats.ttest_ind(a[kpi], b[kpi], equal_var=False)
            low, high = test.confidence_interval(0.99)
            assert low <= 0 <= high, f"{strategy} {kpi}: 99% CI [{low:.4g}, {high:.4g}]"
