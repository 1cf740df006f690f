"""Policy plug-ins end to end: the example ``examples.recency_policy:RecencyPolicy`` through the
Python API and the command line, every delivery checked against the policy and the caps after
it; and plug-ins that cannot be used, reported with the field path ``strategies.NAME.policy``.
"""

from __future__ import annotations

import importlib
import math
import re
import sys
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from builders import invoke, scenario_data, segment, write
from click.testing import Result

import sim.engine.dispatch as dispatch_module
from sim.api import Results, run
from sim.io.loader import scenario_from_dict
from sim.spec.fields import CHANNELS
from sim.spec.policies import PluginPolicy
from sim.strategies.observe import WINDOW_DAYS
from sim.strategies.policy import PolicyError

REPO = Path(__file__).resolve().parents[1]
BAD_INPUT = 2
RECENCY = "examples.recency_policy:RecencyPolicy"
OPTIONS = {"max_days_since_open": 10, "min_days_between": 2, "push_after_unopened_emails": 3}
PUSH = CHANNELS.index("push")


def plugins_data(strategies: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """400 members of one segment for six weeks, with the given strategies."""
    opt_in = {"email": 0.9, "sms": 0.3, "push": 0.6}
    members = segment(1.0, 10.0, 0.5, 20.0, v=300.0, opt_in=opt_in)
    return scenario_data(
        strategies,
        name="plugins",
        segments={"members": members},
        size=400,
        horizon=42,
        seed=5,
        **fields,
    )


def recency_strategies() -> dict[str, Any]:
    """A daily email and a weekly receipt (exempt); the same under the policy; and the policy
    under a cap of one marketing message a week on all channels."""
    return {
        "daily": {
            "campaigns": {
                "news": {"channel": "email", "every_days": 1, "hour": 9},
                "receipt": {"channel": "email", "kind": "transactional", "every_days": 7},
            }
        },
        "recent": {
            "extends": "daily",
            "policy": {"kind": "plugin", "path": RECENCY, "options": OPTIONS},
        },
        "recent_capped": {"extends": "recent", "caps": {"all": "1 per week"}},
    }


@pytest.fixture(autouse=True)
def repo_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """``examples`` imports from the repository root, wherever pytest runs from."""
    monkeypatch.syspath_prepend(str(REPO))


# --- the example, every delivery recorded -------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """One call of ``send``: a message delivered to members on a channel at time t."""

    strategy: str
    kind: str
    channel: str
    t: float
    members: np.ndarray
    engaged: np.ndarray  # day of the last open or click before it, or of joining if later
    push_ok: np.ndarray  # mask: reachable by push at the time
    opened: np.ndarray  # mask: opened this message


def recording(log: list[Delivery]) -> Any:
    """``sim.engine.dispatch.send`` that records each delivery, then delivers it."""
    real = dispatch_module.send

    def send(ctx: Any, s: int, name: str, message: Any, ch: int, t: float, idx: np.ndarray) -> None:
        st = ctx.state
        before = st.last_open[s].take(idx)
        engaged = np.maximum(before, st.members.join_day.take(idx))
        push_ok = ctx.state.reachable_among(s, PUSH, idx)
        real(ctx, s, name, message, ch, t, idx)
        opened = st.last_open[s].take(idx) != before
        strategy, channel = ctx.strategies[s], CHANNELS[ch]
        log.append(
            Delivery(strategy, message.kind, channel, t, idx.copy(), engaged, push_ok, opened)
        )

    return send


@pytest.fixture(scope="module")
def recorded() -> tuple[Results, list[Delivery]]:
    """One replication of daily, recent and recent_capped, with every delivery."""
    log: list[Delivery] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(REPO))
        patch.setattr(dispatch_module, "send", recording(log))
        results = run(
            scenario_from_dict(plugins_data(recency_strategies())), jobs=1, allow_plugins=True
        )
    return results, log


def by_strategy(log: list[Delivery], strategy: str) -> list[Delivery]:
    return [d for d in log if d.strategy == strategy]


@dataclass
class Seen:
    """A member's deliveries so far: (day, channel, opened)."""

    events: list[tuple[int, str, bool]]

    def sends(self, day: int, days: int, channel: str | None = None) -> int:
        """As View.sends: deliveries on the last ``days`` calendar days, today included."""
        return sum(1 for d, c, _ in self.events if d > day - days and channel in (None, c))

    def opens(self, day: int, days: int, channel: str) -> int:
        return sum(1 for d, c, o in self.events if d > day - days and c == channel and o)


def replay(deliveries: list[Delivery]) -> Iterator[tuple[Delivery, int, int, Seen]]:
    """(delivery, position, member, the member's deliveries before it), in delivery order."""
    seen: dict[int, Seen] = defaultdict(lambda: Seen([]))
    for d in deliveries:
        day = math.floor(d.t)
        for k, member in enumerate(d.members.tolist()):
            yield d, k, member, seen[member]
        for k, member in enumerate(d.members.tolist()):
            seen[member].events.append((day, d.channel, bool(d.opened[k])))


@pytest.mark.parametrize("strategy", ["recent", "recent_capped"])
def test_every_delivery_obeys_the_recency_policy(
    recorded: tuple[Results, list[Delivery]], strategy: str
) -> None:
    _, log = recorded
    limit, rest = OPTIONS["max_days_since_open"], OPTIONS["min_days_between"]
    unopened = OPTIONS["push_after_unopened_emails"]
    moved = 0
    for d, k, member, seen in replay(by_strategy(log, strategy)):
        if d.kind == "transactional":
            continue  # exempt: never reaches a policy
        day = math.floor(d.t)
        where = f"{strategy}: member {member} at t={d.t:.3f} on {d.channel}"
        assert d.t - d.engaged[k] <= limit, f"{where}: no open for {d.t - d.engaged[k]:.1f} days"
        assert seen.sends(day, rest) == 0, f"{where}: messaged within {rest} days"
        ignores_email = (
            seen.sends(day, WINDOW_DAYS, "email") >= unopened
            and seen.opens(day, WINDOW_DAYS, "email") == 0
        )
        if d.channel == "push":
            moved += 1
            assert ignores_email, f"{where}: moved to push but opens email"
        else:
            assert not (ignores_email and d.push_ok[k]), f"{where}: should have gone by push"
    if strategy == "recent":
        assert moved > 0  # the channel move happened


def test_the_policy_binds_and_leaves_exempt_messages_alone(
    recorded: tuple[Results, list[Delivery]],
) -> None:
    """Without the policy, members past the recency limit get the newsletter; with it, fewer
    newsletters go out; the transactional receipt still reaches members past the limit."""
    results, log = recorded
    limit = OPTIONS["max_days_since_open"]

    def news(strategy: str) -> list[Delivery]:
        return [d for d in by_strategy(log, strategy) if d.kind == "newsletter"]

    def stale(deliveries: list[Delivery]) -> int:
        return sum(int(np.count_nonzero(d.t - d.engaged > limit)) for d in deliveries)

    assert stale(news("daily")) > 0
    sent = {s: sum(d.members.size for d in news(s)) for s in ("daily", "recent", "recent_capped")}
    assert sent["recent_capped"] < sent["recent"] < sent["daily"]
    receipts = [d for d in by_strategy(log, "recent") if d.kind == "transactional"]
    assert stale(receipts) > 0

    # What was recorded is what the KPIs count.
    summary = results.summary.set_index("strategy")
    for strategy in ("daily", "recent", "recent_capped"):
        for channel in ("email", "push"):
            recorded_sends = sum(
                d.members.size for d in by_strategy(log, strategy) if d.channel == channel
            )
            assert summary.loc[strategy, f"sends_{channel}"] == recorded_sends
    assert summary.loc["daily", "sends_push"] == 0


def test_a_cap_still_binds_on_top_of_the_policy(recorded: tuple[Results, list[Delivery]]) -> None:
    results, log = recorded
    per_week: dict[tuple[int, int], int] = defaultdict(int)
    for d in by_strategy(log, "recent_capped"):
        if d.kind != "transactional":  # exempt messages do not count towards caps
            for member in d.members.tolist():
                per_week[(member, math.floor(d.t) // 7)] += 1
    assert per_week and max(per_week.values()) == 1  # 1 per week, weeks from day 0 (a Monday)
    skipped = results.summary.set_index("strategy")["skipped_capped"]
    assert skipped["recent_capped"] > 0
    assert skipped["recent"] == 0


def test_same_seed_gives_identical_results_in_one_process_or_several() -> None:
    scenario = scenario_from_dict(plugins_data(recency_strategies(), replications=2))
    one = run(scenario, jobs=1, allow_plugins=True)
    again = run(scenario, jobs=1, allow_plugins=True)
    pooled = run(
        scenario, jobs=2, allow_plugins=True
    )  # the plug-in is imported in the worker processes too
    for other in (again, pooled):
        pd.testing.assert_frame_equal(one.summary, other.summary)
        pd.testing.assert_frame_equal(one.timeseries, other.timeseries)
    assert not one.strategies["upper_bound"].any()  # a plug-in is a real strategy
    different = run(scenario, jobs=1, seed=6, allow_plugins=True).summary
    assert not different["sends_email"].equals(one.summary["sends_email"])


def test_the_short_form_names_the_class_with_its_defaults() -> None:
    strategies = {
        "recent": {"policy": RECENCY, "campaigns": {"news": {"channel": "email", "every_days": 1}}}
    }
    policy = scenario_from_dict(plugins_data(strategies)).strategies["recent"].policy
    assert isinstance(policy, PluginPolicy)
    assert (policy.path, policy.options) == (RECENCY, {})


def readme_scenario() -> dict[str, Any]:
    """The scenario examples/README.md tells the reader to save and run."""
    text = (REPO / "examples" / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)
    assert len(blocks) == 1
    return yaml.safe_load(blocks[0])


def test_the_readme_example_runs_from_the_command_line(tmp_path: Path) -> None:
    scenario = write(tmp_path, readme_scenario(), "recency.yaml")
    small = ("--set", "population.size=500", "--set", "horizon_days=35")
    checked = invoke("validate", scenario, *small)
    assert checked.exit_code == 0, checked.output
    assert "valid" in checked.stdout
    assert "not imported by validate; run needs --allow-plugins" in checked.stdout

    out = tmp_path / "results"
    once = ("--out", out, "--replications", "1", "--jobs", "1")
    refused = invoke("run", scenario, *small, *once)
    assert refused.exit_code == BAD_INPUT, refused.output
    assert "allow it with --allow-plugins" in refused.stderr
    assert not out.exists()
    result = invoke("run", scenario, *small, *once, "--allow-plugins")
    assert result.exit_code == 0, result.output
    assert "recent_openers" in result.stdout
    summary = pd.read_csv(out / "summary.csv").set_index("strategy")
    assert summary.loc["recent_openers", "sends_push"] > 0
    assert summary.loc["recent_openers", "sends_email"] < summary.loc["daily", "sends_email"]
    assert summary.loc["recent_openers_capped", "skipped_capped"] > 0
    assert not pd.read_csv(out / "strategies.csv")["upper_bound"].any()


# --- plug-ins that cannot be used ----------------------------------------------------------------


GOOD_CLASS = """
class Policy:
    def __init__(self, weight: float = 1.0) -> None:
        self.weight = weight

    def select(self, message, candidates, view):
        return candidates
"""


def write_module(folder: Path, name: str, source: str) -> None:
    (folder / f"{name}.py").write_text(source, encoding="utf-8")
    importlib.invalidate_caches()


def plugin(path: str, **options: Any) -> dict[str, Any]:
    return {"kind": "plugin", "path": path, "options": options}


# case: (module source or None, policy (``{mod}``: the module), field after ``policy``, reasons)
LOAD_ERRORS: dict[str, tuple[str | None, Any, str, list[str]]] = {
    "missing module": (
        None,
        "bad_policy_nowhere:Policy",
        "",
        ["cannot import module 'bad_policy_nowhere'", "No module named"],
    ),
    "missing submodule": (
        None,
        "examples.no_such_policy:Policy",
        "",
        ["cannot import module 'examples.no_such_policy'"],
    ),
    "no such class": (GOOD_CLASS, "{mod}:Polcy", "", ["has no class 'Polcy'"]),
    "not a class": ("def Policy():\n    pass\n", "{mod}:Policy", "", ["has no class 'Policy'"]),
    "no select": (
        "class Policy:\n    pass\n",
        "{mod}:Policy",
        "",
        ["does not implement the policy protocol", "select(self, message, candidates, view)"],
    ),
    "select without view": (
        "class Policy:\n    def select(self, message, candidates):\n        return candidates\n",
        plugin("{mod}:Policy"),
        "",
        ["does not implement the policy protocol"],
    ),
    "select not a method": (
        "class Policy:\n    select = 3\n",
        "{mod}:Policy",
        "",
        ["does not implement the policy protocol"],
    ),
    "unknown option": (
        GOOD_CLASS,
        plugin("{mod}:Policy", wieght=2.0),
        "",
        ["cannot construct it with options", "unexpected keyword argument 'wieght'"],
    ),
    "option the class rejects": (
        None,
        plugin(RECENCY, min_days_between=40),
        "",
        ["min_days_between must be a whole number of days from 1 to 28"],
    ),
    "options not a mapping": (
        GOOD_CLASS,
        plugin("{mod}:Policy") | {"options": [2]},
        ".options",
        ["dictionary"],
    ),
    "path without a class": (
        None,
        plugin("examples.recency_policy"),
        ".path",
        ["should match pattern"],
    ),
}


def bad_scenario(folder: Path, case: str, source: str | None, policy: Any) -> Path:
    module = "bad_policy_" + re.sub(r"\W", "_", case)
    if source is not None:
        write_module(folder, module, source)
    policy = yaml.safe_load(yaml.safe_dump(policy).replace("{mod}", module))
    strategies = {
        "daily": {"campaigns": {"news": {"channel": "email", "every_days": 1}}},
        "bad": {"extends": "daily", "policy": policy},
    }
    return write(folder / "scenarios", plugins_data(strategies), "bad.yaml")


def assert_reported(result: Result, scenario: Path, field: str, reasons: list[str]) -> None:
    assert result.exit_code == BAD_INPUT, (result.output, result.exception)
    message = result.stderr
    assert f"{scenario}: strategies.bad.policy{field}: " in message, message
    for reason in reasons:
        assert reason in message, message


@pytest.mark.parametrize("case", LOAD_ERRORS)
def test_a_plugin_that_cannot_be_used_is_reported_with_its_field_path(
    plugin_dir: Path, case: str
) -> None:
    source, policy, field, reasons = LOAD_ERRORS[case]
    scenario = bad_scenario(plugin_dir, case, source, policy)
    # validate checks the form of the path and options only: it never imports the module.
    checked = invoke("validate", scenario)
    if field:
        assert_reported(checked, scenario, field, reasons)
    else:
        assert checked.exit_code == 0, checked.output
        assert not any(name.startswith("bad_policy") for name in sys.modules)
    out = plugin_dir / "results"
    ran = invoke("run", scenario, "--out", out, "--jobs", "1", "--allow-plugins")
    assert_reported(ran, scenario, field, reasons)
    assert not out.exists()


# A plug-in whose module or constructor fails is reported, not a traceback.
CRASHES: dict[str, tuple[str, Any, list[str]]] = {
    "module raises on import": (
        "raise RuntimeError('no database connection')\n",
        "{mod}:Policy",
        ["no database connection"],
    ),
    "module with a syntax error": ("class Policy(:\n", "{mod}:Policy", ["SyntaxError"]),
    "constructor raises another error": (
        "class Policy:\n"
        "    def __init__(self):\n"
        "        raise RuntimeError('model file missing')\n"
        "    def select(self, message, candidates, view):\n"
        "        return candidates\n",
        "{mod}:Policy",
        ["model file missing"],
    ),
}


@pytest.mark.parametrize("case", CRASHES)
def test_a_plugin_that_fails_while_loading_is_reported_with_its_field_path(
    plugin_dir: Path, case: str
) -> None:
    source, policy, reasons = CRASHES[case]
    scenario = bad_scenario(plugin_dir, case, source, policy)
    ran = invoke("run", scenario, "--out", plugin_dir / "results", "--allow-plugins")
    assert_reported(ran, scenario, "", reasons)


# --- a plug-in that misbehaves while running -----------------------------------------------------

OUTSIDERS = """
import numpy as np

class Policy:
    def select(self, message, candidates, view):
        return np.append(candidates, view.n + 5)  # a member who has not even joined
"""


def misbehaving(folder: Path, case: str, source: str) -> Path:
    return bad_scenario(folder, case, source, "{mod}:Policy")


def test_a_policy_returning_non_candidates_stops_the_run(plugin_dir: Path) -> None:
    scenario = misbehaving(plugin_dir, "outsiders", OUTSIDERS)
    with pytest.raises(PolicyError, match="select answered members that were not candidates"):
        run(scenario, jobs=1, allow_plugins=True)


def test_a_policy_returning_non_candidates_is_a_clear_cli_error(plugin_dir: Path) -> None:
    scenario = misbehaving(plugin_dir, "outsiders", OUTSIDERS)
    result = invoke(
        "run", scenario, "--out", plugin_dir / "results", "--jobs", "1", "--allow-plugins"
    )
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code != 0
    assert "not candidates" in result.stderr
    assert "bad" in result.stderr  # the strategy


WRONG_ANSWERS = {
    # A boolean answer must be a mask over the candidates.
    "a boolean mask of the wrong length": "return np.ones(candidates.size + 1, dtype=bool)",
    # Fractions are truncated to other members.
    "fractional indices": "return candidates + 0.5",
    "an unknown channel": "return {'fax': candidates}",
}


@pytest.mark.parametrize("case", WRONG_ANSWERS)
def test_a_malformed_answer_is_a_policy_error(plugin_dir: Path, case: str) -> None:
    source = (
        "import numpy as np\n\nclass Policy:\n    def select(self, message, candidates, view):\n"
        f"        {WRONG_ANSWERS[case]}\n"
    )
    scenario = misbehaving(plugin_dir, case, source)
    with pytest.raises(PolicyError):
        run(scenario, jobs=1, allow_plugins=True)
