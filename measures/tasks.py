"""Celery tasks for the alliance measures."""

from __future__ import annotations

from celery import shared_task

from measures.models import Rating


@shared_task(name="measures.tasks.evaluate_client", acks_late=True)
def evaluate_client(client_id: int) -> int:
    """Evaluate one client's history after a new rating.

    Enqueued on commit of every client rating. The flag rules themselves arrive
    with alliance-drop detection; until then it reports how many ratings the
    client has to evaluate.
    """
    return Rating.objects.filter(session__client_id=client_id).count()
