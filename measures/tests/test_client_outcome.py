"""The outcome check on the client's link: before the alliance questions, stored with them."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from clients.models import AuditEntry, Client, User
from clients.tests.factories import ClinicFactory
from measures.instruments import instrument_retire
from measures.models import Instrument, OutcomeAnswer, Rating
from measures.services import client_rating_submit
from measures.tests.factories import built_in_check, outcome_form_answers
from measures.tests.test_client_rating import ANSWERS, SERVICE_ANSWERS
from sessions import invitations
from sessions.models import Session
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def session(client_record: Client) -> Session:
    return SessionFactory(client=client_record)


@pytest.fixture
def token(session: Session) -> str:
    return invitations.invitation_create(session=session)[1]


def url(token: str) -> str:
    return reverse("measures:client-rating", args=[token])


def own_instrument(clinic: Any, *, in_use: bool = True, items: int = 2) -> Instrument:
    return Instrument.objects.create(
        clinic=clinic,
        name="Clinic's licensed measure",
        text={
            "en": {
                "intro": "Over the last week:",
                "items": [f"Licensed item {n}" for n in range(1, items + 1)],
                "low": "1 = never",
                "high": "5 = always",
            }
        },
        minimum=1,
        maximum=5,
        scoring="sum",
        higher_is_better=False,
        cutoff=6,
        reliable_change=2,
        licence="Held by the clinic.",
        in_use=in_use,
    )


def test_the_outcome_check_comes_first_with_nothing_preselected(client: Any, token: str) -> None:
    html = client.get(url(token)).content.decode()
    outcome, alliance = html.index('id="outcome-check"'), html.index("I felt safe being open")
    assert outcome < alliance
    assert "Since your last session" in html and "Close relationships" in html
    assert html.count('name="outcome_') == 4 * 11
    assert " checked" not in html


@pytest.mark.parametrize(
    ("language", "since"), [("en", "Since your last session"), ("es", "Desde su última sesión")]
)
def test_it_says_since_your_last_session_once_in_the_question_not_again_above_it(
    client: Any, client_record: Client, token: str, language: str, since: str
) -> None:
    """The heading said it, then the built-in check's question opened with it."""
    Client.objects.filter(pk=client_record.pk).update(language=language)
    page = html.unescape(client.get(url(token)).content.decode())
    assert page.count(since) == 1
    heading = re.search(r'<h2 class="h5" id="outcome-check-title">(.*?)</h2>', page)
    assert heading and heading.group(1) == {"en": "About you", "es": "Sobre usted"}[language]


def test_the_opening_line_does_not_give_the_alliances_ends_to_the_outcome_check(
    client: Any, client_record: Client, token: str
) -> None:
    """The outcome check's 0 and 10 are "very badly" and "very well", not "not at all"
    and "completely": with it, the opening line leaves the ends to each question."""
    with_check = html.unescape(client.get(url(token)).content.decode())
    assert "what 0 and 10 mean is written with it" in with_check
    assert "0 (not at all) to 10 (completely)" not in with_check
    Client.objects.filter(pk=client_record.pk).update(asks_outcome=False)
    without = html.unescape(client.get(url(token)).content.decode())
    assert "0 (not at all) to 10 (completely) for each sentence" in without


def test_it_is_asked_in_the_clients_language(
    client: Any, client_record: Client, token: str
) -> None:
    Client.objects.filter(pk=client_record.pk).update(language="es")
    html = client.get(url(token)).content.decode()
    assert "Desde su última sesión" in html and "Relaciones cercanas" in html
    english = client.get(url(token) + "?lang=en").content.decode()
    assert "Close relationships" in english and "Relaciones cercanas" not in english


def test_answers_are_stored_with_the_rating_scored_and_recorded(
    client: Any, session: Session, token: str
) -> None:
    response = client.post(url(token), {**ANSWERS, **outcome_form_answers(3, 5, 6, 4)})
    assert response.status_code == 302
    answer = OutcomeAnswer.objects.get(session=session)
    assert (answer.instrument, answer.answers, float(answer.score)) == (
        built_in_check(),
        [3, 5, 6, 4],
        4.5,
    )
    assert Rating.objects.filter(session=session, rater="client").exists()
    entry = AuditEntry.objects.get(model="measures.outcomeanswer")
    assert (entry.action, entry.actor_name, entry.client_id) == (
        "created",
        "client link",
        session.client_id,
    )


@pytest.mark.parametrize("bad", ["", "11", "-1", "5.5", "٥"])
def test_a_missing_or_impossible_answer_is_refused_and_nothing_is_lost(
    client: Any, session: Session, token: str, bad: str
) -> None:
    answers = {**ANSWERS, **outcome_form_answers(), "outcome_2": bad}
    response = client.post(url(token), answers)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Please choose a number from 0 to 10." in html
    assert not OutcomeAnswer.objects.exists() and not Rating.objects.exists()
    # Every other answer is still chosen on the page drawn again.
    assert 'name="outcome_1" id="id_outcome_1_6" value="6" checked' in html
    assert 'name="trust" id="id_trust_9" value="9" checked' in html


def test_switched_off_for_a_client_the_link_asks_only_about_the_session(
    client: Any, client_record: Client, session: Session, token: str
) -> None:
    Client.objects.filter(pk=client_record.pk).update(asks_outcome=False)
    html = client.get(url(token)).content.decode()
    assert 'id="outcome-check"' not in html and 'name="outcome_' not in html
    assert client.post(url(token), ANSWERS).status_code == 302
    assert Rating.objects.filter(session=session).exists()
    assert not OutcomeAnswer.objects.exists()


def test_a_page_drawn_without_the_check_is_taken_after_it_is_switched_on(
    client: Any, client_record: Client, session: Session, token: str
) -> None:
    """The therapist turns the check on while the client's page, drawn without it, is open:
    the answers the client gave are taken, not refused for questions they never saw."""
    Client.objects.filter(pk=client_record.pk).update(asks_outcome=False)
    page = client.get(url(token)).content.decode()
    assert 'name="instrument"' not in page
    Client.objects.filter(pk=client_record.pk).update(asks_outcome=True)
    assert client.post(url(token), ANSWERS).status_code == 302
    assert Rating.objects.filter(session=session).exists()
    assert not OutcomeAnswer.objects.exists()


def test_the_clinics_own_instrument_is_asked_in_its_range(
    client: Any, client_record: Client, session: Session, token: str
) -> None:
    instrument = own_instrument(client_record.clinic)
    html = client.get(url(token)).content.decode()
    assert "Licensed item 2" in html and "Close relationships" not in html
    assert html.count('name="outcome_') == 2 * 5
    posted = {**ANSWERS, "instrument": str(instrument.pk), "outcome_1": "5", "outcome_2": "4"}
    assert client.post(url(token), posted).status_code == 302
    answer = OutcomeAnswer.objects.get(session=session)
    assert (answer.instrument, float(answer.score)) == (instrument, 9.0)


def test_answers_to_a_page_drawn_before_the_clinic_changed_instrument_keep_the_one_shown(
    client: Any, client_record: Client, session: Session, token: str
) -> None:
    html = client.get(url(token)).content.decode()
    assert "Close relationships" in html
    own_instrument(client_record.clinic)  # chosen while the client's page was open
    assert client.post(url(token), {**ANSWERS, **outcome_form_answers()}).status_code == 302
    assert OutcomeAnswer.objects.get(session=session).instrument == built_in_check()


def test_answers_to_an_instrument_retired_while_the_page_was_open_keep_the_one_shown(
    client: Any, client_record: Client, session: Session, token: str, clinic_admin: User
) -> None:
    """Retiring the clinic's instrument sends the clinic back to the built-in check, but a
    page drawn before it asked the retired questions: the answers are theirs."""
    retired = own_instrument(client_record.clinic, items=4)
    assert "Licensed item 1" in client.get(url(token)).content.decode()
    instrument_retire(instrument=retired, actor=clinic_admin)
    read = {"outcome_1": "1", "outcome_2": "2", "outcome_3": "3", "outcome_4": "4"}
    posted = {**ANSWERS, "instrument": str(retired.pk), **read}
    assert client.post(url(token), posted).status_code == 302
    answer = OutcomeAnswer.objects.get(session=session)
    assert (answer.instrument, answer.answers) == (retired, [1, 2, 3, 4])


def test_an_instrument_retired_before_the_link_was_opened_is_no_page_it_showed(
    client: Any, client_record: Client, session: Session, clinic_admin: User
) -> None:
    retired = own_instrument(client_record.clinic, items=4)
    instrument_retire(instrument=retired, actor=clinic_admin)
    token = invitations.invitation_create(session=session)[1]
    posted = {**ANSWERS, **outcome_form_answers(), "instrument": str(retired.pk)}
    response = client.post(url(token), posted)
    assert "These are not the questions your page showed before" in response.content.decode()
    assert not OutcomeAnswer.objects.exists() and not Rating.objects.exists()


def test_answers_to_another_clinics_questions_are_not_carried_into_the_clinics_own(
    client: Any, session: Session, token: str
) -> None:
    foreign = own_instrument(ClinicFactory(), items=4)
    posted = {**ANSWERS, **outcome_form_answers(), "instrument": str(foreign.pk)}
    response = client.post(url(token), posted)
    page = response.content.decode()
    assert response.status_code == 200
    assert "These are not the questions your page showed before" in page
    assert "This page showed questions we do not recognise" not in page
    assert not OutcomeAnswer.objects.exists() and not Rating.objects.exists()
    # Drawn again with the clinic's own questions, none chosen; the session's answers kept.
    assert f'name="instrument" value="{built_in_check().pk}"' in page
    assert not re.search(r'name="outcome_\d" id="[^"]+" value="\d+" checked', page)
    assert 'name="trust" id="id_trust_9" value="9" checked' in page
    assert client.post(url(token), {**ANSWERS, **outcome_form_answers()}).status_code == 302
    assert OutcomeAnswer.objects.get(session=session).instrument == built_in_check()


def test_the_service_refuses_an_instrument_retired_before_the_link_was_opened(
    client_record: Client, clinic_admin: User
) -> None:
    """Only one retired after the link was opened may have been on the client's page: the
    service holds to that as the page does, whoever calls it."""
    retired = own_instrument(client_record.clinic, items=4)
    instrument_retire(instrument=retired, actor=clinic_admin)
    Instrument.objects.filter(pk=retired.pk).update(
        retired_at=timezone.now() - dt.timedelta(days=365)
    )
    invitation, _token = invitations.invitation_create(session=SessionFactory(client=client_record))
    with pytest.raises(ValidationError):
        client_rating_submit(
            invitation=invitation,
            answers=SERVICE_ANSWERS,
            notice_version=1,
            notice_language="en",
            outcome=(Instrument.objects.get(pk=retired.pk), [1, 2, 3, 4]),
        )
    assert not OutcomeAnswer.objects.exists() and not Rating.objects.exists()


def test_the_service_refuses_an_instrument_the_clinic_does_not_offer(session: Session) -> None:
    from django.core.exceptions import ValidationError

    from measures.outcomes import outcome_answer_save

    foreign = own_instrument(ClinicFactory(), items=4)
    with pytest.raises(ValidationError, match="questions we do not recognise"):
        outcome_answer_save(session=session, instrument=foreign, answers=[1, 2, 3, 4], actor="test")
    with pytest.raises(ValidationError, match="questions we do not recognise"):
        # The form's word for a page that named another instrument than the one drawn.
        outcome_answer_save(session=session, instrument=None, answers=[1, 2, 3, 4], actor="test")
    with pytest.raises(ValidationError, match="questions we do not recognise"):
        outcome_answer_save(
            session=session, instrument=built_in_check(), answers=[1, 2], actor="test"
        )
    with pytest.raises(ValidationError, match="from 0 to 10"):
        outcome_answer_save(
            session=session,
            instrument=built_in_check(),
            answers=[1, 2, 3, True],
            actor="test",
        )
    assert not OutcomeAnswer.objects.exists()


def test_a_second_submission_stores_no_second_answer(
    client: Any, session: Session, token: str
) -> None:
    client.post(url(token), {**ANSWERS, **outcome_form_answers(1, 1, 1, 1)})
    again = client.post(url(token), {**ANSWERS, **outcome_form_answers(9, 9, 9, 9)})
    assert again.status_code == 200
    assert OutcomeAnswer.objects.get(session=session).answers == [1, 1, 1, 1]


def test_the_clients_export_holds_the_outcome_answers(
    client: Any, session: Session, token: str, clinic_admin: User
) -> None:
    from measures import rights

    client.post(url(token), {**ANSWERS, **outcome_form_answers(2, 4, 6, 8)})
    document = rights.client_export(actor=clinic_admin, client=session.client)
    (answer,) = document["outcome_answers"]
    assert answer["session"] == session.number
    assert answer["answers"] == [2, 4, 6, 8] and answer["score"] == 5.0
    assert answer["instrument"] == built_in_check().name
    assert document["client"]["asks_outcome"] is True


def test_a_missing_built_in_check_is_made_again_from_its_definition(client_record: Client) -> None:
    from measures.models import instrument_for

    Instrument.objects.all().delete()  # a restore without it, or a test that emptied tables
    made = instrument_for(client_record.clinic_id)
    assert made.is_built_in and made.item_count == 4
    assert instrument_for(client_record.clinic_id) == made
    assert Instrument.objects.count() == 1


# The link and the instrument shown; then, in one transaction (its begin and end counted),
# the session locked (its client and clinic with it), the link locked, the rating (within
# a savepoint: begun, released; the database's constraint refuses a second), its copy onto
# the session, the outcome answer (its instrument the row the page was drawn from, not read
# again), the link marked used and an audit entry for each record.
ANSWER_QUERIES = 14


@pytest.mark.parametrize("earlier", [0, 12])
def test_an_answer_costs_the_same_statements_however_long_the_history(
    client: Any, client_record: Client, django_assert_num_queries: Any, earlier: int
) -> None:
    for _ in range(earlier):
        SessionFactory(client=client_record)
    token = invitations.invitation_create(session=SessionFactory(client=client_record))[1]
    answers = {**ANSWERS, **outcome_form_answers()}
    with django_assert_num_queries(ANSWER_QUERIES):
        response = client.post(url(token), answers)
    assert response.status_code == 302
    assert Rating.objects.filter(session__client=client_record).count() == 1
