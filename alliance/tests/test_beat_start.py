"""Beat queues a catch-up as it starts (alliance/celery.py). With the broker up, a real
beat and worker prove it (measures/tests/test_sweep_faults.py); here the broker is not up
yet, as when a container's beat starts before Redis."""

from __future__ import annotations

import logging
import socket
from types import SimpleNamespace
from typing import Any

import pytest

from alliance.celery import app, look_for_concerns_at_once
from conftest import celery_broker


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens once the probe is closed


def test_a_broker_not_yet_up_leaves_beat_running_and_says_when_the_first_catch_up_comes(
    caplog: pytest.LogCaptureFixture, settings: Any
) -> None:
    beat = SimpleNamespace(app=app)  # what beat_init sends: beat's service, with its app
    caplog.set_level(logging.WARNING, logger="alliance.celery")
    with celery_broker(f"redis://127.0.0.1:{closed_port()}/0"):
        look_for_concerns_at_once(sender=beat)  # does not raise: beat starts all the same
    (record,) = [r for r in caplog.records if r.name == "alliance.celery"]
    assert record.levelno == logging.WARNING
    assert "Could not queue a catch-up as beat started" in record.getMessage()
    assert f"in {settings.ALLIANCE_CATCH_UP_SECONDS} s" in record.getMessage()
