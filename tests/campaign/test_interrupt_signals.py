"""Stop signals raise at once, except while the state file is written."""

from __future__ import annotations

import os
import signal

import pytest

from materials_ai.campaign.interrupt import CampaignInterrupted, deferred, stop_on_signals


def test_a_signal_during_a_state_write_waits_for_it() -> None:
    before = signal.getsignal(signal.SIGTERM)
    written = []
    with pytest.raises(CampaignInterrupted) as stopped, stop_on_signals():
        with deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            written.append("state")  # still runs: the signal waits
        written.append("next stage")  # never runs
    assert written == ["state"]
    assert stopped.value.signal_name == "SIGTERM" and stopped.value.exit_code == 143
    assert signal.getsignal(signal.SIGTERM) is before  # handlers restored


def test_sigint_raises_at_once_with_exit_code_130() -> None:
    ran_on = []
    with pytest.raises(CampaignInterrupted) as stopped, stop_on_signals():
        os.kill(os.getpid(), signal.SIGINT)
        ran_on.append("after")
    assert ran_on == [] and stopped.value.exit_code == 130
    assert isinstance(stopped.value, KeyboardInterrupt)  # `except Exception` lets it pass
