"""Third-party INFO logs (MLflow creating its tables, alembic) stay out of the display."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

#: What `materials-ai [-v] campaign run` does before a campaign with MLflow tracking starts:
#: configure logging, then create a fresh SQLite tracking store.
SCRIPT = """
import logging, sys
from materials_ai.cli.app import configure_logging
configure_logging(sys.argv[1] == "verbose")
import mlflow
mlflow.set_tracking_uri("sqlite:///" + sys.argv[2])
mlflow.search_experiments()
logging.getLogger("materials_ai.campaign.loop").info("materials-ai detail")
logging.getLogger("materials_ai.campaign.loop").warning("materials-ai warning")
"""


def _stderr(mode: str, tmp_path: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_LOGGING_LEVEL"}
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode, str(tmp_path / f"{mode}.db")],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=120,
    )
    return out.stderr


def test_mlflow_table_creation_is_not_shown(tmp_path: Path) -> None:
    quiet = _stderr("quiet", tmp_path)
    assert "mlflow" not in quiet.lower() and "alembic" not in quiet.lower(), quiet
    assert "materials-ai detail" not in quiet
    assert "WARNING materials_ai.campaign.loop: materials-ai warning" in quiet
    # --verbose adds materials-ai's own details, still not MLflow's.
    verbose = _stderr("verbose", tmp_path)
    assert "INFO materials_ai.campaign.loop: materials-ai detail" in verbose
    assert "Creating initial MLflow database tables" not in verbose, verbose
