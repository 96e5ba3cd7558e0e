"""The Celery app. Configuration comes from Django settings prefixed CELERY_."""

from __future__ import annotations

import logging
import os
from typing import Any

from celery import Celery
from celery.signals import beat_init, worker_process_init, worker_ready
from kombu.exceptions import OperationalError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alliance.settings")

logger = logging.getLogger(__name__)
app = Celery("alliance")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="alliance.ping")
def ping() -> str:
    """Answer "pong": lets operators and tests prove a worker is consuming."""
    return "pong"


@worker_process_init.connect  # each process of the default (prefork) pool, as it starts
@worker_ready.connect  # the worker's own process, where a solo or threaded pool runs tasks
def keep_loaded_out_of_collections(**kwargs: Any) -> None:
    """What the worker loaded (the app, its tasks) stays out of the garbage collector's
    full collections, which a sweep runs often (alliance/memory.py)."""
    from alliance.memory import freeze_what_is_loaded

    freeze_what_is_loaded()


@beat_init.connect
def look_for_concerns_at_once(sender: Any, **kwargs: Any) -> None:
    """Queue a catch-up as beat starts, not one interval (10 minutes) later.

    Beat runs an interval job first an interval after it starts, unless its schedule file
    remembers an earlier run. A new installation, or a beat in a new container, would read
    "not yet looked" on every page that lists concerns, and fail /health/detection/, for
    those minutes; a beat back after hours away would leave what changed meanwhile unjudged
    as long. A catch-up reads only what changed since the last one, so an extra one costs
    little (measures/freshness.py). A broker not yet up gets no second try: beat's own
    jobs fare the same, and the catch-up comes at its interval."""
    from django.conf import settings

    try:
        sender.app.send_task("measures.tasks.catch_up")
    except OperationalError as error:
        logger.warning(
            "Could not queue a catch-up as beat started (%s); the first comes at its "
            "interval, in %s s.",
            error,
            settings.ALLIANCE_CATCH_UP_SECONDS,
        )
