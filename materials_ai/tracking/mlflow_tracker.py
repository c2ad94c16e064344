"""An MLflow tracker: runs in an MLflow tracking store through its own client."""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from materials_ai.errors import MaterialsAIError
from materials_ai.tracking.base import DatasetInfo, TrackerBase, check_status, finite_metrics
from materials_ai.tracking.params import flatten_params
from materials_ai.tracking.store import (
    PROXY_SCHEME,
    local_artifact_path,
    proxied_artifact_root,
    sqlite_path,
)

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = ["MlflowTracker"]

logger = logging.getLogger("materials_ai.tracking")

# MLflow's limits (mlflow.utils.validation): longest parameter value, entities per batch,
# longest dataset digest (a database column).
_MAX_PARAM_VALUE_LENGTH = 6000
_MAX_PARAMS_PER_BATCH = 100
_MAX_METRICS_PER_BATCH = 1000
_MAX_DIGEST_LENGTH = 36


def _dataset_source(source: str) -> Any:
    """MLflow's dataset source for a local path (``local``) or a URI (``http``, ``s3``...)."""
    import warnings

    from mlflow.data.dataset_source_registry import resolve_dataset_source

    if "://" not in source:
        source = str(Path(source).expanduser().resolve())
    with warnings.catch_warnings():  # "can be interpreted in multiple ways"
        warnings.simplefilter("ignore", UserWarning)
        return resolve_dataset_source(source)


class MlflowTracker(TrackerBase):
    """Records runs in an MLflow tracking store through its own :class:`mlflow.MlflowClient`.

    No global MLflow state (``mlflow.start_run``, ``MLFLOW_*`` environment) is used or
    changed, so several trackers — on one store or on different ones — can work side by
    side in one process.

    Args:
        tracking_uri: MLflow tracking URI; ``sqlite:///<abs path>/mlflow.db`` (see
            :func:`~materials_ai.tracking.store.default_tracking_uri`) or an ``http(s)://``
            server.
        experiment: Experiment name; created on first use.
        artifact_location: Where a *newly created* experiment stores artifacts. ``None``
            uses ``mlflow-artifacts:/<experiment>`` in a SQLite store (files in
            ``mlartifacts/`` beside the database, no absolute path recorded) and the
            server's default otherwise.

    Note:
        A new SQLite store takes ~5 s to create; ``import mlflow`` ~3 s. Both happen on
        the first :meth:`start_run`, not in the constructor.
    """

    def __init__(
        self,
        tracking_uri: str,
        experiment: str = "materials-ai",
        *,
        artifact_location: str | None = None,
    ) -> None:
        self.tracking_uri = tracking_uri
        self.experiment = experiment
        self.artifact_location = artifact_location
        self._client: MlflowClient | None = None
        self._experiment_id: str | None = None
        self._run_id: str | None = None
        self._artifact_uri: str | None = None

    @property
    def run_id(self) -> str | None:
        return self._run_id

    @property
    def client(self) -> MlflowClient:
        """The tracker's own MLflow client (created on first use)."""
        if self._client is None:
            from mlflow import MlflowClient

            database = sqlite_path(self.tracking_uri)
            if database is not None:
                database.parent.mkdir(parents=True, exist_ok=True)
            self._client = MlflowClient(tracking_uri=self.tracking_uri)
        return self._client

    @property
    def experiment_id(self) -> str:
        """Id of :attr:`experiment` in the store, created if missing."""
        if self._experiment_id is None:
            from mlflow.exceptions import MlflowException

            found = self.client.get_experiment_by_name(self.experiment)
            if found is None:
                try:
                    self._experiment_id = self.client.create_experiment(
                        self.experiment, artifact_location=self._default_artifact_location()
                    )
                except MlflowException:  # created concurrently by another tracker
                    found = self.client.get_experiment_by_name(self.experiment)
                    if found is None:
                        raise
            if found is not None:
                if found.lifecycle_stage == "deleted":
                    raise MaterialsAIError(
                        f"MLflow experiment {self.experiment!r} is deleted in "
                        f"{self.tracking_uri}: restore it or choose another name"
                    )
                self._experiment_id = found.experiment_id
        assert self._experiment_id is not None
        return self._experiment_id

    def _default_artifact_location(self) -> str | None:
        if self.artifact_location is not None:
            return self.artifact_location
        if sqlite_path(self.tracking_uri) is None:
            return None
        return proxied_artifact_root(self.experiment)

    def start_run(
        self,
        name: str,
        tags: Mapping[str, str] | None = None,
        run_id: str | None = None,
    ) -> None:
        """Create a run, or resume run ``run_id`` (see :meth:`Tracker.start_run`).

        Raises:
            MaterialsAIError: If a run is active, ``run_id`` is not in this store, or it
                belongs to another experiment.
        """
        from mlflow.exceptions import MlflowException

        if self._run_id is not None:
            raise MaterialsAIError(f"Run {self._run_id!r} is still active: end it first")
        tag_dict = {str(k): str(v) for k, v in (tags or {}).items()}
        if run_id is None:
            run = self.client.create_run(self.experiment_id, run_name=name, tags=tag_dict)
            self._run_id = run.info.run_id
            self._artifact_uri = run.info.artifact_uri
            logger.info(
                "MLflow run %s (%s) in experiment %r at %s",
                self._run_id,
                name,
                self.experiment,
                self.tracking_uri,
            )
            return
        try:
            run = self.client.get_run(run_id)
        except MlflowException as exc:
            raise MaterialsAIError(
                f"Cannot resume MLflow run {run_id!r}: not found in {self.tracking_uri}"
            ) from exc
        if run.info.experiment_id != self.experiment_id:
            raise MaterialsAIError(
                f"Cannot resume MLflow run {run_id!r}: it belongs to experiment id "
                f"{run.info.experiment_id}, not {self.experiment!r} ({self.experiment_id})"
            )
        self.client.update_run(run_id, status="RUNNING")
        for key, value in tag_dict.items():
            self.client.set_tag(run_id, key, value)
        self._run_id = run_id
        self._artifact_uri = run.info.artifact_uri
        logger.info("Resumed MLflow run %s at %s", run_id, self.tracking_uri)

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record flattened parameters in batches (see :meth:`Tracker.log_params`).

        MLflow parameters cannot change once logged. On a resumed run, parameters logged
        before with the same value are skipped; a changed value is not logged and a
        warning names it (the run keeps its first value). Values longer than 6,000
        characters are truncated with a warning.
        """
        from mlflow.entities import Param

        run_id = self._require_run()
        existing = self.client.get_run(run_id).data.params
        batch: list[Param] = []
        for key, value in flatten_params(params).items():
            if len(value) > _MAX_PARAM_VALUE_LENGTH:
                logger.warning(
                    "Truncating parameter %r from %d to %d characters",
                    key,
                    len(value),
                    _MAX_PARAM_VALUE_LENGTH,
                )
                value = value[:_MAX_PARAM_VALUE_LENGTH]
            if key in existing:
                if existing[key] != value:
                    logger.warning(
                        "Parameter %r of run %s stays %r; not changed to %r (MLflow "
                        "parameters are immutable)",
                        key,
                        run_id,
                        existing[key],
                        value,
                    )
                continue
            batch.append(Param(key, value))
        for start in range(0, len(batch), _MAX_PARAMS_PER_BATCH):
            self.client.log_batch(run_id, params=batch[start : start + _MAX_PARAMS_PER_BATCH])

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        """Record finite metric values at ``step`` in batches (see :meth:`Tracker.log_metrics`)."""
        from mlflow.entities import Metric

        run_id = self._require_run()
        timestamp_ms = int(time.time() * 1000)
        batch = [
            Metric(key, value, timestamp_ms, int(step))
            for key, value in finite_metrics(metrics, step).items()
        ]
        for start in range(0, len(batch), _MAX_METRICS_PER_BATCH):
            self.client.log_batch(run_id, metrics=batch[start : start + _MAX_METRICS_PER_BATCH])

    def log_dataset(self, dataset: DatasetInfo) -> None:
        """Record a dataset input: name, digest, source, target schema and row count.

        Uses MLflow's dataset entities (what ``mlflow.log_input`` records), built from
        the description alone: the rows are not read again.
        """
        from mlflow.entities import Dataset, DatasetInput, InputTag
        from mlflow.types import ColSpec, Schema

        run_id = self._require_run()
        source = _dataset_source(dataset.source)
        columns: list[Any] = [ColSpec("double", name) for name in dataset.targets]
        # The JSON layout of mlflow.data datasets (MetaDataset.to_dict).
        schema = json.dumps({"mlflow_colspec": Schema(columns).to_dict()}) if columns else None
        entity = Dataset(
            name=dataset.name,
            digest=dataset.digest[:_MAX_DIGEST_LENGTH],
            source_type=source._get_source_type(),
            source=source.to_json(),
            schema=schema,
            profile=json.dumps({"num_rows": dataset.rows, "units": dict(dataset.targets)}),
        )
        tags = [InputTag("mlflow.data.context", dataset.context)]
        tags += [InputTag(str(k), str(v)) for k, v in dataset.tags.items()]
        self.client.log_inputs(run_id, datasets=[DatasetInput(entity, tags)])

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        """Copy a file or a folder's contents into the run's artifacts.

        In a SQLite store whose experiment uses the proxied root (the default), the files
        are copied to ``mlartifacts/`` beside the database; otherwise MLflow's client
        uploads them.

        Raises:
            MaterialsAIError: If ``path`` does not exist.
        """
        run_id = self._require_run()
        path = Path(path)
        if not path.exists():
            raise MaterialsAIError(f"Artifact not found: {path}")
        local = self._local_artifact_dir(artifact_path)
        if local is not None:
            if path.is_dir():
                shutil.copytree(path, local, dirs_exist_ok=True)
            else:
                local.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, local / path.name)
        elif path.is_dir():
            self.client.log_artifacts(run_id, str(path), artifact_path)
        else:
            self.client.log_artifact(run_id, str(path), artifact_path)

    def _local_artifact_dir(self, artifact_path: str | None) -> Path | None:
        """The folder to copy into, for proxied artifacts of a local store; else ``None``."""
        uri = self._artifact_uri
        if uri is None or not uri.startswith(PROXY_SCHEME):
            return None
        root = local_artifact_path(uri, self.tracking_uri)
        if root is None:  # a server resolves the proxied root itself
            return None
        return root / artifact_path if artifact_path else root

    def end_run(self, status: str = "FINISHED") -> None:
        """Mark the active run terminated (see :meth:`Tracker.end_run`)."""
        check_status(status)
        if self._run_id is None:
            return
        run_id, self._run_id = self._run_id, None
        self._artifact_uri = None
        self.client.set_terminated(run_id, status=status)

    def __repr__(self) -> str:
        return (
            f"MlflowTracker(tracking_uri={self.tracking_uri!r}, experiment={self.experiment!r}, "
            f"run_id={self._run_id!r})"
        )
