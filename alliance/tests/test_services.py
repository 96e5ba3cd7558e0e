"""Under REQUIRE_SERVICES=1 the suite runs on the real services, or fails."""

from __future__ import annotations

import pytest
from django.db import connection

from alliance.celery import app
from conftest import celery_broker, services_required


@pytest.mark.django_db
def test_the_database_is_postgresql_when_services_are_required() -> None:
    if not services_required():
        pytest.skip("runs against PostgreSQL only with REQUIRE_SERVICES=1")
    assert connection.vendor == "postgresql"


@pytest.mark.django_db
def test_the_database_answers(postgresql: None) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def test_a_real_celery_task_round_trips_through_redis(redis_url: str) -> None:
    """A worker consuming from Redis runs our task and returns its result."""
    from celery.contrib.testing.worker import start_worker

    # perform_ping_check=False: the ping task lives in celery.contrib.testing,
    # and our own ping is what this test is about.
    with (
        celery_broker(redis_url, result_backend=redis_url),
        start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10),
    ):
        result = app.send_task("alliance.ping")
        assert result.get(timeout=20) == "pong"


def test_a_missing_service_fails_when_services_are_required(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from conftest import missing_service

    monkeypatch.setenv("REQUIRE_SERVICES", "1")
    with pytest.raises(pytest.fail.Exception, match="needs Redis"):
        missing_service("needs Redis")
    monkeypatch.setenv("REQUIRE_SERVICES", "")
    with pytest.raises(pytest.skip.Exception, match="needs Redis"):
        missing_service("needs Redis")


def test_each_process_of_the_suite_has_redis_databases_of_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from conftest import FAULTS_DATABASE, faults_redis_database, redis_database, suite_process

    assert redis_database("redis://127.0.0.1:6379", 2) == "redis://127.0.0.1:6379/2"
    assert redis_database("redis://127.0.0.1:6379/0", 3) == "redis://127.0.0.1:6379/3"
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    assert (suite_process(), faults_redis_database()) == (0, FAULTS_DATABASE)
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw3")
    assert (suite_process(), faults_redis_database()) == (3, FAULTS_DATABASE - 3)
    # A fifth process (xdist's replacement for a crashed one) would share another's.
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw4")
    with pytest.raises(pytest.fail.Exception, match="maxprocesses 4"):
        suite_process()
