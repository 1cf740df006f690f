"""The demo scenario as a base for tests: nordic_retail.yaml with test-sized changes."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from sim.io.loader import scenario_from_dict
from sim.spec.scenario import Scenario

NORDIC = Path(__file__).resolve().parents[1] / "scenarios" / "nordic_retail.yaml"


def nordic_data() -> dict[str, Any]:
    """The demo scenario as a plain dict."""
    return yaml.safe_load(NORDIC.read_text(encoding="utf-8"))


def nordic(
    size: int, strategies: dict[str, Any], data: dict[str, Any] | None = None, **changes: Any
) -> Scenario:
    """nordic_retail.yaml (or ``data``) with ``size`` members and only ``strategies``
    (silent is added); ``changes`` replace top-level keys."""
    data = copy.deepcopy(nordic_data() if data is None else data)
    data["population"]["size"] = size
    data["strategies"] = copy.deepcopy(strategies)
    data.update(changes)
    return scenario_from_dict(data, str(NORDIC))


def email_every(per_week: float, relevance: float = 0.5) -> dict[str, Any]:
    """A strategy of one email newsletter sent ``per_week`` times a week."""
    campaign = {
        "channel": "email",
        "kind": "newsletter",
        "every_days": 7 / per_week,
        "relevance": relevance,
    }
    return {"campaigns": {"newsletter": campaign}}


def wrap(monkeypatch: Any, module: Any, name: str, before: Any = None, after: Any = None) -> None:
    """Replace ``module.name`` by a call to the original between two optional checkers."""
    original = getattr(module, name)

    def wrapper(*args: Any) -> Any:
        if before is not None:
            before(*args)
        result = original(*args)
        if after is not None:
            after(*args)
        return result

    monkeypatch.setattr(module, name, wrapper)
