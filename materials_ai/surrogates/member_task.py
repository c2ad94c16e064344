"""Training one ensemble member as a picklable task (serial, or on a Dask worker)."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import torch

from materials_ai.surrogates.training import MemberReport, StateDict, train_member


def train_member_task(args: dict[str, Any]) -> tuple[StateDict, MemberReport]:
    """Picklable entry point for training one member on an executor.

    On a Dask worker, torch is limited to the worker's threads (see
    :func:`materials_ai.compute.worker_threads`). With a checkpoint path, a member that
    finished earlier is read back instead of retrained, and an interrupted one resumes.
    """
    from materials_ai.compute import worker_threads

    threads = worker_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    checkpoint: str | Path | None = args.get("checkpoint_path")
    done = None if checkpoint is None else Path(checkpoint).with_suffix(".done.pt")
    if done is not None and done.exists():
        saved = torch.load(done, map_location="cpu", weights_only=True)
        return saved["state"], MemberReport(**json.loads(saved["report"]))
    state, report = train_member(**args)
    if checkpoint is not None and done is not None:
        tmp = done.with_name(done.name + ".tmp")
        torch.save({"state": state, "report": json.dumps(dataclasses.asdict(report))}, tmp)
        os.replace(tmp, done)
        Path(checkpoint).unlink(missing_ok=True)
    return state, report
