"""Write the calibrated population as YAML: a mapping of the scenario's ``population`` fields.

A scenario uses it with ``population: {include: FILE}`` (see docs/calibration.md).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

import numpy as np
import yaml

from sim.calibration.diagnostics import SegmentFit, chi_square_text
from sim.calibration.transactions import TransactionLog
from sim.spec.scenario import Segment

# Transaction data say nothing about consent or contact tolerance, yet every segment needs
# them. Zeros would silently make every campaign reach nobody; instead the file carries the
# demo program's core-segment opt-ins (scenarios/nordic_retail.yaml; push lies inside the
# published 40-59%, Appboy 2016) and the schema's defaults for the rest, each marked in the
# file as a value to review, which a scenario overrides next to ``include``.
PLACEHOLDER_OPT_IN: dict[str, float] = {"email": 0.75, "sms": 0.35, "push": 0.5}
PLACEHOLDER_FIELDS: tuple[str, ...] = ("tolerance", "relevance_sensitivity", "satisfaction")

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def population_yaml(log: TransactionLog, fits: Mapping[str, SegmentFit]) -> str:
    """The population block with a header comment on the data source, period and fit."""
    n = sum(f.customers.size for f in fits.values())
    new_per_day = n / max((log.calibration_end - log.start).days + 1, 1)
    lines = [
        "# Population calibrated by `loyaltysim calibrate` from a transaction log.",
        f"# Data source: {log.source} ({log.rows:,} rows, {n:,} customers)",
        f"# Date range: {log.start} to {log.end}; calibration period to {log.calibration_end}"
        + (f",\n#   holdout the {log.holdout_days} days after it" if log.holdout_days else ""),
        "# Time unit: day (purchase.time_unit); a repeat purchase is a day with purchases.",
        "# Models: BG/NBD purchase and dropout (r, alpha, a, b), Gamma-Gamma spend (p, q, v),",
        "# maximum likelihood; standard errors from the Hessian, per segment below.",
        "# REVIEW: opt_in, tolerance, relevance_sensitivity and satisfaction are not in",
        "# transaction data: the values below are placeholders (the demo program's opt-ins and",
        "# the schema's defaults). Override them next to `include:` in the scenario.",
        f"size: {n}",
        f"acquisition_per_day: 0.0  # closed population; the data averaged {new_per_day:.3g} "
        "new customers a day",
        "segments:",
    ]
    for name, fit in fits.items():
        lines += _segment(name, fit, fit.customers.size / n, log.holdout_days)
    return "\n".join(lines) + "\n"


def _segment(name: str, fit: SegmentFit, share: float, holdout_days: int) -> list[str]:
    purchase, spend = fit.purchase, fit.spend
    lines = [
        f"  {_key(name)}:",
        f"    # {fit.customers.size:,} customers; BG/NBD log-likelihood "
        f"{purchase.log_likelihood:,.1f};",
        f"    # histogram: {chi_square_text(fit)}",
    ]
    if fit.holdout is not None:
        actual, predicted = fit.holdout["actual"].sum(), fit.holdout["predicted"].sum()
        lines.append(
            f"    # holdout {holdout_days} days: {actual:,.0f} repeat purchases, "
            f"{predicted:,.1f} predicted"
        )
    lines += [
        f"    # standard errors: {_errors(purchase.names, purchase.se)}; "
        f"{_errors(spend.names, spend.se)}",
        *(f"    # warning: {m.message}" for m in (purchase, spend) if m.message),
        f"    share: {format_number(share, 17)}",
        f"    purchase: {_flow({**purchase.params, 'time_unit': 'day'})}",
        f"    spend: {_flow(spend.params)}",
        f"    opt_in: {_flow(PLACEHOLDER_OPT_IN)}  # REVIEW: placeholder",
    ]
    for field in PLACEHOLDER_FIELDS:
        default = Segment.model_fields[field].default.model_dump()
        lines.append(f"    {field}: {_flow(default)}  # REVIEW: placeholder")
    return lines


def _errors(names: tuple[str, ...], se: np.ndarray) -> str:
    return ", ".join(f"{k} {v:.3g}" for k, v in zip(names, se, strict=True))


def _flow(values: Mapping[str, float | str]) -> str:
    parts = [
        f"{k}: {v if isinstance(v, str) else format_number(float(v))}" for k, v in values.items()
    ]
    return "{" + ", ".join(parts) + "}"


def format_number(value: float, digits: int = 6) -> str:
    """A YAML float: PyYAML reads ``1e-05`` as text, so exponents are written ``1.0e-05``."""
    rounded = float(f"{value:.{digits}g}")
    return yaml.safe_dump(rounded).splitlines()[0]


def _key(name: str) -> str:
    """Segment names quoted unless plainly text: YAML would read 1 or yes as other types."""
    plain = _PLAIN_KEY.match(name) and yaml.safe_load(name) == name
    return name if plain else json.dumps(name)
