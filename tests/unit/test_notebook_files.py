"""The shipped notebooks as JupyterLab, jupytext and papermill read them, with no hints given.

A notebook whose header does not name its format is read as jupytext's *light* format: its
``parameters`` cell loses its tag, JupyterLab shows ``%% [markdown]`` as text and saving rewrites
the file. These tests read each file the way those tools do.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import jupytext
import nbformat
import pytest
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook

from agentinsight.reports import list_reports, notebooks_dir

NOTEBOOKS = [notebooks_dir() / f"{name}.py" for name in list_reports()]
FIXTURES = sorted((Path(__file__).parents[1] / "data" / "notebooks").glob("*.py"))


def _parameters_index(nb: nbformat.NotebookNode) -> int:
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"expected one cell tagged 'parameters', found {len(tagged)}"
    return tagged[0]


@pytest.mark.parametrize("path", NOTEBOOKS + FIXTURES, ids=lambda p: p.name)
def test_jupytext_reads_percent_format_and_the_parameters_tag(path: Path) -> None:
    nb = jupytext.read(path)  # no format hint, as JupyterLab and `jupytext --to ipynb` do
    assert nb.metadata["jupytext"]["text_representation"]["format_name"] == "percent"
    assert not any(line.startswith("# %%") for c in nb.cells for line in c.source.splitlines())
    _parameters_index(nb)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_opening_and_saving_in_jupyterlab_leaves_the_file_unchanged(path: Path,
                                                                     tmp_path: Path) -> None:
    from jupytext import TextFileContentsManager

    shutil.copy(path, tmp_path / path.name)
    manager = TextFileContentsManager(root_dir=str(tmp_path))
    model = manager.get(path.name)  # what JupyterLab's contents API hands the editor
    manager.save(model, path.name)  # and what "Save" writes back
    assert (tmp_path / path.name).read_bytes() == path.read_bytes()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_papermill_injects_parameters_after_the_notebooks_own(path: Path, tmp_path: Path) -> None:
    # The .ipynb that `jupytext --to ipynb` writes, as papermill loads it.
    ipynb = tmp_path / f"{path.stem}.ipynb"
    jupytext.write(jupytext.read(path), ipynb, fmt="ipynb")
    nb = load_notebook_node(str(ipynb))
    own = _parameters_index(nb)
    done = parameterize_notebook(nb, {"start": "2026-01-01T00:00:00Z"})
    injected = [i for i, c in enumerate(done.cells)
                if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected == [own + 1], "papermill's values must come after the defaults they override"
    assert "2026-01-01T00:00:00Z" in done.cells[own + 1].source
