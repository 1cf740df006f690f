"""sim.io.atomic: every file the package writes appears whole or not at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.io import atomic


def test_files_are_replaced_in_order_and_no_temporary_is_left(tmp_path: Path) -> None:
    first, last = tmp_path / "figure.png", tmp_path / "page.html"
    first.write_bytes(b"old")
    atomic.write_files({first: b"new", last: "text \u00e9\n"})
    assert first.read_bytes() == b"new"
    assert last.read_text(encoding="utf-8") == "text \u00e9\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["figure.png", "page.html"]


def test_a_failure_leaves_the_target_as_it_was(tmp_path: Path) -> None:
    target = tmp_path / "data.csv"
    target.write_text("old\n", encoding="utf-8")
    with pytest.raises(RuntimeError), atomic.atomic_file(target) as temporary:
        temporary.write_text("half a fi", encoding="utf-8")
        raise RuntimeError("killed")
    assert target.read_text(encoding="utf-8") == "old\n"
    assert list(tmp_path.iterdir()) == [target]


def test_a_failed_rename_puts_none_of_the_later_files_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = atomic.os.replace

    def failing(src: Path, dst: Path) -> None:
        if Path(dst).name == "b":
            raise OSError(28, "No space left on device")
        real(src, dst)

    monkeypatch.setattr(atomic.os, "replace", failing)
    with pytest.raises(OSError):
        atomic.write_files({tmp_path / "a": "a", tmp_path / "b": "b", tmp_path / "c": "c"})
    assert [p.name for p in tmp_path.iterdir()] == ["a"]


def test_temporary_names_are_hidden_siblings(tmp_path: Path) -> None:
    name = atomic.sibling(tmp_path / "run")
    assert name.parent == tmp_path and name.match(atomic.TEMPORARY_GLOB)
    assert name != atomic.sibling(tmp_path / "run")
