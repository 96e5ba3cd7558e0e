"""/health/: for a load balancer or a monitor, whether this server can do its work."""

from __future__ import annotations

from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_safe

from measures.freshness import DetectionStatus, detection_status


def _database_answers() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:  # unreachable, or gave up after DATABASE_CONNECT_TIMEOUT_SECONDS
        return False
    return True


def _detection() -> DetectionStatus | None:
    try:
        return detection_status()
    except DatabaseError:  # the database answers, but not this (a migration not yet run)
        return None


def _detection_word(status: DetectionStatus | None) -> str:
    if status is None:
        return "unknown"  # it is read from the database
    if not status.scheduled:
        return "in process"  # no broker: each rating is judged as it is saved
    return "late" if status.late else "ok"


@require_safe
def health(request: HttpRequest) -> JsonResponse:
    """200 when the database answers and detection keeps up, else 503, naming which part
    fails. Open to anyone and holds no record: only whether each part works, and when
    detection last read what had changed."""
    database_ok = _database_answers()
    detection = _detection() if database_ok else None
    healthy = detection is not None and not detection.late
    last_checked = detection.last_checked_at if detection else None
    return JsonResponse(
        {
            "status": "ok" if healthy else "failing",
            "database": "ok" if database_ok else "unreachable",
            "detection": _detection_word(detection),
            "detection_last_checked": last_checked.isoformat() if last_checked else None,
        },
        status=200 if healthy else 503,
    )
