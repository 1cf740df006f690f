"""Files that appear whole or not at all: every file the package writes goes through here.

The content goes to a temporary file beside the target (same folder, so the same file system),
is synced to disk and renamed over the target in one step (atomic on POSIX and Windows). On
any failure the temporary file is removed and the target stays as it was. Temporary names are
hidden siblings ``.tmp-NAME-1a2b3c4d`` (``TEMPORARY_GLOB``), so what a killed process left
behind can be recognised and removed.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

TEMPORARY_GLOB = ".tmp-*"


def sibling(path: Path, kind: str = "tmp") -> Path:
    """A fresh hidden name beside ``path``: ``.KIND-NAME-1a2b3c4d``."""
    return path.parent / f".{kind}-{path.name}-{secrets.token_hex(4)}"


def sync(path: Path) -> None:
    """Flush the file at ``path`` to disk."""
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


@contextmanager
def naming(target: Path) -> Iterator[None]:
    """Give an OSError raised in the block without a file name (a writer that does not say
    which file failed, e.g. on a full disk) the ``target`` being written."""
    try:
        yield
    except OSError as exc:
        if exc.filename is None and exc.errno is not None:
            raise OSError(exc.errno, exc.strerror, str(target)) from exc
        raise


@contextmanager
def atomic_files(*paths: Path) -> Iterator[list[Path]]:
    """Temporary paths beside ``paths`` for the block to write. When it ends without error,
    each is synced, then each is renamed over its target in the order given (the last one
    can be the file that refers to the others); on any failure none left is renamed and every
    temporary file is removed."""
    temporaries = [sibling(Path(path)) for path in paths]
    try:
        with naming(Path(paths[0]) if len(paths) == 1 else Path(paths[0]).parent):
            yield temporaries
            for temporary in temporaries:
                sync(temporary)
            for temporary, path in zip(temporaries, paths, strict=True):
                os.replace(temporary, path)
    finally:
        for temporary in temporaries:
            temporary.unlink(missing_ok=True)


@contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` for the block to write, then put in its place."""
    with atomic_files(path) as (temporary,):
        yield temporary


def write_files(contents: Mapping[Path, str | bytes]) -> None:
    """Write every file (text as UTF-8) in full first, then put them in place in the mapping's
    order: a reader never sees half a file, nor the last file without those before it."""
    with atomic_files(*contents) as temporaries:
        for temporary, content in zip(temporaries, contents.values(), strict=True):
            if isinstance(content, bytes):
                temporary.write_bytes(content)
            else:
                temporary.write_text(content, encoding="utf-8")


def write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    write_files({Path(path): text})


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    write_files({Path(path): data})
