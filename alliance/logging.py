"""Keep secrets and search terms out of every log line.

A client's link is `/r/<token>/`, a password-reset link and a new colleague's invitation
(`/staff/welcome/…`) carry a token too, and
the query strings of clinical pages carry search terms (`?q=…`) and filters. The
request line appears in Django's request and runserver logs and in gunicorn's
access log. Redacting when each record is made (not in one handler) covers every
logger and handler in the process, including gunicorn's, which runs in the same
worker.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from alliance.routing import resolver_match

TOKEN_IN_PATH = re.compile(r"(/r/)(?!thanks/)[^/\s?]+")
RESET_TOKEN_IN_PATH = re.compile(
    r"(/(?:accounts/password/reset|staff/welcome)/[^/\s?]+/)(?!set-password/)[^/\s?]+"
)
# A query string runs to the next space, quotes inside it included, short of a closing
# quote that ends a quoted request line or address.
QUERY_STRING = re.compile(r"(/[^\s'\"?]*)\?\S+?(?=[\"']?(?:\s|$))")
REDACTED = r"\1[redacted]"
MARKERS = ("/r/", "/reset/", "/welcome/", "?")


def redact(text: str) -> str:
    text = TOKEN_IN_PATH.sub(REDACTED, text)
    text = RESET_TOKEN_IN_PATH.sub(REDACTED, text)
    return QUERY_STRING.sub(r"\1?[redacted]", text)


def install_token_redaction() -> None:
    """Wrap the log-record factory once, so every record's message is redacted."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "redacts_tokens", False):
        return

    def make_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed call is logging's problem to report, not ours
            return record
        if any(marker in message for marker in MARKERS):
            record.msg, record.args = redact(message), ()
        return record

    make_record.redacts_tokens = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(make_record)


# The health checks (measures/views/health.py) answer 503 by design while the database is
# away or detection is late, and whoever polls them (a load balancer every few seconds, a
# monitor every minute) raises the alarm on that answer. Django's request log would add an
# ERROR line per poll: hundreds an hour for one known fault, drowning the errors that are
# news. Every other 503 (a page during a database outage) is still logged.
HEALTH_CHECKS = frozenset({"measures:health", "measures:health-detection"})


class QuietHealthChecks(logging.Filter):
    """On `django.request`: drops the line a health check's own 503 answer would log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) != 503:
            return True
        return _view_name(getattr(record, "request", None)) not in HEALTH_CHECKS


def _view_name(request: Any) -> str | None:
    match = resolver_match(request)
    return match.view_name if match else None


class PlainRefusals(logging.Filter):
    """On `django.request`: a 403 from a refused permission keeps its one WARNING line
    ("Forbidden (Permission denied): /path") without the traceback Django attaches. A
    refusal is the app working (a therapist following a colleague's link, a supervisor
    pressing a therapist's button): dozens of lines of stack each time hid the errors that
    are news, and told an operator nothing the line does not."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) == 403:
            record.exc_info = record.exc_text = None
        return True
