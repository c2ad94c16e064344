"""What the steps of ``dask_scaling.py`` and ``dask_scaling_stream.py`` share: paths, the
machine record, the results file, a LocalCluster, the trained ensemble."""

from __future__ import annotations

import datetime
import json
import logging
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from materials_ai.settings import PROJECT_ROOT

WORKFLOW = PROJECT_ROOT / "workflows" / "castelli_water_splitting.yaml"
RESULTS = PROJECT_ROOT / "benchmarks" / "results" / "dask_scaling.json"
WORK = Path(os.environ.get("MATERIALS_AI_BENCH_DIR", "/tmp/materials-ai-bench"))
MODEL_DIR = WORK / "surrogate"


def machine() -> dict[str, Any]:
    import torch

    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "date": datetime.date.today().isoformat(),
    }


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def record(section: str, data: dict[str, Any]) -> None:
    """Merge one step's figures into the results file."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results[section] = data
    RESULTS.write_text(json.dumps(results, indent=2, default=float) + "\n")
    print(json.dumps({section: data}, indent=2, default=float))


def quiet_dask() -> None:
    for name in ("distributed", "distributed.nanny", "distributed.scheduler", "distributed.core"):
        logging.getLogger(name).setLevel(logging.ERROR)


def local_executor(n_workers: int, threads: int = 1) -> Any:
    from materials_ai.compute import ComputeConfig, make_executor

    config = ComputeConfig(
        kind="local", n_workers=n_workers, threads_per_worker=threads, memory_limit=None
    )
    return make_executor(config, progress=False)


def trained_surrogate() -> Any:
    from materials_ai.surrogates.ensemble import GraphEnsembleSurrogate

    if not (MODEL_DIR / "surrogate.json").exists():
        subprocess.run(
            [sys.executable, str(Path(__file__).with_name("dask_scaling.py")), "model"], check=True
        )
    return GraphEnsembleSurrogate.load(MODEL_DIR)
