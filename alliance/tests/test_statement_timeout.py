"""The web tier's statements are cancelled after DATABASE_WEB_STATEMENT_TIMEOUT_SECONDS;
workers and commands are not (alliance/settings.py, alliance/wsgi.py).

Each case starts a Python process of its own, as gunicorn or a worker would, on the test
database: the timeout is set when the settings load, from how the process started.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

PROJECT = Path(__file__).resolve().parents[2]
# Slept for longer than the timeout: what a query gone wrong looks like to PostgreSQL.
PROBE = """
import sys
{start}
from django.db import OperationalError, connection
with connection.cursor() as cursor:
    cursor.execute("SHOW statement_timeout")
    print(cursor.fetchone()[0])
    try:
        cursor.execute("SELECT pg_sleep(2)")
        print("finished")
    except OperationalError as error:
        print("cancelled" if "statement timeout" in str(error) else f"other: {{error}}")
"""
AS_THE_WEB_TIER = "import alliance.wsgi"
AS_A_WORKER = "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'alliance.settings'); django.setup()"  # noqa: E501


def inherited() -> dict[str, str]:
    """This process's environment, without anything saying which tier it is."""
    return {
        name: value
        for name, value in os.environ.items()
        if name not in ("ALLIANCE_WEB_TIER", "DATABASE_WEB_STATEMENT_TIMEOUT_SECONDS")
    }


def run(start: str, **environment: str) -> list[str]:
    settings = connection.settings_dict
    url = (
        f"postgres://{settings['USER']}@{settings['HOST'] or '127.0.0.1'}:"
        f"{settings['PORT'] or 5432}/{settings['NAME']}"
    )
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(start=start)],
        cwd=PROJECT,
        env={**inherited(), "DATABASE_URL": url, **environment},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.split()


@pytest.mark.django_db(transaction=True)
def test_a_web_request_statement_is_cancelled_after_the_timeout(postgresql: Any) -> None:
    assert run(AS_THE_WEB_TIER, DATABASE_WEB_STATEMENT_TIMEOUT_SECONDS="1") == [
        "1s",
        "cancelled",
    ]


@pytest.mark.django_db(transaction=True)
def test_the_web_tier_default_is_under_gunicorns_30_seconds(postgresql: Any) -> None:
    assert run(AS_THE_WEB_TIER)[0] == "25s"


@pytest.mark.django_db(transaction=True)
def test_workers_and_commands_run_as_long_as_their_work_needs(postgresql: Any) -> None:
    assert run(AS_A_WORKER, DATABASE_WEB_STATEMENT_TIMEOUT_SECONDS="1") == ["0", "finished"]


@pytest.mark.django_db(transaction=True)
def test_the_web_tier_timeout_can_be_turned_off(postgresql: Any) -> None:
    assert run(AS_THE_WEB_TIER, DATABASE_WEB_STATEMENT_TIMEOUT_SECONDS="0") == ["0", "finished"]
