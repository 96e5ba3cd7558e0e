"""A real Celery worker consuming from Redis evaluates a client after their rating."""

from __future__ import annotations

import time
from typing import Any

import pytest

from alliance.celery import app
from clients.models import Client
from conftest import celery_broker
from measures.models import Concern, Flag
from measures.scoring import DIMENSIONS
from measures.services import client_rating_submit
from measures.tests.factories import RatingFactory
from sessions.invitations import invitation_create
from sessions.tests.factories import SessionFactory


@pytest.mark.django_db(transaction=True)
def test_a_client_rating_is_evaluated_by_a_real_worker(
    redis_url: str, client_record: Client
) -> None:
    from celery.contrib.testing.worker import start_worker

    for _ in range(4):
        RatingFactory(session=SessionFactory(client=client_record), **dict.fromkeys(DIMENSIONS, 10))
    invitation, _ = invitation_create(session=SessionFactory(client=client_record))
    answers: dict[str, Any] = {
        **dict.fromkeys(DIMENSIONS, 4),
        "rupture": "a_lot",
        "rupture_resolved": "not_at_all",
    }
    with (
        celery_broker(redis_url),
        start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10),
    ):
        # Committed at once (no test transaction), so on_commit enqueues for real.
        client_rating_submit(
            invitation=invitation, answers=answers, notice_version=1, notice_language="en"
        )
        deadline = time.monotonic() + 20
        while (
            time.monotonic() < deadline
            and not Concern.objects.filter(client=client_record).exists()
        ):
            time.sleep(0.1)
        time.sleep(0.3)  # let the worker finish its insert batch
    rules = set(Flag.objects.filter(client=client_record).values_list("rule", flat=True))
    assert {"reliable_drop", "rupture_unresolved", "below_cutoff"} <= rules
    # Grouped in the same task: one concern holding them.
    concern = Concern.objects.get(client=client_record)
    assert concern.signals.count() == len(rules)
