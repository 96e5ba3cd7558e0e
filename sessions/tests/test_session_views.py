"""The pages for logging, editing and voiding a session.

Each page in the order anonymous → outsider → colleague → read-only roles →
bad input → the happy path. The session page and the client page are built
elsewhere: these tests check where a write redirects, never follow it.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.messages import get_messages
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone

from clients.models import Client, User
from sessions.models import RatingInvitation, Session, SessionRevision
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")
READ_ONLY_ROLES = ["supervisor", "clinic_admin"]


@pytest.fixture(autouse=True)
def clinic_in_london(settings: Any) -> None:
    """Pin the clinic's time zone, so local times in these tests mean one thing."""
    settings.TIME_ZONE = "Europe/London"


@pytest.fixture
def session(client_record: Client) -> Session:
    """Session 1 with R.K., logged by their therapist on 12 Nov 2025 at 10:00."""
    return SessionFactory(
        client=client_record,
        starts_at=dt.datetime(2025, 11, 12, 10, 0, tzinfo=LONDON),
        duration_minutes=50,
        notes="Talked about the move.",
    )


def log_url(client: Client) -> str:
    return reverse("sessions:session-log", args=[client.pk])


def edit_url(session: Session) -> str:
    return reverse("sessions:session-edit", args=[session.pk])


def void_url(session: Session) -> str:
    return reverse("sessions:session-void", args=[session.pk])


def local_input(moment: dt.datetime) -> str:
    """`moment` as a datetime-local field sends it: the clinic's wall-clock time."""
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def session_data(**changes: str) -> dict[str, str]:
    """A valid form submission: an attended in-person session an hour ago."""
    data = {
        "starts_at": local_input(timezone.now() - dt.timedelta(hours=1)),
        "duration_minutes": "50",
        "attendance": "attended",
        "modality": "in_person",
        "notes": "",
    }
    return {**data, **changes}


def as_user(client: HttpClient, user: User) -> HttpClient:
    client.force_login(user)
    return client


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def login_redirect(url: str) -> str:
    return f"{reverse('login')}?next={url}"


def field_errors(response: Any) -> set[str]:
    return set(response.context["form"].errors)


def snapshot(session: Session) -> tuple[Any, ...]:
    session.refresh_from_db()
    return (
        session.starts_at,
        session.duration_minutes,
        session.attendance,
        session.modality,
        session.notes,
    )


# --- Logging a session ------------------------------------------------------


def test_logging_sends_anonymous_visitors_to_log_in(
    client: HttpClient, client_record: Client
) -> None:
    url = log_url(client_record)
    for response in (client.get(url), client.post(url, session_data())):
        assert response.status_code == 302
        assert response["Location"] == login_redirect(url)
    assert not Session.objects.exists()


def test_logging_for_another_clinics_client_is_not_found(
    client: HttpClient, outsider: User, client_record: Client
) -> None:
    as_user(client, outsider)
    assert client.get(log_url(client_record)).status_code == 404
    assert client.post(log_url(client_record), session_data()).status_code == 404
    assert not Session.objects.exists()


def test_logging_for_a_colleagues_client_is_not_found(
    client: HttpClient, therapist: User, colleague_client: Client
) -> None:
    as_user(client, therapist)
    assert client.get(log_url(colleague_client)).status_code == 404
    assert client.post(log_url(colleague_client), session_data()).status_code == 404
    assert not Session.objects.exists()


def test_logging_for_a_missing_client_is_not_found(client: HttpClient, therapist: User) -> None:
    as_user(client, therapist)
    assert client.get(reverse("sessions:session-log", args=[999_999])).status_code == 404


@pytest.mark.parametrize("role", READ_ONLY_ROLES)
def test_a_supervisor_or_clinic_admin_cannot_log_a_session_for_someone_elses_client(
    client: HttpClient, request: pytest.FixtureRequest, role: str, client_record: Client
) -> None:
    as_user(client, request.getfixturevalue(role))
    assert client.get(log_url(client_record)).status_code == 403
    assert client.post(log_url(client_record), session_data()).status_code == 403
    assert not Session.objects.exists()


def test_the_log_form_offers_sensible_defaults(
    client: HttpClient, therapist: User, client_record: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        "django.utils.timezone.now", lambda: dt.datetime(2026, 7, 1, 9, 48, 31, tzinfo=dt.UTC)
    )
    response = as_user(client, therapist).get(log_url(client_record))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Log a session with R.K." in html
    # 09:48 UTC is 10:48 in London in summer; rounded down to five minutes.
    assert 'value="2026-07-01T10:45"' in html
    assert re.search(r'name="duration_minutes"[^>]*value="50"', html)
    assert re.search(r'value="attended"[^>]*checked', html)
    assert re.search(r'value="in_person"[^>]*checked', html)
    assert re.search(r'<textarea[^>]*name="notes"[^>]*>\s*</textarea>', html)
    assert "Only you can read these." in html
    assert reverse("reports:client-detail", args=[client_record.pk]) in html


def test_logging_a_session_numbers_it_and_opens_the_session_page(
    client: HttpClient, therapist: User, client_record: Client
) -> None:
    as_user(client, therapist)
    response = client.post(
        log_url(client_record),
        session_data(
            starts_at="2025-07-01T10:00",
            duration_minutes="45",
            attendance="attended",
            modality="video",
            notes="Worked on the sleep diary.",
        ),
    )
    session = Session.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("reports:session-detail", args=[session.pk])
    assert messages_of(response) == ["Session 1 with R.K. logged."]
    assert (session.client, session.therapist, session.number) == (client_record, therapist, 1)
    # Typed in the clinic's local time (BST in July), stored as the same instant.
    assert session.starts_at == dt.datetime(2025, 7, 1, 9, 0, tzinfo=dt.UTC)
    assert (session.duration_minutes, session.attendance, session.modality) == (
        45,
        "attended",
        "video",
    )
    assert session.notes == "Worked on the sleep diary."


def test_each_session_logged_gets_the_next_number(
    client: HttpClient, therapist: User, client_record: Client
) -> None:
    as_user(client, therapist)
    last_week = local_input(timezone.now() - dt.timedelta(days=7))
    client.post(log_url(client_record), session_data(starts_at=last_week))
    response = client.post(log_url(client_record), session_data(attendance="no_show"))
    second = Session.objects.get(number=2)
    assert response["Location"] == reverse("reports:session-detail", args=[second.pk])
    # The first redirect was not followed, so its message is still waiting too.
    assert messages_of(response)[-1] == "Session 2 with R.K. logged."
    assert list(client_record.sessions.order_by("number").values_list("number", "attendance")) == [
        (1, "attended"),
        (2, "no_show"),
    ]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"starts_at": ""}, "starts_at"),
        ({"starts_at": "next Tuesday"}, "starts_at"),
        ({"duration_minutes": "0"}, "duration_minutes"),
        ({"duration_minutes": "601"}, "duration_minutes"),
        ({"attendance": "late"}, "attendance"),
        ({"modality": "carrier pigeon"}, "modality"),
    ],
    ids=["missing date", "unreadable date", "duration 0", "duration 601", "attendance", "modality"],
)
def test_logging_refuses_bad_input_and_saves_nothing(
    client: HttpClient,
    therapist: User,
    client_record: Client,
    changes: dict[str, str],
    field: str,
) -> None:
    data = session_data(notes="Keep this text.", **changes)
    response = as_user(client, therapist).post(log_url(client_record), data)
    assert response.status_code == 200
    assert field_errors(response) == {field}
    assert "Keep this text." in response.content.decode()
    assert not Session.objects.exists()


def test_notes_with_a_direction_override_are_refused_on_the_form_and_kept_as_typed(
    client: HttpClient, therapist: User, client_record: Client
) -> None:
    typed = "Talked about \u202ekrow\u202c."
    response = as_user(client, therapist).post(log_url(client_record), session_data(notes=typed))
    assert response.status_code == 200
    assert field_errors(response) == {"notes"}
    html = response.content.decode()
    assert "Remove the direction control U+202E RIGHT-TO-LEFT OVERRIDE" in html
    assert typed in html
    assert not Session.objects.exists()


def test_logging_refuses_a_session_three_days_ahead(
    client: HttpClient, therapist: User, client_record: Client
) -> None:
    three_days_ahead = local_input(timezone.now() + dt.timedelta(days=3))
    response = as_user(client, therapist).post(
        log_url(client_record), session_data(starts_at=three_days_ahead, notes="Planned.")
    )
    assert response.status_code == 200
    assert field_errors(response) == {"starts_at"}
    html = response.content.decode()
    assert "can&#x27;t be logged more than a day ahead" in html
    assert f'value="{three_days_ahead}"' in html
    assert "Planned." in html
    assert not Session.objects.exists()


def test_the_same_session_posted_twice_is_logged_once(
    client: HttpClient, therapist: User, client_record: Client
) -> None:
    """A double click on "Log session" (or a post the browser sends again) is one session;
    the second post names the first and keeps what was typed."""
    as_user(client, therapist)
    data = session_data(notes="Worked on the sleep diary.")
    client.post(log_url(client_record), data)
    response = client.post(log_url(client_record), data)
    assert response.status_code == 200
    assert field_errors(response) == {"starts_at"}
    html = response.content.decode()
    assert "Session 1 with R.K. is already logged at this time" in html
    assert f'value="{data["starts_at"]}"' in html
    assert "Worked on the sleep diary." in html
    assert list(client_record.sessions.values_list("number", flat=True)) == [1]


def test_a_session_overlapping_another_of_the_clients_is_refused_but_one_after_it_is_not(
    client: HttpClient, therapist: User, client_record: Client, session: Session
) -> None:
    """Session 1 is 10:00–10:50 on 12 Nov 2025."""
    as_user(client, therapist)
    during = client.post(log_url(client_record), session_data(starts_at="2025-11-12T10:30"))
    assert field_errors(during) == {"starts_at"}
    assert "(12 Nov 2025, 10:00–10:50)" in during.content.decode()
    before = client.post(
        log_url(client_record), session_data(starts_at="2025-11-12T09:30", duration_minutes="45")
    )
    assert field_errors(before) == {"starts_at"}
    assert client_record.sessions.count() == 1
    after = client.post(log_url(client_record), session_data(starts_at="2025-11-12T10:50"))
    assert after.status_code == 302
    assert client_record.sessions.count() == 2


def test_a_voided_session_leaves_its_time_free(
    client: HttpClient, therapist: User, client_record: Client, session: Session
) -> None:
    as_user(client, therapist)
    client.post(void_url(session), {"reason": "Logged for the wrong client."})
    response = client.post(log_url(client_record), session_data(starts_at="2025-11-12T10:00"))
    assert response.status_code == 302
    assert list(client_record.sessions.current().values_list("number", flat=True)) == [2]


def test_the_log_page_of_a_discharged_client_says_to_reopen_them_first(
    client: HttpClient, therapist: User, client_record: Client
) -> None:
    client_record.status = Client.Status.DISCHARGED
    client_record.save()
    response = as_user(client, therapist).get(log_url(client_record))
    assert response.status_code == 200
    html = response.content.decode()
    assert "R.K. is discharged. Re-open them before logging a session." in html
    assert 'name="starts_at"' not in html


def test_logging_for_a_discharged_client_is_refused(
    client: HttpClient, therapist: User, client_record: Client
) -> None:
    client_record.status = Client.Status.DISCHARGED
    client_record.save()
    response = as_user(client, therapist).post(log_url(client_record), session_data())
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "This client is discharged; re-open them before logging a session."
    ]
    assert "R.K. is discharged. Re-open them before logging a session." in response.content.decode()
    assert not Session.objects.exists()


# --- Editing a session -------------------------------------------------------


def test_editing_sends_anonymous_visitors_to_log_in(client: HttpClient, session: Session) -> None:
    before = snapshot(session)
    url = edit_url(session)
    for response in (client.get(url), client.post(url, session_data())):
        assert response.status_code == 302
        assert response["Location"] == login_redirect(url)
    assert snapshot(session) == before


def test_editing_another_clinics_session_is_not_found(
    client: HttpClient, outsider: User, session: Session
) -> None:
    before = snapshot(session)
    as_user(client, outsider)
    assert client.get(edit_url(session)).status_code == 404
    assert client.post(edit_url(session), session_data(duration_minutes="5")).status_code == 404
    assert snapshot(session) == before


def test_editing_a_colleagues_session_is_not_found(
    client: HttpClient, colleague: User, session: Session
) -> None:
    before = snapshot(session)
    as_user(client, colleague)
    assert client.get(edit_url(session)).status_code == 404
    assert client.post(edit_url(session), session_data(duration_minutes="5")).status_code == 404
    assert snapshot(session) == before


@pytest.mark.parametrize("role", READ_ONLY_ROLES)
def test_a_supervisor_or_clinic_admin_cannot_edit_a_session(
    client: HttpClient, request: pytest.FixtureRequest, role: str, session: Session
) -> None:
    before = snapshot(session)
    as_user(client, request.getfixturevalue(role))
    assert client.get(edit_url(session)).status_code == 403
    assert client.post(edit_url(session), session_data(duration_minutes="5")).status_code == 403
    assert snapshot(session) == before


def test_a_therapist_cannot_edit_a_session_a_covering_colleague_logged_for_their_client(
    client: HttpClient, therapist: User, colleague: User, client_record: Client
) -> None:
    covered = SessionFactory(client=client_record, therapist=colleague)
    before = snapshot(covered)
    as_user(client, therapist)
    response = client.get(edit_url(covered))
    assert response.status_code == 403
    assert "Only the therapist who logged this session can change it." in response.content.decode()
    assert client.post(edit_url(covered), session_data(duration_minutes="5")).status_code == 403
    assert snapshot(covered) == before


def test_the_edit_form_shows_the_session_in_the_clinics_local_time(
    client: HttpClient, therapist: User, session: Session
) -> None:
    session.starts_at = dt.datetime(2025, 7, 1, 9, 0, tzinfo=dt.UTC)
    session.save()
    response = as_user(client, therapist).get(edit_url(session))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Edit session 1 with R.K." in html
    assert 'value="2025-07-01T10:00"' in html
    assert re.search(r'name="duration_minutes"[^>]*value="50"', html)
    assert "Talked about the move." in html
    assert reverse("reports:session-detail", args=[session.pk]) in html


def test_editing_a_session_changes_it_and_keeps_its_number(
    client: HttpClient, therapist: User, session: Session
) -> None:
    response = as_user(client, therapist).post(
        edit_url(session),
        {
            "starts_at": "2025-11-12T11:30",
            "duration_minutes": "30",
            "attendance": "cancelled",
            "modality": "phone",
            "notes": "Client rang to cancel.",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("reports:session-detail", args=[session.pk])
    assert messages_of(response) == ["Session 1 with R.K. updated."]
    assert snapshot(session) == (
        dt.datetime(2025, 11, 12, 11, 30, tzinfo=dt.UTC),  # GMT in November
        30,
        "cancelled",
        "phone",
        "Client rang to cancel.",
    )
    assert session.number == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"starts_at": ""}, "starts_at"),
        ({"duration_minutes": "0"}, "duration_minutes"),
        ({"attendance": "late"}, "attendance"),
    ],
    ids=["missing date", "duration 0", "attendance"],
)
def test_editing_refuses_bad_input_and_changes_nothing(
    client: HttpClient,
    therapist: User,
    session: Session,
    changes: dict[str, str],
    field: str,
) -> None:
    before = snapshot(session)
    response = as_user(client, therapist).post(edit_url(session), session_data(**changes))
    assert response.status_code == 200
    assert field_errors(response) == {field}
    assert snapshot(session) == before


def test_editing_refuses_to_move_a_session_onto_another_of_the_clients(
    client: HttpClient, therapist: User, client_record: Client, session: Session
) -> None:
    later = SessionFactory(
        client=client_record, starts_at=dt.datetime(2025, 11, 19, 10, 0, tzinfo=LONDON)
    )
    before = snapshot(later)
    response = as_user(client, therapist).post(
        edit_url(later), session_data(starts_at="2025-11-12T10:15", notes="Kept as typed.")
    )
    assert field_errors(response) == {"starts_at"}
    assert "Session 1 with R.K. is already logged at this time" in response.content.decode()
    assert "Kept as typed." in response.content.decode()
    assert snapshot(later) == before
    assert not SessionRevision.objects.exists()


def test_editing_a_session_within_its_own_time_is_not_an_overlap(
    client: HttpClient, therapist: User, session: Session
) -> None:
    response = as_user(client, therapist).post(
        edit_url(session), session_data(starts_at="2025-11-12T10:10", duration_minutes="60")
    )
    assert response.status_code == 302
    session.refresh_from_db()
    assert session.duration_minutes == 60


def edit_form_data(client: HttpClient, session: Session) -> dict[str, str]:
    """The edit form as the page draws it, hidden fields included."""
    form = client.get(edit_url(session)).context["form"]
    return {name: str(form[name].value() or "") for name in form.fields} | {
        "starts_at": local_input(session.starts_at),
    }


def test_an_edit_from_a_second_tab_does_not_undo_a_change_saved_since(
    client: HttpClient, therapist: User, session: Session
) -> None:
    """Two tabs open on the edit form: the first saves new notes, then the second, showing
    the notes as they were, changes the duration. Saved, it would put the old notes back."""
    as_user(client, therapist)
    first_tab, second_tab = edit_form_data(client, session), edit_form_data(client, session)
    client.post(edit_url(session), {**first_tab, "notes": "Talked about the move; and sleep."})
    response = client.post(edit_url(session), {**second_tab, "duration_minutes": "60"})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "This session was changed after this form was opened (in another tab or window?), so "
        "nothing was saved. What you typed is below: check it against the session's page, then "
        "save again to replace what is there now."
    ]
    assert 'value="60"' in response.content.decode()
    session.refresh_from_db()
    assert (session.notes, session.duration_minutes) == ("Talked about the move; and sleep.", 50)
    assert SessionRevision.objects.count() == 1
    # Told, the therapist saves again: this time it is their choice.
    again = edit_form_data(client, session) | {
        "last_changed": response.context["form"]["last_changed"].value(),
        "notes": "Talked about the move.",
        "duration_minutes": "60",
    }
    assert client.post(edit_url(session), again).status_code == 302
    session.refresh_from_db()
    assert (session.notes, session.duration_minutes) == ("Talked about the move.", 60)


def test_a_double_click_on_save_changes_the_session_once(
    client: HttpClient, therapist: User, session: Session
) -> None:
    as_user(client, therapist)
    data = edit_form_data(client, session) | {"duration_minutes": "45"}
    assert client.post(edit_url(session), data).status_code == 302
    assert client.post(edit_url(session), data).status_code == 302
    session.refresh_from_db()
    assert session.duration_minutes == 45
    assert SessionRevision.objects.count() == 1


def test_an_edit_form_saved_again_with_other_changes_is_refused(
    client: HttpClient, therapist: User, session: Session
) -> None:
    """The form was saved, then the browser's Back button brought it back to be changed."""
    as_user(client, therapist)
    data = edit_form_data(client, session) | {"duration_minutes": "45"}
    assert client.post(edit_url(session), data).status_code == 302
    assert client.post(edit_url(session), {**data, "modality": "phone"}).status_code == 200
    session.refresh_from_db()
    assert (session.duration_minutes, session.modality) == (45, "in_person")


def test_editing_refuses_to_move_a_session_three_days_ahead(
    client: HttpClient, therapist: User, session: Session
) -> None:
    before = snapshot(session)
    three_days_ahead = local_input(timezone.now() + dt.timedelta(days=3))
    response = as_user(client, therapist).post(
        edit_url(session), session_data(starts_at=three_days_ahead)
    )
    assert response.status_code == 200
    assert field_errors(response) == {"starts_at"}
    assert f'value="{three_days_ahead}"' in response.content.decode()
    assert snapshot(session) == before


# --- Voiding a session ------------------------------------------------------


def void_state(session: Session) -> tuple[Any, ...]:
    session.refresh_from_db()
    return (session.voided_at, session.voided_by_id, session.void_reason)


NOT_VOIDED = (None, None, "")


def test_voiding_sends_anonymous_visitors_to_log_in(client: HttpClient, session: Session) -> None:
    url = void_url(session)
    for response in (client.get(url), client.post(url, {"reason": "Wrong client"})):
        assert response.status_code == 302
        assert response["Location"] == login_redirect(url)
    assert void_state(session) == NOT_VOIDED


def test_voiding_another_clinics_session_is_not_found(
    client: HttpClient, outsider: User, session: Session
) -> None:
    as_user(client, outsider)
    assert client.get(void_url(session)).status_code == 404
    assert client.post(void_url(session), {"reason": "Wrong client"}).status_code == 404
    assert void_state(session) == NOT_VOIDED


def test_voiding_a_colleagues_session_is_not_found(
    client: HttpClient, colleague: User, session: Session
) -> None:
    as_user(client, colleague)
    assert client.get(void_url(session)).status_code == 404
    assert client.post(void_url(session), {"reason": "Wrong client"}).status_code == 404
    assert void_state(session) == NOT_VOIDED


@pytest.mark.parametrize("role", READ_ONLY_ROLES)
def test_a_supervisor_or_clinic_admin_cannot_void_a_session(
    client: HttpClient, request: pytest.FixtureRequest, role: str, session: Session
) -> None:
    as_user(client, request.getfixturevalue(role))
    assert client.get(void_url(session)).status_code == 403
    assert client.post(void_url(session), {"reason": "Wrong client"}).status_code == 403
    assert void_state(session) == NOT_VOIDED


def test_a_therapist_cannot_void_a_session_a_covering_colleague_logged_for_their_client(
    client: HttpClient, therapist: User, colleague: User, client_record: Client
) -> None:
    covered = SessionFactory(client=client_record, therapist=colleague)
    as_user(client, therapist)
    assert client.get(void_url(covered)).status_code == 403
    assert client.post(void_url(covered), {"reason": "Wrong client"}).status_code == 403
    assert void_state(covered) == NOT_VOIDED


def test_the_void_page_says_plainly_what_happens_to_the_session(
    client: HttpClient, therapist: User, session: Session
) -> None:
    response = as_user(client, therapist).get(void_url(session))
    assert response.status_code == 200
    html = " ".join(response.content.decode().split())
    assert "Void session 1 on 12 Nov 2025?" in html
    assert "Nothing is deleted" in html
    assert 'name="reason"' in html
    assert re.search(r'<button type="submit" class="btn btn-danger">', html)
    assert f'href="{reverse("reports:session-detail", args=[session.pk])}"' in html
    assert void_state(session) == NOT_VOIDED


@pytest.mark.parametrize("reason", ["", "   \n  ", "x" * 501])
def test_voiding_without_a_sensible_reason_is_a_form_error_and_keeps_what_was_typed(
    client: HttpClient, therapist: User, session: Session, reason: str
) -> None:
    response = as_user(client, therapist).post(void_url(session), {"reason": reason})
    assert response.status_code == 200
    assert field_errors(response) == {"reason"}
    if reason.strip():
        assert reason in response.content.decode()
    assert void_state(session) == NOT_VOIDED


def test_a_reason_as_long_as_the_textarea_allows_is_kept_with_its_line_breaks(
    client: HttpClient, therapist: User, session: Session
) -> None:
    """The textarea counts a line break as one character; the browser sends it as CRLF."""
    typed = "\n".join(["x" * 99] * 5) + "x"
    assert len(typed) == 500
    response = as_user(client, therapist).post(
        void_url(session), {"reason": typed.replace("\n", "\r\n")}
    )
    assert response.status_code == 302
    assert void_state(session)[2] == typed


def test_voiding_a_session_keeps_it_and_closes_its_rating_link(
    client: HttpClient, therapist: User, client_record: Client, session: Session
) -> None:
    link = RatingInvitation.objects.create(
        session=session, token_hash="0" * 64, expires_at=timezone.now() + dt.timedelta(days=2)
    )
    later = SessionFactory(client=client_record)
    response = as_user(client, therapist).post(
        void_url(session), {"reason": "  Logged for the wrong client.  "}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("reports:session-detail", args=[session.pk])
    assert messages_of(response) == ["Session 1 with R.K. voided."]
    voided_at, voided_by, reason = void_state(session)
    assert voided_at is not None
    assert (voided_by, reason) == (therapist.pk, "Logged for the wrong client.")
    assert set(Session.objects.all()) == {session, later}
    assert list(Session.objects.current()) == [later]
    link.refresh_from_db()
    assert link.voided_at is not None and not link.is_open()


def test_a_voided_session_cannot_be_voided_again_or_edited(
    client: HttpClient, therapist: User, session: Session
) -> None:
    as_user(client, therapist)
    client.post(void_url(session), {"reason": "Logged twice"})
    before = void_state(session), snapshot(session)
    for response in (
        client.get(void_url(session)),
        client.post(void_url(session), {"reason": "Again"}),
        client.get(edit_url(session)),
        client.post(edit_url(session), session_data(duration_minutes="30")),
    ):
        assert response.status_code == 302
        assert response["Location"] == reverse("reports:session-detail", args=[session.pk])
    assert (void_state(session), snapshot(session)) == before


# --- All three pages ----------------------------------------------------------


def test_the_pages_carry_no_inline_script_or_style(
    client: HttpClient, therapist: User, client_record: Client, session: Session
) -> None:
    """A strict Content-Security-Policy would block them."""
    as_user(client, therapist)
    for url in (log_url(client_record), edit_url(session), void_url(session)):
        html = client.get(url).content.decode()
        assert "style=" not in html
        assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", html))
