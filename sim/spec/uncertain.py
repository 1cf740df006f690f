"""The ``uncertain:`` block: scenario values, named by their dotted path, that are not known
but drawn from stated distributions (priors), for decisions under parameter uncertainty.

    uncertain:
      behaviour.lapse.winback_per_open: {dist: uniform, low: 0, high: 0.1}
      behaviour.fatigue.half_life_days: {dist: loguniform, low: 3, high: 14}
      correlation:          # optional: a Gaussian copula over the values above
        - {between: [behaviour.lapse.winback_per_open, behaviour.fatigue.half_life_days], rho: 0.3}

or ``uncertain: {from: posterior.csv}``: weighted draws written by a fit, one column per dotted
path and a column ``weight``. The keys and the distributions' fields are a contract: other tools
write them. How draws are made from the block is in sim.sweeps.draws (docs/uncertainty.md).
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import ConfigDict, Field, model_validator

from sim.spec.fields import Frozen, Positive

# Keys of the block that are not dotted paths.
FROM, CORRELATION = "from", "correlation"


class _Range(Frozen):
    """A prior on [low, high]: low must be below high."""

    low: float
    """Lower end of the range, in the unit of the value drawn."""
    high: float
    """Upper end of the range, above low."""

    @model_validator(mode="after")
    def _ordered(self) -> _Range:
        if not self.low < self.high:
            raise ValueError(f"low ({self.low:g}) must be below high ({self.high:g})")
        return self


class UniformPrior(_Range):
    """Uniform on [low, high]."""

    dist: Literal["uniform"]
    """uniform: selects this distribution, every value in the range equally likely."""


class LogUniformPrior(_Range):
    """log-uniform on [low, high], 0 < low < high: every factor of the range equally likely."""

    dist: Literal["loguniform"]
    """loguniform: selects this distribution, every factor of the range equally likely."""
    low: Positive
    """Lower end of the range, above 0, in the unit of the value drawn."""
    high: Positive
    """Upper end of the range, above low."""


class NormalPrior(Frozen):
    """Normal(mean, sd), truncated to [low, high] where either is given."""

    dist: Literal["normal"]
    """normal: selects this distribution, a bell curve around mean."""
    mean: float
    """The centre (average before any cut), in the unit of the value drawn."""
    sd: Positive
    """Standard deviation: the spread around the mean (above 0)."""
    low: float | None = None
    """Optional lower bound: no draw falls below it (none: no bound)."""
    high: float | None = None
    """Optional upper bound: no draw rises above it (none: no bound)."""

    @model_validator(mode="after")
    def _ordered(self) -> NormalPrior:
        low = -math.inf if self.low is None else self.low
        high = math.inf if self.high is None else self.high
        if not low < high:
            raise ValueError(f"low ({low:g}) must be below high ({high:g})")
        return self


class LogNormalPrior(Frozen):
    """exp(Normal(ln median, sigma)): positive, right-skewed."""

    dist: Literal["lognormal"]
    """lognormal: selects this distribution, positive and skewed towards high values."""
    median: Positive
    """The middle value (half the draws lie below it), above 0."""
    sigma: Positive
    """Spread on a log scale (above 0): about two draws in three lie within a factor e^sigma of
    the median."""


class BetaPrior(Frozen):
    """Beta(a, b) on [0, 1]."""

    dist: Literal["beta"]
    """beta: selects this distribution, a value between 0 and 1 (a share or a chance)."""
    a: Positive
    """First shape value (above 0): the mean is a / (a + b)."""
    b: Positive
    """Second shape value (above 0): the larger a + b, the narrower the spread."""


class TriangularPrior(Frozen):
    """Triangular on [low, high] with its peak at mode."""

    dist: Literal["triangular"]
    """triangular: selects this distribution, most likely at mode and falling off to low and
    high."""
    low: float
    """Lowest possible value, in the unit of the value drawn."""
    mode: float
    """Most likely value, the peak, between low and high."""
    high: float
    """Highest possible value, above low."""

    @model_validator(mode="after")
    def _ordered(self) -> TriangularPrior:
        if not (self.low <= self.mode <= self.high and self.low < self.high):
            raise ValueError(
                f"needs low <= mode <= high and low < high (got {self.low:g}, {self.mode:g}, "
                f"{self.high:g})"
            )
        return self


class ChoicePrior(Frozen):
    """One of ``values``, each equally likely."""

    dist: Literal["choice"]
    """choice: selects this distribution, one of a list of values."""
    values: Annotated[list[Any], Field(min_length=1, max_length=1000)]
    """The values to choose from, each equally likely (1 to 1000 of them)."""


Distribution = Annotated[
    UniformPrior
    | LogUniformPrior
    | NormalPrior
    | LogNormalPrior
    | BetaPrior
    | TriangularPrior
    | ChoicePrior,
    Field(discriminator="dist"),
]
CONTINUOUS = (
    UniformPrior,
    LogUniformPrior,
    NormalPrior,
    LogNormalPrior,
    BetaPrior,
    TriangularPrior,
)


class Correlation(Frozen):
    """Correlation rho of the Gaussian copula between two uncertain values (-1 < rho < 1)."""

    between: Annotated[list[str], Field(min_length=2, max_length=2)]
    """The dotted paths of two uncertain values of this block."""
    rho: Annotated[float, Field(gt=-1.0, lt=1.0)]
    """Their correlation, between -1 and 1 (exclusive), in a Gaussian copula: the two values rise
    and fall together (above 0) or oppositely (below 0), each keeping its own distribution."""


# More uncertain values than this is a typo: a draw design over them would say nothing.
MAX_UNCERTAIN = 200


class Uncertain(Frozen):
    """Uncertain scenario values by dotted path (the block's other keys), or ``from`` a file of
    weighted draws; ``correlation`` between pairs of the paths."""

    # The dotted paths are the model's extra keys, each a distribution; the rest is strict.
    model_config = ConfigDict(extra="allow", serialize_by_alias=True)
    __pydantic_extra__: dict[str, Distribution] = Field(init=False)

    from_: str | None = Field(default=None, alias=FROM, min_length=1)
    """A CSV file of weighted draws written by a fit (one column per dotted path, and weight),
    relative to the scenario's folder; no paths go beside it."""
    correlation: list[Correlation] = Field(default_factory=list, max_length=MAX_UNCERTAIN**2)
    """Correlations between pairs of the uncertain values; together they must be consistent (a
    positive definite matrix)."""

    @property
    def parameters(self) -> dict[str, Distribution]:
        """The uncertain values by dotted path, in the order of the block."""
        return dict(self.__pydantic_extra__ or {})

    @model_validator(mode="after")
    def _consistent(self) -> Uncertain:
        paths = self.parameters
        if self.from_ is not None and (paths or self.correlation):
            raise ValueError(f"'{FROM}' takes the draws from a file: give no paths beside it")
        if self.from_ is None and not paths:
            raise ValueError(f"name at least one dotted path, or '{FROM}' a file of draws")
        if len(paths) > MAX_UNCERTAIN:
            raise ValueError(f"{len(paths)} uncertain values, above {MAX_UNCERTAIN}")
        problems = []
        seen: set[frozenset[str]] = set()
        for i, pair in enumerate(self.correlation):
            where = f"{CORRELATION}[{i}].between"
            unknown = [p for p in pair.between if p not in paths]
            if unknown:
                problems.append(f"{where}: {unknown[0]!r} is not an uncertain value of this block")
            elif pair.between[0] == pair.between[1]:
                problems.append(f"{where}: a value's correlation with itself is 1")
            elif frozenset(pair.between) in seen:
                problems.append(f"{where}: this pair is given twice")
            seen.add(frozenset(pair.between))
        if not problems and self.correlation:
            try:
                np.linalg.cholesky(self.correlation_matrix())
            except np.linalg.LinAlgError:
                problems.append(
                    f"{CORRELATION}: the correlations are not consistent (the matrix is not "
                    "positive definite)"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def correlation_matrix(self) -> np.ndarray:
        """The copula's correlation matrix over ``parameters`` in their order."""
        index = {path: i for i, path in enumerate(self.parameters)}
        matrix = np.eye(len(index))
        for pair in self.correlation:
            i, j = (index[p] for p in pair.between)
            matrix[i, j] = matrix[j, i] = pair.rho
        return matrix


# A prior must not reach values its scenario cannot take: it is checked at its quantiles TAIL
# and 1 - TAIL, beyond which fewer than one draw in a billion falls (a run of draws checks each
# of its draws again before it starts).
TAIL = 1e-9
ENDS = (TAIL, 1.0 - TAIL)


def reach(dist: Distribution) -> list[Any]:
    """The values of ``dist`` at its quantiles TAIL and 1 - TAIL (every value of a choice).
    Closed forms, as ``marginal(dist).ppf`` gives them (tests/test_uncertain.py), without
    importing scipy.stats, which would cost every validation of a scenario a second."""
    if isinstance(dist, ChoicePrior):
        return list(dist.values)
    if isinstance(dist, UniformPrior):
        return [dist.low + q * (dist.high - dist.low) for q in ENDS]
    if isinstance(dist, LogUniformPrior):
        return [dist.low * (dist.high / dist.low) ** q for q in ENDS]
    if isinstance(dist, TriangularPrior):
        low, mode, high = dist.low, dist.mode, dist.high
        below = (mode - low) / (high - low)  # the share of draws below the mode
        return [
            low + math.sqrt(q * (high - low) * (mode - low))
            if q < below
            else high - math.sqrt((1.0 - q) * (high - low) * (high - mode))
            for q in ENDS
        ]
    if isinstance(dist, NormalPrior):
        law = NormalDist(dist.mean, dist.sd)
        a = 0.0 if dist.low is None else law.cdf(dist.low)
        b = 1.0 if dist.high is None else law.cdf(dist.high)
        return [law.inv_cdf(a + q * (b - a)) for q in ENDS]
    if isinstance(dist, LogNormalPrior):
        law = NormalDist(math.log(dist.median), dist.sigma)
        return [math.exp(law.inv_cdf(q)) for q in ENDS]
    from scipy import special  # only for a beta prior (its quantile has no closed form)

    return [float(special.betaincinv(dist.a, dist.b, q)) for q in ENDS]


def marginal(dist: Distribution) -> Any:
    """The scipy.stats distribution of a continuous uncertain value (frozen)."""
    # Imported here: scipy.stats takes a second to import, and validating a scenario never
    # needs it.
    from scipy import stats

    if isinstance(dist, UniformPrior):
        return stats.uniform(loc=dist.low, scale=dist.high - dist.low)
    if isinstance(dist, LogUniformPrior):
        return stats.loguniform(dist.low, dist.high)
    if isinstance(dist, NormalPrior):
        if dist.low is None and dist.high is None:
            return stats.norm(loc=dist.mean, scale=dist.sd)
        low = -np.inf if dist.low is None else (dist.low - dist.mean) / dist.sd
        high = np.inf if dist.high is None else (dist.high - dist.mean) / dist.sd
        return stats.truncnorm(low, high, loc=dist.mean, scale=dist.sd)
    if isinstance(dist, LogNormalPrior):
        return stats.lognorm(s=dist.sigma, scale=dist.median)
    if isinstance(dist, BetaPrior):
        return stats.beta(dist.a, dist.b)
    if isinstance(dist, TriangularPrior):
        width = dist.high - dist.low
        return stats.triang(c=(dist.mode - dist.low) / width, loc=dist.low, scale=width)
    raise TypeError(f"{dist.dist} has no continuous marginal")
