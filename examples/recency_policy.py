"""An example policy plug-in: market only to members who engaged recently.

Copy this file, change ``select`` and name your class in a scenario (see examples/README.md):

    strategies:
      recent_openers:
        policy:
          kind: plugin
          path: examples.recency_policy:RecencyPolicy
          options: {max_days_since_open: 45, min_days_between: 2}
        campaigns:
          news: {channel: email, every_days: 1}

The simulator imports ``examples.recency_policy`` (from the Python path or the directory you
run ``loyaltysim`` in) and constructs ``RecencyPolicy(**options)`` once when it validates the
scenario and again for every replication, so each replication starts from a fresh object.

At every send of a marketing message of the strategy, the simulator calls
``select(message, candidates, view)`` with the members the message could reach: its audience,
reachable on at least one channel, minus the control group and sunset. ``select`` returns a
subset of ``candidates``: an array of member indices for the message's own channel, or a
mapping ``{channel: indices}`` to move some members to another channel. The contact rules
(quiet hours, cooldowns, caps) apply to what it returns; transactional and service messages
never reach a policy.

A policy reads members only through the ``View`` (sim.strategies.observe): what a marketer's
platform shows (sends, opens and clicks of the last 28 days, opt-outs, the last open,
purchases, points, segment, tier), never the latent fatigue or satisfaction.
"""

from __future__ import annotations

import numpy as np

from sim.strategies.observe import WINDOW_DAYS, View
from sim.strategies.policy import Outgoing, Selection

# Message kinds this policy leaves alone: a re-permission message (sunset) exists to reach
# members who stopped opening, so filtering it by recency would defeat it.
PASS_THROUGH_KINDS: frozenset[str] = frozenset({"re_permission"})


class RecencyPolicy:
    """Send a message only to members who opened or clicked something within
    ``max_days_since_open`` days and who got nothing from this strategy in the last
    ``min_days_between`` days; optionally move email ignorers to push.

    Options (keyword arguments, from the scenario's ``options``):

    - ``max_days_since_open``: days since the member's last open or click (of any channel),
      counted from joining for members who have not opened anything yet, as the run has no
      history before day 0. Members over the limit are skipped.
    - ``min_days_between``: calendar days, today included, on which the member must have had
      no message from this strategy (any channel, any kind): 1 means nothing yet today, 2
      nothing today or yesterday. At most 28, the window the platform keeps.
    - ``push_after_unopened_emails``: if set, an email goes by push instead to members who
      got at least this many emails in the last 28 days, opened none of them, and are
      reachable by push. None (the default) never changes the channel.
    """

    def __init__(
        self,
        max_days_since_open: int = 60,
        min_days_between: int = 2,
        push_after_unopened_emails: int | None = None,
    ) -> None:
        # A ValueError here is reported by ``loyaltysim validate`` at strategies.NAME.policy.
        if not _is_int(max_days_since_open) or max_days_since_open < 1:
            raise ValueError(
                "max_days_since_open must be a whole number of days >= 1, "
                f"not {max_days_since_open!r}"
            )
        if not _is_int(min_days_between) or not 1 <= min_days_between <= WINDOW_DAYS:
            raise ValueError(
                "min_days_between must be a whole number of days from 1 to "
                f"{WINDOW_DAYS}, not {min_days_between!r}"
            )
        if push_after_unopened_emails is not None and (
            not _is_int(push_after_unopened_emails) or push_after_unopened_emails < 1
        ):
            raise ValueError(
                "push_after_unopened_emails must be None or a whole number "
                f">= 1, not {push_after_unopened_emails!r}"
            )
        self.max_days_since_open = max_days_since_open
        self.min_days_between = min_days_between
        self.push_after_unopened_emails = push_after_unopened_emails

    def select(self, message: Outgoing, candidates: np.ndarray, view: View) -> Selection:
        """Members of ``candidates`` to send ``message`` to (sorted indices), or by channel."""
        if message.message.kind in PASS_THROUGH_KINDS:
            return candidates
        # Days since the last open or click; members who never opened count from joining.
        engaged = np.maximum(view.last_open(candidates), view.joined(candidates))
        recent = view.t - engaged <= self.max_days_since_open
        # Nothing from this strategy on the last min_days_between calendar days.
        rested = view.sends(candidates, days=self.min_days_between) == 0
        chosen = np.compress(recent & rested, candidates)

        if self.push_after_unopened_emails is None or message.message.channel != "email":
            return chosen  # on the message's own channel
        ignores_email = (
            (view.sends(chosen, "email") >= self.push_after_unopened_emails)
            & (view.opens(chosen, "email") == 0)
            & view.reachable("push", chosen)
        )
        return {
            "email": np.compress(~ignores_email, chosen),
            "push": np.compress(ignores_email, chosen),
        }


def _is_int(value: object) -> bool:
    """An int, and not a bool (YAML reads ``yes`` as True)."""
    return isinstance(value, int) and not isinstance(value, bool)
