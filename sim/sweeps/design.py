"""Which points a sweep runs: each point's parameter values, in point order, and its seed.

Everything here depends only on the sweep definition and its seed, never on scheduling, so
point k is the same point whether it runs first, last, locally, on a cluster or on resume.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from scipy.stats import qmc

from sim.sweeps.spec import Parameter, SweepSpec

Value = int | float | str | bool

# Sampled values are rounded to the 10 significant digits sweep.csv writes (%.10g), so the
# files hold exactly the values that ran.
_DIGITS = 10
# Entropy word that sets the design's random stream apart from the points' seeds.
_DESIGN_STREAM = 0x5EED


def point_seed(seed: int, point: int) -> int:
    """Seed of point ``point``: ``SeedSequence(seed).spawn(n)[point]`` reduced to one 32-bit
    word; it does not depend on the number of points n."""
    return int(np.random.SeedSequence(seed, spawn_key=(point,)).generate_state(1)[0])


def design_points(spec: SweepSpec, seed: int) -> list[tuple[Value, ...]]:
    """Values of every point, parameters in the order of the sweep file.

    grid: every combination (the last parameter varies fastest); random: independent uniform
    draws; lhs: a Latin hypercube (one point per stratum of 1/n in each parameter); saltelli:
    the Saltelli (2010) matrices A, B, then AB_1..AB_d (A with column i from B), N rows each.
    """
    params = list(spec.parameters.values())
    kind = spec.design.kind
    if kind == "grid":
        return list(itertools.product(*(p.values or [] for p in params)))
    rng = np.random.default_rng(np.random.SeedSequence((seed, _DESIGN_STREAM)))
    n, d = spec.design.points or 0, len(params)
    if kind == "random":
        unit = rng.random((n, d))
    elif kind == "lhs":
        unit = qmc.LatinHypercube(d=d, rng=rng).random(n)
    else:
        unit = saltelli_matrix(n, d, rng)
    columns = [scale(unit[:, j], p) for j, p in enumerate(params)]
    return list(zip(*columns, strict=True))


def saltelli_matrix(n: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-cube points for Sobol indices: shape (n * (d + 2), d), blocks A, B, AB_1..AB_d.

    A and B are the two halves of one scrambled Sobol sequence in 2d dimensions, which keeps
    them independent (Saltelli et al. 2010, section 5); ``n`` must be a power of 2.
    """
    both = qmc.Sobol(d=2 * d, rng=rng).random(n)
    a, b = both[:, :d], both[:, d:]
    blocks = [a, b]
    for i in range(d):
        ab = a.copy()
        ab[:, i] = b[:, i]
        blocks.append(ab)
    return np.concatenate(blocks)


def scale(unit: np.ndarray, p: Parameter) -> list[Value]:
    """Map uniform draws in [0, 1) onto the parameter's range.

    ``log``: uniform in the logarithm. ``integer``: the whole numbers low..high, drawn as the
    floor of a draw over [low, high + 1) so each end is as likely as the middle.
    """
    low, high = float(p.low or 0.0), float(p.high or 0.0)
    top = high + 1.0 if p.integer else high
    if p.log:
        x = np.exp(math.log(low) + unit * (math.log(top) - math.log(low)))
    else:
        x = low + unit * (top - low)
    if p.integer:
        return [int(v) for v in np.clip(np.floor(x), low, high)]
    return [min(max(float(f"{v:.{_DIGITS}g}"), low), high) for v in x]
