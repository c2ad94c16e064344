"""Execute every notebook in ``notebooks/`` and check that it is stored without outputs.

The notebooks run on the real datasets, so executing them is an integration test: it is
skipped when ``MATERIALS_AI_DATA_DIR`` is unset. Each notebook runs in a fresh kernel with
``notebooks/`` as its working directory. The kernel is ipykernel started by *this*
interpreter (``sys.executable``), whatever ``python3`` kernelspecs the user has installed
elsewhere, so the notebooks always see the project's virtual environment.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from materials_ai.settings import DATA_DIR_ENV

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
KERNEL_NAME = "python3"
CELL_TIMEOUT_S = 600
STARTUP_TIMEOUT_S = 120

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class ThisInterpreterKernelSpecs(KernelSpecManager):
    """Resolve every kernel name to ipykernel on ``sys.executable``.

    A ``python3`` kernelspec in ``~/.local/share/jupyter`` or on ``JUPYTER_PATH`` would
    otherwise take precedence over the one in the virtual environment and could start a
    different Python.
    """

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        return KernelSpec(
            argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            display_name=f"Python ({sys.executable})",
            language="python",
            resource_dir=str(NOTEBOOK_DIR),
        )


def execute(nb: nbformat.NotebookNode, cwd: Path) -> nbformat.NotebookNode:
    """Run ``nb`` in place in a fresh kernel on this interpreter, with ``cwd`` as its cwd."""
    km = KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=ThisInterpreterKernelSpecs())
    client = NotebookClient(
        nb,
        km=km,
        kernel_name=KERNEL_NAME,
        timeout=CELL_TIMEOUT_S,
        startup_timeout=STARTUP_TIMEOUT_S,
        resources={"metadata": {"path": str(cwd)}},
    )
    return client.execute()


def failing_cell(nb: nbformat.NotebookNode) -> tuple[int, Any] | None:
    """Return (1-based index among all cells, cell) of the first cell with an error."""
    for index, cell in enumerate(nb.cells, start=1):
        if cell.cell_type == "code" and any(
            out.get("output_type") == "error" for out in cell.get("outputs", [])
        ):
            return index, cell
    return None


@pytest.fixture
def real_data_dir() -> Path:
    """The real dataset mirror; skips the test when MATERIALS_AI_DATA_DIR is unset."""
    value = os.environ.get(DATA_DIR_ENV)
    if not value:
        pytest.skip(f"{DATA_DIR_ENV} is not set; the notebooks load the real datasets")
    path = Path(value).expanduser().resolve()
    if not path.is_dir():
        pytest.skip(f"{DATA_DIR_ENV}={value} is not a folder")
    return path


def test_there_are_notebooks() -> None:
    assert NOTEBOOKS, f"no notebooks found in {NOTEBOOK_DIR}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_stored_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [
        i
        for i, cell in enumerate(nb.cells, start=1)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not dirty, f"{path.name}: clear the outputs of cells {dirty} before committing"


def test_kernel_runs_on_this_interpreter() -> None:
    source = "import os, sys\nprint(sys.executable)\nprint(os.getcwd())"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    execute(nb, NOTEBOOK_DIR)
    lines = "".join(o.get("text", "") for o in nb.cells[0].outputs).split("\n")
    assert Path(lines[0]) == Path(sys.executable)
    assert Path(lines[1]).resolve() == NOTEBOOK_DIR


@pytest.mark.integration
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes(path: Path, real_data_dir: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    try:
        execute(nb, NOTEBOOK_DIR)
    except CellExecutionError as error:
        found = failing_cell(nb)
        where = f"cell {found[0]} of {len(nb.cells)}" if found else "a cell"
        # str(error) holds the cell's source and the kernel's traceback.
        pytest.fail(
            f"{path.name}: {where} raised {error.ename}: {error.evalue}\n"
            f"{_ANSI.sub('', str(error))}",
            pytrace=False,
        )
    executed = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in executed), "not every cell ran"
