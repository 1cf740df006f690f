"""The shipped scenarios reproduce their committed reference results exactly.

Replication i of a scenario draws from SeedSequence(seed).spawn(n)[i], the same whatever n is,
so a run with fewer replications must reproduce the committed rows of those replications byte
for byte: a model change shows up here and as a reviewable diff of results/.
Regenerate the references with `make results` after an intended change.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from builders import CORE_BEHAVIOUR, NORDIC, nordic_data

import sim
from sim.io.loader import scenario_from_dict

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted(p for p in (ROOT / "scenarios").glob("*.yaml") if not p.stem.startswith("bench"))
# Replication 0 of the committed ones: any change to the model or the engine changes its bytes,
# and with two jobs its strategies run in two processes, as a larger run would split them.
REPLICATIONS = 1


def _rows(path: Path, replications: int) -> list[str]:
    """Header and the rows of the first ``replications`` replications of a results CSV."""
    lines = path.read_text(encoding="utf-8").splitlines()
    column = lines[0].split(",").index("replication")
    return [lines[0]] + [line for line in lines[1:] if int(line.split(",")[column]) < replications]


@pytest.mark.parametrize("scenario", SHIPPED, ids=lambda p: p.stem)
def test_shipped_scenario_reproduces_its_reference(scenario: Path, tmp_path: Path) -> None:
    reference = ROOT / "results" / scenario.stem
    assert (reference / "summary.csv").exists(), "no reference results: run `make results`"
    sim.run(scenario, replications=REPLICATIONS, jobs=2).save(tmp_path / "out")
    for name in ("summary.csv", "timeseries.csv"):
        expected = _rows(reference / name, REPLICATIONS)
        got = _rows(tmp_path / "out" / name, REPLICATIONS)
        assert len(got) > 1
        assert got == expected, f"{scenario.stem}/{name} differs from results/: run `make results`"


def test_the_core_model_reproduces_the_results_before_its_mechanisms(tmp_path: Path) -> None:
    """The demo with the model's mechanisms switched off (scenarios/parts/core_behaviour.yaml)
    and without its history plan reproduces, byte for byte, replication 0 of its reference
    (tests/data): switching them off gives the earlier model back. The reference was the
    demo's results before those mechanisms were on by default, and was written again by this
    configuration when the member draws became counter-based (sim.engine.rng), the one change
    since that moves every draw; a new mechanism must leave it as it is."""
    data = nordic_data()
    data.pop("history")
    data["behaviour"] = CORE_BEHAVIOUR
    data["objective"] = "clv_per_member"
    sim.run(scenario_from_dict(data, str(NORDIC)), replications=1, jobs=2).save(tmp_path / "out")
    expected = (ROOT / "tests" / "data" / "core_model_nordic_retail_summary.csv").read_text()
    assert _rows(tmp_path / "out" / "summary.csv", 1) == expected.splitlines()
