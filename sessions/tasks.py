"""Background work for sessions: rating links e-mailed, and their reminders."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from sessions.invitations import AddressRefused, EmailUnsent, invitation_send, reminders_send

# A database blink or a mail server down or busy is worth another try: a failed send
# changed nothing, so trying again cannot send twice. A refused address is not.
RETRY_ON = (OperationalError, InterfaceError, OSError, EmailUnsent)


@shared_task(name="sessions.tasks.send_rating_reminders", acks_late=True)
def send_rating_reminders() -> int:
    """Beat runs this often; it sends each due reminder once ("due and not done")."""
    return reminders_send()


@shared_task(
    name="sessions.tasks.email_rating_link",
    acks_late=True,
    autoretry_for=RETRY_ON,
    # The task fails at once, its error naming no address; the client's link stays open.
    dont_autoretry_for=(AddressRefused,),
    retry_backoff=30,
    max_retries=4,
)
def email_rating_link(invitation_id: int) -> bool:
    """E-mail the client a rating link in place of this open one (`invitation_send`).

    It takes the invitation's id, not the link: the raw token is a secret whose hash alone
    is stored, and a message waiting in Redis is not the place for it. So the worker issues
    a fresh link, with the original expiry, as reminders do; the cost is that the link the
    therapist was shown stops working once the e-mail goes.
    """
    return invitation_send(invitation_id=invitation_id)
