"""The API reference (mkdocs.yml, docs/api/, `make docs`) builds from the docstrings with
`mkdocs build --strict`: a broken cross-reference, a module or member that is gone, or a
docstring mkdocstrings cannot render fails here, in CI, with mkdocs' own output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import sim

pytest.importorskip("mkdocs")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built once into a temporary folder (build/site is left alone)."""
    out = tmp_path_factory.mktemp("site")
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if build.returncode != 0:
        pytest.fail(f"mkdocs build --strict failed:\n{build.stdout}{build.stderr}", pytrace=False)
    return out


def test_the_sim_api_page_documents_run_and_fit_reports(site: Path) -> None:
    page = site / "sim.api.html"
    assert page.is_file(), sorted(p.name for p in site.glob("*.html"))
    html = page.read_text(encoding="utf-8")
    for name in ("run", "fit_reports"):
        assert f'id="sim.api.{name}"' in html, f"no entry for sim.api.{name}"


def test_every_name_of_the_package_face_is_documented_at_its_home(site: Path) -> None:
    html = "".join(p.read_text(encoding="utf-8") for p in site.glob("*.html"))
    missing = [
        f"{home}.{name}" for name, home in sim._HOMES.items() if f'id="{home}.{name}"' not in html
    ]
    assert not missing, f"add them to docs/api/: {missing}"
