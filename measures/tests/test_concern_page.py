"""The concern page: who may reach it and its review steps, what it shows to whom, its cost.

What each review step writes, and how bad input is answered, is in test_concern_review.py.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from clients.models import Client, Supervision, User
from clients.tests.factories import SupervisorFactory
from measures.models import Concern, ConcernEvent, Flag
from measures.tests.concern_steps import (
    CODES,
    COMMENT,
    STATUS_CHANGES,
    page_of,
    post,
    rate,
    unchanged,
    url,
)
from measures.tests.factories import (
    ConcernEventFactory,
    FlagFactory,
    concern_with_signal,
    erased,
)
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db

ACTIONS = ["concern-acknowledge", "concern-resolve", "concern-dismiss", "concern-comment"]


# --- Who may come in ------------------------------------------------------


def test_anonymous_is_sent_to_log_in_from_every_route(client: Any, concern: Concern) -> None:
    login = reverse("login")
    response = client.get(page_of(concern))
    assert response.status_code == 302
    assert response["Location"] == f"{login}?next={page_of(concern)}"
    for name in ACTIONS:
        response = post(client, name, concern)
        assert response.status_code == 302
        assert response["Location"] == f"{login}?next={url(name, concern)}"
    assert unchanged(concern)


@pytest.mark.parametrize("someone", ["outsider", "colleague"])
def test_someone_elses_concern_is_not_found_on_any_route(
    client: Any, concern: Concern, someone: str, request: Any
) -> None:
    client.force_login(request.getfixturevalue(someone))
    assert client.get(page_of(concern)).status_code == 404
    for name in ACTIONS:
        assert post(client, name, concern).status_code == 404
    assert unchanged(concern)


def test_a_supervisor_of_someone_else_finds_nothing_to_comment_on(
    client: Any, clinic: Any, concern: Concern
) -> None:
    client.force_login(SupervisorFactory(clinic=clinic, username="sam"))
    assert client.get(page_of(concern)).status_code == 404
    assert post(client, "concern-comment", concern).status_code == 404
    assert unchanged(concern)


def test_an_unknown_concern_is_not_found(client: Any, therapist: User) -> None:
    client.force_login(therapist)
    assert client.get(reverse("measures:concern-detail", args=[999_999])).status_code == 404
    for name in ACTIONS:
        assert client.post(reverse(f"measures:{name}", args=[999_999])).status_code == 404


@pytest.mark.parametrize("reader", ["supervisor", "clinic_admin"])
@pytest.mark.parametrize("name", STATUS_CHANGES)
def test_supervisors_and_clinic_admins_may_not_change_a_concerns_status(
    client: Any, concern: Concern, reader: str, name: str, request: Any
) -> None:
    client.force_login(request.getfixturevalue(reader))
    assert post(client, name, concern).status_code == 403
    assert post(client, name, concern, {}).status_code == 403  # not a form error: a refusal
    assert unchanged(concern)


def test_a_clinic_admin_who_is_not_a_supervisor_may_not_comment(
    client: Any, concern: Concern, clinic_admin: User
) -> None:
    client.force_login(clinic_admin)
    assert post(client, "concern-comment", concern).status_code == 403
    assert post(client, "concern-comment", concern, {}).status_code == 403
    assert unchanged(concern)


@pytest.mark.parametrize("name", ACTIONS)
def test_the_steps_answer_only_to_post(
    client: Any, concern: Concern, therapist: User, name: str
) -> None:
    client.force_login(therapist)
    assert client.get(url(name, concern)).status_code == 405
    assert unchanged(concern)


def test_the_page_answers_only_to_get(client: Any, concern: Concern, therapist: User) -> None:
    client.force_login(therapist)
    assert client.post(page_of(concern)).status_code == 405


def test_a_supervisor_who_also_treats_may_not_review_a_supervisees_concern(
    client: Any, clinic: Any, concern: Concern, therapist: User
) -> None:
    both = SupervisorFactory(clinic=clinic, username="bo", is_therapist=True)
    Supervision.objects.create(supervisor=both, therapist=therapist)
    client.force_login(both)
    assert client.get(page_of(concern)).status_code == 200
    for name in STATUS_CHANGES:
        assert post(client, name, concern).status_code == 403
    assert unchanged(concern)


# --- What the page shows, and to whom ------------------------------------------------


def test_the_therapist_reads_what_happened_each_signal_and_every_action(
    client: Any, concern: Concern, therapist: User, client_record: Client
) -> None:
    client.force_login(therapist)
    response = client.get(page_of(concern))
    assert response.status_code == 200
    assert response.context["may_review"] is True and response.context["may_comment"] is True
    html = response.content.decode()
    assert "What happened" in html
    story = "Alliance fell from 10.0 to 7.0 at session 2: a reliable drop at session 2."
    assert response.context["page"].story == story and escape(story) in html
    # The signal: its rule, its sentence, and each figure beneath it, in words.
    [signal] = response.context["page"].signals
    assert "Reliable drop" in html
    assert escape("Alliance 6.8, 3.1 below this client's usual 9.9 (threshold 1.5)") in html
    for name, value in [
        ("Client's score", "6.8"),
        ("Client's usual level", "9.9 (the mean of 5 earlier ratings)"),
        ("Fall", "3.1"),
        ("Threshold", "1.5"),
        ("Threshold from", "the larger of the reliable change (1.52) and twice the spread"),
    ]:
        assert f">{escape(name)}</dt>" in html and escape(value) in html
    assert reverse("reports:session-detail", args=[signal.session_id]) in html
    assert reverse("reports:client-detail", args=[client_record.pk]) in html
    assert "History" in html and "Opened" in html
    for name in ACTIONS:
        assert url(name, concern) in html
    assert "What did you talk through or change?" in html
    assert "can acknowledge, resolve or dismiss this concern" not in html
    assert "<script" not in html.split("</footer>")[0] and 'style="' not in html


def test_every_signal_in_the_concern_is_told_in_words_never_codes(
    client: Any, concern: Concern, therapist: User
) -> None:
    session = concern.last_session
    for rule, evidence in [
        (
            Flag.Rule.RUPTURE_UNRESOLVED,
            {"client": {"rupture": "a_lot", "talked_through": "not_at_all"}},
        ),
        (Flag.Rule.BELOW_CUTOFF, {"score": 7.0, "cutoff": 9.0, "operator": "lt"}),
        (Flag.Rule.DECLINING_TREND, {"scores": [9.5, 9.0, 7.0], "sessions": [1, 2, 2]}),
        (
            Flag.Rule.DISENGAGEMENT,
            {"kind": "missed", "sessions": [2], "attendance": ["no_show"]},
        ),
    ]:
        FlagFactory(session=session, concern=concern, rule=rule, evidence=evidence)
    client.force_login(therapist)
    response = client.get(page_of(concern))
    html = response.content.decode()
    assert len(response.context["page"].signals) == 5
    for words in [
        "Rupture not fully talked through",
        "The client reported a rupture (a lot); talked through: not at all",
        "rupture: a lot; talked through: not at all",
        "Below the cut-off",
        "Alliance 7.0, below the cut-off of 9.0",
        "Declining trend",
        "Alliance fell three sessions running: 9.5 → 9.0 → 7.0",
        "Disengagement",
        "no-show",
    ]:
        assert escape(words) in html, words
    for code in CODES:
        assert code not in html, code


def test_the_therapist_reads_you_and_a_supervisor_reads_the_therapist(
    client: Any, concern: Concern, therapist: User, supervisor: User
) -> None:
    FlagFactory(
        session=concern.last_session,
        concern=concern,
        rule=Flag.Rule.RATER_DISCREPANCY,
        severity=Flag.Severity.MEDIUM,
        evidence={"therapist": 9.0, "client": 7.0, "difference": 2.0},
    )
    client.force_login(therapist)
    own = client.get(page_of(concern)).content.decode()
    assert "you rated session 2 higher than the client did" in own
    assert escape("The therapist rated the session 9.0, the client 7.0: 2.0 higher") in own
    client.force_login(supervisor)
    theirs = client.get(page_of(concern)).content.decode()
    assert "the therapist rated session 2 higher than the client did" in theirs
    assert "you rated" not in theirs


def test_the_history_shows_each_step_with_who_took_it(
    client: Any, concern: Concern, therapist: User, supervisor: User
) -> None:
    ConcernEventFactory(
        concern=concern,
        action=ConcernEvent.Action.SEVERITY_RAISED,
        severity="high",
        note="",
        at=concern.opened_at + dt.timedelta(hours=1),
    )
    ConcernEventFactory(concern=concern, actor=supervisor, note=COMMENT)
    client.force_login(therapist)
    response = client.get(page_of(concern))
    assert [event.action for event in response.context["page"].events] == [
        ConcernEvent.Action.SEVERITY_RAISED,
        ConcernEvent.Action.COMMENTED,
    ]
    html = response.content.decode()
    assert "Severity raised: now high" in html and "Alliance, as a new signal joined" in html
    assert "Commented" in html and f"by {supervisor}" in html and COMMENT in html
    assert "severity_raised" not in html


def test_the_page_lists_the_clients_other_concerns(
    client: Any, concern: Concern, therapist: User, client_record: Client
) -> None:
    earlier = concern_with_signal(
        client_record,
        days_ago=60,
        status=Concern.Status.RESOLVED,
        closed_at=timezone.now() - dt.timedelta(days=50),
        note="Repaired.",
    )
    client.force_login(therapist)
    response = client.get(page_of(concern))
    assert response.context["page"].earlier == [earlier]
    html = response.content.decode()
    assert "R.K.'s other concerns" in html
    assert page_of(earlier) in html and "Resolved with a repair" in html


def test_a_supervisor_reads_the_concern_and_may_only_comment(
    client: Any, concern: Concern, supervisor: User, therapist: User
) -> None:
    client.force_login(supervisor)
    response = client.get(page_of(concern))
    assert response.status_code == 200
    assert response.context["may_review"] is False and response.context["may_comment"] is True
    html = response.content.decode()
    assert url("concern-comment", concern) in html
    for name in STATUS_CHANGES:
        assert url(name, concern) not in html
    assert f"Only {therapist}" in html
    assert "can acknowledge, resolve or dismiss this concern" in html


def test_a_clinic_admin_reads_the_concern_without_any_form(
    client: Any, concern: Concern, clinic_admin: User
) -> None:
    client.force_login(clinic_admin)
    response = client.get(page_of(concern))
    assert response.status_code == 200
    assert response.context["may_review"] is False and response.context["may_comment"] is False
    html = response.content.decode()
    for name in ACTIONS:
        assert url(name, concern) not in html
    assert escape("Alliance 6.8, 3.1 below this client's usual 9.9 (threshold 1.5)") in html


# --- Cost ------------------------------------------------------------------------


def grow(concern: Concern, size: int, author: User) -> None:
    """`size` more signals (each on a session of its own) and `size` comments."""
    for _ in range(size):
        session = SessionFactory(client=concern.client)
        rate(session, 6)
        FlagFactory(session=session, concern=concern)
        ConcernEventFactory(concern=concern, actor=author, note=COMMENT)
        concern_with_signal(
            concern.client, status=Concern.Status.DISMISSED, closed_at=timezone.now(), note="No."
        )


# Measured: the session, the user, the concern (with client and sessions), its signals, the
# client's scores, the client's other concerns, the history; and for a supervisor, whether
# they may comment.
# One more records the read in the audit trail (its INSERT; the client's clinic is in hand).
PAGE_QUERIES = {"therapist": 8, "supervisor": 9}


@pytest.mark.parametrize("size", [1, 8])
@pytest.mark.parametrize("reader", ["therapist", "supervisor"])
def test_the_page_costs_the_same_queries_at_any_size(
    client: Any,
    concern: Concern,
    supervisor: User,
    django_assert_num_queries: Any,
    size: int,
    reader: str,
    request: Any,
) -> None:
    grow(concern, size, supervisor)
    client.force_login(request.getfixturevalue(reader))
    with django_assert_num_queries(PAGE_QUERIES[reader]):
        response = client.get(page_of(concern))
    page = response.context["page"]
    assert (len(page.signals), len(page.events), len(page.earlier)) == (size + 1, size, size)


def test_a_signal_on_a_voided_session_stays_in_the_concern_marked_voided(
    client: Any, therapist: User, concern: Concern
) -> None:
    from sessions.services import session_void

    session_void(actor=therapist, session=concern.last_session, reason="Logged twice")
    client.force_login(therapist)
    page = client.get(reverse("measures:concern-detail", args=[concern.pk])).content.decode()
    signal = page.split('id="signals-heading"')[1].split("</section>")[0]
    assert f"session {concern.last_session.number}</a>" in signal
    assert "voided</span>" in signal


@pytest.mark.parametrize("step", ["concern-resolve", "concern-dismiss", "concern-comment"])
def test_an_erased_clients_concern_takes_no_new_words(
    client: Any, concern: Concern, therapist: User, clinic_admin: User, step: str
) -> None:
    """A note written after the erasure would stay for ever (erasure never runs twice): the
    page says why, and nothing is kept."""
    erased(concern.client, by=clinic_admin)
    concern.refresh_from_db()
    client.force_login(therapist)
    response = post(client, step, concern)
    assert response.status_code == 200
    assert "record was erased" in response.content.decode()
    assert "kept in the comment box" not in response.content.decode()
    assert unchanged(concern)


def test_an_erased_clients_concern_is_still_acknowledged(
    client: Any, concern: Concern, therapist: User, clinic_admin: User
) -> None:
    """Acknowledging writes no words: the open concern leaves the list of those unseen."""
    erased(concern.client, by=clinic_admin)
    client.force_login(therapist)
    assert post(client, "concern-acknowledge", concern).status_code == 302
    concern.refresh_from_db()
    assert concern.status == Concern.Status.ACKNOWLEDGED


def test_an_erased_clients_concern_is_dismissed_without_a_reason(
    client: Any, concern: Concern, therapist: User, clinic_admin: User
) -> None:
    """Without this the concern would wait in the queue for ever: a reason is words, which
    an erased record takes no more of, so the therapist dismisses it with none, and its
    note reads as erasure leaves every note."""
    from measures.rights import ERASED_NOTE

    erased(concern.client, by=clinic_admin)
    client.force_login(therapist)
    page = client.get(page_of(concern)).content.decode()
    assert "concern-dismiss-erased" in page
    assert 'name="reason"' not in page  # nothing to type that could not be kept
    assert url("concern-resolve", concern) not in page  # a repair note is words too

    assert "Add a comment" not in page  # an erased record takes no comment: no box for one
    done = client.post(url("concern-dismiss", concern), {}, follow=True).content.decode()
    assert "The client&#x27;s record was erased, so it keeps no reason." in done
    assert "your reason is in its history" not in done
    concern.refresh_from_db()
    assert (concern.status, concern.note, concern.closed_by) == (
        Concern.Status.DISMISSED,
        ERASED_NOTE,
        therapist,
    )
    event = concern.events.get()
    assert (event.action, event.actor, event.note) == (
        ConcernEvent.Action.DISMISSED,
        therapist,
        ERASED_NOTE,
    )
    assert concern.pk not in [
        row.pk for row in client.get(reverse("measures:review-queue")).context["page"]
    ]


def test_a_reason_typed_for_an_erased_clients_concern_says_why_it_was_refused(
    client: Any, concern: Concern, therapist: User, clinic_admin: User
) -> None:
    """A dismissal typed on a page opened before the erasure: the words cannot be kept,
    and the page now offers the dismissal without them."""
    erased(concern.client, by=clinic_admin)
    concern.refresh_from_db()
    client.force_login(therapist)
    response = post(client, "concern-dismiss", concern, {"reason": "  A hard week.  "})
    body = response.content.decode()
    assert response.status_code == 200
    assert "the concern is dismissed without a reason, and nothing was saved" in body
    assert "concern-dismiss-erased" in body
    assert "A hard week." not in body
    assert unchanged(concern)


def test_a_living_clients_concern_still_needs_a_reason_to_be_dismissed(
    client: Any, concern: Concern, therapist: User
) -> None:
    client.force_login(therapist)
    response = post(client, "concern-dismiss", concern, {"reason": "   "})
    assert response.status_code == 200
    assert "A reason is needed to dismiss a concern." in response.content.decode()
    assert "concern-dismiss-erased" not in response.content.decode()
    assert unchanged(concern)
