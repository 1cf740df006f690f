"""An output folder held by one run at a time, and what killed runs left beside it.

A run (or sweep) locks its output folder for as long as it computes and writes: a lock file
``.NAME.lock`` beside the folder, held through ``filelock`` (an OS lock, released by the
operating system when the process dies, even by ``kill -9``). A second run into the same folder
is refused at once with exit 2, instead of both computing and one result silently replacing the
other. The lock file itself stays (removing it while another process opens it would let two
runs hold two different locks).

Holding the lock, a run cleans what dead runs into the same folder left (no live run can own
them): hidden staging folders ``.tmp-NAME-*`` are removed, and a set-aside copy ``.old-NAME-*``
is put back if the folder itself is missing (the run died between its two renames) or else
removed.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from sim.errors import SimInputError


class TargetBusyError(SimInputError):
    """Another live run is writing into the same output folder."""


# Folders this process holds (a run holds its folder, then saves into it).
_HELD: set[Path] = set()


def lock_path(out_dir: Path) -> Path:
    return out_dir.parent / f".{out_dir.name}.lock"


@contextmanager
def exclusive(out_dir: Path) -> Iterator[None]:
    """Hold ``out_dir`` for the block, or raise TargetBusyError naming it; leftovers of dead
    runs into it are cleaned first. Reentrant within a process."""
    out_dir = Path(out_dir).absolute()
    if out_dir in _HELD:
        yield
        return
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(lock_path(out_dir), timeout=0)
        lock.acquire()
    except Timeout:
        raise TargetBusyError(
            f"{out_dir}: another run is writing into this folder; wait for it to finish "
            "or choose another --out"
        ) from None
    _HELD.add(out_dir)
    try:
        clean_leftovers(out_dir)
        yield
    finally:
        _HELD.discard(out_dir)
        lock.release()


def clean_leftovers(out_dir: Path) -> None:
    """Remove the staging folders of dead runs into ``out_dir``; put back its previous
    content if a run died after setting it aside (call only while holding the lock)."""
    for old in _siblings(out_dir, "old"):
        if not out_dir.exists():
            old.rename(out_dir)
        else:
            shutil.rmtree(old, ignore_errors=True)
    for staging in _siblings(out_dir, "tmp"):
        if staging.is_dir():
            shutil.rmtree(staging, ignore_errors=True)
        else:
            staging.unlink(missing_ok=True)


def _siblings(out_dir: Path, kind: str) -> list[Path]:
    """The hidden siblings ``.KIND-NAME-1a2b3c4d`` of ``out_dir`` (sim.io.atomic.sibling),
    exactly: not those of a folder whose name merely starts with NAME."""
    pattern = re.compile(rf"\.{kind}-{re.escape(out_dir.name)}-[0-9a-f]{{8}}")
    if not out_dir.parent.is_dir():
        return []
    return sorted(p for p in out_dir.parent.iterdir() if pattern.fullmatch(p.name))
