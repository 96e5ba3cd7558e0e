"""PostgreSQL unreachable for a few seconds: clean 503 pages during the outage, normal
service after it, with nothing done by hand.

The real outage runs gunicorn in front of a small TCP proxy to the test database, and cuts
the proxy (every connection closed, new ones closed on arrival) or silences it (new ones
taken and never answered, as a host gone from the network leaves them) — never the
PostgreSQL server, which other tests share.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import InternalError, OperationalError, connection, connections
from django.db.backends.utils import CursorWrapper
from django.test import Client as DjangoClient
from django.urls import reverse

from alliance.errors import RETRY_AFTER_SECONDS
from alliance.tests.serving import gunicorn, production_environment
from clients.models import Client
from measures.models import Rating
from measures.tests.test_client_rating import ANSWERS
from sessions import invitations
from sessions.tests.factories import SessionFactory

DETAIL = "could not connect to server at 10.1.2.3"


def outage(*args: Any, **kwargs: Any) -> None:
    raise OperationalError(DETAIL)


def assert_clean_503(status: int, retry_after: str | None, text: str) -> None:
    assert status == 503
    assert retry_after == str(RETRY_AFTER_SECONDS)
    assert "back in a moment" in text
    assert DETAIL not in text and "OperationalError" not in text and "Traceback" not in text


# --- In process: the handler ------------------------------------------------


@pytest.mark.django_db
def test_a_page_answers_503_while_the_database_is_unreachable_then_200(
    monkeypatch: pytest.MonkeyPatch, therapist: Any, client_record: Any
) -> None:
    browser = DjangoClient(raise_request_exception=False)
    browser.force_login(therapist)
    with monkeypatch.context() as down:
        # Every query fails, the session's look-up in middleware first.
        down.setattr(CursorWrapper, "execute", outage)
        page = browser.get(reverse("reports:caseload"))
    assert_clean_503(page.status_code, page.headers.get("Retry-After"), page.content.decode())
    assert "R.K." not in page.content.decode()
    assert "no-store" in page.headers["Cache-Control"]
    assert "Content-Security-Policy" in page.headers

    page = browser.get(reverse("reports:caseload"))
    assert page.status_code == 200
    assert "R.K." in page.content.decode()


@pytest.mark.django_db
def test_a_client_reads_the_503_in_the_language_their_phone_asks_for(
    monkeypatch: pytest.MonkeyPatch, client_record: Client
) -> None:
    token = invitations.invitation_create(session=SessionFactory(client=client_record))[1]
    phone = DjangoClient(raise_request_exception=False, HTTP_ACCEPT_LANGUAGE="es")
    with monkeypatch.context() as down:
        down.setattr(CursorWrapper, "execute", outage)
        page = phone.get(reverse("measures:client-rating", args=[token]))
    text = page.content.decode()
    assert page.status_code == 503 and page.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert '<html lang="es">' in text and "Alliance vuelve en un momento" in text
    assert "Vuelva a intentarlo en unos segundos." in text and "back in a moment" not in text


@pytest.mark.django_db
def test_any_other_error_is_still_a_500(monkeypatch: pytest.MonkeyPatch, therapist: Any) -> None:
    def bug(*args: Any, **kwargs: Any) -> None:
        raise ZeroDivisionError

    browser = DjangoClient(raise_request_exception=False)
    browser.force_login(therapist)
    monkeypatch.setattr(CursorWrapper, "execute", bug)
    page = browser.get(reverse("reports:caseload"))
    assert page.status_code == 500
    assert "Retry-After" not in page.headers


@pytest.mark.django_db
def test_a_database_error_that_is_no_outage_is_still_a_500(
    monkeypatch: pytest.MonkeyPatch, therapist: Any
) -> None:
    def bug(*args: Any, **kwargs: Any) -> None:
        raise InternalError("current transaction is aborted")

    browser = DjangoClient(raise_request_exception=False)
    browser.force_login(therapist)
    monkeypatch.setattr(CursorWrapper, "execute", bug)
    page = browser.get(reverse("reports:caseload"))
    assert page.status_code == 500
    assert "Retry-After" not in page.headers


@pytest.mark.django_db(transaction=True)
def test_a_write_refused_by_a_read_only_database_answers_503_and_the_next_one_is_kept(
    postgresql: None, client_record: Client
) -> None:
    """After a failover the old primary comes back as a standby (or a pooler still points
    at it): reads work, writes fail with SQLSTATE 25006. That is an outage too; and the
    connection to it is dropped, so the next request connects afresh and writes."""
    Client.objects.filter(pk=client_record.pk).update(asks_outcome=False)
    session = SessionFactory(client=client_record)
    token = invitations.invitation_create(session=session)[1]
    link = reverse("measures:client-rating", args=[token])
    browser = DjangoClient(raise_request_exception=False)
    with connection.cursor() as cursor:  # this connection is now a standby's
        cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    try:
        page = browser.post(link, ANSWERS)
        assert_clean_503(page.status_code, page.headers.get("Retry-After"), page.content.decode())
        assert page["Referrer-Policy"] == "no-referrer"  # at the link, token and all
        assert not Rating.objects.filter(session=session).exists()
        assert browser.post(link, ANSWERS).status_code == 302
    finally:
        connection.close()
    assert Rating.objects.filter(session=session, rater="client").count() == 1


# --- For real: gunicorn, a proxy, and the proxy cut --------------------------


class Proxy:
    """A TCP proxy to PostgreSQL in its own thread and event loop; `cut()` closes every
    connection and closes new ones on arrival, `silence()` takes new ones and answers
    nothing, `restore()` passes them on again."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.up = True
        self.silent = False
        self.writers: set[asyncio.StreamWriter] = set()
        self.loop = asyncio.new_event_loop()
        self.port = 0
        started = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(started,), daemon=True)
        self.thread.start()
        assert started.wait(10)

    def _run(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        started.set()
        self.loop.run_forever()
        server.close()
        self.loop.run_until_complete(server.wait_closed())
        self.loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.silent:  # taken, read, never answered: until the other end gives up
            self.writers.add(writer)
            with contextlib.suppress(ConnectionError, OSError):
                while await reader.read(65536):
                    pass
            self.writers.discard(writer)
            writer.close()
            return
        if not self.up:
            writer.close()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            return
        self.writers |= {writer, upstream_writer}
        await asyncio.gather(
            self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer)
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self.writers.discard(writer)
            writer.close()

    def _close_all(self) -> None:
        for writer in list(self.writers):
            writer.transport.abort()
        self.writers.clear()

    def cut(self) -> None:
        self.up = False
        self.loop.call_soon_threadsafe(self._close_all)

    def silence(self) -> None:
        """A database host gone from the network, or a proxy in front of a dead one: a new
        connection is taken and then nothing comes back, so only a timeout ends it."""
        self.silent = True
        self.loop.call_soon_threadsafe(self._close_all)

    def restore(self) -> None:
        self.up = True
        self.silent = False
        self.loop.call_soon_threadsafe(self._close_all)  # the silent ones

    def stop(self) -> None:
        self.cut()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def get(port: int, path: str, cookie: str) -> tuple[int, str | None, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        connection.request("GET", path, headers={"X-Forwarded-Proto": "https", "Cookie": cookie})
        response = connection.getresponse()
        return response.status, response.getheader("Retry-After"), response.read().decode()
    finally:
        connection.close()


@pytest.fixture
def proxy(postgresql: None) -> Iterator[Proxy]:
    database = connections["default"].settings_dict
    proxy = Proxy((database["HOST"] or "127.0.0.1", int(database["PORT"] or 5432)))
    yield proxy
    proxy.stop()


@contextlib.contextmanager
def served(proxy: Proxy, tmp_path: Path, **settings_: str) -> Iterator[int]:
    """The app in production settings (and `settings_`), its database reached through
    `proxy`."""
    database = connections["default"].settings_dict
    user = database["USER"] + (f":{database['PASSWORD']}" if database["PASSWORD"] else "")
    environment = production_environment(
        # The test's own key, so the session signed in here is valid there.
        SECRET_KEY=settings.SECRET_KEY,
        DATABASE_URL=f"postgres://{user}@127.0.0.1:{proxy.port}/{database['NAME']}",
        STATIC_ROOT=str(tmp_path / "static"),
        CACHE_URL="",
        **settings_,
    )
    environment.pop("DATABASE_REPLICA_URL", None)
    with gunicorn(environment, "--workers", "1", "--threads", "2", "--timeout", "30") as port:
        yield port


def signed_in(user: Any) -> str:
    """A session cookie for `user`, stored in the (committed) database gunicorn reads."""
    browser = DjangoClient()
    browser.force_login(user)
    return f"sessionid={browser.cookies['sessionid'].value}"


@pytest.mark.django_db(transaction=True)
def test_gunicorn_answers_503_while_postgresql_is_cut_off_and_recovers_by_itself(
    proxy: Proxy, tmp_path: Path, therapist: Any, client_record: Any
) -> None:
    cookie = signed_in(therapist)
    caseload = reverse("reports:caseload")
    with served(proxy, tmp_path) as port:
        status, _, text = get(port, caseload, cookie)
        assert status == 200 and "R.K." in text  # its connection is now open and kept

        proxy.cut()
        deadline = time.monotonic() + 3
        answers = []
        while time.monotonic() < deadline:
            answers.append(get(port, caseload, cookie))
            time.sleep(0.3)
        assert len(answers) >= 3
        for status, retry_after, text in answers:
            assert_clean_503(status, retry_after, text)
            assert "R.K." not in text

        proxy.restore()
        # The first request after the outage already gets through: the broken connection
        # was dropped at the end of the failed request, and a new one is opened.
        status, _, text = get(port, caseload, cookie)
        assert status == 200 and "R.K." in text
        assert all(get(port, caseload, cookie)[0] == 200 for _ in range(3))


@pytest.mark.django_db(transaction=True)
def test_a_silent_database_gets_503_within_the_connect_timeout_not_the_workers_timeout(
    proxy: Proxy, tmp_path: Path, therapist: Any, client_record: Any
) -> None:
    """A database host gone from the network takes no connection and refuses none: without
    a connect timeout a request waited for it until gunicorn killed the worker (30 s here)
    and the browser got no page. Connections are opened for each request here
    (DATABASE_CONN_MAX_AGE=0), as after a failed request or a kept one's minute."""
    cookie = signed_in(therapist)
    caseload = reverse("reports:caseload")
    timeout = 2
    environment = {"DATABASE_CONN_MAX_AGE": "0", "DATABASE_CONNECT_TIMEOUT_SECONDS": str(timeout)}
    with served(proxy, tmp_path, **environment) as port:
        assert get(port, caseload, cookie)[0] == 200

        proxy.silence()
        for _ in range(2):
            started = time.monotonic()
            status, retry_after, text = get(port, caseload, cookie)
            assert time.monotonic() - started < timeout + 3
            assert_clean_503(status, retry_after, text)

        proxy.restore()
        status, _, text = get(port, caseload, cookie)
        assert status == 200 and "R.K." in text
