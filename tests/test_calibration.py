"""`loyaltysim calibrate`: closed forms, likelihoods, parameter recovery, robustness, the
command, and a simulation of the calibrated population against the fitted model.

Stochastic checks use fixed seeds; each tolerance is derived from the sampling distribution of
the statistic compared, as stated next to it.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from builders import run_one
from click.testing import CliRunner
from scipy import integrate, stats

import sim.engine.daily as daily
from sim.calibration import bgnbd, calibrate, gammagamma, synthetic
from sim.calibration.diagnostics import cumulative
from sim.calibration.transactions import read_transactions
from sim.calibration.writer import format_number
from sim.cli.calibrate import calibrate as calibrate_command
from sim.errors import SimInputError
from sim.io.loader import scenario_from_dict
from sim.io.tables import TableOptions

# Fader, Hardie & Lee (2005) BG/NBD estimates for CDNOW, time unit: week (facts.md).
CDNOW = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
CDNOW_EXPECTED = {1: 0.0532, 3: 0.1506, 32: 1.0437, 78: 1.8576}
CDNOW_P0_39 = 0.5737864
CDNOW_SPEND = {"p": 6.25, "q": 3.74, "v": 15.44}

# Synthetic logs in days. BG/NBD has no time scale of its own: (r, k alpha) over k T days
# behaves as (r, alpha) over T. Logs are read in whole days, and purchases of one day are
# merged, which the continuous-time model does not know; a slow time scale makes that rare.
# Measured with alpha 60 over 2 years, the merges bias alpha by +0.24 standard errors at
# 2,000 customers; with alpha 240 over 8 years by about a quarter of that.
DAILY = {"r": 0.25, "alpha": 240.0, "a": 0.8, "b": 2.5}
SPEND = {"p": 6.0, "q": 4.0, "v": 150.0}
YEARS = 8

FOUR_SE = 4.0  # two-sided P(|Z| > 4) = 6e-5 per comparison


def write_log(path: Path, frame: pd.DataFrame) -> Path:
    frame.to_csv(path, index=False)
    return path


def write_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path, **kwargs: Any) -> list[str]:
    with pytest.raises(SimInputError) as info:
        read_transactions(path, **kwargs)
    return info.value.problems


# --- closed forms against the published values ---------------------------------------------


def test_expected_purchases_reproduce_the_cdnow_reference_values():
    # As tests/test_analytic.py explains, the reference values come from the unrounded
    # estimates; the printed ones are known to +-0.0005. E[X(t)] is monotone in each
    # parameter, so over that box it spans the range of the 16 corners, and each reference
    # value (+-0.5 in its last digit) must lie within it.
    corners = [
        {k: v + s * 5e-4 for (k, v), s in zip(CDNOW.items(), signs, strict=True)}
        for signs in itertools.product((-1, 1), repeat=4)
    ]
    for t, reference in CDNOW_EXPECTED.items():
        values = [bgnbd.expected(t, params)[0] for params in corners]
        assert min(values) - 5e-5 <= reference <= max(values) + 5e-5, t


def test_pmf_reproduces_the_cdnow_no_purchase_probability():
    # Published at the printed parameters: it agrees to all 7 digits.
    assert abs(bgnbd.pmf(39.0, 0, CDNOW)[0, 0] - CDNOW_P0_39) < 5e-8


@pytest.mark.parametrize("t", [1.0, 39.0, 78.0, 500.0])
def test_pmf_is_a_distribution_with_the_closed_form_mean(t):
    probs = bgnbd.pmf(t, 3000, CDNOW)[0]
    assert (probs >= 0).all()
    assert abs(probs.sum() - 1) < 1e-9
    # The mean of eq. 8 is eq. 9: two closed forms derived separately agree.
    x = np.arange(probs.size)
    assert abs(x @ probs - bgnbd.expected(t, CDNOW)[0]) < 1e-7


# --- likelihoods against numerical integration of the model ---------------------------------


def individual(lam: float, p: float, x: int, t_x: float, T: float) -> float:
    """BG/NBD likelihood of (x, t_x, T) given lambda and p (FHL 2005, eq. 3)."""
    dead = p * (1 - p) ** (x - 1) * lam**x * math.exp(-lam * t_x) if x > 0 else 0.0
    return (1 - p) ** x * lam**x * math.exp(-lam * T) + dead


def mixture_integral(function: Any) -> float:
    """E[function(lambda, p)] over the CDNOW mixing distributions, by quadrature.

    With lambda = w^(1/r) and p = u^(1/a) the densities' singularities at 0 disappear:
    lambda^(r-1) d lambda = dw / r and p^(a-1) dp = du / a.
    """
    r, alpha, a, b = CDNOW.values()
    scale = (
        alpha**r
        / math.gamma(r)
        / r
        / math.exp(math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b))
        / a
    )

    def integrand(w: float, u: float) -> float:
        lam, p = w ** (1 / r), u ** (1 / a)
        return function(lam, p) * math.exp(-alpha * lam) * (1 - p) ** (b - 1) * scale

    value, _ = integrate.dblquad(integrand, 0, 1, 0, np.inf, epsabs=0, epsrel=1e-10)
    return value


CUSTOMERS_CDNOW = [(0, 0.0, 38.0), (2, 30.4, 38.9), (7, 12.0, 35.0)]


@pytest.mark.parametrize(("x", "t_x", "T"), CUSTOMERS_CDNOW)
def test_bgnbd_log_likelihood_equals_the_mixture_integrated_numerically(x, t_x, T):
    value = mixture_integral(lambda lam, p: individual(lam, p, x, t_x, T))
    got = bgnbd.log_likelihood(CDNOW, np.array([x]), np.array([t_x]), np.array([T]))[0]
    assert got == pytest.approx(math.log(value), abs=1e-8)


@pytest.mark.parametrize(("x", "t_x", "T"), CUSTOMERS_CDNOW)
def test_conditional_expectation_equals_the_posterior_integrated_numerically(x, t_x, T):
    # E[Y(t) | data] = E[L_alive (1 - exp(-lambda p t)) / p] / E[L]: the expected purchases
    # of a customer still active at T (FHL 2005, eq. 7) averaged over the posterior.
    t = 39.0

    def alive_future(lam: float, p: float) -> float:
        return (1 - p) ** x * lam**x * math.exp(-lam * T) * -math.expm1(-lam * p * t) / p

    expected = mixture_integral(alive_future) / mixture_integral(
        lambda lam, p: individual(lam, p, x, t_x, T)
    )
    got = bgnbd.conditional_expected(t, np.array([x]), np.array([t_x]), np.array([T]), CDNOW)
    assert got[0] == pytest.approx(expected, rel=1e-7)


def test_conditional_expectation_of_a_new_customer_is_the_unconditional_one():
    got = bgnbd.conditional_expected(32.0, np.zeros(1), np.zeros(1), np.zeros(1), CDNOW)[0]
    assert got == pytest.approx(bgnbd.expected(32.0, CDNOW)[0], rel=1e-12)


@pytest.mark.parametrize(("x", "m"), [(1, 20.0), (3, 35.5), (12, 80.0)])
def test_gamma_gamma_log_likelihood_equals_the_mixture_integrated_numerically(x, m):
    # Given nu, the sum of x values is Gamma(p x, nu), so the mean m has density
    # x * Gamma(p x, nu).pdf(x m); integrate over nu ~ Gamma(q, v).
    p, q, v = CDNOW_SPEND.values()

    def integrand(nu: float) -> float:
        return x * stats.gamma.pdf(x * m, p * x, scale=1 / nu) * stats.gamma.pdf(nu, q, scale=1 / v)

    value, error = integrate.quad(integrand, 0, np.inf, epsabs=1e-14, limit=200)
    got = gammagamma.log_likelihood(CDNOW_SPEND, np.array([x]), np.array([m]))[0]
    assert abs(math.exp(got) - value) <= max(10 * error, 1e-8 * value)


def test_analytic_gradients_match_finite_differences():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 9, 50).astype(float)
    T = rng.uniform(1, 40, 50)
    t_x = np.where(x > 0, T * rng.random(50), 0.0)
    m = rng.uniform(5, 60, 50)
    cases = [
        (bgnbd._log_likelihood_and_gradient, np.array(list(CDNOW.values())), (x, t_x, T)),
        (gammagamma._log_likelihood_and_gradient, np.array(list(CDNOW_SPEND.values())), (x + 1, m)),
    ]
    for function, theta, data in cases:
        _, grad = function(theta, *data)
        for i in range(theta.size):
            step = np.zeros(theta.size)
            step[i] = 1e-6 * theta[i]
            numeric = (function(theta + step, *data)[0] - function(theta - step, *data)[0]) / (
                2 * step[i]
            )
            np.testing.assert_allclose(grad[i], numeric, rtol=1e-5, atol=1e-8)


# --- parameter recovery ----------------------------------------------------------------------

DATA_SETS, CUSTOMERS = 100, 2000


@pytest.fixture(scope="module")
def recovery(tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    """Fits of DATA_SETS synthetic logs: z-scores (log estimate - log truth) / se and whether
    the 95% interval covers the truth, per parameter (BG/NBD, then Gamma-Gamma)."""
    folder = tmp_path_factory.mktemp("recovery")
    truth = np.log([*DAILY.values(), *SPEND.values()])
    z, covered = [], []
    for seed in range(DATA_SETS):
        frame = synthetic.transactions(
            CUSTOMERS, DAILY, SPEND, days=365 * YEARS, acquisition_days=365, seed=seed
        )
        c = read_transactions(write_log(folder / f"{seed}.csv", frame)).customers
        paying = (c.x > 0) & (c.spend > 0)
        fits = [bgnbd.fit(c.x, c.t_x, c.T), gammagamma.fit(c.x[paying], c.spend[paying])]
        assert all(f.converged for f in fits), [f.message for f in fits]
        estimate = np.log(np.concatenate([f.estimate for f in fits]))
        se = np.concatenate([np.sqrt(np.diag(f.cov_log)) for f in fits])
        bounds = [f.interval() for f in fits]
        lo, hi = (np.log(np.concatenate([b[side] for b in bounds])) for side in (0, 1))
        z.append((estimate - truth) / se)
        covered.append((lo <= truth) & (truth <= hi))
    return {"z": np.array(z), "covered": np.array(covered)}


@pytest.mark.slow
def test_95_percent_intervals_cover_the_truth_at_the_nominal_rate(recovery):
    # Covered counts are Binomial(100, 0.95) per parameter if the intervals are right; accept
    # the central region of probability 1 - 0.001 / 7 (Bonferroni over the 7 parameters).
    level = 0.001 / 7
    lo, hi = (
        stats.binom.ppf(level / 2, DATA_SETS, 0.95),
        stats.binom.isf(level / 2, DATA_SETS, 0.95),
    )
    counts = recovery["covered"].sum(axis=0)
    assert ((lo <= counts) & (counts <= hi)).all(), (counts, lo, hi)


@pytest.mark.slow
def test_estimates_are_unbiased_with_the_standard_errors_the_hessian_gives(recovery):
    # z = (log estimate - log truth) / se is about N(0, 1): its mean over the data sets has
    # standard error 1 / sqrt(K) and its standard deviation about 1 / sqrt(2 (K - 1)).
    z = recovery["z"]
    assert (np.abs(z.mean(axis=0)) < FOUR_SE / math.sqrt(DATA_SETS)).all(), z.mean(axis=0)
    sd_se = 1 / math.sqrt(2 * (DATA_SETS - 1))
    assert (np.abs(z.std(axis=0, ddof=1) - 1) < FOUR_SE * sd_se).all(), z.std(axis=0, ddof=1)


# --- reading a log: robustness ---------------------------------------------------------------

LOG = """customer,date,amount
1,2024-01-05,10.00
2,2024-01-06,20.00
1,2024-01-20,5.00
3,2024-02-01,7.50
1,2024-02-03,8.00
"""


def summary_by_id(path: Path, **kwargs: Any) -> pd.DataFrame:
    c = read_transactions(path, **kwargs).customers
    columns = {k: getattr(c, k) for k in ("id", "x", "t_x", "T", "spend", "holdout")}
    return pd.DataFrame(columns).set_index("id").sort_index()


def test_summary_counts_repeat_days_recency_and_age(tmp_path):
    log = read_transactions(write_text(tmp_path / "t.csv", LOG))
    table = summary_by_id(tmp_path / "t.csv")
    assert (log.start.isoformat(), log.end.isoformat(), log.holdout_days) == (
        "2024-01-05",
        "2024-02-03",
        0,
    )
    # Customer 1: first on Jan 5, repeats on Jan 20 (day 15) and Feb 3 (day 29).
    assert table.loc["1"].tolist()[:4] == [2, 29, 29, (5.0 + 8.0) / 2]
    # Single-purchase customers have x = 0, t_x = 0 and their age; no repeat spend.
    assert table.loc["2", ["x", "t_x", "T"]].tolist() == [0, 0, 28]
    assert table.loc["3", ["x", "t_x", "T"]].tolist() == [0, 0, 2]
    assert np.isnan(table.loc["3", "spend"])
    assert "2 customers without a repeat purchase (x = 0) in calibration" in log.notes


def test_same_day_purchases_are_merged_and_named(tmp_path):
    text = LOG + "1,2024-01-20,2.50\n1,2024-01-05,1.00\n"
    log = read_transactions(write_text(tmp_path / "t.csv", text))
    table = summary_by_id(tmp_path / "t.csv")
    # Jan 20 now holds 5.00 + 2.50: still two repeat days, the first one worth 7.50.
    assert table.loc["1", ["x", "t_x", "spend"]].tolist() == [2, 29, (7.5 + 8.0) / 2]
    assert any("2 same-day purchases merged" in n and "data rows 6, 7" in n for n in log.notes)


def test_unsorted_input_gives_the_same_summary(tmp_path):
    frame = synthetic.transactions(300, DAILY, SPEND, days=730, seed=4)
    ordered = summary_by_id(write_log(tmp_path / "sorted.csv", frame))
    shuffled_path = write_log(tmp_path / "shuffled.csv", frame.sample(frac=1.0, random_state=2))
    pd.testing.assert_frame_equal(summary_by_id(shuffled_path), ordered)
    assert any(
        n.startswith("dates out of order (e.g. data rows")
        for n in read_transactions(shuffled_path).notes
    )


def test_missing_negative_and_unreadable_amounts_name_their_rows(tmp_path):
    text = LOG + "2,2024-02-05,\n3,2024-02-06,-4.00\n3,2024-02-08,abc\n3,2024-02-09\n"
    problems = problems_of(write_text(tmp_path / "t.csv", text))
    assert problems == [
        f"{tmp_path / 't.csv'}: column 'amount': missing amounts in data rows 6, 9",
        f"{tmp_path / 't.csv'}: column 'amount': amounts that are not numbers in data row 8",
        f"{tmp_path / 't.csv'}: column 'amount': negative amounts (take refunds out of the "
        "log first) in data row 7",
    ]


def test_a_row_with_too_many_fields_is_reported(tmp_path):
    # A decimal comma: "12,50" must not be read as 12.
    for text in (LOG + "3,2024-02-07,12,50\n", LOG.replace("10.00", "10,00")):
        (problem,) = problems_of(write_text(tmp_path / "t.csv", text))
        assert "not a valid CSV file" in problem and "more fields than the header" in problem


def test_unreadable_dates_name_their_rows(tmp_path):
    text = LOG + "2,2024-13-01,1\n2,yesterday,1\n2,,1\n"
    (problem,) = problems_of(write_text(tmp_path / "t.csv", text))
    assert problem.startswith(f"{tmp_path / 't.csv'}: column 'date': missing or unreadable")
    assert "data rows 6, 7, 8" in problem and "'2024-13-01'" in problem


def test_other_date_formats_are_read_when_consistent(tmp_path):
    text = LOG.replace("2024-01-05", "01/05/2024").replace("2024-01-06", "01/06/2024")
    text = text.replace("2024-01-20", "01/20/2024").replace("2024-02-0", "02/0")
    text = text.replace("02/01,", "02/01/2024,").replace("02/03,", "02/03/2024,")
    pd.testing.assert_frame_equal(
        summary_by_id(write_text(tmp_path / "us.csv", text)),
        summary_by_id(write_text(tmp_path / "iso.csv", LOG)),
    )


def test_an_empty_file_and_a_header_alone_are_reported(tmp_path):
    assert problems_of(write_text(tmp_path / "e.csv", "")) == [
        f"{tmp_path / 'e.csv'}: the file is empty"
    ]
    assert problems_of(write_text(tmp_path / "h.csv", "customer,date,amount\n")) == [
        f"{tmp_path / 'h.csv'}: no transactions, only a header"
    ]


def test_a_customer_column_of_mixed_types_names_the_minority_rows(tmp_path):
    text = LOG + "C1,2024-02-05,3\n"
    (problem,) = problems_of(write_text(tmp_path / "t.csv", text))
    assert problem == (
        f"{tmp_path / 't.csv'}: column 'customer': mixes numeric ids (5 rows) and text ids "
        "(1 row); the text ones are in data row 6"
    )


def test_missing_customer_ids_and_long_row_lists(tmp_path):
    text = LOG + "".join(f",2024-02-{d:02d},1\n" for d in range(5, 20))
    (problem,) = problems_of(write_text(tmp_path / "t.csv", text))
    assert problem.endswith(
        "column 'customer': no customer id in data rows 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 "
        "and 5 more"
    )


def test_missing_columns_list_the_available_ones(tmp_path):
    path = write_text(tmp_path / "t.csv", LOG)
    problems = problems_of(path, customer_col="member", amount_col="value")
    assert problems == [
        f"{path}: no column 'member' (columns: 'customer', 'date', 'amount')",
        f"{path}: no column 'value' (columns: 'customer', 'date', 'amount')",
    ]


def test_every_problem_is_reported_at_once(tmp_path):
    text = LOG + "2,someday,\n"
    problems = problems_of(write_text(tmp_path / "t.csv", text))
    assert [p.split(": ")[1] for p in problems] == ["column 'date'", "column 'amount'"]


def test_a_semicolon_export_with_decimal_commas_and_a_parquet_export(tmp_path):
    expected = summary_by_id(write_text(tmp_path / "t.csv", LOG))
    nordic = "\ufeff" + LOG.replace(",", ";").replace(".", ",")  # as a Nordic Excel saves it
    path = write_text(tmp_path / "nordic.csv", nordic)
    pd.testing.assert_frame_equal(summary_by_id(path), expected)
    assert f"{path}: column 'amount': read with a decimal comma" in read_transactions(path).notes[0]
    frame = pd.read_csv(tmp_path / "t.csv", dtype={"customer": str}, parse_dates=["date"])
    frame.to_parquet(tmp_path / "t.parquet")
    pd.testing.assert_frame_equal(summary_by_id(tmp_path / "t.parquet"), expected)
    result = CliRunner().invoke(
        calibrate_command,
        [str(path), "--sep", ";", "--decimal-comma", "--out", str(tmp_path / "p.yaml")],
    )
    assert result.exit_code == 0, result.output
    # Three customers: the histogram pools into one class, too few for a chi-square test.
    assert "too few classes for a chi-square test" in result.output
    assert "read with a decimal comma" not in result.output  # given, not guessed


def test_repeated_rows_are_purchases_unless_told_otherwise(tmp_path):
    path = write_text(tmp_path / "t.csv", LOG + "1,2024-01-20,5.00\n")
    log = read_transactions(path)
    assert log.rows == 6 and f"{path}: 1 row equal to an earlier row" in log.notes[0]
    table = summary_by_id(path)
    assert table.loc["1", "spend"] == (10.0 + 8.0) / 2  # Jan 20 holds 5.00 twice
    dropped = summary_by_id(path, options=TableOptions(duplicates="drop"))
    pd.testing.assert_frame_equal(dropped, summary_by_id(write_text(tmp_path / "l.csv", LOG)))
    out = tmp_path / "p.yaml"
    result = CliRunner().invoke(
        calibrate_command, [str(path), "--duplicates", "error", "--out", str(out)]
    )
    assert result.exit_code == 2 and "data row 6 repeats data row 3" in result.stderr


def test_a_missing_customer_column_suggests_the_export_s_name_for_it(tmp_path):
    path = write_text(tmp_path / "t.csv", LOG.replace("customer", "kundenr", 1))
    assert problems_of(path) == [
        f"{path}: no column 'customer' (columns: 'kundenr', 'date', 'amount'); did you mean "
        "'kundenr'?"
    ]
    path = write_text(tmp_path / "t.csv", LOG.replace("customer", "member_id", 1))
    assert problems_of(path)[0].endswith("did you mean 'member_id'?")
    assert list(summary_by_id(path, customer_col="member_id").index) == ["1", "2", "3"]


def test_a_customer_changing_segment_is_reported(tmp_path):
    text = "customer,date,amount,tier\n1,2024-01-05,1,gold\n1,2024-01-09,1,silver\n"
    (problem,) = problems_of(write_text(tmp_path / "t.csv", text), segment_col="tier")
    assert "column 'tier': a customer's segment changes in data row 2" in problem


@pytest.mark.parametrize(
    ("end", "message"),
    [
        ("2024-02-03", "must lie on or after"),
        ("2023-12-31", "must lie on or after"),
        ("5 Jan", "not a date"),
    ],
)
def test_a_calibration_end_outside_the_log_is_reported(tmp_path, end, message):
    (problem,) = problems_of(write_text(tmp_path / "t.csv", LOG), calibration_end=end)
    assert message in problem


def test_holdout_counts_later_purchases_of_the_cohort(tmp_path):
    path = write_text(tmp_path / "t.csv", LOG)
    log = read_transactions(path, calibration_end="2024-01-25")
    table = summary_by_id(path, calibration_end="2024-01-25")
    assert log.holdout_days == 9
    # Customer 3 first bought after the calibration end: not in the cohort.
    assert list(table.index) == ["1", "2"]
    assert table.loc["1", ["x", "t_x", "T", "holdout"]].tolist() == [1, 15, 20, 1]
    assert "1 customer first bought after the calibration end: left out" in log.notes


# --- the command and the written population --------------------------------------------------


def scenario_with(population: dict[str, Any], horizon_days: int = 365) -> Any:
    """A no-marketing scenario around a calibrated population block, as ``include`` gives it.

    Nothing feeds back into purchases: nobody leaves, and without points no redemption or
    expiry moves satisfaction.
    """
    return scenario_from_dict(
        {
            "name": "calibrated",
            "horizon_days": horizon_days,
            "seed": 7,
            "replications": 1,
            "population": population,
            "behaviour": {"leave_per_year": 0.0},
            "program": {"points_per_currency": 0.0},
            "strategies": {"silent": {}},
        }
    )


@pytest.fixture(scope="module")
def segmented_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two segments with different purchasing, three years, the last one a holdout."""
    gold = synthetic.transactions(1500, {**DAILY, "alpha": 60.0}, SPEND, days=1095, seed=11)
    basic = synthetic.transactions(2500, DAILY, SPEND, days=1095, first_id=5001, seed=12)
    frame = pd.concat([gold.assign(tier="gold"), basic.assign(tier="basic")])
    return write_log(tmp_path_factory.mktemp("segmented") / "tx.csv", frame.sort_values("date"))


def test_the_command_writes_a_population_a_scenario_can_use(segmented_log, tmp_path):
    out = tmp_path / "calibrated" / "population.yaml"
    args = [str(segmented_log), "--segment-col", "tier", "--calibration-end", "2024-12-31"]
    result = CliRunner().invoke(calibrate_command, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "segment 'gold'" in result.output and "holdout (364 days)" in result.output
    assert out.with_suffix(".png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    text = out.read_text(encoding="utf-8")
    assert "# Time unit: day" in text and f"# Data source: {segmented_log}" in text
    block = yaml.safe_load(text)
    sc = scenario_with(block)
    segments = sc.population.segments
    assert list(segments) == ["basic", "gold"]
    assert all(s.purchase.time_unit == "day" for s in segments.values())
    # Shares are customer shares; the written parameters are the fits to 6 digits.
    fit = calibrate(segmented_log, segment_col="tier", calibration_end="2024-12-31")
    assert sc.population.size == sum(f.customers.size for f in fit.fits.values())
    for name, segment in segments.items():
        assert segment.share == fit.fits[name].customers.size / sc.population.size
        for key, value in fit.fits[name].purchase.params.items():
            assert getattr(segment.purchase, key) == pytest.approx(value, rel=1e-5)
        for key, value in fit.fits[name].spend.params.items():
            assert getattr(segment.spend, key) == pytest.approx(value, rel=1e-5)


def test_the_command_rejects_a_bad_file_and_writes_nothing(tmp_path):
    bad = write_text(tmp_path / "bad.csv", LOG + "4,2024-02-05,-3\n")
    out = tmp_path / "population.yaml"
    result = CliRunner().invoke(calibrate_command, [str(bad), "--out", str(out)])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and "data row 6" in result.stderr
    assert list(tmp_path.iterdir()) == [bad]


def test_the_plot_may_not_replace_the_population_file(tmp_path):
    path = write_text(tmp_path / "t.csv", LOG)
    result = CliRunner().invoke(calibrate_command, [str(path), "--out", str(tmp_path / "p.png")])
    assert result.exit_code == 2 and "not ending in .png" in result.stderr
    assert list(tmp_path.iterdir()) == [path]


def test_a_segment_without_repeat_purchases_is_reported(tmp_path):
    path = write_text(tmp_path / "t.csv", "customer,date,amount\n1,2024-01-05,3\n2,2024-01-07,4\n")
    result = CliRunner().invoke(calibrate_command, [str(path), "--out", str(tmp_path / "p.yaml")])
    assert result.exit_code == 2 and "no customer made a repeat purchase" in result.stderr


def test_zero_spend_customers_are_left_out_of_the_spend_fit_only(tmp_path):
    frame = synthetic.transactions(2000, {**DAILY, "alpha": 30.0}, SPEND, days=730, seed=5)
    repeaters = frame["customer"].value_counts()
    free = repeaters.index[repeaters > 1][:3]
    frame.loc[frame["customer"].isin(free), "amount"] = 0.0
    result = calibrate(write_log(tmp_path / "t.csv", frame))
    fit = result.fits["all"]
    assert fit.spend_left_out == 3
    assert fit.purchase.n == fit.customers.size
    assert fit.spend.n == int(np.sum(fit.customers.x > 0)) - 3
    assert "3 customers with zero repeat spend left out" in result.report()


def test_a_segment_with_no_customer_in_the_cohort_is_left_out_with_a_note(segmented_log, tmp_path):
    frame = pd.read_csv(segmented_log)
    late = pd.DataFrame(
        {"customer": [90001, 90001], "date": ["2025-06-01", "2025-07-01"], "amount": [5, 6]}
    )
    path = write_log(tmp_path / "t.csv", pd.concat([frame, late.assign(tier="new")]))
    result = calibrate(path, segment_col="tier", calibration_end="2024-12-31")
    assert list(result.fits) == ["basic", "gold"]
    assert "segment 'new' has no customer in the calibration cohort: left out" in result.report()


@pytest.mark.parametrize("value", [1e-5, 123456789.0, 0.1, 3.0, 2.5e-12])
def test_written_numbers_read_back_as_floats(value):
    # Six significant digits: off by at most half a unit in the sixth, 5e-6 relative.
    read = yaml.safe_load(f"x: {format_number(value)}")["x"]
    assert isinstance(read, float) and read == pytest.approx(value, rel=5e-6)


def test_cumulative_curves_match_the_summary_at_the_calibration_end(segmented_log):
    fit = calibrate(segmented_log, segment_col="tier", calibration_end="2024-12-31")
    curves = cumulative(fit.log, fit.fits)
    at_end = curves.loc[pd.Timestamp(fit.log.calibration_end)]
    customers = [f.customers for f in fit.fits.values()]
    assert at_end["actual"] == sum(c.x.sum() for c in customers)
    expected = sum(
        bgnbd.expected(c.T, f.purchase.params).sum()
        for c, f in zip(customers, fit.fits.values(), strict=True)
    )
    assert at_end["model"] == pytest.approx(expected, rel=1e-12)
    assert curves["actual"].iloc[-1] == sum(c.x.sum() + c.holdout.sum() for c in customers)


# --- closing the loop: simulating the calibrated population ----------------------------------


def test_a_run_without_marketing_reproduces_the_fitted_purchase_distribution(tmp_path, monkeypatch):
    # Calibrate on a synthetic log, run the written population with no marketing, and compare
    # each member's purchases over the horizon with the fitted model's P(X(t) = x).
    frame = synthetic.transactions(20_000, {**DAILY, "alpha": 30.0}, SPEND, days=730, seed=21)
    out = tmp_path / "population.yaml"
    result = CliRunner().invoke(
        calibrate_command, [str(write_log(tmp_path / "tx.csv", frame)), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    horizon = 365
    sc = scenario_with(yaml.safe_load(out.read_text(encoding="utf-8")), horizon)
    size = sc.population.size
    counts = np.zeros(size, dtype=np.int64)
    original = daily._purchases

    def counting(ctx, s, d, idx, n_bought):
        np.add.at(counts, idx, n_bought)
        return original(ctx, s, d, idx, n_bought)

    monkeypatch.setattr(daily, "_purchases", counting)
    ctx = run_one(sc)
    assert counts.sum() == ctx.tally.total["purchases"][0]

    seg = sc.population.segments["all"].purchase
    fitted = {"r": seg.r, "alpha": seg.alpha, "a": seg.a, "b": seg.b}
    probs = bgnbd.pmf(float(horizon), 400, fitted)[0]
    # Classes 0..k-1 each expecting >= 5 members, the tail pooled into class k.
    k = int(np.max(np.flatnonzero(probs * size >= 5)))
    expected = np.append(probs[:k], 1 - probs[:k].sum()) * size
    observed = np.bincount(np.minimum(counts, k), minlength=k + 1)
    _, p_value = stats.chisquare(observed, expected)
    assert k >= 10 and p_value > 0.001, (observed, expected.round(1))
