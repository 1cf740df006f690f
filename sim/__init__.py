"""loyaltysim: a discrete-event simulator of loyalty-program members receiving email, SMS and
app-push messages, ranking campaign strategies by long-term loyalty."""

from sim.api import Decision, Results, decide, fit, run, validate
from sim.io.loader import load_scenario, scenario_from_dict
from sim.spec.scenario import Scenario
from sim.sweeps.api import sweep

__version__ = "0.1.0"
__all__ = [
    "Decision",
    "Results",
    "Scenario",
    "__version__",
    "decide",
    "fit",
    "load_scenario",
    "run",
    "scenario_from_dict",
    "sweep",
    "validate",
]
