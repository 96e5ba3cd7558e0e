"""Private session notes stay the therapist's: they appear on no page, export, e-mail, admin
screen, log line or audit entry other than the therapist's own session pages.

Every session of a small clinic (and of another clinic) gets notes carrying a marker
with its id (`note-<random>-s<id>`). Then every named URL of the URL conf — the apps',
the admin's changelists and change pages, the CSV downloads (streamed) — is asked for by
GET as every role, with therapist A's records and another clinic's, while every logger
writes at DEBUG into `caplog`. The marker may show only on A's own session page and
A's edit form for that session, and only that session's; everywhere else it is a leak.
The e-mails the app sends (the digest, the escalation, the rating link, the password
links) and the audit trail are searched too.

The walk proves it rendered what it should: A's own pages must show A's notes, and the
pages most likely to carry them to someone else (the client page and the concern story,
read by A's supervisor) must have answered 200.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from django.apps import apps
from django.core import mail
from django.core.cache import cache
from django.db import models
from django.http import HttpResponse
from django.test import Client as Browser
from django.urls import reverse
from django.utils import timezone

from accounts.services import send_password_link
from alliance.tests.scoped_reads import is_scoped_model
from alliance.tests.urlconf_walk import (
    OTHER,
    OWN,
    Records,
    World,
    admin_url_models,
    browser_for,
    named_urls,
    url_for,
)
from clients import audit
from clients.models import AuditAction, AuditEntry, Client, User
from measures import notifications
from measures.models import Rating
from measures.tests.factories import RatingFactory
from sessions import invitations
from sessions.forms import SessionForm
from sessions.models import Session
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db

# Fresh for every run, so no fixed string elsewhere in the app can match it by chance.
MARKER = f"note-{secrets.token_hex(6)}"
FOUND = re.compile(re.escape(MARKER) + r"(?:-s(\d+))?")
# The pages where a therapist reads their own notes (templates/reports/session_detail.html
# for the author only; the session form's "Private notes" field).
AUTHOR_PAGES = {"reports:session-detail", "sessions:session-edit"}
RECORD_ARGUMENTS = {
    "client_id",
    "session_id",
    "concern_id",
    "flag_id",
    "calibration_id",
    "therapist_id",
    "object_id",
    "id",
}


def notes_for(session: Session) -> str:
    return f"{MARKER}-s{session.pk}\nTalked about her sister; the marker above is unique."


def markers_in(text: str) -> list[str]:
    """Each marker found in `text` (the session id it names, or "?" if cut short)."""
    return [match.group(1) or "?" for match in FOUND.finditer(text.lower())]


# --- The clinic, with notes on every session ----------------------------------------------


@dataclass
class NotedWorld:
    world: World
    own_session: Session
    urls: dict[tuple[str, str], str]
    sessions: int = 0
    hits: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)
    statuses: dict[tuple[str, str, str], int] = field(default_factory=dict)


def variants_of(name: str) -> list[str]:
    """A's records; and another clinic's, for a URL naming a record that has a clinic."""
    if not RECORD_ARGUMENTS & set(named_urls()[name]):
        return [OWN]
    label = admin_url_models().get(name)
    if label is not None and not is_scoped_model(apps.get_model(label)):
        return [OWN]  # a record of no clinic (a group, a sweep, a sign-in log)
    return [OWN, OTHER]


def remember_records(records: Records, *, of_no_clinic: bool) -> None:
    """Make every record the walk names now, once (an admin URL's maker would make a new
    one each time), so each has its session before the notes go on."""
    made: dict[str, models.Model] = {}
    make = records.of_model

    def of_model(label: str) -> models.Model:
        if label not in made:
            made[label] = make(label)
        return made[label]

    records.of_model = of_model  # type: ignore[method-assign]
    for label in set(admin_url_models().values()):
        if of_no_clinic or is_scoped_model(apps.get_model(label)):
            of_model(label)
    for record in ("invitation", "flag", "calibration", "threshold_change"):
        getattr(records, record)


@pytest.fixture
def noted(world: World, colleague_client: Client) -> NotedWorld:
    """Demo-like data: A's client with a history of rated sessions and an open concern,
    a colleague's client, another clinic's; then notes on every session there is."""
    own = world.own
    for weeks_ago in (5, 4, 3):
        session = SessionFactory(
            client=own.client, starts_at=timezone.now() - dt.timedelta(weeks=weeks_ago)
        )
        RatingFactory(session=session)
        RatingFactory(session=session, rater=Rating.Rater.THERAPIST)
    RatingFactory(session=SessionFactory(client=colleague_client))
    remember_records(world.own, of_no_clinic=True)
    remember_records(world.other, of_no_clinic=False)
    urls = {
        (name, variant): url_for(name, variant, world)
        for name in named_urls()
        for variant in variants_of(name)
    }
    for session in Session.objects.all():
        Session.objects.filter(pk=session.pk).update(notes=notes_for(session))
    return NotedWorld(
        world=world, own_session=own.session, urls=urls, sessions=Session.objects.count()
    )


# --- Listening ---------------------------------------------------------------------------


@contextmanager
def every_logger_at_debug(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every logger writes everything into caplog, those that do not propagate included."""
    caplog.set_level(logging.DEBUG)
    loggers = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)]
    for logger in loggers:
        caplog.set_level(logging.DEBUG, logger=logger.name)
    apart = [logger for logger in loggers if not logger.propagate]
    for logger in apart:
        logger.addHandler(caplog.handler)
    try:
        yield
    finally:
        for logger in apart:
            logger.removeHandler(caplog.handler)


def logged_markers(caplog: pytest.LogCaptureFixture) -> list[str]:
    lines = [caplog.text]
    lines += [
        f"{record.name}: {record.getMessage()} {record.__dict__!r}" for record in caplog.records
    ]
    return markers_in("\n".join(lines))


def body_of(response: HttpResponse) -> str:
    if getattr(response, "streaming", False):
        content = b"".join(response.streaming_content)
    else:
        content = response.content
    return content.decode("utf-8", errors="replace")


def sent_markers(outbox: list[mail.EmailMessage]) -> list[str]:
    found = []
    for message in outbox:
        parts = [message.subject, message.body, *map(str, getattr(message, "alternatives", []))]
        found += markers_in("\n".join(parts))
    return found


# --- The walk ----------------------------------------------------------------------------


def walk(noted: NotedWorld) -> None:
    """GET every URL as every role; keep what each answer showed of the notes."""
    world = noted.world
    browsers: dict[str, Browser] = {}
    for (name, variant), url in noted.urls.items():
        for role in world.users:
            if role not in browsers:
                browsers[role] = browser_for(role, world)
            cache.clear()  # rate limits count per test; here every request starts afresh
            response = browsers[role].get(url)
            noted.hits[name, variant, role] = markers_in(body_of(response))
            noted.statuses[name, variant, role] = response.status_code


def leaks(noted: NotedWorld) -> list[str]:
    own = str(noted.own_session.pk)
    found = []
    for (name, variant, role), markers in noted.hits.items():
        if not markers:
            continue
        authors_own_page = role == "therapist" and variant == OWN and name in AUTHOR_PAGES
        allowed = {own} if authors_own_page else set()
        if set(markers) - allowed:
            found.append(
                f"{name} [{variant}] as {role}: notes of session(s) {sorted(set(markers))}"
            )
    return found


def edit_own_notes(noted: NotedWorld, therapist: User) -> None:
    """A writes the notes of their session through the edit form, as in real use."""
    session = noted.own_session
    form = SessionForm.initial_for(session)
    form["starts_at"] = timezone.localtime(session.starts_at).strftime("%Y-%m-%dT%H:%M")
    form["notes"] = notes_for(session)
    browser = Browser()
    browser.force_login(therapist)
    response = browser.post(reverse("sessions:session-edit", args=[session.pk]), form)
    assert response.status_code == 302, body_of(response)[:2000]
    session.refresh_from_db()
    assert session.notes == notes_for(session)
    # Whatever wires the trail into the services, a change of notes is recorded so.
    audit.written(therapist, AuditAction.CHANGED, session, fields=["notes"])


def send_every_email(noted: NotedWorld, therapist: User, supervisor: User, admin: User) -> None:
    """The digest, the escalation, the client's rating link and both password links."""
    world = noted.world
    for person in (therapist, supervisor):
        person.email = f"{person.username}@example.org"
        person.save(update_fields=["email"])
    assert notifications.digests_send() >= 1
    later = timezone.now() + dt.timedelta(days=30)  # the concern is now long overdue
    assert notifications.escalations_send(now=later) >= 1
    invitation, token = world.own.invitation
    invitations.invitation_email(invitation=invitation, token=token)
    Browser().post(reverse("password_reset"), {"email": therapist.email})
    send_password_link(therapist, sent_by=admin)


# --- The tests ---------------------------------------------------------------------------


def test_the_marker_is_found_in_text_that_holds_it() -> None:
    assert markers_in(f"<p>{MARKER}-s12<br>Talked</p>") == ["12"]
    assert markers_in(f"{MARKER.upper()}-S7") == ["7"]
    assert markers_in(f"truncated: {MARKER}…") == ["?"]
    assert markers_in("nothing here") == []


def test_private_notes_appear_only_on_their_therapists_own_session_pages(
    noted: NotedWorld,
    therapist: User,
    supervisor: User,
    clinic_admin: User,
    caplog: pytest.LogCaptureFixture,
    mailoutbox: list[mail.EmailMessage],
    status_only: None,
) -> None:
    with every_logger_at_debug(caplog):
        edit_own_notes(noted, therapist)
        walk(noted)
        send_every_email(noted, therapist, supervisor, clinic_admin)

    # The walk really rendered the notes where they belong, and the pages nearest to them.
    own = str(noted.own_session.pk)
    for name in AUTHOR_PAGES:
        assert noted.hits[name, OWN, "therapist"] == [own], f"{name} should show A the notes"
    for name in ("reports:client-detail", "measures:concern-detail", "reports:session-detail"):
        assert noted.statuses[name, OWN, "supervisor"] == 200, name
        assert noted.statuses[name, OWN, "clinic_admin"] == 200, name
    assert noted.statuses["admin:therapy_sessions_session_change", OWN, "superuser"] == 200
    assert noted.statuses["reports:client-ratings-csv", OWN, "supervisor"] == 200
    assert noted.sessions >= 8
    assert caplog.records, "the loggers should have been heard"
    assert len(mailoutbox) >= 5

    shown = leaks(noted)
    assert not shown, "Private notes shown to others:\n" + "\n".join(shown)
    assert not logged_markers(caplog), "Private notes in the log"
    assert not sent_markers(mailoutbox), "Private notes in an e-mail"
    trail = repr(list(AuditEntry.objects.values()))
    assert "notes" in trail, "the change of notes should be in the trail, by name"
    assert not markers_in(trail), "Private notes in the audit trail"
