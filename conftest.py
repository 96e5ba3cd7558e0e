"""Shared test fixtures: the cast of people, and the switches for real services.

Tests that need PostgreSQL, Redis or Chromium ask for the `postgresql`,
`redis_url` or Playwright `page` fixtures. On a laptop without them those tests
skip with a reason; with REQUIRE_SERVICES=1 / REQUIRE_BROWSER=1 (as in CI) a
missing service is a failure, so CI proves the real thing.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import pytest

# Playwright's sync API runs an event loop in the test thread; Django's async
# safety check would otherwise refuse ORM calls from live_server tests.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def _required(variable: str) -> bool:
    return os.environ.get(variable, "") not in ("", "0", "false")


def services_required() -> bool:
    return _required("REQUIRE_SERVICES")


def missing_service(reason: str) -> None:
    """Skip on a laptop, fail in CI."""
    if services_required():
        pytest.fail(f"{reason} (REQUIRE_SERVICES=1)")
    pytest.skip(reason)


BROWSER_FIXTURES = {"page", "context", "new_context", "browser", "live_server"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test that drives Chromium or serves a live server must carry the `browser` marker,
    so `pytest -m "not browser"` is the quick run it promises (README, Tests)."""
    unmarked = [
        item.nodeid
        for item in items
        if BROWSER_FIXTURES & set(getattr(item, "fixturenames", ()))
        and item.get_closest_marker("browser") is None
    ]
    if unmarked:
        raise pytest.UsageError(
            "Mark these with @pytest.mark.browser (they use a browser or a live server), or "
            f"rename a parameter that takes the name of {sorted(BROWSER_FIXTURES)}:\n  "
            + "\n  ".join(unmarked)
        )


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    """Real hashing costs ~0.3 s per user; tests prove access, not key stretching."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def force_login_gives_the_second_factor(monkeypatch: pytest.MonkeyPatch) -> None:
    """`force_login` skips the log-in form; for staff who must use two-factor it also
    skips the code step, as if they had typed one (a confirmed authenticator is made for
    them). accounts/tests sign in through the real forms and prove the step itself."""
    from django.test import Client

    original = Client.force_login

    def force_login(self: Client, user: Any, backend: str | None = None) -> None:
        original(self, user, backend)
        from django_otp.plugins.otp_totp.models import TOTPDevice

        from accounts import two_factor

        if not two_factor.is_required(user):
            return
        device, _ = TOTPDevice.objects.get_or_create(
            user=user, name=two_factor.AUTHENTICATOR, defaults={"confirmed": True}
        )
        session = self.session
        session[two_factor.VERIFIED] = device.persistent_id
        session.pop(two_factor.PENDING, None)
        session.save()

    monkeypatch.setattr(Client, "force_login", force_login)


@pytest.fixture(autouse=True, scope="session")
def tasks_run_in_process_by_default() -> Iterator[None]:
    """Tests run tasks eagerly even when CI points CELERY_BROKER_URL at Redis, so no
    stray message waits in the broker for a later test's worker. Tests about the
    broker itself opt out with `celery_broker(...)`."""
    from alliance.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture(autouse=True, scope="session")
def test_process_collector_left_alone() -> Iterator[None]:
    """Workers some tests start inside this process send the signals a worker's processes
    freeze their memory on (alliance/memory.py): here that would keep every earlier test's
    leftovers for the rest of the run. Tests of the freeze start processes of their own."""
    from django.conf import settings

    previous = settings.ALLIANCE_FREEZE_LOADED
    settings.ALLIANCE_FREEZE_LOADED = False
    yield
    settings.ALLIANCE_FREEZE_LOADED = previous


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    """A "replica" alias mirroring the test database (Django's TEST MIRROR), as
    DATABASE_REPLICA_URL makes one, so tests can prove which reads go to it."""
    from django.db import connections

    from alliance.replica import REPLICA

    if REPLICA not in connections:
        default = connections["default"].settings_dict
        connections.settings[REPLICA] = {
            **default,
            "TEST": {**default["TEST"], "MIRROR": "default"},
        }


@pytest.fixture(autouse=True)
def reads_from_the_primary_by_default(settings: Any) -> None:
    """The replica is another connection: it cannot see a test's uncommitted transaction.
    Tests that prove the replica reads opt in (reports/tests/test_read_replica.py)."""
    settings.ALLIANCE_REPLICA_DATABASE = None


@pytest.fixture(autouse=True)
def fresh_cache(settings: Any) -> Iterator[None]:
    """An empty cache in this process's memory for each test, whatever CACHE_URL says:
    rate-limit counts must not leak from one test into the next, nor one of the suite's
    processes empty another's cache (clearing a shared Redis one would)."""
    in_memory = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.CACHES = in_memory
    from django.core.cache import cache

    cache.clear()
    yield
    settings.CACHES = in_memory  # a test may have used its own Redis, gone by now
    cache.clear()


@contextmanager
def celery_broker(url: str, **conf: Any) -> Iterator[None]:
    """Point the Celery app at another broker (tasks sent, not run in-process) for a block.

    The producer pool and result backend Celery caches are dropped on the way in
    and out, so nothing bound to the previous broker is reused.
    """
    from alliance.celery import app

    def forget_connections() -> None:
        app.amqp._producer_pool = None
        app._backend_cache = None
        app._local.__dict__.pop("backend", None)

    keys = ("broker_url", "result_backend", "task_always_eager", *conf)
    previous = {key: app.conf[key] for key in keys}
    # Celery lets the CELERY_BROKER_URL variable override broker_url; follow suit.
    previous_variable = os.environ.get("CELERY_BROKER_URL")
    os.environ["CELERY_BROKER_URL"] = url
    app.conf.update(broker_url=url, task_always_eager=False, **conf)
    forget_connections()
    try:
        yield
    finally:
        if previous_variable is None:
            os.environ.pop("CELERY_BROKER_URL", None)
        else:
            os.environ["CELERY_BROKER_URL"] = previous_variable
        app.conf.update(previous)
        forget_connections()


@pytest.fixture
def postgresql(db: None) -> None:
    """For tests whose promise only PostgreSQL can prove (races, locking)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        missing_service("needs PostgreSQL: set DATABASE_URL=postgres://…")


# Each of the suite's processes (`make test`: pytest-xdist, four at most) has Redis
# databases of its own for the tests that start real Celery workers, so that no worker
# takes another process's tasks: the broker's (CELERY_BROKER_URL's database, then the next
# ones up) and the sweep's fault tests' (FAULTS_REDIS_DB, 13, then the next ones down).
SUITE_PROCESSES_AT_MOST = 4
FAULTS_DATABASE = int(os.environ.get("FAULTS_REDIS_DB", "13"))


def suite_process() -> int:
    """Which of the suite's processes this is: N for pytest-xdist's gwN, 0 when the suite
    runs in one. xdist numbers a process that replaces a crashed one past the others: its
    Redis tests fail, rather than share another process's databases."""
    number = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
    if number >= SUITE_PROCESSES_AT_MOST:
        pytest.fail(
            f"The Redis tests have databases for {SUITE_PROCESSES_AT_MOST} processes of the "
            f"suite; this is number {number} (run with -n auto --maxprocesses "
            f"{SUITE_PROCESSES_AT_MOST})"
        )
    return number


def redis_database(url: str, number: int) -> str:
    """`url` (redis://host:port[/n]) naming Redis database `number` instead."""
    return urlsplit(url)._replace(path=f"/{number}").geturl()


def faults_redis_database() -> int:
    """The Redis database this process's sweep fault tests use."""
    return FAULTS_DATABASE - suite_process()


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The URL of a Redis server that answers PING, in this process's broker database."""
    import redis

    url = os.environ.get("CELERY_BROKER_URL", "") or DEFAULT_REDIS_URL
    if not url.startswith("redis://"):
        missing_service(f"needs Redis; CELERY_BROKER_URL is {url!r}")
    first = int(urlsplit(url).path.strip("/") or 0)
    if first + SUITE_PROCESSES_AT_MOST > FAULTS_DATABASE - SUITE_PROCESSES_AT_MOST + 1:
        pytest.fail(
            f"CELERY_BROKER_URL's Redis database ({first}) and the next ones, one for each of "
            f"{SUITE_PROCESSES_AT_MOST} processes, would meet the fault tests' (from "
            f"{FAULTS_DATABASE} down): use 0"
        )
    url = redis_database(url, first + suite_process())
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.exceptions.RedisError as error:  # refused, or no such database
        missing_service(f"needs Redis at {url}: {error}")
    return url


REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class RedisServer:
    """A throw-away redis-server on a free port, which a test stops, starts and stalls
    (the shared one, 6379, is never touched)."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> None:
        import redis

        self.process = subprocess.Popen(
            [
                *(REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--daemonize", "no"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis.from_url(self.url, socket_connect_timeout=0.5).ping()
                return
            except redis.exceptions.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    @contextmanager
    def stalled(self) -> Iterator[None]:
        """Paused (SIGSTOP) inside the block: it takes connections and answers nothing, as
        a stalled server, or a proxy in front of a dead one, does."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)
        try:
            yield
        finally:
            self.process.send_signal(signal.SIGCONT)


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    if not shutil.which(REDIS_SERVER):
        missing_service(f"needs redis-server at {REDIS_SERVER}")
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Drive Debian's Chromium; Playwright never downloads a browser here."""
    if not shutil.which(CHROMIUM):
        reason = f"needs Chromium at {CHROMIUM} (apt-get install chromium)"
        if _required("REQUIRE_BROWSER"):
            pytest.fail(f"{reason} (REQUIRE_BROWSER=1)")
        pytest.skip(reason)
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "headless": True,
        "args": CHROMIUM_FLAGS,
    }


# --- The cast -------------------------------------------------------------
# Two clinics. In "riverside": therapist (supervised by supervisor), a
# colleague therapist nobody supervises, a clinic admin. In "hillside": an
# outsider therapist with a client of their own.


@pytest.fixture
def clinic(db: None) -> Any:
    from clients.tests.factories import ClinicFactory

    return ClinicFactory(name="Riverside", slug="riverside")


@pytest.fixture
def other_clinic(db: None) -> Any:
    from clients.tests.factories import ClinicFactory

    return ClinicFactory(name="Hillside", slug="hillside")


@pytest.fixture
def therapist(clinic: Any) -> Any:
    from clients.tests.factories import TherapistFactory

    return TherapistFactory(clinic=clinic, username="tara")


@pytest.fixture
def colleague(clinic: Any) -> Any:
    from clients.tests.factories import TherapistFactory

    return TherapistFactory(clinic=clinic, username="colin")


@pytest.fixture
def supervisor(clinic: Any, therapist: Any) -> Any:
    from clients.models import Supervision
    from clients.tests.factories import SupervisorFactory

    supervisor = SupervisorFactory(clinic=clinic, username="sue")
    Supervision.objects.create(supervisor=supervisor, therapist=therapist)
    return supervisor


@pytest.fixture
def clinic_admin(clinic: Any) -> Any:
    from clients.tests.factories import ClinicAdminFactory

    return ClinicAdminFactory(clinic=clinic, username="ada")


@pytest.fixture
def outsider(other_clinic: Any) -> Any:
    from clients.tests.factories import TherapistFactory

    return TherapistFactory(clinic=other_clinic, username="otto")


@pytest.fixture
def client_record(therapist: Any) -> Any:
    """A client in `therapist`'s caseload (named so as not to shadow Django's test client)."""
    from clients.tests.factories import ClientFactory

    return ClientFactory(therapist=therapist, label="R.K.")


@pytest.fixture
def colleague_client(colleague: Any) -> Any:
    from clients.tests.factories import ClientFactory

    return ClientFactory(therapist=colleague, label="M.P.")


@pytest.fixture
def outsider_client(outsider: Any) -> Any:
    from clients.tests.factories import ClientFactory

    return ClientFactory(therapist=outsider, label="Z.Z.")


def watch_for_problems(page: Any, *, requests: bool = True) -> list[str]:
    """What a browser test must end without: console errors (Chromium reports CSP
    violations there), page errors and, unless `requests` is off, failed requests.

    A download ends its navigation, and a page left at once cancels what it was still
    fetching (its favicon): Chromium reports both as aborted; any other failure counts."""
    problems: list[str] = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))

    def failed(request: Any) -> None:
        if request.failure != "net::ERR_ABORTED":
            problems.append(f"failed: {request.url} ({request.failure})")

    if requests:
        page.on("requestfailed", failed)
    return problems


def visible_text(html: str) -> str:
    """What a reader sees of a page: its text, without tags, scripts or attribute values."""
    import re
    from html import unescape

    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.DOTALL | re.IGNORECASE)
    return unescape(re.sub(r"<[^>]+>", " ", html))
