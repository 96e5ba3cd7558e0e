"""The Celery app for the fault tests' workers: each sweep chunk lingers after storing its
signals (SWEEP_CHUNK_LINGER seconds) and before recording itself done, so a test can kill
the worker mid-chunk, with part of the work written.

    python -m celery -A measures.tests.lingering_worker worker …
"""

from __future__ import annotations

import datetime as dt
import os
import time
from typing import Any

from celery.signals import worker_init

from alliance.celery import app

__all__ = ["app"]


@worker_init.connect
def linger_in_each_chunk(**kwargs: Any) -> None:
    # Before the pool forks, so every pool process inherits it.
    import django

    django.setup()
    from measures import detection

    seconds = float(os.environ.get("SWEEP_CHUNK_LINGER", "0"))
    evaluate = detection.evaluation_run

    def lingering(clients: Any, now: dt.datetime, *args: Any) -> detection.Outcome:
        outcome = evaluate(clients, now, *args)  # a catch-up's too
        time.sleep(seconds)
        return outcome

    detection.evaluation_run = lingering
