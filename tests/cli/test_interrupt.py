"""Ctrl-C (SIGINT) and SIGTERM stop a running campaign within seconds, resumably.

Each test starts ``materials-ai campaign run`` as a real process on the tiny synthetic
dataset, waits until the state file shows the stage of interest running, sends the signal
and checks the exit code, the time it took, the resume command and the saved state.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from materials_ai.cli.app import app
from materials_ai.testing.campaigns import tiny_workflow
from materials_ai.testing.datasets import write_tiny_dataset

#: Seconds a stopped campaign may take to exit (generous: two busy cores).
STOP_WITHIN_S = 8.0

#: Runs the command line with SCORE slowed down, standing for scoring a large pool.
SLOW_SCORE = """
import time
from materials_ai.campaign import stages
from materials_ai.campaign.state import Stage
real = stages.STAGE_WORK[Stage.SCORE]
def slow_score(campaign):
    for _ in range(600):
        time.sleep(0.1)
    real(campaign)
stages.STAGE_WORK[Stage.SCORE] = slow_score
from materials_ai.cli.app import main
main()
"""

MAIN = "from materials_ai.cli.app import main; main()"


def _environment(tmp_path: Path) -> dict[str, str]:
    tiny = write_tiny_dataset(tmp_path / "tiny", n_rows=30)
    return {
        **os.environ,
        "MATERIALS_AI_CARDS_DIR": str(tiny.cards_dir),
        "MATERIALS_AI_DATA_DIR": str(tiny.data_dir),
        "MATERIALS_AI_CACHE_DIR": str(tmp_path / "cache"),
        "OMP_NUM_THREADS": "1",
    }


def _start(
    code: str,
    tmp_path: Path,
    env: dict[str, str],
    *,
    ignore_sigint: bool = False,
    **overrides: object,
) -> tuple[subprocess.Popen[str], Path]:
    workflow = tmp_path / "wf.yaml"
    workflow.write_text(yaml.safe_dump(tiny_workflow(**overrides).model_dump(mode="json")))
    run_dir = tmp_path / "run"

    def ignore() -> None:  # like a command started with `&` from a script
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    process = subprocess.Popen(
        [sys.executable, "-c", code, "campaign", "run", str(workflow), "--run-dir", str(run_dir)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=ignore if ignore_sigint else None,
    )
    return process, run_dir


def _wait_for_stage(process: subprocess.Popen[str], run_dir: Path, completed: list[str]) -> None:
    """Wait until iteration 1 has completed exactly ``completed`` (the next stage runs)."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"campaign ended early ({process.returncode}): {out}\n{err}")
        try:
            state = json.loads((run_dir / "state.json").read_text())
        except (OSError, ValueError):
            state = {}
        if state.get("iteration") == 1 and state.get("completed") == completed:
            return
        time.sleep(0.1)
    process.kill()
    pytest.fail(f"stage after {completed} never started")


def _stop(process: subprocess.Popen[str], signum: int) -> tuple[float, str]:
    time.sleep(1.0)  # well inside the stage
    sent = time.monotonic()
    process.send_signal(signum)
    try:
        _, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail(f"{signal.Signals(signum).name} did not stop the campaign within 60 s")
    return time.monotonic() - sent, err


def test_sigint_stops_cgcnn_training_even_when_inherited_as_ignored(tmp_path: Path) -> None:
    env = _environment(tmp_path)
    long_training = {
        "surrogate.training.max_epochs": 5000,
        "surrogate.training.patience": 5000,
    }
    process, run_dir = _start(MAIN, tmp_path, env, ignore_sigint=True, **long_training)
    _wait_for_stage(process, run_dir, ["collect"])  # TRAIN (ensemble epochs) is running
    took, err = _stop(process, signal.SIGINT)

    assert process.returncode == 130, err
    assert took < STOP_WITHIN_S, f"took {took:.1f} s"
    text = " ".join(err.split())
    assert "stopped by SIGINT during round 1/2, stage train" in text
    assert f"resume with: materials-ai campaign resume {shlex.quote(str(run_dir))}" in text
    assert "Traceback" not in err
    # Resumable: the last completed stage is saved and the run directory is free.
    status = CliRunner().invoke(app, ["campaign", "status", "--json", str(run_dir)], env=env)
    assert status.exit_code == 0, status.output
    info = json.loads(status.output)
    assert (info["phase"], info["round"], info["completed"]) == ("round", 1, "collect")
    assert info["owner"] is None and info["rounds_done"] == 0


def test_sigterm_stops_pool_scoring_and_the_campaign_resumes(tmp_path: Path) -> None:
    env = _environment(tmp_path)
    process, run_dir = _start(SLOW_SCORE, tmp_path, env, **{"loop.iterations": 1})
    _wait_for_stage(process, run_dir, ["collect", "train"])  # SCORE is running
    took, err = _stop(process, signal.SIGTERM)

    assert process.returncode == 143, err
    assert took < STOP_WITHIN_S, f"took {took:.1f} s"
    text = " ".join(err.split())
    assert "stopped by SIGTERM during round 1/1, stage score" in text
    assert "resume with: materials-ai campaign resume" in text
    # The printed command finishes the campaign (scoring at normal speed in this process).
    resumed = CliRunner().invoke(
        app, ["campaign", "resume", str(run_dir), "--no-progress"], env=env
    )
    assert resumed.exit_code == 0, resumed.output
    assert "finished, 1 of 1 selection rounds" in resumed.output
