"""docs/tutorial.ipynb runs from top to bottom in a fresh kernel, and is kept without outputs."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
TUTORIAL = REPO / "docs" / "tutorial.ipynb"


def test_tutorial_is_stored_without_outputs() -> None:
    notebook = nbformat.read(TUTORIAL, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)


@pytest.mark.slow
def test_tutorial_runs_without_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every cell runs (nbclient raises on the first error) against this checkout's
    neuromkt, in an empty working folder where the tutorial writes its report."""
    notebook = nbformat.read(TUTORIAL, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell("import neuromkt\nprint(neuromkt.__file__)"))
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    monkeypatch.setenv("PYTHONPATH", path)  # the kernel inherits it: import this neuromkt
    client = NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})  # fmt: skip
    client.execute()
    where = notebook.cells[-1].outputs[0]["text"].strip()
    assert Path(where).is_relative_to(REPO / "neuromkt"), where
    assert (tmp_path / "tutorial-report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE")
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    figures = [o for o in outputs if "application/vnd.plotly.v1+json" in o.get("data", {})]
    assert len(figures) == 5  # attention bars, heads heatmap, ranking, τ histogram, one row
