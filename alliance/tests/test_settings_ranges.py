"""A setting out of its range stops start-up, naming the variable and the range.

Each of these had started fine and then misbehaved: everyone signed out at their next page,
nobody ever locked out, every rating link paused, every steady rating flagged. The settings
module is run afresh for each value, in this process (`manage.py check` costs a second or
two, and the table is long); one test starts `manage.py check` to show the refusal is at
start-up.
"""

from __future__ import annotations

import os
import re
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

PROJECT = Path(__file__).resolve().parents[2]
SETTINGS = PROJECT / "alliance" / "settings.py"

REFUSED = [
    # Sign-in, links and the site's protections.
    ("ALLIANCE_LOGIN_FAILURES_ALLOWED", "0", "must be 1 or more, not '0'"),
    ("ALLIANCE_LOGIN_FAILURES_ALLOWED", "-3", "must be 1 or more, not '-3'"),
    ("ALLIANCE_LOGIN_LOCKOUT_MINUTES", "0", "must be 1 or more"),
    ("ALLIANCE_LOGIN_LOCKOUT_MINUTES", "-15", "must be 1 or more"),
    ("ALLIANCE_IDLE_MINUTES", "0", "must be 1 or more"),
    ("ALLIANCE_IDLE_MINUTES", "-30", "must be 1 or more"),
    ("ALLIANCE_REAUTHENTICATE_MINUTES", "0", "must be 1 or more"),
    ("PASSWORD_RESET_TIMEOUT_HOURS", "0", "must be 1 or more"),
    ("ALLIANCE_STAFF_INVITATION_DAYS", "0", "must be 1 or more"),
    ("ALLIANCE_LINK_FAILURES_ALLOWED", "0", "must be 1 or more"),
    ("ALLIANCE_LINK_FAILURE_WINDOW_SECONDS", "0", "must be 1 or more"),
    ("ALLIANCE_TRUSTED_PROXY_HOPS", "-1", "must be 0 or more"),
    ("ALLIANCE_MAX_REQUEST_BYTES", "0", "must be 65536 or more"),
    ("ALLIANCE_MAX_REQUEST_BYTES", "16384", "must be 65536 or more"),
    ("CACHE_URL", "redis:/cache.internal:6379/1", "CACHE_URL must be a Redis address"),
    ("CACHE_URL", "cache.internal:6379", "CACHE_URL must be a Redis address"),
    ("CACHE_URL", "redis://a:6379/1,b:6379/1", "CACHE_URL must be a Redis address"),
    # The rules' thresholds, on scores from 0 to 10.
    ("ALLIANCE_CUTOFF", "36", "must be from 0 to 10, not '36'"),
    ("ALLIANCE_CUTOFF", "-1", "must be from 0 to 10"),
    ("ALLIANCE_SD", "12", "ALLIANCE_SD must be more than 0 and at most 10"),
    ("ALLIANCE_MIN_EARLIER_RATINGS", "0", "must be 1 or more"),
    ("ALLIANCE_OWN_SD_MULTIPLIER", "-2", "must be 0 or more"),
    ("ALLIANCE_DIMENSION_DROP", "0", "must be from 1 to 10"),
    ("ALLIANCE_DIMENSION_DROP", "11", "must be from 1 to 10"),
    ("ALLIANCE_TREND_LENGTH", "1", "must be 2 or more"),
    ("ALLIANCE_TREND_MIN_FALL", "-1", "must be from 0 to 10"),
    ("ALLIANCE_TREND_MIN_FALL", "12", "must be from 0 to 10"),
    ("ALLIANCE_TREND_BELOW_USUAL", "-0.5", "must be from 0 to 10"),
    ("ALLIANCE_DISCREPANCY", "0", "ALLIANCE_DISCREPANCY must be more than 0 and at most 10"),
    ("ALLIANCE_DISCREPANCY", "-1.5", "ALLIANCE_DISCREPANCY must be more than 0"),
    ("ALLIANCE_MISSED_IN_A_ROW", "0", "must be 1 or more"),
    ("ALLIANCE_UNRATED_IN_A_ROW", "0", "must be 1 or more"),
    ("ALLIANCE_OUTCOME_MIN_CLIENTS", "0", "must be 1 or more"),
    ("ALLIANCE_OUTCOME_COURSE_LENGTH", "1", "must be 2 or more"),
    ("ALLIANCE_OUTCOME_COURSE_LENGTH", "-3", "must be 2 or more"),
    # Schedules, and how long links and windows last.
    ("ALLIANCE_DIGEST_HOUR", "24", "ALLIANCE_DIGEST_HOUR must be from 0 to 23, not '24'"),
    ("ALLIANCE_DIGEST_HOUR", "-1", "ALLIANCE_DIGEST_HOUR must be from 0 to 23"),
    ("ALLIANCE_SWEEP_HOUR", "24", "ALLIANCE_SWEEP_HOUR must be from 0 to 23"),
    ("ALLIANCE_SWEEP_HOUR", "-1", "ALLIANCE_SWEEP_HOUR must be from 0 to 23"),
    ("ALLIANCE_ESCALATE_AFTER_DAYS", "0", "must be 1 or more"),
    ("ALLIANCE_ESCALATE_AFTER_DAYS", "-7", "must be 1 or more"),
    ("ALLIANCE_CATCH_UP_SECONDS", "0", "must be 1 or more"),
    ("ALLIANCE_REMINDER_SWEEP_SECONDS", "0", "must be 1 or more"),
    ("ALLIANCE_REMINDER_SWEEP_SECONDS", "-900", "must be 1 or more"),
    ("ALLIANCE_DETECTION_LATE_MINUTES", "0", "longer than the catch-up's interval"),
    ("ALLIANCE_DETECTION_LATE_MINUTES", "10", "(600 s): 11 or more"),
    ("ALLIANCE_INVITATION_LIFETIME_DAYS", "0", "must be 1 or more"),
    ("ALLIANCE_INVITATION_REMINDER_AFTER_HOURS", "0", "must be 1 or more"),
    ("ALLIANCE_INVITATION_REMINDER_AFTER_HOURS", "96", "below the links' lifetime"),
    ("ALLIANCE_OWN_CHART_MINUTES", "0", "must be 1 or more"),
    ("ALLIANCE_THERAPIST_RATING_EDIT_HOURS", "0", "must be 1 or more"),
    ("ALLIANCE_THERAPIST_RATING_EDIT_HOURS", "-24", "must be 1 or more"),
    # Workers, the database, e-mail and logs.
    ("CELERY_TASK_TIME_LIMIT", "-1", "CELERY_TASK_TIME_LIMIT must be 1 or more"),
    ("CELERY_TASK_TIME_LIMIT", "0", "CELERY_TASK_TIME_LIMIT must be 1 or more"),
    ("CELERY_TASK_SOFT_TIME_LIMIT", "0", "CELERY_TASK_SOFT_TIME_LIMIT must be 1 or more"),
    ("CELERY_TASK_SOFT_TIME_LIMIT", "300", "must be below CELERY_TASK_TIME_LIMIT (300)"),
    ("CELERY_VISIBILITY_TIMEOUT", "0", "CELERY_VISIBILITY_TIMEOUT must be 1 or more"),
    ("CELERY_UNACKED_RESTORE_INTERVAL", "0", "must be 1 or more"),
    ("CELERY_UNACKED_RESTORE_THROTTLE", "-10", "must be 1 or more"),
    ("DATABASE_CONN_MAX_AGE", "-60", "DATABASE_CONN_MAX_AGE must be 0 or more"),
    ("DATABASE_REPLICA_WAIT_SECONDS", "-1", "must be 0 or more"),
    ("EMAIL_PORT", "70000", "EMAIL_PORT must be from 1 to 65535, not '70000'"),
    ("EMAIL_PORT", "0", "EMAIL_PORT must be from 1 to 65535"),
    ("LOG_LEVEL", "verbose", "LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL"),
    # The addresses e-mails are sent from and link to.
    ("DEFAULT_FROM_EMAIL", "alliance@", "DEFAULT_FROM_EMAIL must be an e-mail address"),
    ("DEFAULT_FROM_EMAIL", "Alliance alliance.example.org", "must be an e-mail address"),
    ("ALLIANCE_BASE_URL", "alliance.example.org", "ALLIANCE_BASE_URL must be the site's"),
    ("ALLIANCE_BASE_URL", "https://", "ALLIANCE_BASE_URL must be the site's address"),
    ("ALLIANCE_BASE_URL", "ftp://alliance.example.org", "must be the site's address"),
    ("ALLIANCE_BASE_URL", "https://clinic.example/alliance", "with no path"),
    ("ALLIANCE_BASE_URL", "https://alliance.example.org/?x=1", "with no path"),
]

# Production only (SECURE_HSTS_SECONDS is read when DEBUG is false).
PRODUCTION = {"DEBUG": "false", "SECRET_KEY": "x" * 60, "ALLOWED_HOSTS": "alliance.example"}
REFUSED_IN_PRODUCTION = [
    ("SECURE_HSTS_SECONDS", "-1", "must be 0 or more"),
]

TAKEN = [
    ("ALLIANCE_LOGIN_FAILURES_ALLOWED", "1", "AXES_FAILURE_LIMIT", 1),
    ("ALLIANCE_IDLE_MINUTES", "1", "SESSION_COOKIE_AGE", 60),
    ("ALLIANCE_TRUSTED_PROXY_HOPS", "0", "ALLIANCE_TRUSTED_PROXY_HOPS", 0),
    ("ALLIANCE_MAX_REQUEST_BYTES", "65536", "DATA_UPLOAD_MAX_MEMORY_SIZE", 65536),
    *[
        ("CACHE_URL", url, "CACHES.default.LOCATION", url)
        for url in (
            "rediss://:secret@cache.internal:6380/1",
            "redis://a:6379/1,redis://b:6379/1",
            "unix:///run/redis.sock",
        )
    ],
    ("ALLIANCE_CUTOFF", "0", "ALLIANCE_CUTOFF", 0.0),
    ("ALLIANCE_CUTOFF", "10", "ALLIANCE_CUTOFF", 10.0),
    ("ALLIANCE_SD", "10", "ALLIANCE_SD", 10.0),
    ("ALLIANCE_DIMENSION_DROP", "10", "ALLIANCE_DIMENSION_DROP", 10),
    ("ALLIANCE_TREND_LENGTH", "2", "ALLIANCE_TREND_LENGTH", 2),
    ("ALLIANCE_TREND_BELOW_USUAL", "0", "ALLIANCE_TREND_BELOW_USUAL", 0.0),
    ("ALLIANCE_DISCREPANCY", "0.5", "ALLIANCE_DISCREPANCY", 0.5),
    ("ALLIANCE_MISSED_IN_A_ROW", "1", "ALLIANCE_MISSED_IN_A_ROW", 1),
    ("ALLIANCE_OUTCOME_COURSE_LENGTH", "2", "ALLIANCE_OUTCOME_COURSE_LENGTH", 2),
    ("ALLIANCE_DIGEST_HOUR", "0", "ALLIANCE_DIGEST_HOUR", 0),
    ("ALLIANCE_SWEEP_HOUR", "23", "ALLIANCE_SWEEP_HOUR", 23),
    ("ALLIANCE_ESCALATE_AFTER_DAYS", "1", "ALLIANCE_ESCALATE_AFTER_DAYS", 1),
    ("ALLIANCE_DETECTION_LATE_MINUTES", "11", "ALLIANCE_DETECTION_LATE_MINUTES", 11),
    (
        "ALLIANCE_INVITATION_REMINDER_AFTER_HOURS",
        "95",
        "ALLIANCE_INVITATION_REMINDER_AFTER_HOURS",
        95,
    ),
    ("ALLIANCE_THERAPIST_RATING_EDIT_HOURS", "1", "ALLIANCE_THERAPIST_RATING_EDIT_HOURS", 1),
    ("CELERY_TASK_SOFT_TIME_LIMIT", "299", "CELERY_TASK_SOFT_TIME_LIMIT", 299),
    ("CELERY_VISIBILITY_TIMEOUT", "5", "CELERY_BROKER_TRANSPORT_OPTIONS.visibility_timeout", 5),
    ("DATABASE_CONN_MAX_AGE", "0", "DATABASES.default.CONN_MAX_AGE", 0),
    ("EMAIL_PORT", "587", "EMAIL_PORT", 587),
    ("LOG_LEVEL", "warning", "LOG_LEVEL", "WARNING"),
    *[
        ("DEFAULT_FROM_EMAIL", sender, "DEFAULT_FROM_EMAIL", sender)
        for sender in ("alliance@clinic.example", "Clínica Norte <alliance@clinic.example>")
    ],
    *[
        ("ALLIANCE_BASE_URL", url, "ALLIANCE_BASE_URL", url)
        for url in (
            "https://alliance.example.org/",
            "http://192.168.1.20:8000",
            "http://[::1]:8000",
        )
    ],
]


def _settings(monkeypatch: pytest.MonkeyPatch, **variables: str) -> dict[str, Any]:
    """The settings module run afresh with these variables set (and the others as they are)."""
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(SETTINGS))


@pytest.mark.parametrize(("variable", "value", "message"), REFUSED)
def test_a_setting_out_of_its_range_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    with pytest.raises(ImproperlyConfigured, match=re.escape(message)) as refusal:
        _settings(monkeypatch, **{variable: value})
    assert variable in str(refusal.value)


@pytest.mark.parametrize(("variable", "value", "message"), REFUSED_IN_PRODUCTION)
def test_a_production_setting_out_of_its_range_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    with pytest.raises(ImproperlyConfigured, match=re.escape(f"{variable} {message}")):
        _settings(monkeypatch, **PRODUCTION, **{variable: value})


def test_the_defaults_start(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable, *_ in REFUSED + REFUSED_IN_PRODUCTION:
        monkeypatch.delenv(variable, raising=False)
    assert _settings(monkeypatch)["SESSION_COOKIE_AGE"] == 30 * 60
    assert _settings(monkeypatch, **PRODUCTION)["SECURE_HSTS_SECONDS"] == 60 * 60 * 24 * 365


@pytest.mark.parametrize(("variable", "value", "setting", "expected"), TAKEN)
def test_a_setting_at_the_edge_of_its_range_is_taken(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, setting: str, expected: Any
) -> None:
    taken: Any = _settings(monkeypatch, **{variable: value})
    for key in setting.split("."):
        taken = taken[key]
    assert taken == expected


def test_no_hsts_is_still_allowed_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    """0 sends no header (the deploy check warns); it is how a site withdraws HSTS."""
    assert _settings(monkeypatch, **PRODUCTION, SECURE_HSTS_SECONDS="0")["SECURE_HSTS_SECONDS"] == 0


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("ALLIANCE_IDLE_MINUTES", "0", "ALLIANCE_IDLE_MINUTES must be 1 or more, not '0'"),
        # Celery's crontab had refused it here too, saying only "Valid range is 0-23. '24'
        # was found", of no variable and no job.
        ("ALLIANCE_DIGEST_HOUR", "24", "ALLIANCE_DIGEST_HOUR must be from 0 to 23, not '24'"),
    ],
)
def test_manage_py_refuses_to_start_naming_the_variable_and_its_range(
    variable: str, value: str, message: str
) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=PROJECT,
        env={**os.environ, variable: value},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert message in result.stderr
