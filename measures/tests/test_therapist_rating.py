"""The therapist's own rating: give it, revise it for a day, then it is the record."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from clients.models import Client, User
from measures.models import Rating
from measures.tests.factories import RatingFactory
from sessions.models import Session
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db

ANSWERS = {
    "trust": "9", "empathy": "8", "collaboration": "9",
    "boundaries": "10", "growth": "7", "respect": "10",
    "rupture": "a_little", "rupture_resolved": "partly", "comment": "Homework felt like pressure.",
}  # fmt: skip


@pytest.fixture
def session(client_record: Client) -> Session:
    return SessionFactory(client=client_record)


def url(session: Session) -> str:
    return reverse("measures:therapist-rating", args=[session.pk])


def test_anonymous_is_sent_to_log_in(client: Any, session: Session) -> None:
    assert client.post(url(session), ANSWERS)["Location"].startswith(reverse("login"))
    assert not Rating.objects.exists()


@pytest.mark.parametrize("someone", ["colleague", "outsider"])
def test_someone_elses_session_is_not_found(
    client: Any, session: Session, someone: str, request: Any
) -> None:
    client.force_login(request.getfixturevalue(someone))
    assert client.get(url(session)).status_code == 404
    assert client.post(url(session), ANSWERS).status_code == 404
    assert not Rating.objects.exists()


@pytest.fixture
def moved_to_a_supervisee(
    therapist: User, colleague: User, client_record: Client, clinic_admin: User
) -> User:
    """The therapist, also a supervisor, handed R.K. to the colleague they supervise: they
    still read R.K.'s sessions, their own among them, read-only."""
    from clients.models import Supervision
    from clients.moves import client_move

    therapist.is_supervisor = True
    therapist.save()
    Supervision.objects.create(supervisor=therapist, therapist=colleague)
    client_move(
        actor=clinic_admin,
        client=client_record,
        therapist=colleague,
        from_therapist_id=therapist.pk,
    )
    return therapist


def test_a_former_therapist_who_still_reads_the_session_cannot_rate_it(
    client: Any, session: Session, moved_to_a_supervisee: User
) -> None:
    client.force_login(moved_to_a_supervisee)
    assert client.get(url(session)).status_code == 403
    assert client.post(url(session), ANSWERS).status_code == 403
    assert not Rating.objects.exists()


def test_a_former_therapist_cannot_revise_their_rating_either(
    client: Any, therapist: User, session: Session, moved_to_a_supervisee: User
) -> None:
    RatingFactory(session=session, rater="therapist", submitted_by=therapist)
    client.force_login(therapist)
    assert client.post(url(session), {**ANSWERS, "trust": "4"}).status_code == 403
    assert Rating.objects.get(session=session, rater="therapist").trust == 9


def test_the_former_therapists_session_page_offers_no_write(
    client: Any, session: Session, moved_to_a_supervisee: User
) -> None:
    client.force_login(moved_to_a_supervisee)
    page = client.get(reverse("reports:session-detail", args=[session.pk])).content.decode()
    for write in (
        reverse("sessions:session-edit", args=[session.pk]),
        reverse("sessions:session-void", args=[session.pk]),
        url(session),
        reverse("measures:invitation-create", args=[session.pk]),
    ):
        assert write not in page


@pytest.mark.parametrize("reader", ["supervisor", "clinic_admin"])
def test_read_only_roles_cannot_rate(
    client: Any, session: Session, reader: str, request: Any
) -> None:
    client.force_login(request.getfixturevalue(reader))
    assert client.get(url(session)).status_code == 403
    assert client.post(url(session), ANSWERS).status_code == 403
    assert not Rating.objects.exists()


def test_the_form_starts_with_no_score_chosen(
    client: Any, therapist: User, session: Session
) -> None:
    client.force_login(therapist)
    html = client.get(url(session)).content.decode()
    assert "The client seemed safe being open with me." in html
    assert 'name="trust"' in html and "checked" not in html.split('name="rupture"')[0]


def test_the_rupture_questions_are_rows_of_radios_with_nothing_chosen(
    client: Any, therapist: User, session: Session
) -> None:
    """As on the client's form: no "None" chosen for whoever skips it, and "talked
    through" as radios, not a drop-down."""
    client.force_login(therapist)
    html = client.get(url(session)).content.decode()
    for name in ("rupture", "rupture_resolved"):
        inputs = re.findall(rf'<input[^>]*name="{name}"[^>]*>', html)
        assert len(inputs) == 3 and all('type="radio"' in tag for tag in inputs)
        assert not any("checked" in tag for tag in inputs)
    assert "<select" not in html


def test_a_rating_without_the_rupture_answer_is_refused_and_nothing_saved(
    client: Any, therapist: User, session: Session
) -> None:
    client.force_login(therapist)
    answers = {key: value for key, value in ANSWERS.items() if key != "rupture"}
    response = client.post(url(session), answers)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="id_rupture_errors">This field is required.' in html
    assert 'value="9" checked' in html  # the scores given are kept
    assert not Rating.objects.exists()


def test_a_note_as_long_as_the_textarea_allows_is_kept_with_its_line_breaks(
    client: Any, therapist: User, session: Session
) -> None:
    """The textarea counts a line break as one character; the browser sends it as CRLF.
    A pasted tab stays: it is the therapist's own writing."""
    typed = "\n".join(["a\tb " * 49 + "wor"] * 10) + "."
    assert len(typed) == 2000
    client.force_login(therapist)
    response = client.post(url(session), {**ANSWERS, "comment": typed.replace("\n", "\r\n")})
    assert response.status_code == 302
    assert Rating.objects.get(session=session, rater="therapist").comment == typed


def test_the_therapist_rates_the_session(client: Any, therapist: User, session: Session) -> None:
    client.force_login(therapist)
    response = client.post(url(session), ANSWERS)
    assert response["Location"] == reverse("reports:session-detail", args=[session.pk])
    rating = Rating.objects.get(session=session, rater="therapist")
    assert (rating.trust, rating.growth, rating.rupture, rating.rupture_resolved) == (
        9,
        7,
        "a_little",
        "partly",
    )
    assert (rating.submitted_by, rating.comment) == (therapist, "Homework felt like pressure.")


def test_a_missing_or_out_of_range_score_is_refused_and_nothing_saved(
    client: Any, therapist: User, session: Session
) -> None:
    client.force_login(therapist)
    response = client.post(url(session), {**ANSWERS, "trust": "11", "respect": ""})
    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.errors) == {"trust", "respect"}
    assert 'value="9" checked' in response.content.decode()  # the other answers are kept
    assert not Rating.objects.exists()


def test_a_missed_session_cannot_be_rated(
    client: Any, therapist: User, client_record: Client
) -> None:
    missed = SessionFactory(client=client_record, attendance="cancelled")
    client.force_login(therapist)
    response = client.post(url(missed), ANSWERS)
    assert response.status_code == 200
    assert "Only an attended session can be rated." in response.content.decode()
    assert not Rating.objects.exists()


def test_a_session_that_has_not_begun_cannot_be_rated_until_it_has(
    client: Any, therapist: User, client_record: Client
) -> None:
    """A session may be logged up to a day ahead; as with its client's link
    (`sessions.invitations.NOT_BEGUN`), a view of it given before it began would stand for a
    session that had not happened, and would be compared with the client's
    (`rater_discrepancy`). Its page offers no rating until then."""
    ahead = SessionFactory(client=client_record, starts_at=timezone.now() + dt.timedelta(hours=2))
    client.force_login(therapist)
    response = client.post(url(ahead), ANSWERS)
    assert response.status_code == 200
    assert "has not begun yet" in html.unescape(response.content.decode())
    assert not Rating.objects.exists()
    page = client.get(reverse("reports:session-detail", args=[ahead.pk])).content.decode()
    assert url(ahead) not in page
    Session.objects.filter(pk=ahead.pk).update(starts_at=timezone.now() - dt.timedelta(minutes=1))
    page = client.get(reverse("reports:session-detail", args=[ahead.pk])).content.decode()
    assert url(ahead) in page
    assert client.post(url(ahead), ANSWERS).status_code == 302
    assert Rating.objects.filter(session=ahead, rater="therapist").exists()


def test_the_therapist_revises_their_rating_within_a_day(
    client: Any, therapist: User, session: Session
) -> None:
    RatingFactory(session=session, rater="therapist", submitted_by=therapist)
    client.force_login(therapist)
    assert 'value="9" checked' in client.get(url(session)).content.decode()
    client.post(url(session), {**ANSWERS, "trust": "4"})
    assert Rating.objects.get(session=session, rater="therapist").trust == 4
    assert Rating.objects.count() == 1


def test_after_a_day_the_rating_is_read_only(
    client: Any, therapist: User, session: Session
) -> None:
    given = timezone.now() - dt.timedelta(hours=24, minutes=1)
    RatingFactory(session=session, rater="therapist", submitted_by=therapist, submitted_at=given)
    client.force_login(therapist)
    response = client.get(url(session))
    assert response["Location"] == reverse("reports:session-detail", args=[session.pk])
    assert client.post(url(session), {**ANSWERS, "trust": "4"}).status_code == 403
    assert Rating.objects.get(session=session, rater="therapist").trust == 9


@pytest.mark.parametrize(
    ("hours", "words"), [(24, "a day"), (48, "2 days"), (12, "12 hours"), (1, "an hour")]
)
def test_the_lock_says_how_long_the_setting_allows(
    client: Any, therapist: User, session: Session, settings: Any, hours: int, words: str
) -> None:
    settings.ALLIANCE_THERAPIST_RATING_EDIT_HOURS = hours
    given = timezone.now() - dt.timedelta(hours=hours, minutes=1)
    RatingFactory(session=session, rater="therapist", submitted_by=therapist, submitted_at=given)
    client.force_login(therapist)
    page = client.get(url(session), follow=True).content.decode()
    said = f"can be changed for {words} after it is given."
    # Once in the message above the session page, once beside the locked rating.
    assert page.count(said) == 2


def test_saving_a_rating_evaluates_the_client_at_once(
    client: Any,
    therapist: User,
    client_record: Client,
    session: Session,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """The therapist's rating alone can show a discrepancy: it is judged when saved, not at
    night. (The client rated this session 6.0 after four sessions at 10.)"""
    from measures.models import Concern

    for weeks in range(5, 1, -1):
        RatingFactory(
            session=SessionFactory(
                client=client_record, starts_at=timezone.now() - dt.timedelta(weeks=weeks)
            ),
            **dict.fromkeys(
                ["trust", "empathy", "collaboration", "boundaries", "growth", "respect"], 10
            ),
        )
    RatingFactory(
        session=session,
        **dict.fromkeys(
            ["trust", "empathy", "collaboration", "boundaries", "growth", "respect"], 6
        ),
    )
    client.force_login(therapist)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url(session), {**ANSWERS, "rupture": "none", "rupture_resolved": ""})
    concern = Concern.objects.get(client=client_record)
    assert concern.signals.filter(rule="rater_discrepancy", session=session).exists()


# --- A second tab, or a page left open --------------------------------------------


def drawn(client: Any, session: Session) -> dict[str, str]:
    """The page's hidden guard as it was drawn, to post back with the answers."""
    return {"last_changed": guard_in(client.get(url(session)).content.decode())}


def guard_in(html: str) -> str:
    found = re.findall(r'<input type="hidden" name="last_changed"(?: value="([^"]*)")?', html)
    return found[0] if found else ""


def test_a_revision_from_a_page_opened_before_another_revision_is_refused_and_kept(
    client: Any, therapist: User, session: Session
) -> None:
    """Tab A and tab B open the rating (trust 9, empathy 8); B lowers trust to 4. A, which
    still shows trust 9, lowers empathy: saved, it would silently put trust back to 9."""
    RatingFactory(session=session, rater="therapist", submitted_by=therapist)
    client.force_login(therapist)
    tab_a, tab_b = drawn(client, session), drawn(client, session)
    client.post(url(session), {**ANSWERS, "trust": "4", **tab_b})
    response = client.post(url(session), {**ANSWERS, "empathy": "3", **tab_a})
    assert response.status_code == 200
    page = response.content.decode()
    assert "saved from another tab or window after this page was opened" in page
    # What was chosen is kept, to be checked and saved again.
    assert re.search(r'name="empathy" id="[^"]*" value="3" checked', page)
    stored = Rating.objects.get(session=session, rater="therapist")
    assert (stored.trust, stored.empathy) == (4, 8)
    # Saved again from the page that said so, it replaces what is there now.
    client.post(url(session), {**ANSWERS, "empathy": "3", "last_changed": guard_in(page)})
    stored.refresh_from_db()
    assert (stored.trust, stored.empathy) == (9, 3)


def test_a_first_rating_from_a_page_opened_before_another_tab_rated_is_refused(
    client: Any, therapist: User, session: Session
) -> None:
    client.force_login(therapist)
    tab_a, tab_b = drawn(client, session), drawn(client, session)
    client.post(url(session), {**ANSWERS, "trust": "4", **tab_b})
    response = client.post(url(session), {**ANSWERS, **tab_a})
    assert response.status_code == 200
    assert "saved from another tab or window" in response.content.decode()
    assert Rating.objects.get(session=session, rater="therapist").trust == 4


def test_the_same_rating_posted_twice_is_saved_once_without_a_refusal(
    client: Any, therapist: User, session: Session
) -> None:
    """A double click on "Save your rating": the second post changes nothing."""
    client.force_login(therapist)
    page = drawn(client, session)
    first = client.post(url(session), {**ANSWERS, **page})
    second = client.post(url(session), {**ANSWERS, **page})
    assert first.status_code == second.status_code == 302
    assert Rating.objects.filter(session=session, rater="therapist").count() == 1
