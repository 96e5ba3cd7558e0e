"""The review steps on a concern: what acknowledging, resolving, dismissing and commenting
write, and how a bad note or a concern that has moved on is answered.

Who may reach each step (log-in, 404, 403, 405) is in test_concern_page.py.
"""

from __future__ import annotations

import re
import threading
import time
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from clients.models import Client, User
from measures import review, rights
from measures.concerns import concerns_update
from measures.history import Thresholds
from measures.models import Concern, ConcernEvent, Flag
from measures.rights import ERASED_NOTE
from measures.tests.concern_steps import (
    COMMENT,
    NOTE,
    REASON,
    STATUS_CHANGES,
    page_of,
    post,
    unchanged,
    url,
)
from measures.tests.factories import FlagFactory
from measures.tests.racing import PAUSE_SECONDS, errors_kept, on_a_connection_of_its_own
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db

# --- The therapist reviews -------------------------------------------------


def test_acknowledging_records_who_when_and_an_event(
    client: Any, concern: Concern, therapist: User
) -> None:
    client.force_login(therapist)
    response = post(client, "concern-acknowledge", concern)
    assert response.status_code == 302 and response["Location"] == page_of(concern)
    concern.refresh_from_db()
    assert concern.status == Concern.Status.ACKNOWLEDGED
    assert concern.acknowledged_by == therapist and concern.acknowledged_at is not None
    assert concern.closed_at is None and concern.note == ""
    [event] = concern.events.all()
    assert (event.action, event.actor, event.note) == (
        ConcernEvent.Action.ACKNOWLEDGED,
        therapist,
        "",
    )
    html = client.get(response["Location"]).content.decode()
    assert "Concern acknowledged." in html
    assert url("concern-acknowledge", concern) not in html  # only an open concern
    assert url("concern-resolve", concern) in html and url("concern-dismiss", concern) in html


def test_resolving_with_a_repair_note_closes_the_concern(
    client: Any, concern: Concern, therapist: User
) -> None:
    client.force_login(therapist)
    post(client, "concern-acknowledge", concern)
    response = post(client, "concern-resolve", concern, {"note": f"  {NOTE}\n"})
    assert response.status_code == 302 and response["Location"] == page_of(concern)
    concern.refresh_from_db()
    assert (concern.status, concern.note, concern.closed_by) == (
        Concern.Status.RESOLVED,
        NOTE,
        therapist,
    )
    assert concern.closed_at is not None
    # The stretch reviewed: the client's latest session and score when it was closed.
    assert (concern.reviewed_through, concern.level_at_closing) == (2, Decimal("7.0"))
    assert [(e.action, e.actor, e.note) for e in concern.events.all()] == [
        (ConcernEvent.Action.ACKNOWLEDGED, therapist, ""),
        (ConcernEvent.Action.RESOLVED, therapist, NOTE),
    ]
    html = client.get(page_of(concern)).content.decode()
    assert "Concern resolved; your repair note is in its history." in html
    assert "This concern is resolved with a repair" in html and NOTE in html
    for name in STATUS_CHANGES:
        assert url(name, concern) not in html


def test_dismissing_with_a_reason_closes_the_concern_and_acknowledges_it_on_the_way(
    client: Any, concern: Concern, therapist: User
) -> None:
    client.force_login(therapist)
    response = post(client, "concern-dismiss", concern, {"reason": REASON})
    assert response.status_code == 302 and response["Location"] == page_of(concern)
    concern.refresh_from_db()
    assert (concern.status, concern.note, concern.closed_by) == (
        Concern.Status.DISMISSED,
        REASON,
        therapist,
    )
    assert concern.closed_at is not None
    assert concern.acknowledged_at is not None and concern.acknowledged_by == therapist
    [event] = concern.events.all()
    assert (event.action, event.actor, event.note) == (
        ConcernEvent.Action.DISMISSED,
        therapist,
        REASON,
    )
    html = client.get(page_of(concern)).content.decode()
    assert "Concern dismissed; your reason is in its history." in html
    assert "This concern is dismissed" in html


def test_a_note_of_exactly_the_limit_is_kept(
    client: Any, concern: Concern, therapist: User
) -> None:
    client.force_login(therapist)
    response = post(client, "concern-resolve", concern, {"note": "x" * 4000})
    assert response.status_code == 302
    concern.refresh_from_db()
    assert concern.status == Concern.Status.RESOLVED and len(concern.note) == 4000


def test_a_note_as_long_as_the_textarea_allows_is_kept_with_its_line_breaks(
    client: Any, concern: Concern, therapist: User
) -> None:
    """The textarea counts a line break as one character; the browser sends it as CRLF."""
    typed = "\n".join(["x" * 399] * 10) + "x"
    assert len(typed) == 4000
    client.force_login(therapist)
    response = post(client, "concern-resolve", concern, {"note": typed.replace("\n", "\r\n")})
    assert response.status_code == 302
    concern.refresh_from_db()
    assert concern.status == Concern.Status.RESOLVED and concern.note == typed


def test_the_therapist_can_comment_on_their_own_clients_concern(
    client: Any, concern: Concern, therapist: User
) -> None:
    client.force_login(therapist)
    response = post(client, "concern-comment", concern, {"note": "Will raise it next week."})
    assert response.status_code == 302 and response["Location"] == page_of(concern)
    [event] = concern.events.all()
    assert (event.action, event.actor, event.note) == (
        ConcernEvent.Action.COMMENTED,
        therapist,
        "Will raise it next week.",
    )
    concern.refresh_from_db()
    assert concern.status == Concern.Status.OPEN


def test_a_supervisor_can_comment_on_a_supervisees_concern(
    client: Any, concern: Concern, supervisor: User
) -> None:
    client.force_login(supervisor)
    response = post(client, "concern-comment", concern, {"note": f"  {COMMENT} "})
    assert response.status_code == 302 and response["Location"] == page_of(concern)
    [event] = concern.events.all()
    assert (event.action, event.actor, event.note) == (
        ConcernEvent.Action.COMMENTED,
        supervisor,
        COMMENT,
    )
    concern.refresh_from_db()
    assert concern.status == Concern.Status.OPEN and concern.acknowledged_at is None
    html = client.get(page_of(concern)).content.decode()
    assert "Comment added." in html and COMMENT in html and f"by {supervisor}" in html


# --- Bad input, and concerns that have moved on -----------------------------------


@pytest.mark.parametrize(
    ("name", "data", "form", "field", "message"),
    [
        ("concern-resolve", {}, "resolve_form", "note", "A repair note is needed"),
        ("concern-resolve", {"note": " \n\t "}, "resolve_form", "note", "A repair note is needed"),
        (
            "concern-resolve",
            {"note": "x" * 4001},
            "resolve_form",
            "note",
            "4,000 characters or fewer",
        ),
        ("concern-dismiss", {"reason": ""}, "dismiss_form", "reason", "A reason is needed"),
        (
            "concern-dismiss",
            {"reason": "x" * 4001},
            "dismiss_form",
            "reason",
            "4,000 characters or fewer",
        ),
        ("concern-comment", {"note": " "}, "comment_form", "note", "Please write a comment"),
        (
            "concern-comment",
            {"note": "x" * 4001},
            "comment_form",
            "note",
            "4,000 characters or fewer",
        ),
    ],
)
def test_a_missing_or_overlong_note_is_a_form_error_and_nothing_changes(
    client: Any,
    concern: Concern,
    therapist: User,
    name: str,
    data: dict[str, str],
    form: str,
    field: str,
    message: str,
) -> None:
    client.force_login(therapist)
    response = post(client, name, concern, data)
    assert response.status_code == 200
    [error] = response.context[form].errors[field]
    assert message in error
    assert message in response.content.decode()
    assert unchanged(concern)


@pytest.mark.parametrize(
    ("name", "form", "field"),
    [
        ("concern-resolve", "resolve_form", "note"),
        ("concern-dismiss", "dismiss_form", "reason"),
        ("concern-comment", "comment_form", "note"),
    ],
)
def test_a_note_with_a_direction_override_is_a_form_error_and_nothing_changes(
    client: Any, concern: Concern, therapist: User, name: str, form: str, field: str
) -> None:
    """A repair note that reads, on the page, otherwise than it was written."""
    client.force_login(therapist)
    response = post(client, name, concern, {field: "We \u202eeergasid\u202c now."})
    assert response.status_code == 200
    [error] = response.context[form].errors[field]
    assert error.startswith("Remove the direction control U+202E RIGHT-TO-LEFT OVERRIDE")
    assert unchanged(concern)


def test_the_review_services_refuse_a_note_with_a_direction_override(
    concern: Concern, therapist: User
) -> None:
    """Whoever calls them (a script, the admin): the form's refusal."""
    note = "We \u2067agreed\u2069."
    with pytest.raises(ValidationError) as refused:
        review.concern_resolve(concern=concern, actor=therapist, note=note)
    assert set(refused.value.message_dict) == {"note"}
    with pytest.raises(ValidationError) as refused:
        review.concern_dismiss(concern=concern, actor=therapist, reason=note)
    assert set(refused.value.message_dict) == {"reason"}
    with pytest.raises(ValidationError) as refused:
        review.concern_comment(concern=concern, actor=therapist, note=note)
    assert set(refused.value.message_dict) == {"note"}
    assert unchanged(concern)


def test_a_note_of_nothing_showing_is_no_note(concern: Concern, therapist: User) -> None:
    """A dismissal 'with a reason' of a zero-width space read as a blank in its history,
    and counted among the concerns dismissed with a reason."""
    nothing = "\u200b\ufeff"
    with pytest.raises(ValidationError) as refused:
        review.concern_resolve(concern=concern, actor=therapist, note=nothing)
    assert set(refused.value.message_dict) == {"note"}
    with pytest.raises(ValidationError) as refused:
        review.concern_dismiss(concern=concern, actor=therapist, reason=nothing)
    assert set(refused.value.message_dict) == {"reason"}
    with pytest.raises(ValidationError) as refused:
        review.concern_comment(concern=concern, actor=therapist, note=nothing)
    assert set(refused.value.message_dict) == {"note"}
    assert unchanged(concern)


def test_a_supervisors_empty_comment_is_a_form_error(
    client: Any, concern: Concern, supervisor: User
) -> None:
    client.force_login(supervisor)
    response = post(client, "concern-comment", concern, {"note": ""})
    assert response.status_code == 200
    assert "Please write a comment" in response.context["comment_form"].errors["note"][0]
    assert unchanged(concern)


def test_acknowledging_twice_says_so_and_changes_nothing(
    client: Any, concern: Concern, therapist: User
) -> None:
    client.force_login(therapist)
    post(client, "concern-acknowledge", concern)
    concern.refresh_from_db()
    first = concern.acknowledged_at
    response = post(client, "concern-acknowledge", concern)
    assert response.status_code == 200
    assert "This concern is already acknowledged." in response.content.decode()
    concern.refresh_from_db()
    assert concern.acknowledged_at == first
    assert concern.events.count() == 1


@pytest.mark.parametrize(
    ("name", "data"),
    [("concern-resolve", {"note": "Again."}), ("concern-dismiss", {"reason": "No."})],
)
def test_closing_a_resolved_concern_says_so_and_changes_nothing(
    client: Any, concern: Concern, therapist: User, name: str, data: dict[str, str]
) -> None:
    client.force_login(therapist)
    post(client, "concern-resolve", concern, {"note": NOTE})
    concern.refresh_from_db()
    closed_at = concern.closed_at
    response = post(client, name, concern, data)
    assert response.status_code == 200
    html = response.content.decode()
    assert "This concern is already resolved with a repair." in html
    assert "This concern is resolved with a repair" in html  # the page as it now stands
    concern.refresh_from_db()
    assert (concern.status, concern.note, concern.closed_at) == (
        Concern.Status.RESOLVED,
        NOTE,
        closed_at,
    )
    assert concern.events.count() == 1


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("concern-acknowledge", {}),
        ("concern-resolve", {"note": NOTE}),
        ("concern-dismiss", {"reason": "Again."}),
    ],
)
def test_a_dismissed_concern_says_so_and_changes_nothing(
    client: Any, concern: Concern, therapist: User, name: str, data: dict[str, str]
) -> None:
    client.force_login(therapist)
    post(client, "concern-dismiss", concern, {"reason": REASON})
    response = post(client, name, concern, data)
    assert response.status_code == 200
    assert "This concern is already dismissed." in response.content.decode()
    concern.refresh_from_db()
    assert (concern.status, concern.note) == (Concern.Status.DISMISSED, REASON)
    assert concern.events.count() == 1


def test_a_comment_on_a_closed_concern_is_still_kept(
    client: Any, concern: Concern, therapist: User, supervisor: User
) -> None:
    client.force_login(therapist)
    post(client, "concern-resolve", concern, {"note": NOTE})
    client.force_login(supervisor)
    assert post(client, "concern-comment", concern).status_code == 302
    assert [e.action for e in concern.events.all()] == [
        ConcernEvent.Action.RESOLVED,
        ConcernEvent.Action.COMMENTED,
    ]
    concern.refresh_from_db()
    assert concern.status == Concern.Status.RESOLVED


# --- A note written as the client is erased ----------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("step", "who"),
    [
        ("resolve", "therapist"),
        ("dismiss", "therapist"),
        ("comment", "therapist"),
        ("comment", "supervisor"),
    ],
)
def test_a_note_written_as_the_client_is_erased_is_erased_with_the_rest(
    postgresql: None,
    concern: Concern,
    clinic_admin: User,
    supervisor: User,
    monkeypatch: pytest.MonkeyPatch,
    step: str,
    who: str,
    request: pytest.FixtureRequest,
) -> None:
    """The step's checks passed before the erasure; its note written after it stayed on
    the record for ever (erasure runs once). The erasure waits for the step under way and
    erases its words with the rest, or the step finds the record erased."""
    actor = request.getfixturevalue(who)
    Client.objects.filter(pk=concern.client_id).update(status=Client.Status.DISCHARGED)
    real = review._clean_note
    reached = threading.Event()

    def pause(*args: Any, **kwargs: Any) -> str:
        if not reached.is_set():
            reached.set()
            time.sleep(PAUSE_SECONDS)  # the erasure goes now
        return real(*args, **kwargs)

    monkeypatch.setattr(review, "_clean_note", pause)
    services = {
        "resolve": lambda c: review.concern_resolve(concern=c, actor=actor, note=NOTE),
        "dismiss": lambda c: review.concern_dismiss(concern=c, actor=actor, reason=REASON),
        "comment": lambda c: review.concern_comment(concern=c, actor=actor, note=COMMENT),
    }
    problems: list[Exception] = []

    def take_the_step() -> None:
        services[step](Concern.objects.select_related("client").get(pk=concern.pk))

    reviewing = on_a_connection_of_its_own(errors_kept(take_the_step, problems))
    try:
        assert reached.wait(10)
        rights.client_erase(actor=clinic_admin, client=Client.objects.get(pk=concern.client_id))
    finally:
        reviewing.join()
    assert all(isinstance(problem, ValidationError) for problem in problems)
    assert Client.objects.get(pk=concern.client_id).is_erased
    concern.refresh_from_db()
    assert concern.note in ("", ERASED_NOTE)
    assert list(concern.events.exclude(note="").values_list("note", flat=True)) == []


# --- A page drawn before a new signal joined ------------------------------------------


def signals_seen_on(html: str) -> str:
    """The page's hidden note of the signals it showed ("" when there is none)."""
    found = re.findall(r'name="signals_seen" value="([^"]*)"', html)
    return found[0] if found else ""


def a_rupture_joins(concern: Concern) -> Flag:
    """The client reports a rupture not talked through at their next session: grouping puts
    its signal into the open concern and raises it to high."""
    signal = FlagFactory(
        session=SessionFactory(client=concern.client),
        rule=Flag.Rule.RUPTURE_UNRESOLVED,
        severity=Flag.Severity.HIGH,
        evidence={"client": {"rupture": "a_lot", "talked_through": "not_at_all"}},
        grouped_at=None,
    )
    concerns_update({concern.client_id: Thresholds()}, timezone.now())
    signal.refresh_from_db()
    assert signal.concern_id == concern.pk
    return signal


@pytest.mark.parametrize(
    ("name", "field", "text"),
    [("concern-resolve", "note", NOTE), ("concern-dismiss", "reason", REASON)],
)
def test_closing_from_a_page_drawn_before_a_new_signal_joined_is_refused_and_kept(
    client: Any, concern: Concern, therapist: User, name: str, field: str, text: str
) -> None:
    """The therapist wrote about the fall the page showed; meanwhile the client reported a
    rupture, which joined the concern. Closed from that page, the rupture would be closed
    unread, as reviewed."""
    client.force_login(therapist)
    seen = signals_seen_on(client.get(page_of(concern)).content.decode())
    a_rupture_joins(concern)
    response = post(client, name, concern, {field: text, "signals_seen": seen})
    assert response.status_code == 200
    page = response.content.decode()
    assert "A new signal joined this concern after this page was opened" in page
    assert text in page  # kept in its box
    assert "Rupture not fully talked through" in page  # the page as it now stands
    concern.refresh_from_db()
    assert concern.needs_review and not concern.events.exclude(action="severity_raised")
    # Sent again from the page that showed it, it closes the concern.
    again = post(client, name, concern, {field: text, "signals_seen": signals_seen_on(page)})
    assert again.status_code == 302
    concern.refresh_from_db()
    assert concern.is_closed and concern.note == text


def test_a_signal_withdrawn_since_the_page_was_drawn_does_not_hold_up_closing(
    client: Any, concern: Concern, therapist: User
) -> None:
    client.force_login(therapist)
    joined = a_rupture_joins(concern)
    seen = signals_seen_on(client.get(page_of(concern)).content.decode())
    Flag.objects.filter(pk=joined.pk).update(withdrawn_at=timezone.now())
    assert (
        post(client, "concern-resolve", concern, {"note": NOTE, "signals_seen": seen}).status_code
        == 302
    )
