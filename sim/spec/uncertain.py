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
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import ConfigDict, Field, model_validator

from sim.spec.fields import Frozen, Positive

# Keys of the block that are not dotted paths.
FROM, CORRELATION = "from", "correlation"


class _Range(Frozen):
    """A prior on [low, high]: low must be below high."""

    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> _Range:
        if not self.low < self.high:
            raise ValueError(f"low ({self.low:g}) must be below high ({self.high:g})")
        return self


class UniformPrior(_Range):
    """Uniform on [low, high]."""

    dist: Literal["uniform"]


class LogUniformPrior(_Range):
    """log-uniform on [low, high], 0 < low < high: every factor of the range equally likely."""

    dist: Literal["loguniform"]
    low: Positive
    high: Positive


class NormalPrior(Frozen):
    """Normal(mean, sd), truncated to [low, high] where either is given."""

    dist: Literal["normal"]
    mean: float
    sd: Positive
    low: float | None = None
    high: float | None = None

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
    median: Positive
    sigma: Positive


class BetaPrior(Frozen):
    """Beta(a, b) on [0, 1]."""

    dist: Literal["beta"]
    a: Positive
    b: Positive


class TriangularPrior(Frozen):
    """Triangular on [low, high] with its peak at mode."""

    dist: Literal["triangular"]
    low: float
    mode: float
    high: float

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
    values: Annotated[list[Any], Field(min_length=1, max_length=1000)]


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
    rho: Annotated[float, Field(gt=-1.0, lt=1.0)]


# More uncertain values than this is a typo: a draw design over them would say nothing.
MAX_UNCERTAIN = 200


class Uncertain(Frozen):
    """Uncertain scenario values by dotted path (the block's other keys), or ``from`` a file of
    weighted draws; ``correlation`` between pairs of the paths."""

    # The dotted paths are the model's extra keys, each a distribution; the rest is strict.
    model_config = ConfigDict(extra="allow", serialize_by_alias=True)
    __pydantic_extra__: dict[str, Distribution] = Field(init=False)

    from_: str | None = Field(default=None, alias=FROM, min_length=1)
    correlation: list[Correlation] = Field(default_factory=list, max_length=MAX_UNCERTAIN**2)

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
