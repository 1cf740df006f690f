"""Files that appear whole or not at all: every file the package writes goes through here.

The content goes to a temporary file beside the target (same folder, so the same file system),
is synced to disk and renamed over the target in one step (atomic on POSIX and Windows). On
any failure the temporary file is removed and the target stays as it was. Temporary names are
hidden siblings ``.tmp-NAME-1a2b3c4d`` (``TEMPORARY_GLOB``), so what a killed process left
behind can be recognised and removed. A new folder is made the same way (``new_folder``): filled
beside its place, then renamed into it whole.
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
from collections.abc import Callable, Iterator, Mapping
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


@contextmanager
def staged_folder(path: Path, place: Callable[[Path, Path], None]) -> Iterator[Path]:
    """A staging folder beside ``path`` (``.tmp-NAME-1a2b3c4d``) for the block to fill. When
    the block ends without error every file in it is synced and ``place(staging, path)`` puts
    it where it belongs; on any failure the staging folder is removed and ``path`` stays as it
    was, so a reader sees the whole folder or none. The caller holds ``naming(path)``."""
    staging = sibling(path)
    staging.mkdir()
    try:
        yield staging
        for file in sorted(staging.rglob("*")):
            if file.is_file():
                sync(file)
        place(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


@contextmanager
def new_folder(path: Path) -> Iterator[Path]:
    """``staged_folder`` renamed to ``path``, which must then be missing or an empty folder:
    nothing already there is ever replaced or merged into (FileExistsError naming ``path``)."""
    path = Path(path)
    with naming(path), staged_folder(path, _rename_to_new) as staging:
        yield staging


def _rename_to_new(staging: Path, path: Path) -> None:
    """Rename ``staging`` to ``path`` if that is missing or an empty folder (a POSIX rename
    replaces an empty folder and refuses any other; Windows refuses any existing name, so
    there an empty folder is removed first)."""
    try:
        os.rename(staging, path)
        return
    except OSError:
        empty = path.is_dir() and not path.is_symlink() and not any(path.iterdir())
        if not empty:
            if path.exists() or path.is_symlink():
                reason = "exists and is not an empty folder; nothing was written"
                raise FileExistsError(errno.EEXIST, reason, str(path)) from None
            raise
    path.rmdir()
    os.rename(staging, path)
