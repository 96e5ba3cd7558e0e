"""Retention: a discharged client's record is anonymised once the clinic's period is past.

Each clinic says how long it keeps records after discharge
(`Clinic.retention_days_after_discharge`; empty keeps them until someone erases them).
`retention_erase` finds the discharged clients past it that are not yet erased and
erases each through `client_erase` (actor "system"), in its own transaction, so one
failure leaves the others done. It is "due and not done", not "due today": a missed run
loses nothing, and a second run finds nothing left to do.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone

from alliance.progress import OnStage
from clients.audit import SYSTEM
from clients.models import Client, Clinic
from measures.rights import client_erase

logger = logging.getLogger(__name__)


def past_retention(clinic: Clinic, now: dt.datetime) -> QuerySet[Client]:
    """The clinic's discharged, not yet erased clients discharged before its period began."""
    cutoff = now - dt.timedelta(days=clinic.retention_days_after_discharge or 0)
    return Client.objects.filter(
        clinic=clinic,
        status=Client.Status.DISCHARGED,
        erased_at__isnull=True,
        discharged_at__lt=cutoff,
    )


def retention_erase(
    *, now: dt.datetime | None = None, progress: OnStage | None = None
) -> dict[str, int]:
    """Erase every client past their clinic's retention period; clinic slug → how many.
    `progress` hears of each clinic (by slug) and how many of its clients are due, and is
    told how many have been done (a clinic's first retention may erase thousands, about
    12 ms each)."""
    now = now or timezone.now()
    done: dict[str, int] = {}
    for clinic in Clinic.objects.filter(retention_days_after_discharge__isnull=False):
        due = list(past_retention(clinic, now).order_by("pk"))
        on_progress = progress(clinic.slug, len(due)) if progress is not None else None
        erased = 0
        for number, client in enumerate(due, start=1):
            try:
                client_erase(actor=SYSTEM, client=client, place="retention")
            except ValidationError:  # erased (or re-opened) meanwhile: nothing to do
                continue
            finally:
                if on_progress is not None:
                    on_progress(number)
            erased += 1
        done[clinic.slug] = erased
        # Counts only: a log line never names a client.
        logger.info(
            "Retention: %s client(s) of clinic %s erased, %s day(s) after discharge.",
            erased,
            clinic.slug,
            clinic.retention_days_after_discharge,
        )
    return done
