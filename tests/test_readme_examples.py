"""The README's examples run as written.

The README's ``bash`` and ``python`` code blocks are extracted and checked:

* always: the first two commands are ``make demo`` and ``make test``, every repository
  path a command names (``models/…``, ``workflows/…``, ``configs/…``) exists, every Python
  block compiles, and every entry of :data:`NOT_RUN` still matches a README line;
* ``integration`` + ``slow`` (``make test-all`` with the datasets): every shell command,
  in README order, in a scratch copy of the repository's layout (so ``recalibrate`` and the
  run directories never touch the checkout), and the first Python block (a shipped model
  predicting a pymatgen ``Structure`` and an ASE ``Atoms``) as a script.

A README example is skipped only when :data:`NOT_RUN` names it, with the reason. Files the
README says are the reader's own (``my.cif``, ``POSCAR``, the lab's results file) are
written into the scratch folder just before the command that reads them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"

#: README lines (prefixes) not executed, with the reason. Each must match a README line.
NOT_RUN: dict[str, str] = {
    "make demo": "sets up .venv and runs a 4-minute campaign (CI runs it separately)",
    "make test": "runs this very test suite",
    "make mlp": "installs packages (CHGNet is already a core dependency)",
    "make gpaw": "apt-get and a 2-minute GPAW build",
    ".venv/bin/materials-ai train ": "trains a graph ensemble for tens of minutes",
    ".venv/bin/materials-ai benchmark replay ": "5 seeds x 4 strategies x 300 calls: hours",
    ".venv/bin/materials-ai campaign run workflows/novel_perovskite_photocatalysts.yaml": (
        "generates and relaxes candidates with CHGNet: tens of minutes"
    ),
    ".venv/bin/materials-ai campaign run workflows/castelli_validated_chgnet_gpaw.yaml": (
        "GPAW DFT calculations: 15-40 minutes and `make gpaw`"
    ),
    "from materials_ai.data import load_dataset": "trains a 5-member CGCNN ensemble: minutes",
    "from materials_ai.surrogates.config import GPConfig": (
        "continues the training block (its dataset) and computes CHGNet features of 2,000 cells"
    ),
    "from materials_ai.oracles.config import FidelityChainConfig": (
        "needs GPAW (`make gpaw`) and a candidate list; 15-40 minutes"
    ),
}

_BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
_PATH = re.compile(r"(?<![\w/.])((?:models|workflows|configs)/[\w./-]+)")


def blocks(language: str) -> list[str]:
    """The README's code blocks in ``language``, in order."""
    return [body for lang, body in _BLOCK.findall(README.read_text()) if lang == language]


def commands() -> list[str]:
    """Shell commands of the ``bash`` blocks: continuations joined, comments dropped."""
    out = []
    for body in blocks("bash"):
        for line in body.replace("\\\n", " ").splitlines():
            line = line.split(" #")[0].strip() if not line.startswith("#") else ""
            if line:
                out.append(" ".join(line.split()))
    return out


def _skip_reason(text: str) -> str | None:
    first = text.strip().splitlines()[0] if text.strip() else ""
    for prefix, reason in NOT_RUN.items():
        if first.startswith(prefix) or text.startswith(prefix):
            return reason
    return None


def test_readme_starts_with_make_demo_and_make_test() -> None:
    assert commands()[:2] == ["make demo", "make test"]


def test_readme_names_only_paths_that_exist() -> None:
    missing = [p for c in commands() for p in _PATH.findall(c) if not (ROOT / p).exists()]
    missing = [p for p in missing if "/<" not in p]
    assert not missing, f"README commands name paths that do not exist: {missing}"


def test_python_blocks_compile_and_skips_are_current() -> None:
    for body in blocks("python"):
        compile(body, "README.md", "exec")
    text = README.read_text()
    stale = [p for p in NOT_RUN if p.strip() not in text]
    assert not stale, f"NOT_RUN entries match no README line: {stale}"
    runnable = [b for b in blocks("python") if _skip_reason(b) is None]
    assert runnable and "load_surrogate" in runnable[0]


# -- execution (slow) -----------------------------------------------------------------------

_CIF = """data_SrTiO3
_cell_length_a 3.905
_cell_length_b 3.905
_cell_length_c 3.905
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
_symmetry_space_group_name_H-M 'P 1'
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
Sr1 Sr 0 0 0
Ti1 Ti 0.5 0.5 0.5
O1 O 0.5 0.5 0
O2 O 0.5 0 0.5
O3 O 0 0.5 0.5
"""

_POSCAR = """Si
5.43
0 0.5 0.5
0.5 0 0.5
0.5 0.5 0
Si
2
Direct
0 0 0
0.25 0.25 0.25
"""


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder laid out like the repository's root (``../shared/datasets`` included)."""
    data = os.environ.get("MATERIALS_AI_DATA_DIR")
    if not data:
        pytest.skip("MATERIALS_AI_DATA_DIR is not set")
    base = tmp_path_factory.mktemp("readme")
    work, shared = base / "main", base / "shared"
    work.mkdir()
    shared.mkdir()
    (shared / "datasets").symlink_to(Path(data).resolve())
    for name in ("workflows", "configs", "datasets", ".venv"):
        (work / name).symlink_to(ROOT / name)
    (work / "models").mkdir()
    for model in (ROOT / "models").iterdir():
        if model.is_dir():  # a copy: `recalibrate` rewrites its folder
            shutil.copytree(model, work / "models" / model.name)
    (work / "my.cif").write_text(_CIF)
    (work / "POSCAR").write_text(_POSCAR)
    return work


def _lab_file(work: Path, name: str) -> None:
    """The lab's reply: the exported template with one failed synthesis filled in."""
    template = sorted(work.glob("to_lab/**/results_template.csv"))[0]
    header, first = template.read_text().splitlines()[:2]
    columns = header.split(",")
    cells = first.split(",")
    cells[columns.index("synthesized")] = "no"
    cells[columns.index("notes")] = "no perovskite phase"
    (work / name).write_text(f"{header}\n{','.join(cells)}\n")


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.parametrize("command", commands())
def test_readme_command_runs(scratch: Path, command: str) -> None:
    reason = _skip_reason(command)
    if reason:
        pytest.skip(f"not run: {reason}")
    if command.startswith("export "):
        return  # the scratch layout gives ../shared/datasets, as the Makefile does
    for name in ("lab_results.csv", "results.csv"):
        if f" {name}" in command:
            _lab_file(scratch, name)
    env = {**os.environ, "MATERIALS_AI_DATA_DIR": "../shared/datasets", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        ["bash", "-c", command], cwd=scratch, env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"


@pytest.mark.integration
def test_readme_python_example_runs(scratch: Path) -> None:
    """The first Python example (pymatgen Structure + ASE Atoms through the shipped
    CHGNet-feature head) runs as written; in CI, unlike the long shell examples."""
    script = scratch / "readme_example.py"
    script.write_text(next(b for b in blocks("python") if _skip_reason(b) is None))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, str(script)], cwd=scratch, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "SrTiO3" in done.stdout and "Si" in done.stdout
