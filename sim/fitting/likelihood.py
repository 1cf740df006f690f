"""The likelihood of an event log's responses under the message-response model of
docs/model.md, section 4, with members' tolerance and engagement integrated out.

For member i with delivered messages k = 1..K_i (pressure judged right after each message's
own increment, as the engine does):

    L_i = sum_n W_n prod_k p(open_k, click_k, exit_k | theta_n, phi_n, z_n)

over quadrature nodes n of tolerance theta (log-normal: conditional means of equal-width cells
below the member's largest pressure, which stay accurate across the kinks of
max(0, F/theta - 1) and reach into the law's tails, and one node for the mass above it),
engagement z (standard normal:
Gauss-Hermite, adapted to the member) and relevance sensitivity phi (log-normal, held at the
scenario's values: equal-probability nodes). Opens and clicks are logistic, exits and
complaints hazards:

    logit P(open)       = a_c + bR_o phi (2r - 1) - bF_o E_c + bE_o z
    logit P(click|open) = g_c + bR_k phi (2r - 1) - bF_k E_c + bE_k z
    P(exit) = x_c H, P(complaint) = q_c H,   log H = bF_x E_c + bR_x phi (1 - 2r)

where a_c and g_c are the intercepts the engine reaches after centring (sim.model.engagement)
and E_c = max(0, F_c / theta - 1), F_c = w_c P_c + kappa sum_{c' != c} w_c' P_c'. Satisfaction
does not enter: the fit takes exits at the member's baseline satisfaction (docs/fit.md says
what that costs). The gradient is exact (the chain rule through the pressures included, with
the half-life's derivative carried along the pressure recursion in sim.fitting.kernel), so
quasi-Newton steps are cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import special, stats

from sim.fitting import kernel
from sim.spec.fields import CHANNELS

EMAIL = CHANNELS.index("email")
# The narrowest posterior a member's nodes are fitted to (standard-normal units).
MIN_SCALE = 0.02
# Adaptation stops when no node centre or spread moves by more than ADAPT_STEP
# (standard-normal units), or after ADAPT_PASSES passes. From the population's law, a member
# with many messages takes more than 6 passes with 3 engagement nodes: the placement, and
# with it the likelihood, then depended on where the nodes were before (by 2 log-likelihood
# units on a 150-member log).
ADAPT_STEP, ADAPT_PASSES = 0.01, 20
# A block of a member's nodes (one tolerance and one sensitivity node) whose posterior
# probability is below this moves the member's log-likelihood by less than this, wherever
# its engagement nodes sit; its nodes are placed like the others', but their moves do not
# hold up the adaptation. (In the law's far tail of tolerance, a member's engagement given
# that tolerance sits 7-10 standard deviations out and its nodes walk there by half a unit a
# pass: on a 1,000-member log such blocks kept most adaptations running to ADAPT_PASSES.)
NEGLIGIBLE = 1e-12
# The top tolerance node sits this far (log units) above the largest pressure a member felt,
# so that small moves of the parameters between placements keep it above.
PEAK_MARGIN = 0.05
# The tolerance rule's cells span standard-normal scores up to BAND (or the member's peak, if
# lower): a member's posterior can sit in the law's tails, where equal-probability cells
# put one node for a whole tail (docs/fit.md, section 3).
BAND = 5.0


@dataclass(frozen=True)
class Messages:
    """The delivered messages of a log, members contiguous and in time order within each.

    starts, counts: each member's range in the arrays (members with at least one delivered
    message); time: days; channel: index into CHANNELS; relevance: 0-1; opened, clicked,
    exited (an unsubscribe or a complaint), complained: outcomes.
    """

    starts: np.ndarray
    counts: np.ndarray
    time: np.ndarray
    channel: np.ndarray
    relevance: np.ndarray
    opened: np.ndarray
    clicked: np.ndarray
    exited: np.ndarray
    complained: np.ndarray

    def __post_init__(self) -> None:
        # Contiguous and writeable, whatever the reader handed over: the compiled kernel is
        # specialised (and compiled, for half a minute) once per layout and read-only flag.
        for name in self.__dataclass_fields__:
            object.__setattr__(self, name, np.require(getattr(self, name), requirements="CW"))

    @property
    def members(self) -> int:
        return int(self.starts.size)


@dataclass(frozen=True)
class Nodes:
    """Quadrature rules before they are placed per member (``Likelihood.adapt``): the
    tolerance score at the mid-points of equal-probability cells of the standard normal
    (equal weights; ``adapt`` replaces it with each member's ``below_the_peak``, and its size
    is the number of nodes that rule keeps); Gauss-Hermite nodes and weights (probabilists',
    summing to 1) for engagement; the sensitivity values themselves (equal-probability cells of its
    log-normal, equal weights)."""

    tolerance: np.ndarray
    tolerance_weight: np.ndarray
    engagement: np.ndarray
    engagement_weight: np.ndarray
    sensitivity: np.ndarray

    @classmethod
    def build(
        cls,
        tolerance: int,
        engagement: int,
        sensitivity_median: float,
        sensitivity_sigma: float,
        sensitivity: int,
    ) -> Nodes:
        if tolerance < 2:
            raise ValueError("the tolerance rule needs at least 2 nodes: one above the peak")
        ze, we = np.polynomial.hermite_e.hermegauss(engagement)
        cells = stats.norm.ppf((np.arange(sensitivity) + 0.5) / sensitivity)
        return cls(
            tolerance=stats.norm.ppf((np.arange(tolerance) + 0.5) / tolerance),
            tolerance_weight=np.full(tolerance, 1.0 / tolerance),
            engagement=ze,
            engagement_weight=we / we.sum(),
            sensitivity=sensitivity_median * np.exp(sensitivity_sigma * cells),
        )


def placed(
    nodes: np.ndarray, weight: np.ndarray, centre: np.ndarray, scale: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and log weights (last axis) of a Gauss-Hermite rule for E[f(X)], X ~ N(0, 1),
    moved to N(centre, scale^2) for each entry of ``centre`` (adaptive quadrature):
    E[f(X)] = E_U[f(c + sU) phi(c + sU) s / phi(U)], U ~ N(0, 1)."""
    x = centre[..., None] + scale[..., None] * nodes
    log_w = np.log(weight) + stats.norm.logpdf(x) - stats.norm.logpdf(nodes)
    return x, log_w + np.log(scale)[..., None]


def below_the_peak(count: int, top: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Tolerance scores and log weights (columns), one row per member, of a rule for
    E[f(U)], U ~ N(0, 1), where each member's f is constant above its ``top`` (no message
    exceeds a tolerance above the largest pressure it felt): ``count - 1`` cells of equal
    width on [min(-BAND, top - 2), min(top, BAND)], the first open below, each represented by
    its conditional mean with its probability as weight (exact where f is linear within a
    cell), and one node for the mass above, at ``top`` (exact: f is constant there) or, where
    ``top`` lies beyond BAND, at the mean above BAND (its mass is under 3e-7)."""
    # Beyond 20 standard deviations the normal's tail functions underflow.
    top = np.clip(top, -20.0, 20.0)[:, None]
    cells = count - 1
    high = np.minimum(top, BAND)
    low = np.minimum(-BAND, high - 2.0)
    edges = low + (high - low) * (np.arange(cells + 1) / cells)
    edges[:, 0] = -np.inf
    means, log_mass = _cells(edges[:, :-1], edges[:, 1:])
    above = np.where(top <= BAND, top, _cells(high, np.full_like(high, np.inf))[0])
    return np.concatenate([means, above], axis=1), np.concatenate(
        [log_mass, special.log_ndtr(-high)], axis=1
    )


def _cells(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and log probability of N(0, 1) on each cell [a, b] (a < b, either infinite).

    Each cell is computed on the side of 0 where most of it lies, through the log of the
    normal's lower tail, so that cells far in either tail keep their digits.
    scipy.stats.truncnorm gives the same means but takes minutes for a million cells."""
    flip = a + b > 0
    lo, hi = np.where(flip, -b, a), np.where(flip, -a, b)
    log_lo, log_hi = special.log_ndtr(lo), special.log_ndtr(hi)
    log_mass = log_hi + np.log1p(-np.exp(log_lo - log_hi))
    with np.errstate(invalid="ignore"):  # an infinite end has density 0
        density = np.exp(stats.norm.logpdf(lo) - log_mass) - np.exp(
            stats.norm.logpdf(hi) - log_mass
        )
    return np.where(flip, -density, density), log_mass


@dataclass(frozen=True)
class Layout:
    """Which parameters a log can inform, in the order of the unconstrained vector.

    Names are the fit's own (``open.email``, ``log_half_life``, ...); sim.fitting.estimate
    maps them to scenario paths.
    """

    channels: tuple[int, ...]
    clicks: tuple[int, ...]
    complaints: bool
    relevance: bool
    names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        names = [f"open.{CHANNELS[c]}" for c in self.channels]
        names += [f"click.{CHANNELS[c]}" for c in self.clicks]
        names += [f"log_exit.{CHANNELS[c]}" for c in self.channels]
        names += ["logit_complaint_share.email"] if self.complaints else []
        names += [f"log_intrusiveness.{CHANNELS[c]}" for c in self.channels if c != EMAIL]
        names += ["log_half_life"]
        names += ["logit_cross_channel"] if len(self.channels) > 1 else []
        names += ["fatigue.open", "fatigue.click", "fatigue.exit"]
        names += ["relevance.open", "relevance.click", "relevance.exit"] if self.relevance else []
        names += ["log_tolerance_median", "log_tolerance_sigma", "engagement.open"]
        names += ["engagement.click"] if self.clicks else []
        object.__setattr__(self, "names", tuple(names))

    def index(self, name: str) -> int:
        return self.names.index(name)

    def get(self, x: np.ndarray, name: str, default: float = 0.0) -> float:
        return float(x[self.names.index(name)]) if name in self.names else default


class Likelihood:
    """Negative log-likelihood and its gradient over the unconstrained parameter vector.

    The nodes are placed for each member (adaptive quadrature) by ``adapt``, at a parameter
    vector; between calls they stay put, so the likelihood is a smooth function with an exact
    gradient. Tolerance: a member's likelihood does not change with its tolerance above the
    largest pressure it felt, so one node holds all the mass above that and the others go
    below it, where the kinks of max(0, F/theta - 1) are, on cells of equal width that reach
    into the law's tails (``below_the_peak``). With the population's
    equal-probability cells instead, a wide tolerance law (sigma 1.5) left the kinks between
    five nodes and overstated a 1,000-member log's likelihood by 26 units, enough to pull the
    fit there. Engagement: with a hundred messages a member's engagement is known far more
    narrowly than the population's law, so the nodes follow its posterior, given each
    (tolerance, sensitivity) node, because it moves with them: a member who opens often in
    spite of much pressure is engaged if its tolerance is low, less so if high.
    Parameters a log cannot inform are held where they change nothing: no complaints
    (share 0), no clicks on a channel (click logit -30), no second channel (weights 1).
    """

    def __init__(self, messages: Messages, layout: Layout, nodes: Nodes) -> None:
        self.m, self.layout, self.nodes = messages, layout, nodes
        self.columns = kernel.slots(layout.names)
        self.fixed = np.zeros(len(kernel.SLOTS))
        self.fixed[kernel.SHARE] = -50.0
        self.fixed[kernel.CLICK : kernel.CLICK + len(CHANNELS)] = -30.0
        self.fixed[kernel.TOL_SIGMA] = np.log(0.5)
        n, nd = messages.members, nodes
        # Full arrays, not broadcast views: the kernel's arguments keep one layout (above).
        self.tol = np.tile(nd.tolerance, (n, 1))
        self.tol_w = np.tile(np.log(nd.tolerance_weight), (n, 1))
        blocks = (n, nd.tolerance.size * nd.sensitivity.size)
        self.place(np.zeros(blocks), np.ones(blocks))

    def place(self, centre: np.ndarray, scale: np.ndarray) -> None:
        """Centre the engagement nodes of each member (rows) and (tolerance, sensitivity)
        block (columns) on ``centre`` with spread ``scale``."""
        nd = self.nodes
        self.centre, self.scale = centre, scale
        self.eng, self.eng_w = placed(nd.engagement, nd.engagement_weight, centre, scale)

    def placement(self) -> tuple[np.ndarray, ...]:
        """The nodes as placed now, to come back to with ``restore`` (adapting again would not:
        each pass starts from where the last one left the nodes). Placing makes new arrays, so
        the ones returned stay as they are."""
        return self.tol, self.tol_w, self.centre, self.scale, self.eng, self.eng_w

    def restore(self, placement: tuple[np.ndarray, ...]) -> None:
        """Put the nodes back where ``placement`` found them."""
        self.tol, self.tol_w, self.centre, self.scale, self.eng, self.eng_w = placement

    def adapt(self, x: np.ndarray) -> None:
        """Place every member's tolerance nodes below and at the largest pressure it felt at
        x, then move its engagement nodes to its conditional posteriors at x, again until
        they stay within ADAPT_STEP of where the last pass put them (at most ADAPT_PASSES
        passes: moments taken on badly placed nodes are rough), in the blocks of nodes that
        are not NEGLIGIBLE."""
        peak = self.members(x, moments=True)[3]
        mu = self.layout.get(x, "log_tolerance_median")
        sigma = np.exp(self.layout.get(x, "log_tolerance_sigma"))
        top = (np.log(peak) + PEAK_MARGIN - mu) / sigma  # every message adds pressure: peak > 0
        self.tol, self.tol_w = below_the_peak(self.nodes.tolerance.size, top)
        for _ in range(ADAPT_PASSES):
            moments = self.members(x, moments=True)[2]
            mean = moments[..., 0]
            sd = np.clip(np.sqrt(np.maximum(moments[..., 1] - mean**2, 0.0)), MIN_SCALE, 1.0)
            shift = np.maximum(np.abs(mean - self.centre), np.abs(sd - self.scale))
            moved = shift[moments[..., 2] > np.log(NEGLIGIBLE)].max(initial=0.0)
            self.place(mean, sd)
            if moved < ADAPT_STEP:
                break

    def full(self, x: np.ndarray) -> np.ndarray:
        """The kernel's parameter vector: x in the layout's slots, the fixed values elsewhere."""
        par = self.fixed.copy()
        par[self.columns] = x
        return par

    def members(self, x: np.ndarray, moments: bool = False) -> tuple[np.ndarray, ...]:
        """log L_i and d log L_i / dx for every member (rows); with ``moments``, also the
        posterior mean and mean square of engagement given each (tolerance, sensitivity)
        node and the log of that node's posterior probability (members x blocks x 3)."""
        log_l, grad, mom, peak = self._terms(x, np.zeros((0, 4)))
        if moments:
            return log_l, grad[:, self.columns], mom, peak
        return log_l, grad[:, self.columns]

    def predicted(self, x: np.ndarray) -> np.ndarray:
        """Each delivered message's probabilities of an open, a click and an exit, and the
        pressure felt on its channel, at x, averaged over its member's posterior (columns)."""
        out = np.zeros((self.m.time.size, 4))
        self._terms(x, out)
        return out

    def _terms(self, x: np.ndarray, predicted: np.ndarray) -> tuple[np.ndarray, ...]:
        """The kernel at x on this log and these nodes (``predicted``: see member_terms)."""
        m, nd = self.m, self.nodes
        return kernel.member_terms(
            self.full(x), m.starts, m.counts, m.time, m.channel, m.relevance, m.opened,
            m.clicked, m.exited, m.complained, self.tol, self.tol_w, self.eng, self.eng_w,
            nd.sensitivity, bool(self.layout.clicks), predicted,
        )  # fmt: skip

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """(-log L, -d log L / dx), summed over members in their order."""
        log_l, grad = self.members(x)
        return -float(log_l.sum()), -grad.sum(axis=0)
