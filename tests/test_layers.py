"""The package's layers import one way only (docs/architecture.md).

A module may import from its own package and from packages of a lower layer, never from a
higher layer or a peer on the same layer. The table below is the one statement of the layers.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "sim"

# package -> layer. Lower layers know nothing of higher ones; peers do not import each other.
LAYERS: dict[str, int] = {
    "errors": 0,  # the exception types every layer raises
    "model": 1,  # maths on numbers and arrays
    "spec": 2,  # the pydantic schema and the KPI registry
    "io": 3,  # files: YAML, results folders, manifests
    "world": 3,  # one replication's members and state
    "strategies": 4,  # strategies compiled once: plans, rules, audiences, journeys, policies
    "engine": 5,  # scheduling
    "analysis": 6,
    "calibration": 6,
    "fitting": 6,  # engagement logs -> behaviour estimates
    "report": 7,
    "sweeps": 7,
    "api": 8,
    "__init__": 9,  # the package's face: sim.run, sim.load_scenario, ...
    "cli": 10,
    "__main__": 11,
}


def _package(module: str) -> str:
    """'sim.engine.daily' -> 'engine'; 'sim' -> '__init__'."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path) -> set[str]:
    """Modules of sim that ``path`` imports (absolute names), from its syntax tree."""
    module = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    if path.name == "__init__.py":
        package = module.removesuffix(".__init__")
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            found.add(name)
            # "from sim import api" imports the module sim.api
            found.update(f"{name}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "sim" or name.startswith("sim.")}


def _modules() -> list[Path]:
    return sorted(ROOT.rglob("*.py"))


def test_every_package_has_a_layer() -> None:
    packages = {p.relative_to(ROOT).parts[0].removesuffix(".py") for p in _modules()}
    assert packages == set(LAYERS), "add the new package to LAYERS and docs/architecture.md"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_down(path: Path) -> None:
    own = path.relative_to(ROOT).parts[0].removesuffix(".py")
    upward = []
    for name in _imports(path):
        if name == "sim":
            target = "__init__"
        else:
            target = _package(name)
            if target not in LAYERS:  # "from sim import x" where x is a name, not a module
                continue
        if target != own and LAYERS[target] >= LAYERS[own]:
            upward.append(f"{name} ({target}, layer {LAYERS[target]})")
    assert not upward, f"{own} (layer {LAYERS[own]}) imports from above or beside: {upward}"


def test_the_checker_sees_an_upward_import(tmp_path: Path) -> None:
    """The test above can fail: an engine import in a model file is read as one."""
    probe = ROOT / "model" / "_probe_for_layers_test.py"
    try:
        probe.write_text("from sim.engine.context import Context\nfrom . import decay\n")
        assert "sim.engine.context" in _imports(probe)
        assert "sim.model.decay" in _imports(probe)
    finally:
        probe.unlink()
