"""docs/tutorial.ipynb runs from top to bottom with the code beside it (executed by nbclient in
a fresh kernel), and shows what its text says it shows."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_the_tutorial_notebook_runs_and_shows_what_it_says() -> None:
    notebook = nbformat.read(DOCS / "tutorial.ipynb", as_version=4)
    assert not any(cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")
    client = NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(DOCS)}}
    )
    client.execute()  # raises CellExecutionError, naming the cell, if any cell fails
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "population.size: Input should be greater than 0 (got -5)" in text
    shown = [o["data"] for o in outputs if o.output_type in ("execute_result", "display_data")]
    html = [d["text/html"] for d in shown if "text/html" in d]
    assert any("ranked by clv_with_terminal" in h for h in html)  # the Results' own table
    assert any("image/png" in d for d in shown)  # the plot of reach
    assert any("significant" in h for h in html)  # compare's table
