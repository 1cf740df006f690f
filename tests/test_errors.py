"""sim.errors.choices_hint: the one way an unknown name is followed by the valid ones."""

from __future__ import annotations

from sim.errors import choices_hint


def test_lists_the_choices_and_guesses_the_nearest() -> None:
    assert (
        choices_hint("sise", ["seed", "size"], "allowed")
        == " (allowed: seed, size); did you mean 'size'?"
    )


def test_without_a_label_only_the_guess_and_without_a_close_one_only_the_list() -> None:
    assert choices_hint("revnue", ["revenue", "sends"]) == "; did you mean 'revenue'?"
    assert choices_hint("zzz", ["revenue", "sends"]) == ""
    assert choices_hint("zzz", ["a b", "c"], "columns", quote=True) == " (columns: 'a b', 'c')"


def test_nothing_to_say_without_choices() -> None:
    assert choices_hint("x", [], "allowed") == ""
