"""The library works installed as a wheel, away from the checkout (issue 16).

Builds the wheel from a copy of the package sources, installs it with ``--no-deps`` into a
temporary virtual environment that sees this environment's dependencies (a ``.pth`` file
naming its site-packages, not the checkout), and runs a one-iteration Castelli campaign
with a GP surrogate from a folder outside the repository. Nothing names the checkout: the
dataset card comes from the wheel, the data from ``MATERIALS_AI_DATA_DIR``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pandas as pd
import pytest

from materials_ai.settings import CARDS_DIR_ENV, DATA_DIR_ENV

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]

WORKFLOW = """\
name: wheel_smoke
seed: 0
data: {dataset: castelli_perovskites, limit: 200}
targets: [band_gap]
objective:
  criteria:
    - {target: band_gap, min: 1.4, max: 3.1, scale: 0.5}
surrogate: {kind: gp, seed: 0, descriptor: perovskite, n_samples: 16}
acquisition: {strategy: qucb}
loop: {initial_labels: 10, batch_size: 4, iterations: 1, ranked_list_size: 8, top_cifs: 1}
tracking: {backend: none}
"""


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with the freshly built wheel installed; returns its ``bin`` folder."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    # symlinks=False: the cards link (materials_ai/datasets) is copied as files.
    shutil.copytree(
        ROOT / "materials_ai",
        src / "materials_ai",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    dist = tmp / "dist"
    pip = [sys.executable, "-m", "pip"]
    _run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(src)], tmp)
    [wheel] = dist.glob("materials_ai-*.whl")
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp)
    python = venv / "bin" / "python"
    site = Path(
        _run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp
        ).strip()
    )
    # The project's dependencies, without processing that folder's .pth files (so the
    # checkout's editable install is not seen).
    (site / "project_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([*pip, "--python", str(python), "install", "--no-deps", "-q", str(wheel)], tmp)
    return venv / "bin"


def test_wheel_runs_a_campaign_outside_the_checkout(wheel_env: Path, tmp_path: Path) -> None:
    data_dir = os.environ.get(DATA_DIR_ENV)
    if not data_dir:
        pytest.skip(f"{DATA_DIR_ENV} is not set; this test reads the Castelli table")
    env = {k: v for k, v in os.environ.items() if k not in (CARDS_DIR_ENV, "PYTHONPATH")}
    env |= {
        DATA_DIR_ENV: data_dir,
        "MATERIALS_AI_CACHE_DIR": str(tmp_path / "cache"),
        "OMP_NUM_THREADS": "1",
    }
    work = tmp_path / "elsewhere"
    work.mkdir()
    where = _run(
        [
            str(wheel_env / "python"),
            "-c",
            "import materials_ai, materials_ai.settings as s; "
            "print(materials_ai.__file__); print(s.cards_dir())",
        ],
        work,
        env,
    ).splitlines()
    package, cards = Path(where[0]), Path(where[1])
    assert ROOT not in package.parents, f"imported the checkout: {package}"
    assert ROOT not in cards.resolve().parents and (cards / "castelli_perovskites.yaml").is_file()

    (work / "wf.yaml").write_text(WORKFLOW)
    command = ["campaign", "run", "wf.yaml", "--run-dir", "run", "--no-progress"]
    out = _run([str(wheel_env / "materials-ai"), *command], work, env)
    assert "1 of 1 selection rounds" in out
    ranked = pd.read_csv(work / "run" / "final" / "ranked_candidates.csv")
    assert len(ranked) == 8
    assert ranked["id"].is_unique
