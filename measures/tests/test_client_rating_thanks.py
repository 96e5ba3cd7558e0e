"""The thanks after answering, at /r/<token>/thanks/: the client's own chart when their
therapist turned it on, only for the link just answered and only for a while; otherwise
the plain thanks, which names nobody."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from django.test import Client as Browser
from django.urls import reverse
from django.utils import timezone

from clients.models import Client, User
from clients.scoping import may_see_own_chart
from clients.tests.factories import ClientFactory
from conftest import visible_text
from measures.scoring import DIMENSIONS
from measures.tests.factories import OutcomeAnswerFactory, RatingFactory, outcome_form_answers
from measures.tests.test_client_rating import ANSWERS
from sessions import invitations
from sessions.models import RatingInvitation, Session
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db

PLAIN = "Your answers have been sent to your therapist."


def thanks_url(token: str) -> str:
    return reverse("measures:client-rating-thanks", args=[token])


def earlier_session(client: Client, alliance: int, outcome: int, days_ago: int = 14) -> Session:
    session = SessionFactory(client=client, starts_at=timezone.now() - dt.timedelta(days=days_ago))
    RatingFactory(session=session, rater="client", **dict.fromkeys(DIMENSIONS, alliance))
    OutcomeAnswerFactory(session=session, answers=(outcome,) * 4)
    return session


def link_for(client: Client) -> str:
    session = SessionFactory(client=client, starts_at=timezone.now() - dt.timedelta(hours=1))
    return invitations.invitation_create(session=session)[1]


def answer(browser: Any, token: str, lang: str = "en") -> Any:
    """Send the form as the client does, and follow the redirect to the thanks."""
    form = {**ANSWERS, **outcome_form_answers(7, 8, 8, 9), "lang": lang}
    sent = browser.post(reverse("measures:client-rating", args=[token]), form)
    assert sent.status_code == 302, sent.content
    return browser.get(sent["Location"])


def chart(response: Any) -> dict[str, Any] | None:
    found = re.search(
        r'<script id="review-chart-data" type="application/json">(.*?)</script>',
        response.content.decode(),
        re.S,
    )
    return json.loads(found.group(1)) if found else None


def shows_chart(client: Client) -> Client:
    Client.objects.filter(pk=client.pk).update(shows_own_chart=True)
    client.refresh_from_db()
    return client


def test_the_form_sends_the_client_to_thanks_at_their_own_token_and_nothing_else(
    client: Any, client_record: Client
) -> None:
    token = link_for(client_record)
    form = {**ANSWERS, **outcome_form_answers(), "lang": "en"}
    sent = client.post(reverse("measures:client-rating", args=[token]), form)
    assert sent["Location"] == f"/r/{token}/thanks/?lang=en"


def test_with_the_switch_off_the_thanks_has_no_chart(client: Any, client_record: Client) -> None:
    earlier_session(client_record, 6, 4)
    response = answer(client, link_for(client_record))
    assert response.status_code == 200
    assert PLAIN in visible_text(response.content.decode())
    assert chart(response) is None
    assert b"chart.umd.js" not in response.content and b"review-chart" not in response.content


def test_with_the_switch_on_the_client_sees_their_own_answers_only(
    client: Any, therapist: User, client_record: Client
) -> None:
    shows_chart(client_record)
    earlier_session(client_record, 6, 4)
    other = shows_chart(ClientFactory(therapist=therapist, label="OTHER-CLIENT-MARKER"))
    earlier_session(other, 1, 1, days_ago=3)
    RatingFactory(
        session=earlier_session(client_record, 5, 3, days_ago=7),
        rater="therapist",
        **dict.fromkeys(DIMENSIONS, 2),
    )
    response = answer(client, link_for(client_record))
    data = chart(response)
    assert data is not None
    assert data["labels"] == ["Session 1", "Session 2", "Session 3"]
    assert {series["key"]: series["values"] for series in data["series"]} == {
        "alliance": [6.0, 5.0, 8.3],
        "outcome": [4.0, 3.0, 8.0],
    }
    html = response.content.decode()
    text = visible_text(html)
    assert PLAIN in text and "Your answers over time" in text
    assert "Your last rating: 8.3 out of 10" in text
    assert "How life has been going, at your last answer: 8.0 on a scale from 0 to 10" in text
    for private in ("OTHER-CLIENT-MARKER", client_record.label, therapist.get_full_name()):
        assert private not in html
    for clinical in ("on track", "expected", "cut-off", "concern", "signal"):
        assert clinical not in text.lower()
    assert 'class="navbar' not in html


def test_the_chart_speaks_the_language_the_client_answered_in(
    client: Any, client_record: Client
) -> None:
    Client.objects.filter(pk=client_record.pk).update(language="es", shows_own_chart=True)
    earlier_session(client_record, 6, 4)
    response = answer(client, link_for(client_record), lang="es")
    text = visible_text(response.content.decode())
    assert '<html lang="es">' in response.content.decode()
    assert "Sus respuestas a lo largo del tiempo" in text
    assert "Su última valoración: 8,3 de 10" in text
    assert chart(response)["labels"] == ["Sesión 1", "Sesión 2"]
    english = client.get(response.request["PATH_INFO"], {"lang": "en"})
    assert chart(english)["labels"] == ["Session 1", "Session 2"]


def test_an_hour_after_answering_the_link_shows_the_plain_thanks(
    client: Any, client_record: Client, settings: Any
) -> None:
    settings.ALLIANCE_OWN_CHART_MINUTES = 60
    shows_chart(client_record)
    token = link_for(client_record)
    assert chart(answer(client, token)) is not None
    invitation = RatingInvitation.objects.get(token_hash=invitations.hash_token(token))
    invitation.used_at = timezone.now() - dt.timedelta(minutes=61)
    invitation.save()
    response = client.get(thanks_url(token))
    assert response.status_code == 200 and chart(response) is None
    assert PLAIN in visible_text(response.content.decode())


def test_a_link_not_yet_answered_replaced_unknown_or_of_another_client_shows_the_plain_thanks(
    client: Any, therapist: User, client_record: Client
) -> None:
    shows_chart(client_record)
    earlier_session(client_record, 6, 4)
    open_link = link_for(client_record)
    session = SessionFactory(client=client_record)
    replaced = invitations.invitation_create(session=session)[1]
    invitations.invitation_create(session=session)  # replaces it
    other = ClientFactory(therapist=therapist)  # their therapist left the switch off
    earlier_session(other, 2, 2)
    others_used = link_for(other)
    answer(Browser(), others_used)
    for token in (open_link, replaced, "A" * 43, "not-a-link", others_used):
        response = client.get(thanks_url(token))
        assert response.status_code == 200, token
        assert chart(response) is None, token
        assert PLAIN in visible_text(response.content.decode())
    bodies = {client.get(thanks_url(token)).content for token in (open_link, "A" * 43)}
    assert len(bodies) == 1  # nothing tells an open link from a guess


def test_guesses_at_the_thanks_count_toward_the_pause(
    client: Any, client_record: Client, settings: Any
) -> None:
    settings.ALLIANCE_LINK_FAILURES_ALLOWED = 2
    for number in range(2):
        assert client.get(thanks_url(f"guess{number:040d}")).status_code == 200
    assert client.get(reverse("measures:client-rating", args=["guess" + "9" * 40])).status_code == (
        429
    )


def test_the_page_is_private_sets_no_cookie_runs_no_inline_script_and_is_read_only(
    client: Any, client_record: Client
) -> None:
    shows_chart(client_record)
    token = link_for(client_record)
    response = answer(client, token)
    assert chart(response) is not None
    assert "no-store" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "no-referrer"
    assert not response.cookies and not client.cookies
    scripts = re.findall(r"<script([^>]*)>", response.content.decode())
    assert scripts and all(
        'src="/static/' in attributes or 'type="application/json"' in attributes
        for attributes in scripts
    )
    assert client.post(thanks_url(token)).status_code == 405


def test_the_plain_address_of_earlier_versions_still_thanks(client: Any) -> None:
    response = client.get(reverse("measures:client-rating-thanks-plain"), {"lang": "es"})
    assert response.status_code == 200 and chart(response) is None
    assert "Sus respuestas se han enviado" in visible_text(response.content.decode())


@pytest.mark.parametrize("size", [2, 20])
def test_the_page_costs_the_same_queries_at_any_length_of_history(
    client: Any, client_record: Client, django_assert_num_queries: Any, size: int
) -> None:
    shows_chart(client_record)
    for day in range(size):
        earlier_session(client_record, 7, 6, days_ago=size + 7 - day)
    token = link_for(client_record)
    answer(client, token)
    # The link (with its session and client), the sessions with both scores, the
    # instrument answered.
    with django_assert_num_queries(3):
        response = client.get(thanks_url(token))
    assert len(chart(response)["labels"]) == size + 1


def test_without_the_chart_the_page_costs_one_query(
    client: Any, client_record: Client, django_assert_num_queries: Any
) -> None:
    token = link_for(client_record)
    answer(client, token)
    with django_assert_num_queries(1):
        client.get(thanks_url(token))


NOW = timezone.now()


@pytest.mark.parametrize(
    ("switch", "answered", "erased", "shown"),
    [
        (True, NOW - dt.timedelta(minutes=5), False, True),
        (True, NOW - dt.timedelta(minutes=60), False, True),
        (True, NOW - dt.timedelta(minutes=61), False, False),
        (True, None, False, False),  # not answered through this link
        (False, NOW - dt.timedelta(minutes=5), False, False),
        (True, NOW - dt.timedelta(minutes=5), True, False),
    ],
)
def test_who_sees_their_own_chart_on_their_link(
    settings: Any, switch: bool, answered: dt.datetime | None, erased: bool, shown: bool
) -> None:
    settings.ALLIANCE_OWN_CHART_MINUTES = 60
    client = Client(shows_own_chart=switch, erased_at=NOW if erased else None)
    assert may_see_own_chart(client, answered_at=answered, now=NOW) is shown
