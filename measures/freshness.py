"""Whether detection is keeping up: when it last read what had changed, and whether that is
too long ago.

A rating's own evaluation runs on a worker; beat's catch-up (every 10 minutes) and the
nightly sweep judge whatever that missed. If the workers or beat stop, nothing says so:
concerns simply stop opening, and a therapist reads an empty review queue as all well. The
latest finished sweep or catch-up measures the whole chain at once (beat, broker, worker,
database): the pages that list concerns warn when it is late, and /health/detection/ fails.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from alliance.celery import app
from measures.models import Sweep


@dataclass(frozen=True)
class DetectionStatus:
    # Whether workers and beat are expected at all: without a broker (`make run`) each
    # rating is judged in the request that saves it, and nothing periodic runs.
    scheduled: bool
    # When the latest finished sweep or catch-up began (None: none has finished yet).
    last_checked_at: dt.datetime | None = None
    late: bool = False


def is_late(
    last_checked_at: dt.datetime | None, now: dt.datetime, late_after: dt.timedelta
) -> bool:
    """Late when no sweep has ever finished, or the latest began longer ago than allowed."""
    return last_checked_at is None or now - last_checked_at > late_after


def detection_status(now: dt.datetime | None = None) -> DetectionStatus:
    """Where detection stands now (one indexed query when workers are expected)."""
    if app.conf.task_always_eager:
        return DetectionStatus(scheduled=False)
    last = Sweep.objects.last_finished()
    last_checked_at = last.started_at if last else None
    late_after = dt.timedelta(minutes=settings.ALLIANCE_DETECTION_LATE_MINUTES)
    return DetectionStatus(
        scheduled=True,
        last_checked_at=last_checked_at,
        late=is_late(last_checked_at, now or timezone.now(), late_after),
    )
