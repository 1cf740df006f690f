"""The shipped scenarios, to copy out and start from (``loyaltysim examples``).

They are the repository's ``scenarios/`` folder: the scenario files, the ``parts/`` they
include, ``validation/`` and its README. A wheel ships that folder as package data at
``sim/scenarios`` (setup.cfg maps the one onto the other, so git holds the files once); from a
source checkout or an editable install the package reads the repository's folder itself.

Only reading YAML and copying files: no schema, no simulator, so listing and copying answer at
once. A copy keeps the folder's layout, so every ``include:`` resolves from the new folder as it
does from ``scenarios/``.
"""

from __future__ import annotations

import errno
import re
import shutil
from pathlib import Path

import yaml

from sim.errors import SimInputError
from sim.io.atomic import new_folder
from sim.io.reading import load_yaml

# The files of the shipped folder, by name pattern at any depth (setup.cfg's package data for
# sim.scenarios says the same: **/*.yaml, **/*.md). Hidden files and others are not copied.
SHIPPED_PATTERNS: tuple[str, ...] = ("*.yaml", "*.md")

_PACKAGE = Path(__file__).resolve().parents[1]  # sim/
# In an installed wheel.
PACKAGED = _PACKAGE / "scenarios"
# In a source checkout (an editable install): the folder setup.cfg maps onto PACKAGED.
SOURCE = _PACKAGE.parent / "scenarios"


def scenarios_folder() -> Path:
    """The folder of the shipped scenarios: ``sim/scenarios`` in an installed wheel, the
    repository's ``scenarios/`` in a source checkout. FileNotFoundError if neither is there
    (an installation without its package data)."""
    if PACKAGED.is_dir():
        return PACKAGED
    if SOURCE.is_dir() and (SOURCE.parent / "setup.cfg").is_file():
        return SOURCE
    raise FileNotFoundError(
        errno.ENOENT,
        "the shipped scenarios are missing from this installation; reinstall loyaltysim",
        str(PACKAGED),
    )


def shipped_files() -> list[Path]:
    """The files of the shipped scenarios, relative to their folder, sorted: the README
    first, then the scenarios, then the folders (``parts/``, ``validation/``)."""
    folder = scenarios_folder()
    found = {
        path.relative_to(folder)
        for pattern in SHIPPED_PATTERNS
        for path in folder.rglob(pattern)
        if path.is_file()
    }
    found = {path for path in found if not any(part.startswith(".") for part in path.parts)}
    return sorted(found, key=lambda p: (len(p.parts), p.suffix != ".md", p.as_posix()))


def list_examples() -> dict[str, str]:
    """Each shipped YAML file (its path in the folder, e.g. ``"nordic_retail.yaml"`` or
    ``"parts/priors.yaml"``) with its description on one line: the scenario's
    ``description:`` field, else the first sentence of the file's opening comment."""
    folder = scenarios_folder()
    return {
        path.as_posix(): describe((folder / path).read_text(encoding="utf-8"))
        for path in shipped_files()
        if path.suffix == ".yaml"
    }


def describe(text: str) -> str:
    """One line about a scenario file's ``text``: its ``description:`` field (whitespace made
    single spaces), else the first sentence of its opening comment (the editor's
    ``# yaml-language-server:`` line skipped); "" if it has neither."""
    try:
        data = load_yaml(text)
    except yaml.YAMLError:  # a file that does not parse still has its comment
        data = None
    description = data.get("description") if isinstance(data, dict) else None
    if isinstance(description, str) and description.strip():
        return " ".join(description.split())
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            if lines or line.strip():
                break
            continue
        line = line.lstrip("#").strip()
        if line.startswith("yaml-language-server:"):
            continue
        if not line and lines:
            break
        lines.append(line)
    comment = " ".join(" ".join(lines).split())
    first = re.match(r".+?[.?!](?=\s|$)", comment)
    return first.group(0) if first else comment


def copy_examples(dest: str | Path) -> list[Path]:
    """Copy the shipped scenarios into the new folder ``dest`` and return the paths written
    (``dest / name``, in the order of ``shipped_files``).

    ``dest`` must not exist, or be an empty folder, and its parent must exist; otherwise
    SimInputError naming it, and nothing is written: a file is never replaced. The files are
    copied into a hidden folder beside ``dest`` that is renamed to ``dest`` once every file is
    whole (sim.io.atomic.new_folder), so an interrupted copy leaves no ``dest``, not half of
    one. The copy keeps the layout, so ``include: parts/...`` resolves from ``dest``."""
    target = Path(dest)
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise SimInputError(f"{dest} exists and is not a folder: give a new folder's name")
    if target.is_dir() and any(target.iterdir()):
        raise SimInputError(
            f"{dest} exists and is not empty: give a new folder's name "
            "(examples never writes into a folder that holds files)"
        )
    if not target.absolute().parent.is_dir():
        raise SimInputError(f"{target.absolute().parent}: no such folder")
    folder = scenarios_folder()
    files = shipped_files()
    with new_folder(target) as staging:
        for name in files:
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(folder / name, staging / name)
    return [target / name for name in files]
