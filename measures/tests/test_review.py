"""The review queue and the flag page: who sees and who may act, and what each step writes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from clients.models import Client, User
from clients.tests.factories import ClientFactory
from measures.models import Flag, FlagEvent
from measures.tests.factories import FlagFactory
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db

QUEUE = reverse("measures:review-queue")
ACTIONS = ["flag-acknowledge", "flag-resolve", "flag-dismiss", "flag-comment"]
STATUS_CHANGES = ["flag-acknowledge", "flag-resolve", "flag-dismiss"]
NOTE = "We talked about the tension over homework; agreed a slower pace."


def flag_for(client: Client, *, days_ago: int = 3, **fields: Any) -> Flag:
    """A flag on a new session of `client`, raised `days_ago` days ago."""
    return FlagFactory(
        session=SessionFactory(client=client),
        created_at=timezone.now() - dt.timedelta(days=days_ago),
        **fields,
    )


def url(name: str, flag: Flag) -> str:
    return reverse(f"measures:{name}", args=[flag.pk])


# Valid input for each action, so a refusal is about who acts, not what they wrote.
VALID = {
    "flag-acknowledge": {},
    "flag-resolve": {"note": NOTE},
    "flag-dismiss": {"reason": "A hard week at work."},
    "flag-comment": {"note": "Worth raising in supervision."},
}


def queue_rows(response: Any) -> list[Flag]:
    return list(response.context["page"])


def unchanged(flag: Flag) -> bool:
    before = (flag.status, flag.note, flag.acknowledged_at, flag.resolved_at, flag.dismissed_at)
    flag.refresh_from_db()
    after = (flag.status, flag.note, flag.acknowledged_at, flag.resolved_at, flag.dismissed_at)
    return before == after and not flag.events.exists()


@pytest.fixture
def flag(client_record: Client) -> Flag:
    return flag_for(client_record, evidence={"score": "8.5", "cutoff": "9.0"})


# --- Who may come in ------------------------------------------------------


def test_anonymous_is_sent_to_log_in_from_every_route(client: Any, flag: Flag) -> None:
    login = reverse("login")
    for target in [QUEUE, url("flag-detail", flag)]:
        response = client.get(target)
        assert response.status_code == 302
        assert response["Location"] == f"{login}?next={target}"
    for name in ACTIONS:
        response = client.post(url(name, flag), VALID[name])
        assert response.status_code == 302
        assert response["Location"].startswith(f"{login}?next=")
    assert unchanged(flag)


@pytest.mark.parametrize("someone", ["outsider", "colleague"])
def test_someone_elses_flag_is_not_found_on_any_route(
    client: Any, flag: Flag, someone: str, request: Any
) -> None:
    client.force_login(request.getfixturevalue(someone))
    assert client.get(url("flag-detail", flag)).status_code == 404
    for name in ACTIONS:
        assert client.post(url(name, flag), VALID[name]).status_code == 404
    assert queue_rows(client.get(QUEUE)) == []
    assert unchanged(flag)


def test_an_unknown_flag_is_not_found(client: Any, therapist: User) -> None:
    client.force_login(therapist)
    assert client.get(reverse("measures:flag-detail", args=[999999])).status_code == 404


@pytest.mark.parametrize("reader", ["supervisor", "clinic_admin"])
@pytest.mark.parametrize("name", STATUS_CHANGES)
def test_supervisors_and_clinic_admins_may_not_change_a_flags_status(
    client: Any, flag: Flag, reader: str, name: str, request: Any
) -> None:
    client.force_login(request.getfixturevalue(reader))
    assert client.post(url(name, flag), VALID[name]).status_code == 403
    assert client.post(url(name, flag), {}).status_code == 403  # not a form error: a refusal
    assert unchanged(flag)


def test_a_clinic_admin_who_is_not_a_supervisor_may_not_comment(
    client: Any, flag: Flag, clinic_admin: User
) -> None:
    client.force_login(clinic_admin)
    assert client.post(url("flag-comment", flag), VALID["flag-comment"]).status_code == 403
    assert not flag.events.exists()


def test_a_supervisor_reads_the_queue_and_the_flag_page_without_the_review_actions(
    client: Any, flag: Flag, supervisor: User, therapist: User
) -> None:
    client.force_login(supervisor)
    queue = client.get(QUEUE)
    assert queue_rows(queue) == [flag]
    assert "Therapist" in queue.content.decode() and str(therapist) in queue.content.decode()
    page = client.get(url("flag-detail", flag))
    html = page.content.decode()
    assert page.status_code == 200
    assert url("flag-comment", flag) in html
    for name in STATUS_CHANGES:
        assert url(name, flag) not in html
    assert "can acknowledge, resolve or dismiss this flag" in html


def test_a_supervisor_can_comment_on_a_supervisees_flag(
    client: Any, flag: Flag, supervisor: User
) -> None:
    client.force_login(supervisor)
    response = client.post(url("flag-comment", flag), {"note": "  Worth raising in supervision. "})
    assert response.status_code == 302 and response["Location"] == url("flag-detail", flag)
    [event] = flag.events.all()
    assert (event.action, event.actor, event.note) == (
        FlagEvent.Action.COMMENTED,
        supervisor,
        "Worth raising in supervision.",
    )
    flag.refresh_from_db()
    assert flag.status == Flag.Status.OPEN
    assert "Worth raising in supervision." in client.get(url("flag-detail", flag)).content.decode()


@pytest.mark.parametrize("name", ACTIONS)
def test_the_actions_answer_only_to_post(
    client: Any, flag: Flag, therapist: User, name: str
) -> None:
    client.force_login(therapist)
    assert client.get(url(name, flag)).status_code == 405
    assert unchanged(flag)


def test_the_pages_answer_only_to_get(client: Any, flag: Flag, therapist: User) -> None:
    client.force_login(therapist)
    assert client.post(QUEUE).status_code == 405
    assert client.post(url("flag-detail", flag)).status_code == 405


# --- The therapist reviews -------------------------------------------------


def test_the_therapist_sees_why_the_flag_was_raised_and_every_action(
    client: Any, flag: Flag, therapist: User
) -> None:
    client.force_login(therapist)
    html = client.get(url("flag-detail", flag)).content.decode()
    assert "Below the cut-off" in html and escape(flag.description) in html
    assert "<dt" in html and "8.5" in html and "Cutoff" in html
    assert reverse("measures:session-detail", args=[flag.session_id]) in html
    assert reverse("measures:client-detail", args=[flag.client_id]) in html
    assert "Raised" in html
    for name in ACTIONS:
        assert url(name, flag) in html
    assert "What did you talk through or change?" in html
    assert "<script" not in html.split("</footer>")[0] and 'style="' not in html


def test_acknowledging_records_who_when_and_an_event(
    client: Any, flag: Flag, therapist: User
) -> None:
    client.force_login(therapist)
    response = client.post(url("flag-acknowledge", flag))
    assert response.status_code == 302 and response["Location"] == url("flag-detail", flag)
    flag.refresh_from_db()
    assert flag.status == Flag.Status.ACKNOWLEDGED
    assert flag.acknowledged_by == therapist and flag.acknowledged_at is not None
    [event] = flag.events.all()
    assert (event.action, event.actor) == (FlagEvent.Action.ACKNOWLEDGED, therapist)
    html = client.get(response["Location"]).content.decode()
    assert "Flag acknowledged." in html
    assert url("flag-acknowledge", flag) not in html  # only an open flag can be acknowledged
    assert url("flag-resolve", flag) in html


def test_resolving_with_a_repair_note_closes_the_flag(
    client: Any, flag: Flag, therapist: User
) -> None:
    client.force_login(therapist)
    client.post(url("flag-acknowledge", flag))
    response = client.post(url("flag-resolve", flag), {"note": f"  {NOTE}\n"})
    assert response.status_code == 302 and response["Location"] == url("flag-detail", flag)
    flag.refresh_from_db()
    assert (flag.status, flag.note, flag.resolved_by) == (Flag.Status.RESOLVED, NOTE, therapist)
    assert flag.resolved_at is not None
    assert [(e.action, e.note) for e in flag.events.all()] == [
        (FlagEvent.Action.ACKNOWLEDGED, ""),
        (FlagEvent.Action.RESOLVED, NOTE),
    ]
    html = client.get(url("flag-detail", flag)).content.decode()
    assert "Flag resolved" in html and "This flag is resolved" in html
    assert url("flag-resolve", flag) not in html


def test_dismissing_with_a_reason_closes_the_flag(client: Any, flag: Flag, therapist: User) -> None:
    client.force_login(therapist)
    response = client.post(url("flag-dismiss", flag), {"reason": "A hard week at work."})
    assert response.status_code == 302
    flag.refresh_from_db()
    assert (flag.status, flag.note, flag.dismissed_by) == (
        Flag.Status.DISMISSED,
        "A hard week at work.",
        therapist,
    )
    assert flag.acknowledged_at is not None  # closing straight from open acknowledges it
    [event] = flag.events.all()
    assert (event.action, event.note) == (FlagEvent.Action.DISMISSED, "A hard week at work.")


def test_the_therapist_can_comment_on_their_own_clients_flag(
    client: Any, flag: Flag, therapist: User
) -> None:
    client.force_login(therapist)
    client.post(url("flag-comment", flag), {"note": "Will raise it next week."})
    [event] = flag.events.all()
    assert (event.action, event.actor) == (FlagEvent.Action.COMMENTED, therapist)


# --- Bad input and flags that have moved on -----------------------------------


@pytest.mark.parametrize(
    ("name", "data", "form", "field", "message"),
    [
        ("flag-resolve", {}, "resolve_form", "note", "A repair note is needed"),
        ("flag-resolve", {"note": "  \n\t "}, "resolve_form", "note", "A repair note is needed"),
        ("flag-dismiss", {"reason": ""}, "dismiss_form", "reason", "A reason is needed"),
        ("flag-dismiss", {"reason": "x" * 4001}, "dismiss_form", "reason", "under 4000"),
        ("flag-comment", {"note": " "}, "comment_form", "note", "Please write a comment"),
    ],
)
def test_a_missing_note_is_a_form_error_and_nothing_changes(
    client: Any,
    flag: Flag,
    therapist: User,
    name: str,
    data: dict[str, str],
    form: str,
    field: str,
    message: str,
) -> None:
    client.force_login(therapist)
    response = client.post(url(name, flag), data)
    assert response.status_code == 200
    [error] = response.context[form].errors[field]
    assert message in error
    assert message in response.content.decode()
    assert unchanged(flag)


def test_acknowledging_twice_says_so_and_changes_nothing(
    client: Any, flag: Flag, therapist: User
) -> None:
    client.force_login(therapist)
    client.post(url("flag-acknowledge", flag))
    flag.refresh_from_db()
    first = flag.acknowledged_at
    response = client.post(url("flag-acknowledge", flag))
    assert response.status_code == 200
    assert "This flag is already acknowledged." in response.content.decode()
    flag.refresh_from_db()
    assert flag.acknowledged_at == first
    assert flag.events.count() == 1


@pytest.mark.parametrize(
    ("name", "data"), [("flag-resolve", {"note": "Again."}), ("flag-dismiss", {"reason": "No."})]
)
def test_closing_a_resolved_flag_says_so_and_changes_nothing(
    client: Any, flag: Flag, therapist: User, name: str, data: dict[str, str]
) -> None:
    client.force_login(therapist)
    client.post(url("flag-resolve", flag), {"note": NOTE})
    response = client.post(url(name, flag), data)
    assert response.status_code == 200
    assert "This flag is already resolved." in response.content.decode()
    flag.refresh_from_db()
    assert (flag.status, flag.note) == (Flag.Status.RESOLVED, NOTE)
    assert flag.events.count() == 1


def test_acknowledging_a_dismissed_flag_says_so(client: Any, flag: Flag, therapist: User) -> None:
    client.force_login(therapist)
    client.post(url("flag-dismiss", flag), {"reason": "Not about us."})
    response = client.post(url("flag-acknowledge", flag))
    assert "This flag is already dismissed." in response.content.decode()
    flag.refresh_from_db()
    assert flag.status == Flag.Status.DISMISSED and flag.events.count() == 1


# --- The queue ------------------------------------------------------------


def test_the_queue_puts_the_most_severe_first_then_the_oldest(
    client: Any, therapist: User, client_record: Client
) -> None:
    low_old = flag_for(client_record, days_ago=9, severity="low")
    medium_new = flag_for(client_record, days_ago=1, severity="medium", rule="declining_trend")
    high_new = flag_for(client_record, days_ago=2, severity="high", rule="reliable_drop")
    medium_old = flag_for(client_record, days_ago=5, severity="medium", rule="dimension_drop")
    high_old = flag_for(client_record, days_ago=8, severity="high", rule="rupture_unresolved")
    client.force_login(therapist)
    assert queue_rows(client.get(QUEUE)) == [high_old, high_new, medium_old, medium_new, low_old]


def test_each_queue_row_links_the_client_session_and_flag(
    client: Any, flag: Flag, therapist: User
) -> None:
    client.force_login(therapist)
    html = client.get(QUEUE).content.decode()
    assert "R.K." in html and reverse("measures:client-detail", args=[flag.client_id]) in html
    assert f"Session {flag.session.number}" in html
    assert reverse("measures:session-detail", args=[flag.session_id]) in html
    assert url("flag-detail", flag) in html
    assert "Below the cut-off" in html and escape(flag.description) in html and "Open" in html
    assert '<th scope="col">Therapist</th>' not in html  # a therapist's own caseload


def test_resolved_and_dismissed_flags_leave_the_queue(
    client: Any, therapist: User, client_record: Client
) -> None:
    waiting = flag_for(client_record)
    now = timezone.now()
    flag_for(client_record, status="resolved", resolved_at=now, note="Repaired.")
    flag_for(client_record, status="dismissed", dismissed_at=now, note="Not about us.")
    client.force_login(therapist)
    assert queue_rows(client.get(QUEUE)) == [waiting]


def test_the_queue_filters_by_status(client: Any, therapist: User, client_record: Client) -> None:
    opened = flag_for(client_record, days_ago=5)
    seen = flag_for(
        client_record, days_ago=4, status="acknowledged", acknowledged_at=timezone.now()
    )
    client.force_login(therapist)
    assert queue_rows(client.get(QUEUE, {"status": "open"})) == [opened]
    assert queue_rows(client.get(QUEUE, {"status": "acknowledged"})) == [seen]
    assert queue_rows(client.get(QUEUE, {"status": "all"})) == [opened, seen]


def test_an_unknown_status_filter_says_so_and_shows_everything_needing_review(
    client: Any, flag: Flag, therapist: User
) -> None:
    client.force_login(therapist)
    response = client.get(QUEUE, {"status": "<script>resolved", "page": "lots"})
    assert response.status_code == 200
    assert queue_rows(response) == [flag]
    assert b"That filter is not one we know" in response.content
    assert b"<script>resolved" not in response.content


def test_an_empty_queue_says_what_it_means(client: Any, therapist: User) -> None:
    client.force_login(therapist)
    html = client.get(QUEUE).content.decode()
    assert "No flags to review." in html
    assert (
        "Flags appear here when a client's ratings suggest the alliance may be weakening." in html
    )


def test_a_filter_with_nothing_in_it_says_so(client: Any, flag: Flag, therapist: User) -> None:
    client.force_login(therapist)
    html = client.get(QUEUE, {"status": "acknowledged"}).content.decode()
    assert "No acknowledged flags." in html


def test_the_queue_pages_at_fifty(client: Any, therapist: User, client_record: Client) -> None:
    sessions = [SessionFactory(client=client_record) for _ in range(51)]
    for number, session in enumerate(sessions):
        FlagFactory(session=session, created_at=timezone.now() - dt.timedelta(hours=number))
    client.force_login(therapist)
    assert len(queue_rows(client.get(QUEUE))) == 50
    assert len(queue_rows(client.get(QUEUE, {"page": 2}))) == 1


def test_the_navigation_offers_the_queue_to_therapists_and_supervisors(
    client: Any, therapist: User, supervisor: User, clinic_admin: User
) -> None:
    for user, shown in [(therapist, True), (supervisor, True), (clinic_admin, False)]:
        client.force_login(user)
        assert (QUEUE in client.get(reverse("measures:caseload")).content.decode()) is shown


@pytest.mark.parametrize("size", [5, 50])
@pytest.mark.parametrize("reader", ["therapist", "supervisor"])
def test_the_queue_costs_the_same_queries_at_any_size(
    client: Any, django_assert_num_queries: Any, size: int, reader: str, request: Any
) -> None:
    user = request.getfixturevalue(reader)
    therapist = request.getfixturevalue("therapist")
    for number in range(size):
        someone = ClientFactory(therapist=therapist, label=f"Client {number:02d}")
        flag_for(someone, severity=["low", "medium", "high"][number % 3])
    client.force_login(user)
    # session + user, the count for the pager, the page of flags
    with django_assert_num_queries(4):
        response = client.get(QUEUE)
    assert len(queue_rows(response)) == size
