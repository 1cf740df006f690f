"""The shipped scenarios as package data: the wheel holds the repository's scenarios/ as
sim/scenarios, ``loyaltysim examples DEST`` copies them into a new folder (whole or not at
all, never over anything) where they validate and their includes resolve, and ``--list`` says
what each is."""

from __future__ import annotations

import configparser
import errno
import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from builders import invoke

import sim
from sim.io import atomic, examples
from sim.io.examples import SHIPPED_PATTERNS, copy_examples, list_examples, shipped_files

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
BAD_INPUT = 2


def tracked_scenarios() -> set[str]:
    """The files of scenarios/ that git tracks (relative to scenarios/), or, without git or
    outside a checkout, those the shipped patterns name in the folder."""
    try:
        done = subprocess.run(
            ["git", "ls-files", "-z", "scenarios"],
            cwd=ROOT,
            capture_output=True,
            timeout=60,
            check=True,
        )
        names = {n.removeprefix("scenarios/") for n in done.stdout.decode().split("\0") if n}
    except (OSError, subprocess.SubprocessError):
        names = set()
    if not names:
        names = {
            p.relative_to(SCENARIOS).as_posix()
            for pattern in SHIPPED_PATTERNS
            for p in SCENARIOS.rglob(pattern)
        }
    return names


def files_below(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# --- packaging -----------------------------------------------------------------------------------


def test_setup_cfg_lists_every_package_and_maps_the_scenarios() -> None:
    """setup.cfg lists the packages (find: cannot add sim.scenarios from another folder), so
    a new subpackage of sim must be added there: this names the one missing."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    listed = set(config["options"]["packages"].split())
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "sim").rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    assert listed == found | {"sim.scenarios"}, (
        f"setup.cfg [options] packages: add {sorted(found - listed)}, "
        f"remove {sorted(listed - found - {'sim.scenarios'})}"
    )
    package_dir = dict(
        line.replace(" ", "").split("=")
        for line in config["options"]["package_dir"].strip().splitlines()
    )
    assert package_dir == {"sim.scenarios": "scenarios"}
    assert not (ROOT / "sim" / "scenarios").exists()  # one copy in git: scenarios/ only


def test_a_checkout_reads_the_repositorys_scenarios() -> None:
    assert examples.scenarios_folder() == SCENARIOS
    shipped = {p.as_posix() for p in shipped_files()}
    assert tracked_scenarios() <= shipped
    assert shipped_files()[0] == Path("README.md")
    assert {"parts/priors.yaml", "validation/email_frequency.yaml"} <= shipped


def _can_build_offline() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("setuptools", "wheel"))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built without build isolation (offline) from a copy of the working tree, so
    that the repository gets no build/ or egg-info and concurrent builds do not meet."""
    if not _can_build_offline():
        pytest.skip("building the wheel offline needs setuptools and wheel (the test extra)")
    source = tmp_path_factory.mktemp("source")
    for name in ("setup.cfg", "pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, source / name)
    junk = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")
    for folder in ("sim", "scenarios"):
        shutil.copytree(ROOT / folder, source / folder, ignore=junk)
    out = tmp_path_factory.mktemp("wheel")
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
    done = subprocess.run(
        [
            *(sys.executable, "-m", "pip", "wheel", str(source), "--no-deps"),
            *("--no-build-isolation", "--no-index", "-q", "-w", str(out)),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (built,) = out.glob("loyaltysim-*.whl")
    return built


def test_the_wheel_holds_the_scenarios_templates_and_every_module(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = {f"sim/scenarios/{n}" for n in tracked_scenarios()} - names
    assert not missing, f"not in the wheel: {sorted(missing)}"
    for folder in ("templates", "presets"):
        shipped = {f"sim/io/{folder}/{p.name}" for p in (ROOT / "sim/io" / folder).glob("*.yaml")}
        assert shipped and shipped <= names, folder
    assert {"sim/io/priors.yaml", "sim/py.typed"} <= names
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "sim").rglob("*.py")}
    assert modules <= names, f"modules not in the wheel: {sorted(modules - names)}"
    tops = {n.split("/")[0] for n in names}
    assert tops == {"sim", wheel.name.split("-py3")[0] + ".dist-info"}, tops


def test_the_installed_wheel_copies_its_own_scenarios(wheel: Path, tmp_path: Path) -> None:
    """From the unpacked wheel (on sys.path before the editable install), the scenarios come
    from sim/scenarios, and a copy of them validates."""
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    probe = (
        "import sys\n"
        f"sys.path.insert(0, {str(site)!r})\n"
        "import sim\n"
        "from sim.io.examples import scenarios_folder\n"
        f"assert sim.__file__.startswith({str(site)!r}), sim.__file__\n"
        "print(scenarios_folder())\n"
        f"sim.copy_examples({str(tmp_path / 'mine')!r})\n"
        f"print(sim.load_scenario({str(tmp_path / 'mine' / 'nordic_retail.yaml')!r}).name)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(site / "sim" / "scenarios"), "nordic_retail"]
    assert files_below(tmp_path / "mine") == files_below(site / "sim" / "scenarios")


# --- loyaltysim examples DEST --------------------------------------------------------------------


def test_examples_copies_the_scenarios_and_they_validate_from_there(tmp_path: Path) -> None:
    dest = tmp_path / "mine"
    result = invoke("examples", dest)
    assert result.exit_code == 0, result.output
    copied = files_below(dest)
    assert set(copied) == {p.as_posix() for p in shipped_files()} >= tracked_scenarios()
    assert all(copied[n] == (SCENARIOS / n).read_bytes() for n in copied)
    assert f"{dest}/validation/email_frequency.yaml" in result.output
    assert f"loyaltysim validate {dest}/nordic_retail.yaml" in result.output
    assert f"loyaltysim run {dest}/nordic_retail.yaml" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]  # no staging left
    # Every scenario loads from the copy, its includes (parts/, ../parts/) resolved there.
    for name in copied:
        if name.endswith(".yaml") and not name.startswith("parts/"):
            assert sim.load_scenario(dest / name).name, name
    checked = invoke("validate", dest / "validation" / "email_frequency.yaml")
    assert checked.exit_code == 0, checked.output
    assert "valid." in checked.output
    # ... from the copy, not from the repository: without the copy's parts/ it fails.
    shutil.rmtree(dest / "parts")
    broken = invoke("validate", dest / "nordic_retail.yaml")
    assert broken.exit_code == BAD_INPUT
    assert f"{dest}/nordic_retail.yaml: uncertain.include: parts/priors.yaml: file not found" in (
        broken.stderr
    )


def test_examples_fills_an_empty_folder_and_the_api_returns_the_files(tmp_path: Path) -> None:
    dest = tmp_path / "empty"
    dest.mkdir()
    written = copy_examples(dest)
    assert written == [dest / p for p in shipped_files()]
    assert all(p.is_file() for p in written)
    assert sim.copy_examples is copy_examples and sim.list_examples is list_examples


@pytest.mark.parametrize("kind", ["folder with a file", "file", "no parent"])
def test_examples_never_writes_over_anything(kind: str, tmp_path: Path) -> None:
    dest = tmp_path / "mine"
    if kind == "folder with a file":
        dest.mkdir()
        (dest / "notes.txt").write_text("my own work\n")
    elif kind == "file":
        dest.write_text("my own work\n")
    else:
        dest = tmp_path / "missing" / "mine"
    before = files_below(tmp_path)
    result = invoke("examples", dest)
    assert result.exit_code == BAD_INPUT
    named = dest.parent if kind == "no parent" else dest
    assert result.stderr.startswith("error: ") and str(named) in result.stderr
    assert files_below(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["mine"] if kind != "no parent" else []
    )


def test_an_interrupted_copy_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = shutil.copyfile
    copies = []

    def full_disk(source: Path, target: Path) -> None:
        if len(copies) == 5:
            raise OSError(errno.ENOSPC, "No space left on device")
        copies.append(target)
        real(source, target)

    monkeypatch.setattr(examples.shutil, "copyfile", full_disk)
    result = invoke("examples", tmp_path / "mine")
    assert result.exit_code == BAD_INPUT
    assert "No space left on device" in result.stderr and "mine" in result.stderr
    assert list(tmp_path.iterdir()) == []  # neither DEST nor its staging folder

    def interrupted(source: Path, target: Path) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(examples.shutil, "copyfile", interrupted)
    with pytest.raises(KeyboardInterrupt):
        copy_examples(tmp_path / "mine")
    assert list(tmp_path.iterdir()) == []


def test_a_new_folder_never_replaces_one_that_appeared_meanwhile(tmp_path: Path) -> None:
    dest = tmp_path / "mine"
    with pytest.raises(FileExistsError) as raised, atomic.new_folder(dest) as staging:
        (staging / "a.yaml").write_text("x: 1\n")
        dest.mkdir()
        (dest / "theirs.txt").write_text("theirs\n")
    assert raised.value.filename == str(dest)
    assert files_below(tmp_path) == {"mine/theirs.txt": b"theirs\n"}


# --- loyaltysim examples --list ------------------------------------------------------------------


@pytest.mark.parametrize("argv", [["--list"], []], ids=["--list", "bare"])
def test_examples_lists_each_file_with_its_description(argv: list[str]) -> None:
    result = invoke("examples", *argv)
    assert result.exit_code == 0, result.output
    found = list_examples()
    assert set(found) == {p.as_posix() for p in shipped_files() if p.suffix == ".yaml"}
    assert all(found.values()), [n for n, d in found.items() if not d]
    lines = result.output.splitlines()
    assert "loyaltysim examples DEST" in lines[0]
    for name, description in found.items():
        assert any(line.split()[:1] == [name] and description in line for line in lines), name
    assert found["nordic_retail.yaml"].startswith("Grocery loyalty program")  # description:
    assert found["parts/priors.yaml"].startswith("Priors of the model's")  # first comment


def test_examples_wants_dest_or_list_not_both(tmp_path: Path) -> None:
    result = invoke("examples", tmp_path / "mine", "--list")
    assert result.exit_code == BAD_INPUT and "not both" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_examples_imports_neither_the_schema_nor_the_simulator(tmp_path: Path) -> None:
    probe = (
        "import sys\nfrom sim.cli.main import main\n"
        "for argv in (['examples', '--list'], ['examples', sys.argv[1]]):\n"
        "    try:\n        main(argv)\n    except SystemExit as end:\n"
        "        assert end.code == 0, end.code\n"
        "print(*sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(tmp_path / "mine")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    imported = set(done.stdout.splitlines()[-1].split())
    unneeded = {"numpy", "pandas", "scipy", "matplotlib", "simpy", "numba", "pydantic"}
    assert not unneeded & imported
    assert not {m for m in imported if m.startswith(("sim.spec", "sim.api", "sim.engine"))}
