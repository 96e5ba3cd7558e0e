"""Housekeeping for signed-in sessions."""

from __future__ import annotations

import logging

from celery import shared_task
from django.contrib.sessions.models import Session
from django.utils import timezone

logger = logging.getLogger(__name__)


@shared_task(name="accounts.tasks.clear_expired_sessions")
def clear_expired_sessions() -> int:
    """Delete sessions past their expiry (idle ones end after ALLIANCE_IDLE_MINUTES), so the
    table holds only sessions that may still be used."""
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    logger.info("Cleared %s expired sessions.", deleted)
    return deleted
