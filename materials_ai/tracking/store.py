"""Where runs are tracked by default, and where their artifacts lie on disk.

The default store is shared by every campaign of a project folder, so ``mlflow ui``
compares them side by side. A campaign's project folder is the folder that holds its run
directory: ``runs/ws`` and ``runs/demo-20261204`` share ``runs/mlflow.db``, with artifacts
in ``runs/mlartifacts/``::

    runs/
      mlflow.db          the MLflow store (SQLite) of every campaign in runs/
      mlartifacts/       their artifacts, <experiment>/<run id>/artifacts/...
      ws/                a run directory
      demo-20261204/     another one

Experiments created here store artifacts under MLflow's proxied root
``mlflow-artifacts:/<experiment>``, never an absolute path: the database holds no
location of the folder, so the project folder can be moved or copied to another machine.
``mlflow ui`` started in the project folder finds both (its defaults are
``sqlite:///mlflow.db`` and ``--artifacts-destination ./mlartifacts``); from elsewhere, see
:func:`ui_command`. Python code reads artifacts through :func:`local_artifact_path`.

Precedence of the tracking URI: the workflow's ``tracking.tracking_uri`` (or the CLI's
``--tracking-uri``), then the ``MLFLOW_TRACKING_URI`` environment variable, then a store
that an older version kept inside the run directory (``<run_dir>/mlflow.db``, so those
campaigns resume into their own store), then the project store.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from urllib.parse import urlparse

__all__ = [
    "ARTIFACTS_DIR",
    "PROXY_SCHEME",
    "STORE_FILE",
    "TRACKING_URI_ENV",
    "default_tracking_uri",
    "local_artifact_path",
    "project_dir",
    "proxied_artifact_root",
    "resolve_tracking_uri",
    "sqlite_path",
    "ui_command",
]

#: The SQLite database of a project store.
STORE_FILE = "mlflow.db"
#: The artifact folder beside it (``mlflow ui``'s default ``--artifacts-destination``).
ARTIFACTS_DIR = "mlartifacts"
#: MLflow's scheme for artifacts resolved against the artifact destination.
PROXY_SCHEME = "mlflow-artifacts:"
#: MLflow's environment variable for the tracking URI.
TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"


def project_dir(run_dir: Path) -> Path:
    """The project folder of a run directory: the folder that holds it (absolute)."""
    return Path(run_dir).expanduser().resolve().parent


def _sqlite_uri(database: Path) -> str:
    return f"sqlite:///{database}"


def default_tracking_uri(run_dir: Path) -> str:
    """The default store of a run directory: ``sqlite:///<project folder>/mlflow.db``.

    A run directory that already holds ``mlflow.db`` (written by an older version) keeps
    using it, so its campaign resumes into the same MLflow run.
    """
    own = Path(run_dir).expanduser().resolve() / STORE_FILE
    if own.is_file():
        return _sqlite_uri(own)
    return _sqlite_uri(project_dir(run_dir) / STORE_FILE)


def resolve_tracking_uri(configured: str | None, run_dir: Path) -> str:
    """The tracking URI a run uses (see the module docstring for the precedence).

    Args:
        configured: The workflow's ``tracking.tracking_uri`` (``None``: not set).
        run_dir: The run directory (or a training job's output folder).
    """
    return configured or os.environ.get(TRACKING_URI_ENV) or default_tracking_uri(run_dir)


def sqlite_path(tracking_uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI, or ``None`` for another store."""
    prefix = "sqlite:///"
    if not tracking_uri.startswith(prefix):
        return None
    return Path(tracking_uri[len(prefix) :])


def proxied_artifact_root(experiment: str) -> str:
    """The artifact location of a new experiment in a local store: no absolute path.

    ``mlflow-artifacts:/<experiment>``, the experiment's name reduced to URI-safe
    characters.
    """
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", experiment).strip("-.") or "experiment"
    return f"{PROXY_SCHEME}/{slug}"


def local_artifact_path(artifact_uri: str, tracking_uri: str) -> Path | None:
    """Where an artifact URI of a run lies on this machine.

    Args:
        artifact_uri: A run's ``info.artifact_uri`` (plus a relative path, if wanted).
        tracking_uri: The store the run is in.

    Returns:
        ``<store folder>/mlartifacts/<path>`` for ``mlflow-artifacts:/<path>`` in a SQLite
        store; the path of a ``file:`` URI or plain path; ``None`` for a remote location
        (an MLflow server, object storage), which only MLflow's client can read.
    """
    if artifact_uri.startswith(PROXY_SCHEME):
        database = sqlite_path(tracking_uri)
        if database is None:
            return None
        relative = urlparse(artifact_uri).path.lstrip("/")
        return database.parent / ARTIFACTS_DIR / relative
    parsed = urlparse(artifact_uri)
    if parsed.scheme == "file":
        return Path(parsed.path)
    if parsed.scheme == "":
        return Path(artifact_uri)
    return None


def ui_command(tracking_uri: str) -> str:
    """The ``mlflow ui`` command that shows a store's runs and their artifacts."""
    database = sqlite_path(tracking_uri)
    if database is None:
        return f"mlflow ui --backend-store-uri {shlex.quote(tracking_uri)}"
    artifacts = database.parent / ARTIFACTS_DIR
    return (
        f"mlflow ui --backend-store-uri {shlex.quote(tracking_uri)} "
        f"--artifacts-destination {shlex.quote(str(artifacts))}"
    )
