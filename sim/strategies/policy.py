"""Policies: who gets a message and on which channel, decided from what a marketer observes.

A policy is any object with ``select(message, candidates, view)``. It is asked at every send
with the members the message would reach (its audience, reachable, not suppressed) and
returns a subset of them: an index array for the message's own channel, or a mapping of
channel name to index array to move members to other channels. The contact rules apply after
it. A scenario names a built-in (``adaptive``, ``engagement_channel``, ``oracle``) or a
plug-in, ``package.module:ClassName``, constructed with the scenario's ``options``.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from sim.errors import SimInputError
from sim.spec.fields import CHANNELS
from sim.spec.policies import AdaptivePolicy, ChannelChoicePolicy, OraclePolicy, PluginPolicy
from sim.spec.policies import Policy as PolicySpec
from sim.spec.strategy import Message
from sim.strategies.observe import LatentView, View

Selection = np.ndarray | dict[str, np.ndarray]


@dataclass(frozen=True)
class Outgoing:
    """The message a policy is asked about."""

    name: str  # the campaign's or journey's name
    message: Message
    day: int


@runtime_checkable
class Policy(Protocol):
    """The interface of a policy plug-in."""

    def select(self, message: Outgoing, candidates: np.ndarray, view: View) -> Selection:
        """Members (indices, a subset of ``candidates``) to send ``message`` to: an array for
        the message's channel, or ``{channel: indices}``."""
        ...


@runtime_checkable
class PersonalCaps(Protocol):
    """A policy that sets each member's own cap under the strategy's ``all`` cap.

    ``limit[i]`` is member i's cap in messages per the ``all`` cap's window. The policy owns
    the array and changes it in place (in ``select``); the contact rules read the same array
    at every send (``ContactRules.use_personal_caps``), so a change applies from the next
    send on. A caps.all cap is needed: the lower of the two applies."""

    limit: np.ndarray


class PolicyError(SimInputError):
    """A plug-in that cannot be loaded, does not implement the protocol or answers wrongly."""


def load_plugin(spec: PluginPolicy) -> Policy:
    """Import ``module:Class`` (also from the working directory) and construct it.

    Only a class defined in the named module, outside Python's standard library and this
    package, whose ``select(message, candidates, view)`` is checked on the class before
    anything is constructed: a scenario cannot name ``subprocess:Popen`` or a module's
    re-export of it. Whether plug-ins may load at all is the caller's decision
    (``sim.strategies.compiled.compile_strategies``)."""
    module_name, _, class_name = spec.path.partition(":")
    package = module_name.partition(".")[0]
    if package in sys.stdlib_module_names or package in ("sim", "__main__"):
        raise PolicyError(
            f"module {module_name!r} is part of Python or loyaltysim: a plug-in policy "
            "is a class in a module of your own"
        )
    cwd = os.getcwd()
    added = cwd not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise PolicyError(f"cannot import module {module_name!r}: {exc}") from None
    except Exception as exc:  # the module itself fails: say so rather than crash
        raise PolicyError(
            f"importing module {module_name!r} failed: {type(exc).__name__}: {exc}"
        ) from None
    finally:
        if added:
            sys.path.remove(cwd)
    cls = getattr(module, class_name, None)
    if not inspect.isclass(cls) or cls.__module__ != module.__name__:
        raise PolicyError(f"module {module_name!r} has no class {class_name!r} of its own")
    select = inspect.getattr_static(cls, "select", None)
    try:
        if not inspect.isfunction(select):
            raise TypeError
        inspect.signature(select).bind("self", "message", "candidates", "view")
    except (TypeError, ValueError):
        raise PolicyError(
            f"{spec.path} does not implement the policy protocol: it needs a method "
            "select(self, message, candidates, view) (see docs/strategies.md)"
        ) from None
    try:
        return cls(**spec.options)
    except Exception as exc:
        raise PolicyError(
            f"{spec.path}: cannot construct it with options {spec.options}: "
            f"{type(exc).__name__}: {exc}"
        ) from None


def build_policy(spec: PolicySpec | None, n_members: int) -> Policy | None:
    if spec is None:
        return None
    if isinstance(spec, AdaptivePolicy):
        return Adaptive(spec, n_members)
    if isinstance(spec, ChannelChoicePolicy):
        return ChannelChoice(spec)
    if isinstance(spec, OraclePolicy):
        return Oracle(spec)
    return load_plugin(spec)


def selected(
    selection: Selection, message: Message, candidates: np.ndarray
) -> dict[str, np.ndarray]:
    """A policy's answer as {channel: sorted unique members}, checked against the candidates.
    An answer is member indices, a boolean mask over the candidates, or a mapping of channel
    names to either."""
    if not isinstance(selection, dict):
        selection = {message.channel: selection}
    out = {}
    for channel, answer in selection.items():
        if channel not in CHANNELS:
            raise PolicyError(f"select answered an unknown channel {channel!r} (not {CHANNELS})")
        idx = np.asarray(answer) if answer is not None else None
        if idx is None or idx.ndim != 1:
            raise PolicyError(f"select must answer a 1-d array of members, not {answer!r:.60}")
        if idx.dtype == bool:
            if idx.size != candidates.size:
                raise PolicyError("a boolean answer must be a mask over the candidates")
            idx = np.compress(idx, candidates)
        elif idx.size and not np.issubdtype(idx.dtype, np.integer):
            raise PolicyError(f"select must answer member indices (integers), not {idx.dtype}")
        idx = np.unique(idx.astype(np.int64))
        if idx.size and not np.isin(idx, candidates).all():
            raise PolicyError(f"select answered members that were not candidates ({channel})")
        out[channel] = idx
    return out


class Adaptive:
    """Saturation classes (Salesforce Einstein Engagement Frequency): once a week, each member
    sent anything in the last 28 days is classed by their opens against the opens the
    strategy's own rate per channel predicts for their sends: saturated (below
    ``saturated_below`` x without a click, or opted out of a channel) moves their personal cap
    under the strategy's ``all`` cap down one, undersaturated (above ``undersaturated_above`` x)
    up one. It is a ``PersonalCaps`` policy: the contact rules apply ``limit``."""

    def __init__(self, spec: AdaptivePolicy, n_members: int) -> None:
        self.spec = spec
        self.limit = np.full(n_members, spec.start_per_week, dtype=np.int16)
        self.week = 0

    def _reclass(self, view: View) -> None:
        everyone = np.arange(view.n)
        # Opens against what the strategy's own open rate on each channel predicts for the
        # member's sends: an SMS is read far more often than an email is opened, so raw
        # opens per send would class the members who get SMS as engaged.
        expected = np.zeros(everyone.size)
        opens = np.zeros(everyone.size)
        for channel in CHANNELS:
            rate = view.open_rate(channel)
            if not np.isnan(rate):
                expected += rate * view.sends(everyone, channel)
                opens += view.opens(everyone, channel)
        seen = expected > 0
        if not seen.any():
            return
        ratio = np.divide(opens, expected, out=np.zeros(everyone.size), where=seen)
        # A click is engagement whatever the opens say; an opt-out is saturation regardless.
        clicked = view.clicks(everyone) > 0
        low = (ratio < self.spec.saturated_below) & ~clicked
        saturated = seen & (low | view.opted_out_within(everyone, 28))
        under = seen & ~saturated & (ratio > self.spec.undersaturated_above)
        limit = self.limit[: view.n]
        limit += under.astype(np.int16) - saturated.astype(np.int16)
        np.clip(limit, self.spec.min_per_week, self.spec.max_per_week, out=limit)

    def select(self, message: Outgoing, candidates: np.ndarray, view: View) -> Selection:
        week = message.day // 7
        if week > self.week:
            self.week = week
            self._reclass(view)
        return candidates


class ChannelChoice:
    """Each member gets the message on the reachable channel (of ``channels``) they have
    opened most over 28 days: opens per send, smoothed towards the strategy's own rate."""

    def __init__(self, spec: ChannelChoicePolicy) -> None:
        self.spec = spec

    def select(self, message: Outgoing, candidates: np.ndarray, view: View) -> Selection:
        channels = self.spec.channels
        k = self.spec.prior_sends
        score = np.full((len(channels), candidates.size), -np.inf)
        for i, channel in enumerate(channels):
            prior = view.open_rate(channel)
            prior = 0.0 if np.isnan(prior) else prior
            rate = (view.opens(candidates, channel) + k * prior) / (
                view.sends(candidates, channel) + k
            )
            score[i] = np.where(view.reachable(channel, candidates), rate, -np.inf)
        best = score.argmax(axis=0)
        # Members reachable on none of them stay on the message's own channel.
        best_ok = np.isfinite(score.max(axis=0))
        out = {c: np.compress(best_ok & (best == i), candidates) for i, c in enumerate(channels)}
        own = np.compress(~best_ok, candidates)
        out[message.message.channel] = np.union1d(out.get(message.message.channel, own), own)
        return out


class Oracle:
    """Sends only while the message keeps the member's pressure within ``headroom`` times
    their tolerance. It reads latent state: an upper bound, not a policy anyone can run."""

    def __init__(self, spec: OraclePolicy) -> None:
        self.spec = spec

    def select(self, message: Outgoing, candidates: np.ndarray, view: View) -> Selection:
        assert isinstance(view, LatentView)
        after = view.pressure(candidates) + view.message_pressure(candidates)
        return np.compress(after <= self.spec.headroom * view.tolerance(candidates), candidates)
