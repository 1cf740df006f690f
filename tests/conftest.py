"""Fixtures shared by the test files. The scenario builders and small helpers they use are
plain functions in builders.py; the delivery records of the contact-rule tests are in
contact_record.py, those of the audience, journey and policy tests in sends.py."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from builders import FIT_EXAMPLE, cli_data, company_events, write

from sim.io.loader import load_scenario
from sim.spec.scenario import Scenario

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def fit_base() -> Scenario:
    """The fit example's base scenario: the company's members and plan, default behaviour."""
    return load_scenario(FIT_EXAMPLE / "base.yaml")


@pytest.fixture(scope="session")
def small_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fit example's company over two months of 150 members, no holdout."""
    return company_events(tmp_path_factory.mktemp("small"), 150, 60, "program.control_group=0")


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    """(scenario file, empty parent folder for results), kept apart so listings are clean:
    the small command-line scenario (``builders.cli_data``) as scenarios/small.yaml."""
    scenario = write(tmp_path / "scenarios", cli_data())
    results = tmp_path / "results"
    results.mkdir()
    return scenario, results


@pytest.fixture
def plugin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty working directory for plug-in modules a test writes; modules imported from it
    are forgotten afterwards, so the next test imports its own."""
    monkeypatch.chdir(tmp_path)
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        if str(getattr(sys.modules[name], "__file__", "") or "").startswith(str(tmp_path)):
            del sys.modules[name]


@pytest.fixture
def dask_scheduler(tmp_path: Path) -> Iterator[str]:
    """A Dask scheduler and two single-threaded workers, each its own process on 127.0.0.1."""
    pytest.importorskip("distributed")
    from distributed import Client

    info = tmp_path / "scheduler.json"
    dask = [sys.executable, "-m", "dask"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "cwd": ROOT, "env": env}
    scheduler = ["scheduler", "--host", "127.0.0.1", "--port", "0", "--scheduler-file", str(info)]
    worker = ["worker", "--scheduler-file", str(info), "--host", "127.0.0.1", "--nthreads", "1"]
    processes = [subprocess.Popen([*dask, *scheduler, "--no-dashboard"], **quiet)]
    try:
        for _ in range(2):
            processes.append(
                subprocess.Popen([*dask, *worker, "--no-nanny", "--no-dashboard"], **quiet)
            )
        with Client(scheduler_file=str(info), timeout="60s") as client:
            client.wait_for_workers(2, timeout=60)
            address = client.scheduler.address
        yield address
    finally:
        # Workers first, while their scheduler can still take their goodbye.
        for process in reversed(processes):
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files whose tests are all slow first, then files with some slow tests, then the rest,
    each file's tests in their order: under pytest-xdist (make test) the longest runs start
    first instead of holding up the end of the run on one core."""
    slow: dict[str, list[bool]] = {}
    for item in items:
        slow.setdefault(item.nodeid.split("::")[0], []).append(
            item.get_closest_marker("slow") is not None
        )
    rank = {path: 0 if all(marks) else 1 if any(marks) else 2 for path, marks in slow.items()}
    items.sort(key=lambda item: rank[item.nodeid.split("::")[0]])
