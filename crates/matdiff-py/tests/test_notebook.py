"""The example notebooks (examples/*.ipynb) run headless from top to bottom without an error,
so they cannot rot."""

import nbclient
import nbformat
import pytest

from conftest import ROOT

NOTEBOOKS = sorted((ROOT / "examples").glob("*.ipynb"))


def test_there_is_an_example_notebook():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes(path):
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    # The rich displays are there: LaTeX for the gradient, Markdown for the steps, SVG for the graph.
    kinds = {k for o in outputs for k in o.get("data", {})}
    assert {"text/latex", "text/markdown", "image/svg+xml"} <= kinds
