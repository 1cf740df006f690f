"""Fixtures shared by the test files. The scenario builders and small helpers they use are
plain functions in builders.py; the delivery records of the contact-rule tests are in
contact_record.py, those of the audience, journey and policy tests in sends.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from builders import cli_data, write


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    """(scenario file, empty parent folder for results), kept apart so listings are clean:
    the small command-line scenario (``builders.cli_data``) as scenarios/small.yaml."""
    scenario = write(tmp_path / "scenarios", cli_data())
    results = tmp_path / "results"
    results.mkdir()
    return scenario, results
