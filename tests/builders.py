"""Scenario builders and small helpers shared by the tests (conftest.py holds the fixtures).

Every small scenario is built by ``scenario_data`` (a dict) or ``scenario`` (validated), from
segments made by ``segment``; the demo scenario with test-sized changes by ``nordic``. The
presets below (``contact_rules_scenario``, ``two_segment_scenario``) are the small scenarios
several test files share.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner, Result

import sim
from sim.cli.main import main
from sim.engine.context import Context
from sim.engine.replication import build_context, simulate
from sim.fitting.responses import Quadrature
from sim.io.loader import scenario_from_dict
from sim.io.reading import read_yaml_mapping
from sim.spec.scenario import Scenario

ROOT = Path(__file__).resolve().parents[1]
NORDIC = ROOT / "scenarios" / "nordic_retail.yaml"
FIT_EXAMPLE = ROOT / "examples" / "fit"
# Small logs fit in seconds with these coarse nodes; the recovery log keeps the default ones.
QUICK = Quadrature(tolerance=6, engagement=3, sensitivity=1)
# The behaviour block that switches the model's mechanisms off (scenarios/parts): the core model,
# which the reference engine implements and which analytic cases are stated for.
CORE_BEHAVIOUR: dict[str, Any] = read_yaml_mapping(ROOT / "scenarios/parts/core_behaviour.yaml")

# --- segments ----------------------------------------------------------------------------------


def segment(
    r: float,
    alpha: float,
    a: float,
    b: float,
    *,
    v: float,
    opt_in: dict[str, float],
    share: float = 1.0,
    **extra: Any,
) -> dict[str, Any]:
    """One segment: BG/NBD purchasing (r, alpha, a, b), gamma-gamma spend with p = 6 and q = 4
    around ``v``, the opt-in per channel, and ``extra`` fields (tolerance, satisfaction...)."""
    return {
        "share": share,
        "purchase": {"r": r, "alpha": alpha, "a": a, "b": b},
        "spend": {"p": 6.0, "q": 4.0, "v": v},
        "opt_in": opt_in,
        **extra,
    }


# One segment, partly opted in, so that members are reachable on one, two or all three channels.
ONE_SEGMENT: dict[str, Any] = {
    "members": segment(
        1.0, 10.0, 0.8, 5.0, v=150.0, opt_in={"email": 0.85, "sms": 0.6, "push": 0.7}
    )
}


def frequent_and_rare(*, lapsing: bool = False) -> dict[str, Any]:
    """Two segments, half each: 'frequent' buys about once in four days, 'rare' about once in
    25 days. They lapse (BG/NBD dropout, a / (a + b) per purchase) after about 80 and 40
    purchases on average, or, ``lapsing``, after about 8 and 6."""
    a, (b_frequent, b_rare) = (0.8, (6.0, 4.0)) if lapsing else (0.5, (40.0, 20.0))
    return {
        "frequent": segment(
            2.0,
            8.0,
            a,
            b_frequent,
            v=200.0,
            opt_in={"email": 0.8, "sms": 0.6, "push": 0.7},
            share=0.5,
            tolerance={"median": 4.0, "sigma": 0.6},
        ),
        "rare": segment(
            0.8,
            20.0,
            a,
            b_rare,
            v=150.0,
            opt_in={"email": 0.7, "sms": 0.4, "push": 0.5},
            share=0.5,
            tolerance={"median": 6.0, "sigma": 0.6},
        ),
    }


# --- small scenarios ---------------------------------------------------------------------------


def scenario_data(
    strategies: dict[str, Any],
    *,
    name: str,
    segments: dict[str, Any],
    size: int,
    horizon: int,
    seed: int,
    replications: int = 1,
    acquisition: float | None = None,
    **changes: Any,
) -> dict[str, Any]:
    """A scenario as a plain dict: ``size`` members (and ``acquisition`` joining a day, if
    given) of ``segments``, with ``strategies`` (silent is added when it is validated);
    ``changes`` replace top-level keys."""
    population: dict[str, Any] = {"size": size}
    if acquisition is not None:
        population["acquisition_per_day"] = acquisition
    population["segments"] = segments
    data: dict[str, Any] = {
        "name": name,
        "horizon_days": horizon,
        "seed": seed,
        "replications": replications,
        "population": population,
        "strategies": strategies,
    }
    data.update(changes)
    return data


def scenario(strategies: dict[str, Any], **fields: Any) -> Scenario:
    """``scenario_data(strategies, **fields)``, validated."""
    return scenario_from_dict(scenario_data(strategies, **fields))


# No channel exits (so no complaints either), no leaving and the core model (no opt-ins at
# purchases, which differ between strategies): every member stays reachable whatever a strategy
# sends, and twin strategies are offered every send to the same members.
STAY: dict[str, Any] = {
    "channels": {
        "email": {"exit": 0.0, "complaint": 0.0, "reputation": None},
        "sms": {"exit": 0.0},
        "push": {"exit": 0.0},
    },
    "behaviour": {**CORE_BEHAVIOUR, "leave_per_year": 0.0, "fatigue": {"exit_slope": 0.0}},
}


def contact_rules_scenario(
    strategies: dict[str, Any], size: int = 600, horizon: int = 28, **changes: Any
) -> Scenario:
    """One segment (ONE_SEGMENT) without exits or leaving (STAY), with the given strategies."""
    fields = {**copy.deepcopy(STAY), **changes}
    return scenario(
        strategies,
        name="contact-rules",
        segments=ONE_SEGMENT,
        size=size,
        horizon=horizon,
        seed=11,
        **fields,
    )


def two_segment_scenario(
    strategies: dict[str, Any],
    *,
    name: str = "audiences_journeys",
    lapsing: bool = False,
    size: int = 1500,
    horizon: int = 70,
    acquisition: float = 4.0,
    seed: int = 11,
    **changes: Any,
) -> Scenario:
    """A small scenario of the two segments of ``frequent_and_rare`` with 4 joining a day, in
    the core model (CORE_BEHAVIOUR, under a ``behaviour`` given): the tests that use it follow
    who is reachable from the opt-ins at joining and exits, without opt-ins at purchases."""
    changes["behaviour"] = {**CORE_BEHAVIOUR, **changes.get("behaviour", {})}
    return scenario(
        strategies,
        name=name,
        segments=frequent_and_rare(lapsing=lapsing),
        size=size,
        horizon=horizon,
        seed=seed,
        acquisition=acquisition,
        **changes,
    )


def daily_campaign(channel: str, hour: float, **extra: Any) -> dict[str, Any]:
    """A campaign sent every day at ``hour``."""
    return {"channel": channel, "every_days": 1, "hour": hour, **extra}


def weekly_campaign(channel: str, day: str, hour: float = 9, **extra: Any) -> dict[str, Any]:
    """A campaign sent every week on ``day`` ("mon", ...) at ``hour``."""
    return {"channel": channel, "weekdays": [day], "hour": hour, **extra}


def cli_data() -> dict[str, Any]:
    """The small scenario the command-line tests write to a file and run: 300 members of two
    segments for six weeks, five replications, a weekly and a busy strategy."""
    opt_in = {"email": 0.8, "sms": 0.3, "push": 0.5}
    return scenario_data(
        {
            "weekly": {"campaigns": {"news": {"channel": "email", "every_days": 7}}},
            "busy": {
                "campaigns": {
                    "news": {"channel": "email", "every_days": 1},
                    "sms": {"channel": "sms", "weekdays": ["fri"]},
                }
            },
        },
        name="cli_small",
        segments={
            "loyal": segment(1.0, 10.0, 0.5, 20.0, v=300.0, opt_in=opt_in, share=0.4),
            "casual": segment(0.5, 10.0, 0.5, 20.0, v=300.0, opt_in=opt_in, share=0.6),
        },
        size=300,
        horizon=42,
        seed=3,
        replications=5,
    )


def valid_data() -> dict[str, Any]:
    """A minimal valid scenario file's content: no seed or replications (the defaults)."""
    opt_in = {"email": 0.8, "sms": 0.3}
    return {
        "name": "test retail",
        "horizon_days": 60,
        "population": {
            "size": 100,
            "segments": {
                "loyal": segment(0.8, 20.0, 0.5, 3.0, v=300.0, opt_in=opt_in, share=0.4),
                "casual": segment(0.8, 20.0, 0.5, 3.0, v=300.0, opt_in=opt_in, share=0.6),
            },
        },
        "strategies": {"weekly": {"campaigns": {"news": {"channel": "email", "every_days": 7}}}},
    }


# --- the demo scenario -------------------------------------------------------------------------


def nordic_data() -> dict[str, Any]:
    """The demo scenario (nordic_retail.yaml) as a plain dict, without its uncertain block
    (an include of the shipped priors, which only a file loader resolves): the tests that
    build on it run at the scenario's own values."""
    data = yaml.safe_load(NORDIC.read_text(encoding="utf-8"))
    data.pop("uncertain")
    return data


def nordic(
    size: int, strategies: dict[str, Any], data: dict[str, Any] | None = None, **changes: Any
) -> Scenario:
    """nordic_retail.yaml (or ``data``) with ``size`` members and only ``strategies``
    (silent is added); ``changes`` replace top-level keys. The demo's history (the plan that
    produced its purchase behaviour) is kept only if ``strategies`` still has that plan."""
    data = copy.deepcopy(nordic_data() if data is None else data)
    data["population"]["size"] = size
    data["strategies"] = copy.deepcopy(strategies)
    if data.get("history", {}).get("strategy") not in strategies:
        data.pop("history", None)
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


# --- running and watching a replication ----------------------------------------------------------


def run_one(sc: Scenario, replication: int = 0) -> Context:
    """Replication ``replication`` of every strategy of ``sc``, in this process."""
    ctx = build_context(sc, replication, sc.seed)
    simulate(ctx)
    return ctx


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


# --- files and the command line ------------------------------------------------------------------


def write(folder: Path, data: Any, name: str = "small.yaml") -> Path:
    """``data`` as the YAML file ``folder/name`` (the folder is made if need be)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def invoke(*args: str | Path) -> Result:
    """``loyaltysim`` with ``args``, in this process."""
    return CliRunner().invoke(main, [str(a) for a in args])


def entries(folder: Path) -> list[str]:
    """Names in ``folder`` but the hidden lock files of output folders (``.NAME.lock``, see
    sim.io.target), which stay once made."""
    return sorted(p.name for p in folder.iterdir() if not re.fullmatch(r"\..+\.lock", p.name))


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file of ``folder`` by name, with its bytes."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def interrupt_points_after(monkeypatch: Any, points: int) -> Any:
    """Make sweeps and runs of draws stop with KeyboardInterrupt (as at Ctrl-C) once ``points``
    points have run; the real ``run_point`` is returned, to put back before resuming."""
    from sim.sweeps import execute

    real, calls = execute.run_point, []

    def interrupted(task: execute.PointTask) -> execute.PointResult:
        calls.append(task.point)
        if len(calls) > points:
            raise KeyboardInterrupt
        return real(task)

    monkeypatch.setattr(execute, "run_point", interrupted)
    return real


def company_events(folder: Path, members: int, days: int, *overrides: str, seed: int = 7) -> Path:
    """The plan's event log of the fit example's synthetic company
    (examples/fit/company.yaml), resized, written under ``folder``; its folder."""
    sim.run(
        FIT_EXAMPLE / "company.yaml",
        seed=seed,
        jobs=1,
        overrides=(f"population.size={members}", f"horizon_days={days}", *overrides),
        events=folder / "events",
    )
    return folder / "events" / "plan" / "0"
