"""The privacy notice on the client's form, and the consent record each client rating keeps."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from clients.models import Client, Clinic, User
from clients.services import clinic_notice_update, clinic_rename
from conftest import visible_text
from measures.models import Rating
from measures.tests.test_client_rating import ANSWERS
from sessions import invitations
from sessions.models import RatingInvitation, Session
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def alliance_questions_only(client_record: Client) -> None:
    """These tests are about the alliance questions; the outcome check before them has its
    own (test_client_outcome.py)."""
    Client.objects.filter(pk=client_record.pk).update(asks_outcome=False)


DEFAULT_EN = "Your therapist sees your answers. At Riverside, your therapist's supervisor"
DEFAULT_ES = "Su terapeuta ve sus respuestas. En Riverside, también pueden verlas"
REFUSED = "This page showed a privacy notice we do not recognise."


@pytest.fixture
def session(client_record: Client) -> Session:
    return SessionFactory(client=client_record)


@pytest.fixture
def link(session: Session) -> tuple[RatingInvitation, str]:
    return invitations.invitation_create(session=session)


def url(token: str) -> str:
    return reverse("measures:client-rating", args=[token])


def page_text(client: Any, token: str, **query: str) -> str:
    return " ".join(visible_text(client.get(url(token), query).content.decode()).split())


def test_the_form_says_who_sees_the_answers_above_the_questions(client: Any, link: Any) -> None:
    html = client.get(url(link[1])).content.decode()
    text = " ".join(visible_text(html).split())
    assert DEFAULT_EN in text and "only your therapist" not in text
    assert text.index("Who sees your answers") < text.index("I felt safe being open")
    assert 'name="notice_version" value="1"' in html


def test_renaming_the_clinic_changes_the_notice_shown_and_so_its_version(
    client: Any, link: Any, clinic_admin: User
) -> None:
    """The default notice names the clinic: after a rename the page shows other words,
    and a rating sent under them records another version."""
    before = page_text(client, link[1])
    clinic_rename(actor=clinic_admin, clinic=link[0].session.client.clinic, name="Eastside")
    html = client.get(url(link[1])).content.decode()
    assert DEFAULT_EN in before and "outside Eastside." in visible_text(html)
    assert 'name="notice_version" value="2"' in html
    assert client.post(url(link[1]), {**ANSWERS, "notice_version": "2"}).status_code == 302
    assert Rating.objects.get(rater="client").notice_version == 2


def test_the_notice_follows_the_language_switch(
    client: Any, link: Any, client_record: Client
) -> None:
    client_record.language = "es"
    client_record.save()
    spanish = page_text(client, link[1])
    assert "Quién ve sus respuestas" in spanish and DEFAULT_ES in spanish
    english = page_text(client, link[1], lang="en")
    assert DEFAULT_EN in english and DEFAULT_ES not in english


def test_the_clinics_own_wording_is_shown_in_its_language(
    client: Any, link: Any, clinic: Clinic, clinic_admin: User
) -> None:
    clinic_notice_update(
        actor=clinic_admin,
        clinic=clinic,
        notice_en="Read by your therapist & <b>their</b> team.\nNever sold.",
        notice_es="Lo lee su terapeuta.",
    )
    html = client.get(url(link[1])).content.decode()
    assert (
        "<p>Read by your therapist &amp; &lt;b&gt;their&lt;/b&gt; team.<br>Never sold.</p>" in html
    )
    assert 'name="notice_version" value="2"' in html
    assert "Lo lee su terapeuta." in page_text(client, link[1], lang="es")


def test_the_rating_records_the_notice_shown_its_language_and_time(
    client: Any, link: Any, session: Session
) -> None:
    client.post(url(link[1]), {**ANSWERS, "lang": "es"})
    rating = Rating.objects.get(session=session)
    assert (rating.notice_version, rating.notice_language) == (1, "es")
    assert rating.notice_shown_at == rating.submitted_at


def test_a_notice_changed_while_the_form_was_open_is_recorded_as_the_one_shown(
    client: Any, link: Any, session: Session, clinic: Clinic, clinic_admin: User
) -> None:
    assert 'name="notice_version" value="1"' in client.get(url(link[1])).content.decode()
    clinic_notice_update(actor=clinic_admin, clinic=clinic, notice_en="New words.", notice_es="")
    response = client.post(url(link[1]), ANSWERS)
    assert response.status_code == 302
    assert Rating.objects.get(session=session).notice_version == 1


@pytest.mark.parametrize("forged", ["2", "0", "99", "", "one"])
def test_a_version_the_clinic_never_showed_is_refused_and_nothing_is_lost(
    client: Any, link: Any, forged: str
) -> None:
    response = client.post(url(link[1]), {**ANSWERS, "notice_version": forged})
    assert response.status_code == 200
    html = response.content.decode()
    assert REFUSED in html and "Some answers are missing" not in html
    # Drawn again with the notice as it reads now, and every answer as given.
    assert 'name="notice_version" value="1"' in html
    assert 'value="9" checked' in html and "Felt rushed." in html
    assert not Rating.objects.exists()
    link[0].refresh_from_db()
    assert link[0].used_at is None
    assert client.post(url(link[1]), ANSWERS).status_code == 302


def test_a_page_from_before_the_notice_is_refused_in_the_clients_language(
    client: Any, link: Any
) -> None:
    answers = {name: value for name, value in ANSWERS.items() if name != "notice_version"}
    html = client.post(url(link[1]), {**answers, "lang": "es"}).content.decode()
    assert "Esta página mostraba un aviso de privacidad que no reconocemos." in html
    assert not Rating.objects.exists()


def test_a_therapists_rating_records_no_notice(therapist: User, session: Session) -> None:
    from measures.services import rating_submit

    answers = {name: value for name, value in ANSWERS.items() if name != "notice_version"}
    rating = rating_submit(
        session=session, rater="therapist", answers=answers, submitted_by=therapist
    )
    assert (rating.notice_version, rating.notice_language, rating.notice_shown_at) == (
        None,
        "",
        None,
    )


def test_the_database_keeps_the_record_whole_and_for_clients_only(
    therapist: User, session: Session
) -> None:
    from django.db import IntegrityError, transaction
    from django.utils import timezone

    from measures.services import rating_submit

    answers = {name: value for name, value in ANSWERS.items() if name != "notice_version"}
    rating = rating_submit(
        session=session, rater="therapist", answers=answers, submitted_by=therapist
    )
    ratings = Rating.objects.filter(pk=rating.pk)
    whole = {"notice_version": 1, "notice_language": "en", "notice_shown_at": timezone.now()}
    for change in (whole, {"notice_version": 1}):
        with pytest.raises(IntegrityError), transaction.atomic():
            ratings.update(**change)
    ratings.update(rater="client", **whole)
    with pytest.raises(IntegrityError), transaction.atomic():
        ratings.update(notice_language="fr")
