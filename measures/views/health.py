"""/health/ for a load balancer, /health/detection/ for a monitor: whether this server can
serve, and whether detection keeps up. Open to anyone; they hold no record, only whether
each part works and when detection last looked for concerns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import Error, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_safe

from alliance.errors import outage_answer
from measures.freshness import DetectionStatus, detection_status


@dataclass(frozen=True)
class Health:
    database_ok: bool
    # None when the database could not say (unreachable, or a migration not yet run).
    detection: DetectionStatus | None

    @property
    def detection_ok(self) -> bool:
        return self.detection is not None and not self.detection.late

    def answer(self, ok: bool) -> JsonResponse:
        last_checked = self.detection.last_checked_at if self.detection else None
        body: dict[str, Any] = {
            "status": "ok" if ok else "failing",
            "database": "ok" if self.database_ok else "unreachable",
            "detection": _detection_word(self.detection),
            "detection_last_checked": last_checked.isoformat() if last_checked else None,
        }
        return JsonResponse(body, status=200 if ok else 503)


def _database_answers() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Error:  # unreachable, gave up after DATABASE_CONNECT_TIMEOUT_SECONDS, or closed
        return False
    return True


def _detection() -> DetectionStatus | None:
    try:
        return detection_status()
    except Error:  # the database answers, but not this (a migration not yet run)
        return None


def _detection_word(status: DetectionStatus | None) -> str:
    if status is None:
        return "unknown"
    if not status.scheduled:
        return "in process"  # no broker: each rating is judged as it is saved
    return "late" if status.late else "ok"


def _database_unreachable() -> JsonResponse:
    """Both checks' answer when the database does not: also given by the project's error
    handler when a check's request failed before reaching it (alliance/errors.py)."""
    return Health(database_ok=False, detection=None).answer(ok=False)


def _health() -> Health:
    database_ok = _database_answers()
    return Health(database_ok, _detection() if database_ok else None)


@outage_answer(_database_unreachable)
@require_safe
def serving(request: HttpRequest) -> JsonResponse:
    """For a load balancer: 503 only when the database does not answer. Late detection is
    reported but does not fail it: it would take every server out at once (pages and
    rating links with them) over background work the pages already warn of."""
    health = _health()
    return health.answer(ok=health.database_ok)


@outage_answer(_database_unreachable)
@require_safe
def detection(request: HttpRequest) -> JsonResponse:
    """For a monitor: 503 when detection has fallen behind (workers or beat stopped) or
    the database cannot say."""
    health = _health()
    return health.answer(ok=health.detection_ok)
