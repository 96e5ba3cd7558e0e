"""The Celery app. Configuration comes from Django settings prefixed CELERY_."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alliance.settings")

app = Celery("alliance")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="alliance.ping")
def ping() -> str:
    """Answer "pong": lets operators and tests prove a worker is consuming."""
    return "pong"
