"""Background work for sessions: rating-link reminders."""

from __future__ import annotations

from celery import shared_task

from sessions.invitations import reminders_send


@shared_task(name="sessions.tasks.send_rating_reminders", acks_late=True)
def send_rating_reminders() -> int:
    """Beat runs this often; it sends each due reminder once ("due and not done")."""
    return reminders_send()
