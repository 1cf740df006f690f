"""Behaviour from campaign reports: simulation-based inference (ABC-SMC, pyabc) of the
scenario's uncertain values (docs/reports.md, "Fitting").

No likelihood links a report's counts to the simulator's parameters, so the simulator is the
estimator: draw values from the priors (the scenario's ``uncertain:`` block), simulate the
plan the company ran (``history: {strategy: NAME}``) over the report's period, and keep the
values whose simulated report looks like the company's (sim.fitting.summaries). pyabc runs
the sequential Monte Carlo: each generation proposes from the last one's weighted particles
and accepts within a smaller distance (the median of the last generation's; each statistic
scaled by its spread across the simulations, pyabc's adaptive distance).

Approximations, each stated in the docs:
- Each particle simulates ``members`` members (the scenario's population shares and
  acquisition scaled alike), whatever the program's size: the statistics are rates.
- The history factors that take the plan's marketing out of fitted purchase rates are
  estimated once, at the scenario's own values, and held for every particle (a pilot per
  particle would double its cost; purchases move the reports only through consent regained
  at purchases).

Determinism: the particles depend only on the seed (sim.fitting.sampler), whatever the workers.
A fit stopped part-way goes on from the last generation stored in its database; pyabc then
recalibrates the distance's scales from that generation's accepted particles (an
uninterrupted fit uses every candidate of it), so the continuation is as valid but not the
same draws.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.engine.context import Context
from sim.engine.events import CampaignCounts
from sim.engine.history import history_factors
from sim.engine.replication import draw_members, make_context, simulate
from sim.engine.rng import Streams
from sim.errors import SimInputError
from sim.fitting.summaries import Observed, Statistics
from sim.spec.scenario import Scenario
from sim.spec.uncertain import CONTINUOUS, marginal

MEMBERS = 5_000  # simulated members per particle
PARTICLES = 300  # accepted particles per generation
GENERATIONS = 6
MIN_ACCEPTANCE = 0.02  # stop when a generation accepts fewer of its candidates
PREDICTIVE = 40  # posterior draws simulated for the predictive bands
# Shrinkage of the posterior's spread against the prior's (1 - sd ratio) from which a value
# counts as pinned down by the reports, and below which as not informed.
PINNED, INFORMED = 0.5, 0.2
WEIGHT = "weight"


def fit_scenario(scenario: Scenario, members: int) -> Scenario:
    """What each particle simulates: the history plan alone, at ``members`` starting members
    (acquisition scaled alike), without the uncertain block."""
    if scenario.history is None:
        raise SimInputError(
            "history: the scenario must name the plan that produced the reports "
            "(history: {strategy: NAME})"
        )
    population = scenario.population
    changes = {
        "population.size": members,
        "population.acquisition_per_day": population.acquisition_per_day
        * members
        / population.size,
    }
    plain = scenario.model_copy(update={"uncertain": None})
    return plain.with_overrides(changes, "the fit's particle scenario")


def priors(scenario: Scenario) -> dict[str, Any]:
    """The uncertain values by dotted path and their frozen scipy distributions; SimInputError
    for what a fit cannot take (no block, draws from a file, correlations, choices)."""
    block = scenario.uncertain
    if block is None or not block.parameters:
        raise SimInputError(
            "uncertain: name the values to fit, each with its prior (docs/uncertainty.md)"
        )
    problems = []
    if block.correlation:
        problems.append("uncertain.correlation: a fit takes independent priors")
    out = {}
    for path, dist in block.parameters.items():
        if isinstance(dist, CONTINUOUS):
            out[path] = marginal(dist)
        else:
            problems.append(f"uncertain.{path}: a fit takes continuous priors, not {dist.dist}")
    if problems:
        raise SimInputError(problems)
    return out


def _key(i: int) -> str:
    """pyabc's name of the i-th uncertain value (dotted paths are kept out of its database)."""
    return f"p{i}"


@dataclass(frozen=True)
class ReportSimulator:
    """Simulated campaign reports of the plan: pyabc's model (picklable for workers)."""

    scenario: Scenario  # fit_scenario's
    paths: tuple[str, ...]
    statistics: Statistics
    factor: np.ndarray | None = None  # history factors per segment, held fixed
    months: tuple[tuple[int, int], ...] = ()  # (first, last day) of the months to figure

    def report(self, values: Mapping[str, float], seed: int) -> Observed:
        """The plan's report (sim.engine.events.CampaignCounts) at ``values`` under ``seed``,
        and the revenue per member of the treated members and the holdout where the program
        holds one back (``program.control_group``)."""
        scenario = self.scenario.with_overrides(values, "a particle", nearest_integer=True)
        streams = Streams(seed, 0)
        members = draw_members(scenario, streams)
        if self.factor is not None:
            members = members.normalised(self.factor)
        sink = CampaignCounts()
        assert scenario.history is not None
        ctx = make_context(scenario, members, streams, [scenario.history.strategy], None, sink)
        program = ProgramFigures(ctx, self.months) if self.months else None
        ctx.sink = program
        simulate(ctx, program)
        cells = None
        if ctx.control is not None:
            held = int(np.count_nonzero(ctx.control))
            revenue, held_revenue = (ctx.tally.total[k][0] for k in ("revenue", "control_revenue"))
            treated = members.size - held
            if held and treated:
                cells = ((revenue - held_revenue) / treated, held_revenue / held)
        return Observed(sink.table(), cells, None if program is None else program.table())

    def __call__(self, parameters: Mapping[str, float]) -> dict[str, float]:
        values = {path: float(parameters[_key(i)]) for i, path in enumerate(self.paths)}
        # The seed comes from NumPy's global generator, which the sampler seeds per candidate.
        seed = int(np.random.randint(2**31 - 1))
        stats = self.statistics.values(self.report(values, seed))
        return dict(zip(self.statistics.names, stats, strict=True))


class ProgramFigures:
    """The monthly program figures of a simulated plan: told each day's purchases (a
    sim.engine.events.PurchaseSink) and called at the end of each day (simulate's on_day)."""

    def __init__(self, ctx: Context, months: tuple[tuple[int, int], ...]) -> None:
        self.ctx = ctx
        self.months = months
        self.day = 0
        self.last_purchase = np.full(ctx.state.members.size, -1, dtype=np.int64)
        self.points: dict[int, tuple[int, int]] = {-1: (0, 0)}  # issued, redeemed by day's end
        self.ends: dict[int, tuple[int, int]] = {}  # members, active at a month's last day
        self.wanted = {first - 1 for first, _ in months} | {last for _, last in months}

    def baseline(self, day: int, members: np.ndarray, counts: np.ndarray) -> None:
        """Not needed."""

    def purchases(
        self, s: int, day: int, members: np.ndarray, counts: np.ndarray, amounts: np.ndarray
    ) -> None:
        self.last_purchase[members] = day

    def __call__(self, days: int) -> None:
        d, self.day = self.day, self.day + days
        if d not in self.wanted:
            return
        total = self.ctx.tally.total
        self.points[d] = (int(total["points_issued"][0]), int(total["points_redeemed"][0]))
        for first, last in self.months:
            if last == d:
                n = self.ctx.state.members.joined_by(d)
                members = int(np.count_nonzero(self.ctx.state.in_program(0, n)))
                active = int(np.count_nonzero(self.last_purchase >= first))
                self.ends[d] = (members, active)

    def table(self) -> pd.DataFrame:
        """One row per month: the columns of Observed.program."""
        rows = []
        for first, last in self.months:
            members, active = self.ends[last]
            issued = self.points[last][0] - self.points[first - 1][0]
            redeemed = self.points[last][1] - self.points[first - 1][1]
            rows.append((first, last, members, active, issued, redeemed))
        columns = ["first_day", "last_day", "members", "active_members"]
        return pd.DataFrame(rows, columns=[*columns, "points_issued", "points_redeemed"])


@dataclass(frozen=True)
class ReportsFit:
    """A fit's outcome: weighted posterior draws, what the reports taught per value, the
    observed statistics against the posterior predictive, and each generation's record."""

    posterior: pd.DataFrame  # one column per dotted path, and ``weight``
    parameters: pd.DataFrame  # prior against posterior per value
    statistics: pd.DataFrame  # observed against the predictive bands per statistic
    generations: pd.DataFrame
    notes: tuple[str, ...] = field(default=())


Progress = Callable[[str], None]


def fit_reports(
    scenario: Scenario,
    observed: Observed,
    database: Path,
    *,
    statistics: Statistics,
    members: int = MEMBERS,
    particles: int = PARTICLES,
    generations: int = GENERATIONS,
    seed: int = 0,
    executor: Executor | None = None,
    workers: int = 1,
    progress: Progress | None = None,
) -> ReportsFit:
    """Fit the uncertain values of ``scenario`` to the ``observed`` report and test.
    ``database`` holds pyabc's record of the generations: a fit whose database exists goes on
    from its last generation. ``progress`` receives one line per round of simulations."""
    import pyabc

    from sim.fitting.sampler import OrderedSampler

    marginals = priors(scenario)
    paths = tuple(marginals)
    base = fit_scenario(scenario, members)
    assert base.history is not None
    factor = history_factors(base, seed).factor
    months: tuple[tuple[int, int], ...] = ()
    if observed.program is not None:
        spans = observed.program[["first_day", "last_day"]].to_numpy()
        months = tuple((int(first), int(last)) for first, last in spans)
    model = ReportSimulator(base, paths, statistics, factor, months)
    x0 = dict(zip(statistics.names, statistics.values(observed), strict=True))
    prior = pyabc.Distribution(
        **{
            _key(i): pyabc.RV(dist.dist.name, *dist.args, **dist.kwds)
            for i, dist in enumerate(marginals.values())
        }
    )
    started = time.perf_counter()

    def report(t: int, accepted: int, wanted: int, evaluated: int, seconds: float) -> None:
        if progress is None:
            return
        what = "calibration from the prior" if t < 0 else f"generation {t + 1} of {generations}"
        line = (
            f"{what}: {accepted}/{wanted} accepted of {evaluated} simulated "
            f"({accepted / max(evaluated, 1):.0%}), {time.perf_counter() - started:.0f} s"
        )
        if 0 < accepted < wanted:
            # At this generation's pace so far: the time per accepted particle.
            left = seconds / accepted * (wanted - accepted)
            line += f", about {left:.0f} s left in this generation"
        progress(line)

    sampler = OrderedSampler(seed, executor, workers, report)
    abc = pyabc.ABCSMC(
        model,
        prior,
        distance(),
        population_size=particles,
        sampler=sampler,
        eps=pyabc.MedianEpsilon(),
    )
    # pyabc logs every step at INFO under "ABC..."; the fit reports its own progress.
    logging.getLogger("ABC").setLevel(logging.WARNING)
    db = f"sqlite:///{database}"
    history = abc.load(db, 1) if database.exists() else abc.new(db, x0)
    notes = []
    if history.max_t >= 0:
        notes.append(f"went on from generation {history.max_t + 1} stored in {database.name}")
    remaining = generations - (history.max_t + 1)
    if remaining > 0:
        history = abc.run(max_nr_populations=remaining, min_acceptance_rate=MIN_ACCEPTANCE)
    if history.max_t + 1 < generations:
        notes.append(
            f"stopped after generation {history.max_t + 1}: it accepted {_acceptance(history):.1%}"
            f" of its candidates, below {MIN_ACCEPTANCE:.0%}"
        )
    frame, weight = history.get_distribution(m=0, t=history.max_t)
    posterior = pd.DataFrame({path: frame[_key(i)].to_numpy() for i, path in enumerate(paths)})
    posterior[WEIGHT] = weight / weight.sum()
    draws = predictive(model, posterior, paths, seed, executor, workers)
    return ReportsFit(
        posterior=posterior,
        parameters=_taught(marginals, posterior),
        statistics=bands(statistics, x0, draws),
        generations=_generations(history),
        notes=tuple(notes),
    )


# Generations (0-based) whose candidates the regression of the values on the statistics is
# fitted to: the calibration sample from the prior, then the third generation's, nearer the
# posterior.
LEARN_AT = frozenset({0, 2})


def distance() -> Any:
    """pyabc's distance between simulated and observed reports: semi-automatic ABC
    (Fearnhead & Prangle 2012). A linear regression of the uncertain values on the report's
    statistics, fitted to every candidate of the generations in LEARN_AT, turns the many
    statistics into one estimate per value; the distance compares those estimates, each
    scaled by its spread across the generation's simulations. Without it, the dozens of
    statistics that say little about any one value drown those that say much."""
    import pyabc
    from pyabc.predictor import LinearPredictor
    from pyabc.sumstat import PredictorSumstat

    learnt = PredictorSumstat(LinearPredictor(), fit_ixs=set(LEARN_AT))
    return pyabc.AdaptivePNormDistance(p=2, sumstat=learnt)


def _acceptance(history: Any) -> float:
    """The last generation's accepted particles over its candidates."""
    populations = history.get_all_populations()
    last = populations[populations["t"] == history.max_t].iloc[0]
    return float(history.get_nr_particles_per_population().iloc[-1] / last["samples"])


def _generations(history: Any) -> pd.DataFrame:
    """One row per generation: its distance threshold, candidates simulated, acceptance rate
    and effective sample size."""
    populations = history.get_all_populations()
    populations = populations[populations["t"] >= 0]
    accepted = history.get_nr_particles_per_population()
    rows = []
    for _, row in populations.iterrows():
        t = int(row["t"])
        _, w = history.get_distribution(m=0, t=t)
        rows.append(
            {
                "generation": t + 1,
                "epsilon": float(row["epsilon"]),
                "simulated": int(row["samples"]),
                "accepted": int(accepted[t]),
                "acceptance_rate": float(accepted[t] / row["samples"]),
                "effective_sample_size": float(w.sum() ** 2 / (w**2).sum()),
            }
        )
    return pd.DataFrame(rows)


def weighted_quantiles(x: np.ndarray, w: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Quantiles ``q`` of values x with weights w (the weighted empirical distribution,
    interpolated at the midpoints of the weights)."""
    order = np.argsort(x)
    x, w = x[order], w[order]
    cdf = (np.cumsum(w) - 0.5 * w) / w.sum()
    return np.interp(q, cdf, x)


def _taught(marginals: Mapping[str, Any], posterior: pd.DataFrame) -> pd.DataFrame:
    """Prior against posterior per value: means, standard deviations, the posterior's 5%,
    50% and 95% quantiles and how much the reports shrank the spread."""
    w = posterior[WEIGHT].to_numpy()
    rows = []
    for path, dist in marginals.items():
        x = posterior[path].to_numpy(dtype=np.float64)
        mean = float(np.average(x, weights=w))
        sd = float(np.sqrt(np.average((x - mean) ** 2, weights=w)))
        q05, q50, q95 = weighted_quantiles(x, w, np.array([0.05, 0.5, 0.95]))
        shrinkage = 1.0 - sd / float(dist.std())
        rows.append(
            {
                "parameter": path,
                "prior_mean": float(dist.mean()),
                "prior_sd": float(dist.std()),
                "posterior_mean": mean,
                "posterior_sd": sd,
                "q05": q05,
                "q50": q50,
                "q95": q95,
                "shrinkage": shrinkage,
                "identified": "yes"
                if shrinkage >= PINNED
                else ("weakly" if shrinkage >= INFORMED else "no"),
            }
        )
    return pd.DataFrame(rows)


def predictive(
    model: ReportSimulator,
    posterior: pd.DataFrame,
    paths: tuple[str, ...],
    seed: int,
    executor: Executor | None,
    workers: int,
) -> np.ndarray:
    """The statistics of PREDICTIVE reports simulated at posterior draws (rows: draws)."""
    rng = np.random.default_rng(np.random.SeedSequence((seed, 0x9ED)))
    w = posterior[WEIGHT].to_numpy()
    rows = rng.choice(len(posterior), size=PREDICTIVE, p=w / w.sum())
    seeds = rng.integers(2**31 - 1, size=PREDICTIVE)
    tasks = [
        ({path: float(posterior[path].iloc[r]) for path in paths}, int(s))
        for r, s in zip(rows, seeds, strict=True)
    ]
    if executor is None:
        reports = [model.report(values, s) for values, s in tasks]
    else:
        futures = [executor.submit(model.report, values, s) for values, s in tasks]
        reports = [f.result() for f in futures]
    return np.array([model.statistics.values(r) for r in reports])


def bands(statistics: Statistics, observed: Mapping[str, float], draws: np.ndarray) -> pd.DataFrame:
    """Observed statistics against the posterior predictive's 5-95% band and median."""
    low, median, high = np.quantile(draws, [0.05, 0.5, 0.95], axis=0)
    x = np.array([observed[name] for name in statistics.names])
    return pd.DataFrame(
        {
            "statistic": statistics.names,
            "observed": x,
            "predictive_q05": low,
            "predictive_q50": median,
            "predictive_q95": high,
            "inside": (x >= low) & (x <= high),
        }
    )
