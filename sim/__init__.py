"""loyaltysim: a discrete-event simulator of loyalty-program members receiving email, SMS and
app-push messages, ranking campaign strategies by long-term loyalty."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.api import Decision, Results, compare, decide, fit, load_results, run, validate
    from sim.io.examples import copy_examples, list_examples
    from sim.io.loader import load_scenario, scenario_from_dict
    from sim.spec.scenario import Scenario
    from sim.sweeps.api import sweep

__version__ = "0.1.0"

# Imported on first use, so that a command that needs little (``loyaltysim --version``,
# ``validate``) does not pay for the whole package (pandas, scipy, matplotlib).
_HOMES = {
    "Decision": "sim.api",
    "Results": "sim.api",
    "compare": "sim.api",
    "load_results": "sim.api",
    "decide": "sim.api",
    "fit": "sim.api",
    "fit_reports": "sim.api",
    "run": "sim.api",
    "validate": "sim.api",
    "copy_examples": "sim.io.examples",
    "list_examples": "sim.io.examples",
    "load_scenario": "sim.io.loader",
    "scenario_from_dict": "sim.io.loader",
    "Scenario": "sim.spec.scenario",
    "sweep": "sim.sweeps.api",
}
__all__ = [
    "Decision",
    "Results",
    "Scenario",
    "__version__",
    "compare",
    "copy_examples",
    "decide",
    "fit",
    "fit_reports",
    "list_examples",
    "load_results",
    "load_scenario",
    "run",
    "scenario_from_dict",
    "sweep",
    "validate",
]


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        value = getattr(importlib.import_module(_HOMES[name]), name)
        globals()[name] = value
        return value
    try:  # a subpackage or module, e.g. sim.api after ``import sim``
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{name}":
            raise
        raise AttributeError(f"module 'sim' has no attribute {name!r}") from None


def __dir__() -> list[str]:
    return __all__
