"""The project is wired as DESIGN.md draws it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from alliance.env import env_bool, env_float, env_int, env_list, env_rate, env_str

PROJECT = Path(__file__).resolve().parents[2]


def test_our_sessions_app_installs_beside_djangos_sessions() -> None:
    assert apps.get_app_config("sessions").name == "django.contrib.sessions"
    assert apps.get_app_config("therapy_sessions").name == "sessions"


def test_the_user_model_is_ours_from_the_start() -> None:
    assert settings.AUTH_USER_MODEL == "clients.User"
    assert get_user_model()._meta.app_label == "clients"


@pytest.mark.django_db
def test_no_migration_is_missing() -> None:
    out = StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out)
    except SystemExit as exit:  # makemigrations --check exits 1 when something is missing
        pytest.fail(f"makemigrations --check found changes:\n{out.getvalue()} ({exit})")


def test_env_bool_refuses_anything_but_true_or_false(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_FLAG", "TRUE")
    assert env_bool("SOME_FLAG", default=False) is True
    monkeypatch.setenv("SOME_FLAG", "false")
    assert env_bool("SOME_FLAG", default=True) is False
    monkeypatch.setenv("SOME_FLAG", "yes")
    with pytest.raises(ImproperlyConfigured, match="SOME_FLAG must be true or false"):
        env_bool("SOME_FLAG", default=False)
    monkeypatch.delenv("SOME_FLAG")
    assert env_bool("SOME_FLAG", default=True) is True


def test_a_blank_variable_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "")
    assert env_str("DATABASE_URL", "sqlite:///db.sqlite3") == "sqlite:///db.sqlite3"
    monkeypatch.setenv("DATABASE_URL", "postgres://db/alliance")
    assert env_str("DATABASE_URL", "sqlite:///db.sqlite3") == "postgres://db/alliance"


def test_numbers_in_the_environment_are_read_in_the_digits_0_to_9_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MINUTES", "٣٠")
    with pytest.raises(ImproperlyConfigured):
        env_int("MINUTES", 30)
    with pytest.raises(ImproperlyConfigured):
        env_float("MINUTES", 30.0)


def test_numeric_and_list_readers_refuse_nonsense(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("A_NUMBER", "ten")
    with pytest.raises(ImproperlyConfigured, match="A_NUMBER must be a whole number"):
        env_int("A_NUMBER", 1)
    with pytest.raises(ImproperlyConfigured, match="A_NUMBER must be a number"):
        env_float("A_NUMBER", 1.0)
    monkeypatch.setenv("HOSTS", " a.example, ,b.example ")
    assert env_list("HOSTS", []) == ["a.example", "b.example"]


@pytest.mark.parametrize("raw", ["nan", "inf", "-Infinity"])
def test_a_number_in_the_environment_is_finite(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    """A cut-off of nan compares false with every score: nothing would ever be flagged."""
    monkeypatch.setenv("ALLIANCE_CUTOFF", raw)
    with pytest.raises(ImproperlyConfigured, match="ALLIANCE_CUTOFF must be a number"):
        env_float("ALLIANCE_CUTOFF", 9.0)


# Variables a production shell would not carry over from the test run.
_PRODUCTION_OVERRIDES = {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DJANGO_ALLOW_ASYNC_UNSAFE"}


def _run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in _PRODUCTION_OVERRIDES}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_without_a_secret_key_refuses_to_start() -> None:
    result = _run_manage("check", env={"DEBUG": "false", "ALLOWED_HOSTS": "alliance.example"})
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is false" in result.stderr


def test_production_without_allowed_hosts_refuses_to_start() -> None:
    result = _run_manage("check", env={"DEBUG": "false", "SECRET_KEY": "x" * 60})
    assert result.returncode != 0
    assert "ALLOWED_HOSTS must be set when DEBUG is false" in result.stderr


@pytest.mark.parametrize("days", ["0", "-5"])
def test_keeping_sweep_records_no_days_refuses_to_start(days: str) -> None:
    """It would forget the sweeps and catch-ups still running, and break them."""
    result = _run_manage("check", env={"ALLIANCE_SWEEP_KEEP_DAYS": days})
    assert result.returncode != 0
    assert "ALLIANCE_SWEEP_KEEP_DAYS must be 1 or more" in result.stderr


@pytest.mark.parametrize("size", ["0", "-500"])
def test_sweep_chunks_of_no_clients_refuse_to_start(size: str) -> None:
    """0 would fail every nightly plan; fewer would plan a sweep with no chunk to finish it."""
    result = _run_manage("check", env={"ALLIANCE_SWEEP_CHUNK_CLIENTS": size})
    assert result.returncode != 0
    assert "ALLIANCE_SWEEP_CHUNK_CLIENTS must be 1 or more" in result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("ALLIANCE_RELIABILITY", "1.5", "ALLIANCE_RELIABILITY must be 0 or more and below 1"),
        ("ALLIANCE_RELIABILITY", "1", "ALLIANCE_RELIABILITY must be 0 or more and below 1"),
        ("ALLIANCE_RELIABILITY", "-0.2", "ALLIANCE_RELIABILITY must be 0 or more and below 1"),
        ("ALLIANCE_SD", "0", "ALLIANCE_SD must be more than 0"),
        ("ALLIANCE_SD", "-1", "ALLIANCE_SD must be more than 0"),
    ],
)
def test_a_reliable_change_that_cannot_be_worked_out_refuses_to_start(
    variable: str, value: str, message: str
) -> None:
    """r above 1 made every evaluation and the reading page fail (√ of a negative number),
    r of 1 made calibration divide by 0, and an SD of 0 or less flags every fall."""
    result = _run_manage("check", env={variable: value})
    assert result.returncode != 0
    assert message in result.stderr


@pytest.mark.parametrize("rate", ["600 per hour", "600/Hour", "600", "0/hour", "/hour", "x/day"])
def test_an_api_rate_rest_framework_cannot_read_refuses_to_start(rate: str) -> None:
    """REST framework reads the rate on every request: a typo answered every API request
    with a 500 (and 0 refused them all with 429)."""
    result = _run_manage("check", env={"ALLIANCE_API_RATE": rate})
    assert result.returncode != 0
    assert "ALLIANCE_API_RATE must be a number of requests per" in result.stderr


@pytest.mark.parametrize("rate", ["600/hour", "10/m", "5000/day", " 20/second "])
def test_an_api_rate_as_rest_framework_reads_it_is_taken(
    monkeypatch: pytest.MonkeyPatch, rate: str
) -> None:
    monkeypatch.setenv("ALLIANCE_API_RATE", rate)
    assert env_rate("ALLIANCE_API_RATE", "600/hour") == rate.strip()


@pytest.mark.parametrize(
    "backend",
    ["django.core.mail.backends.smtp.EmailBackEnd", "django.core.mail.backends.smtp", "smtp"],
)
def test_an_email_backend_that_cannot_be_loaded_refuses_to_start(backend: str) -> None:
    """Django loads it only to send: a typo answered every staff invitation with a 500."""
    result = _run_manage("check", env={"EMAIL_BACKEND": backend})
    assert result.returncode != 0
    assert "EMAIL_BACKEND must name an e-mail backend" in result.stderr


def test_the_smtp_email_backend_is_taken() -> None:
    result = _run_manage(
        "check", env={"EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend"}
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DATABASE_WEB_STATEMENT_TIMEOUT_SECONDS", "-5", "must be from 0 (no limit) to 2147483"),
        ("DATABASE_WEB_STATEMENT_TIMEOUT_SECONDS", "2147484", "must be from 0 (no limit)"),
        ("DATABASE_CONNECT_TIMEOUT_SECONDS", "-1", "DATABASE_CONNECT_TIMEOUT_SECONDS must be 0"),
    ],
)
def test_a_database_timeout_postgresql_cannot_take_refuses_to_start(
    variable: str, value: str, message: str
) -> None:
    """PostgreSQL refused every web connection with the statement timeout out of its range,
    so every page answered 503 with the database up; libpq waits for ever on a negative
    connect timeout."""
    result = _run_manage("check", env={variable: value, "ALLIANCE_WEB_TIER": "true"})
    assert result.returncode != 0
    assert message in result.stderr


def test_a_sweep_overlap_that_looks_forward_refuses_to_start() -> None:
    """A negative overlap starts a sweep after the last one began: what changed in between
    would be in no sweep."""
    result = _run_manage("check", env={"ALLIANCE_SWEEP_OVERLAP_SECONDS": "-600"})
    assert result.returncode != 0
    assert "ALLIANCE_SWEEP_OVERLAP_SECONDS must be 0 or more" in result.stderr


@pytest.mark.parametrize(
    ("database", "refused"),
    [("sqlite:////tmp/alliance.sqlite3", True), ("sqlite:////tmp/alliance_bench.sqlite3", False)],
)
def test_the_benchmarks_views_are_refused_off_a_benchmarks_database(
    database: str, refused: bool
) -> None:
    """They write ratings without the app's checks (bench/ceiling.py): never on a real one."""
    result = _run_manage(
        "check", env={"ALLIANCE_BENCH_FLOOR_VIEW": "true", "DATABASE_URL": database}
    )
    assert (result.returncode != 0) is refused, result.stderr
    assert ("refused on a database whose name does not hold 'bench'" in result.stderr) is refused


def test_deploy_checks_pass_with_a_production_environment() -> None:
    env = {
        "DEBUG": "false",
        "SECRET_KEY": "a-long-random-production-secret-" + "q8Zr4mW2xK7pL9vB3nT6yH1" * 2,
        "ALLOWED_HOSTS": "alliance.example",
    }
    result = _run_manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_tasks_run_in_process_when_no_broker_is_configured() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(settings.CELERY_TASK_ALWAYS_EAGER)",
        ],
        cwd=PROJECT,
        env={
            **{k: v for k, v in os.environ.items() if k != "CELERY_BROKER_URL"},
            "DJANGO_SETTINGS_MODULE": "alliance.settings",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == "True", result.stderr


def test_every_folder_of_tests_is_collected() -> None:
    """An app added without its tests in pytest.ini's testpaths would pass CI untested."""
    import configparser

    config = configparser.ConfigParser()
    config.read(PROJECT / "pytest.ini")
    collected = set(config["pytest"]["testpaths"].split())
    with_tests = {path.parent.parent.name for path in PROJECT.glob("*/tests/__init__.py")}
    assert with_tests <= collected, sorted(with_tests - collected)


def test_the_project_says_its_licence_in_each_place() -> None:
    """Apache-2.0: the licence text, the npm package and the README agree."""
    import json

    root = PROJECT
    licence = (root / "LICENSE").read_text()
    assert "Apache License" in licence and "Version 2.0, January 2004" in licence
    assert "END OF TERMS AND CONDITIONS" in licence
    assert json.loads((root / "package.json").read_text())["license"] == "Apache-2.0"
    lock = json.loads((root / "package-lock.json").read_text())
    assert lock["packages"][""]["license"] == "Apache-2.0"
    assert "Apache License, Version 2.0" in (root / "README.md").read_text()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({}, "http://127.0.0.1:8000"),
        ({"ADDRESS": "0.0.0.0:9000"}, "http://0.0.0.0:9000"),
        (
            {"ADDRESS": "0.0.0.0:9000", "ALLIANCE_BASE_URL": "https://a.example"},
            "https://a.example",
        ),
    ],
)
def test_make_run_gives_links_the_address_it_serves_unless_told(
    given: dict[str, str], expected: str
) -> None:
    """`ADDRESS=… make run`: e-mailed links and the banner follow ADDRESS, unless
    ALLIANCE_BASE_URL is set. Each command of the recipe prints the URL it would get."""
    if shutil.which("make") is None:
        pytest.skip("needs make")
    environment = {k: v for k, v in os.environ.items() if k not in ("ADDRESS", "ALLIANCE_BASE_URL")}
    done = subprocess.run(
        ["make", "-s", "-o", "install", "run", "PY=printenv ALLIANCE_BASE_URL; true"],
        cwd=PROJECT,
        env=environment | given,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split() == [expected] * 3


@pytest.mark.django_db
def test_the_demo_banner_names_the_base_url(settings: Any) -> None:
    settings.ALLIANCE_BASE_URL = "http://0.0.0.0:9000"
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert (
        "Sign in at http://0.0.0.0:9000/ (Django admin: http://0.0.0.0:9000/admin/)."
        in out.getvalue()
    )
