"""The one deep merge of YAML data: a scenario's ``include:`` and a strategy's ``extends:``."""

from __future__ import annotations

import copy
from typing import Any


def deep_merge(base: dict[str, Any], override: dict[str, Any], *, null_removes: bool) -> dict:
    """``base`` with ``override``'s keys on top: mappings present in both merge key by key,
    recursively, and any other value in ``override`` replaces the base's. The result shares
    nothing with either argument.

    ``null_removes`` says what ``key: null`` in ``override`` means. True (``extends:``, see
    docs/strategies.md): drop the inherited key, so ``promo: null`` removes the parent's
    campaign and ``policy: null`` falls back to the default. False (``include:``): null is a
    value like any other, so ``email: {reputation: null}`` beside an include turns reputation
    off, where dropping the key would bring back the default model (docs/model.md).
    """
    merged = copy.deepcopy(base)
    _merge_into(merged, override, null_removes)
    return merged


def _merge_into(merged: dict[str, Any], override: dict[str, Any], null_removes: bool) -> None:
    for key, value in override.items():
        if value is None and null_removes:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            _merge_into(merged[key], value, null_removes)
        else:
            merged[key] = copy.deepcopy(value)
