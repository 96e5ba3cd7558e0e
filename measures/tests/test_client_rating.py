"""The client's form at /r/<token>/: one answer, any language, nothing revealed."""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from celery.signals import task_prerun
from django.conf import settings
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test import Client as Browser
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from alliance.celery import app as celery_app
from clients.models import Client
from conftest import celery_broker
from measures.models import Rating
from measures.scoring import DIMENSIONS
from measures.services import LinkUnavailable, client_rating_submit
from measures.tests.racing import on_a_connection_of_its_own, paused_once, takes_a_lock
from sessions import invitations
from sessions.models import RatingInvitation, Session
from sessions.services import session_void
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def alliance_questions_only(client_record: Client) -> None:
    """These tests are about the alliance questions; the outcome check before them has its
    own (test_client_outcome.py)."""
    Client.objects.filter(pk=client_record.pk).update(asks_outcome=False)


ANSWERS = {
    "trust": "9", "empathy": "8", "collaboration": "7",
    "boundaries": "10", "growth": "6", "respect": "10",
    "rupture": "a_little", "rupture_resolved": "partly", "comment": "Felt rushed.",
    "notice_version": "1",
}  # fmt: skip


# The same answers as the form's cleaned data hands them to the service.
SERVICE_ANSWERS = {
    **{name: int(ANSWERS[name]) for name in DIMENSIONS},
    "rupture": "a_little", "rupture_resolved": "partly", "comment": "Felt rushed.",
}  # fmt: skip


def answer_by_link(token: str) -> Rating:
    """The client's answers through the service, as the form sends them."""
    return client_rating_submit(
        invitation=invitations.invitation_find(token),
        answers=SERVICE_ANSWERS,
        notice_version=1,
        notice_language="en",
    )


@pytest.fixture
def session(client_record: Client) -> Session:
    return SessionFactory(client=client_record)


@pytest.fixture
def link(session: Session) -> tuple[RatingInvitation, str]:
    return invitations.invitation_create(session=session)


def url(token: str) -> str:
    return reverse("measures:client-rating", args=[token])


def test_an_open_link_shows_the_form_with_nothing_preselected(client: Any, link: Any) -> None:
    response = client.get(url(link[1]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "I felt safe being open with my therapist." in html
    assert "Honest answers help most" in html
    assert " checked" not in html
    assert html.count('type="radio"') == 6 * 11 + 3 + 3


def test_the_form_opens_in_the_clients_language_and_can_switch(
    client: Any, link: Any, client_record: Client
) -> None:
    client_record.language = "es"
    client_record.save()
    spanish = client.get(url(link[1])).content.decode()
    assert "Me sentí escuchado/a y comprendido/a." in spanish and '<html lang="es">' in spanish
    english = client.get(url(link[1]), {"lang": "en"}).content.decode()
    assert "I felt heard and understood." in english
    unknown = client.get(url(link[1]), {"lang": "fr"}).content.decode()
    assert "Me sentí escuchado/a" in unknown


def test_answers_are_stored_once_and_the_client_is_thanked(
    client: Any, link: Any, session: Session
) -> None:
    response = client.post(url(link[1]), {**ANSWERS, "lang": "en"})
    thanks_url = reverse("measures:client-rating-thanks", args=[link[1]])
    assert response["Location"] == thanks_url + "?lang=en"
    rating = Rating.objects.get(session=session)
    assert (rating.rater, rating.trust, rating.growth, rating.rupture, rating.rupture_resolved) == (
        "client",
        9,
        6,
        "a_little",
        "partly",
    )
    assert rating.comment == "Felt rushed." and rating.submitted_by is None
    link[0].refresh_from_db()
    assert link[0].used_at is not None
    thanks = client.get(response["Location"])
    assert b"Your answers have been sent to your therapist." in thanks.content


def test_every_item_must_be_answered_and_nothing_is_lost(client: Any, link: Any) -> None:
    response = client.post(url(link[1]), {**ANSWERS, "trust": "", "rupture": ""})
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"trust", "rupture"}
    html = response.content.decode()
    assert "Some answers are missing" in html
    assert 'value="8" checked' in html and "Felt rushed." in html
    assert not Rating.objects.exists()
    link[0].refresh_from_db()
    assert link[0].used_at is None


@pytest.mark.parametrize("bad", ["11", "-1", "ten", "9.5"])
def test_a_score_outside_the_scale_is_refused(client: Any, link: Any, bad: str) -> None:
    response = client.post(url(link[1]), {**ANSWERS, "empathy": bad})
    assert "empathy" in response.context["form"].errors
    assert not Rating.objects.exists()


def test_a_reported_rupture_asks_whether_it_was_talked_through(client: Any, link: Any) -> None:
    response = client.post(url(link[1]), {**ANSWERS, "rupture_resolved": ""})
    assert "rupture_resolved" in response.context["form"].errors
    assert not Rating.objects.exists()
    client.post(url(link[1]), {**ANSWERS, "rupture": "none", "rupture_resolved": "fully"})
    assert Rating.objects.get().rupture_resolved == ""


def test_a_comment_as_long_as_the_textarea_allows_is_taken_with_its_line_breaks(
    client: Any, link: Any, session: Session
) -> None:
    """The textarea's maxlength counts a line break as one character; the browser sends
    it as CRLF, two. Ten paragraphs of 2,000 characters as typed are taken, stored with
    one kind of line break."""
    page = client.get(url(link[1])).content.decode()
    assert 'maxlength="2000"' in page
    paragraph = "word " * 39 + "word"  # 199 characters
    typed = "\n".join([paragraph] * 10) + "."
    assert len(typed) == 2000
    response = client.post(url(link[1]), {**ANSWERS, "comment": typed.replace("\n", "\r\n")})
    assert response.status_code == 302
    assert Rating.objects.get(session=session, rater="client").comment == typed


@pytest.mark.parametrize(
    "comment", ["Fine\x1b[2J\x07 thanks", "x" * 2001, "Fine \u202eskcuf on\u202c thanks"]
)
def test_the_service_refuses_a_comment_the_form_would_refuse(
    client_record: Client, comment: str
) -> None:
    """Whoever calls it (an import, a script): the client's words are text, within the
    form's limit."""
    Client.objects.filter(pk=client_record.pk).update(asks_outcome=False)
    invitation, _token = invitations.invitation_create(session=SessionFactory(client=client_record))
    with pytest.raises(ValidationError) as refused:
        client_rating_submit(
            invitation=invitation,
            answers={**SERVICE_ANSWERS, "comment": comment},
            notice_version=1,
            notice_language="en",
        )
    assert set(refused.value.message_dict) == {"comment"}
    assert not Rating.objects.exists()


@pytest.mark.parametrize("comment", ["Felt \x1b[31mrushed.", "Felt \u202edehsur\u202c."])
def test_a_comment_with_a_control_character_is_refused_and_nothing_is_stored(
    client: Any, link: Any, comment: str
) -> None:
    """An escape sequence, or an override that turns the comment around on the therapist's
    page: said in the client's words, not in code points."""
    response = client.post(url(link[1]), {**ANSWERS, "comment": comment})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Please write plain text." in html
    # Said above the form as it is: nothing is missing.
    banner = re.search(r'id="form-errors">([^<]*)<', html)
    assert banner and "Please write plain text." in banner.group(1)
    assert "Some answers are missing" not in html
    assert not Rating.objects.exists()


def test_a_comment_of_nothing_showing_is_no_comment(
    client: Any, link: Any, session: Session
) -> None:
    """Shown to the therapist as "Client's comment:" and nothing."""
    response = client.post(url(link[1]), {**ANSWERS, "comment": "\u200b\u200b"})
    assert response.status_code == 302
    assert Rating.objects.get(session=session).comment == ""


def test_a_second_submission_gets_already_answered_and_changes_nothing(
    client: Any, link: Any
) -> None:
    client.post(url(link[1]), ANSWERS)
    again = client.post(url(link[1]), {**ANSWERS, "trust": "0"})
    assert again.status_code == 200
    assert b"We already have your answers for this session" in again.content
    assert Rating.objects.get().trust == 9


def test_going_back_to_the_form_just_after_answering_says_the_answers_are_in(
    client: Any, link: Any, settings: Any
) -> None:
    """Not "this link can't be used, ask for a new one" to the client who has just
    answered; for as long as the thanks shows their own chart, no longer (the address stays
    in the phone's history, where someone else may find it)."""
    client.post(url(link[1]), ANSWERS)
    back = client.get(url(link[1]))
    assert back.status_code == 200
    assert b"We already have your answers for this session" in back.content
    assert not calm_page(back) and b"R.K." not in back.content
    RatingInvitation.objects.filter(pk=link[0].pk).update(
        used_at=timezone.now() - dt.timedelta(minutes=settings.ALLIANCE_OWN_CHART_MINUTES + 1)
    )
    assert calm_page(client.get(url(link[1])))


def test_a_form_sent_to_a_link_answered_long_ago_learns_nothing_of_the_answer(
    client: Any, link: Any, settings: Any
) -> None:
    """Whoever finds the address later and sends a form to it hears what an opened link
    tells them: that it cannot be used, not that the client answered."""
    client.post(url(link[1]), ANSWERS)
    RatingInvitation.objects.filter(pk=link[0].pk).update(
        used_at=timezone.now() - dt.timedelta(minutes=settings.ALLIANCE_OWN_CHART_MINUTES + 1)
    )
    late = client.post(url(link[1]), {**ANSWERS, "trust": "0"})
    assert late.status_code == 404 and calm_page(late)
    assert b"already have your answers" not in late.content
    assert Rating.objects.get().trust == 9


def calm_page(response: Any) -> bool:
    return (
        "This link can't be used" in response.content.decode()
        and b"ask your therapist" in response.content
    )


def test_every_unusable_link_gets_the_same_calm_page(
    client: Any, session: Session, client_record: Client
) -> None:
    used, used_token = invitations.invitation_create(session=session)
    client.post(url(used_token), ANSWERS)
    # Answered longer ago than the client's Back button (below).
    RatingInvitation.objects.filter(pk=used.pk).update(
        used_at=timezone.now() - dt.timedelta(minutes=settings.ALLIANCE_OWN_CHART_MINUTES + 1)
    )
    expired, expired_token = invitations.invitation_create(
        session=SessionFactory(client=client_record)
    )
    RatingInvitation.objects.filter(pk=expired.pk).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    replaced_token = invitations.invitation_create(session=SessionFactory(client=client_record))[1]
    invitations.invitation_create(session=Session.objects.order_by("-pk").first())
    unknown_token = "A" * 43
    pages = [
        client.get(url(token))
        for token in (used_token, expired_token, replaced_token, unknown_token)
    ]
    pages.append(client.get("/r/%F0%9F%92%A5-not-a-token/"))
    pages.append(client.get("/r/" + "x" * 500 + "/"))
    for page in pages:
        assert page.status_code == 404
        assert calm_page(page)
        for detail in (
            "R.K.",
            client_record.therapist.get_full_name(),
            client_record.clinic.name,
            "Traceback",
        ):
            assert detail.encode() not in page.content
    bodies = {page.content for page in pages}
    assert len(bodies) == 1  # nothing tells one kind of bad link from another


def test_client_pages_are_never_cached_and_send_no_referrer(client: Any, link: Any) -> None:
    for response in (
        client.get(url(link[1])),
        client.get(url("A" * 43)),
        client.get(reverse("measures:client-rating-thanks", args=[link[1]])),
        client.get(reverse("measures:client-rating-thanks-plain")),
    ):
        assert "no-store" in response["Cache-Control"]
        assert response["Referrer-Policy"] == "no-referrer"


def test_guessing_is_paused_per_address(client: Any, link: Any, settings: Any) -> None:
    settings.ALLIANCE_LINK_FAILURES_ALLOWED = 3
    for number in range(3):
        assert client.get(url(f"guess{number:040d}")).status_code == 404
    paused = client.get(url("guess" + "9" * 40))
    assert paused.status_code == 429 and calm_page(paused)
    elsewhere = Browser(REMOTE_ADDR="10.0.0.9")
    assert elsewhere.get(url("guess" + "9" * 40)).status_code == 404


def test_others_failures_never_block_a_valid_link(client: Any, link: Any, settings: Any) -> None:
    """Behind one clinic or phone-network address, a guesser must not lock clients out."""
    settings.ALLIANCE_LINK_FAILURES_ALLOWED = 3
    for number in range(20):
        client.get(url(f"guess{number:040d}"))
    assert client.get(url("guess" + "9" * 40)).status_code == 429
    assert client.get(url(link[1])).status_code == 200
    assert client.post(url(link[1]), ANSWERS).status_code == 302
    assert Rating.objects.filter(session=link[0].session, rater="client").count() == 1


PROXY = {"REMOTE_ADDR": "10.0.0.1"}  # the proxy's own address, the same for every client


@pytest.mark.parametrize("hops", [1, 2])
def test_behind_proxies_failures_count_per_real_client(link: Any, settings: Any, hops: int) -> None:
    settings.ALLIANCE_LINK_FAILURES_ALLOWED = 3
    settings.ALLIANCE_TRUSTED_PROXY_HOPS = hops
    inner = ", 10.0.0.2" if hops == 2 else ""
    guesser = Browser(**PROXY, HTTP_X_FORWARDED_FOR=f"203.0.113.7{inner}")
    for number in range(3):
        guesser.get(url(f"guess{number:040d}"))
    assert guesser.get(url("guess" + "9" * 40)).status_code == 429
    neighbour = Browser(**PROXY, HTTP_X_FORWARDED_FOR=f"198.51.100.4{inner}")
    assert neighbour.get(url("guess" + "9" * 40)).status_code == 404


def test_a_rotated_forwarded_header_does_not_escape_the_limit(link: Any, settings: Any) -> None:
    """Only the hops our own proxies add are believed; what the client writes is not."""
    settings.ALLIANCE_LINK_FAILURES_ALLOWED = 3
    settings.ALLIANCE_TRUSTED_PROXY_HOPS = 1
    statuses = []
    for number in range(6):
        # The client sends its own X-Forwarded-For; the proxy appends the real address.
        forged = f"192.0.2.{number}, 203.0.113.7"
        browser = Browser(**PROXY, HTTP_X_FORWARDED_FOR=forged)
        statuses.append(browser.get(url(f"guess{number:040d}")).status_code)
    assert statuses == [404, 404, 404, 429, 429, 429]


def test_without_trusted_proxies_the_header_is_ignored(link: Any, settings: Any) -> None:
    settings.ALLIANCE_LINK_FAILURES_ALLOWED = 3
    statuses = []
    for number in range(5):
        browser = Browser(REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR=f"192.0.2.{number}")
        statuses.append(browser.get(url(f"guess{number:040d}")).status_code)
    assert statuses == [404, 404, 404, 429, 429]


CACHE_DOWN = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:9/0",  # nothing listens on the discard port
    }
}


def test_with_the_cache_down_a_valid_link_still_stores_the_rating(
    client: Any, link: Any, caplog: Any
) -> None:
    with override_settings(CACHES=CACHE_DOWN):
        assert client.get(url(link[1])).status_code == 200
        assert client.post(url(link[1]), ANSWERS).status_code == 302
        assert client.get(url("C" * 43)).status_code == 404
    assert Rating.objects.filter(session=link[0].session, rater="client").count() == 1
    assert "cache down" in caplog.text


def test_the_token_never_reaches_the_logs(client: Any, link: Any, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    client.get(url("B" * 43))  # a 404 Django logs with its path
    client.post(url(link[1]), ANSWERS)
    logging.getLogger("django.server").info('"GET %s HTTP/1.1" 200 1234', url(link[1]))
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "B" * 43 not in text and link[1] not in text
    assert "/r/[redacted]" in text


@pytest.fixture
def tasks_run_in_process() -> Any:
    """Run tasks eagerly whatever the broker, and record which ran with what."""
    ran: list[tuple[str, tuple[Any, ...]]] = []

    def record(sender: Any = None, args: Any = None, **kwargs: Any) -> None:
        ran.append((sender.name, tuple(args or ())))

    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    task_prerun.connect(record, weak=False)
    yield ran
    task_prerun.disconnect(record)
    celery_app.conf.task_always_eager = previous


def test_a_client_rating_enqueues_evaluation_of_that_client_on_commit(
    client: Any,
    link: Any,
    session: Session,
    tasks_run_in_process: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        client.post(url(link[1]), ANSWERS)
    assert len(callbacks) == 1
    assert tasks_run_in_process == [("measures.tasks.evaluate_client", (session.client_id,))]


def test_a_rating_is_kept_when_the_broker_is_down(
    client: Any, link: Any, session: Session, caplog: Any, django_capture_on_commit_callbacks: Any
) -> None:
    # Nothing listens on port 1: the broker is down. The app's own publish settings apply
    # (alliance/settings.py): the enqueue gives up in well under a second, not six.
    started = time.monotonic()
    with (
        celery_broker("redis://127.0.0.1:1/0"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post(url(link[1]), ANSWERS)
    assert time.monotonic() - started < 5  # generous: a loaded machine, but no hang
    assert response.status_code == 302  # the client is thanked as usual
    assert Rating.objects.filter(session=session).exists()
    warning = [r.getMessage() for r in caplog.records if "Could not enqueue" in r.getMessage()]
    assert warning and "R.K." not in warning[0]


@pytest.mark.django_db(transaction=True)
def test_simultaneous_posts_of_one_form_store_one_rating(
    postgresql: None, client_record: Client
) -> None:
    session = SessionFactory(client=client_record)
    _, token = invitations.invitation_create(session=session)
    barrier = threading.Barrier(5)
    statuses: list[int] = []

    def post() -> None:
        barrier.wait()
        statuses.append(Browser().post(url(token), ANSWERS).status_code)

    threads = [on_a_connection_of_its_own(post) for _ in range(5)]
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 200, 200, 200, 302]  # one stored, four "already answered"
    assert Rating.objects.filter(session=session).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_clients_of_one_clinic_answering_at_once_do_not_wait_for_each_other(
    postgresql: None, client_record: Client
) -> None:
    """Only the answer's own session and link are locked while it is stored: not its
    client's or clinic's, or every answer to the clinic would queue behind the one before."""
    first = invitations.invitation_create(session=SessionFactory(client=client_record))[1]
    second = invitations.invitation_create(session=SessionFactory(client=client_record))[1]
    storing, stored = threading.Event(), threading.Event()

    def first_client_still_storing() -> None:
        with transaction.atomic():  # its answer stored, not yet committed
            answer_by_link(first)
            storing.set()
            stored.wait(10)

    holder = on_a_connection_of_its_own(first_client_still_storing)
    try:
        assert storing.wait(10)
        with transaction.atomic():
            with connection.cursor() as cursor:
                # A lock the first client's transaction holds would end this at once.
                cursor.execute("SET LOCAL lock_timeout = '1s'")
            answer_by_link(second)
    finally:
        stored.set()
        holder.join()
    assert Rating.objects.filter(session__client=client_record, rater="client").count() == 2


def answered_while_it_holds_a_lock(work: Callable[[], None], token: str) -> None:
    """`work` on a connection of its own, paused once it holds its first row lock; the
    client answers by `token` then and is refused (their link closed by the work, once it
    has committed); the work itself must end without an error."""
    problems: list[Exception] = []
    locked, paused_work = paused_once(work, takes_a_lock, problems)
    working = on_a_connection_of_its_own(paused_work)
    try:
        assert locked.wait(10)
        with pytest.raises(LinkUnavailable):
            answer_by_link(token)
    finally:
        working.join()
    assert problems == []


@pytest.mark.django_db(transaction=True)
def test_a_session_voided_while_its_client_answers_ends_cleanly_for_both(
    postgresql: None, therapist: Any, client_record: Client
) -> None:
    """Voiding locks the session, then closes its open links; the answer takes its locks
    in the same order, so it waits for the void and then finds the link closed. (Taking
    the link first, the two had each waited for the other until PostgreSQL broke the
    deadlock by failing one.)"""
    session = SessionFactory(client=client_record)
    token = invitations.invitation_create(session=session)[1]

    def therapist_voids() -> None:
        session_void(actor=therapist, session=session, reason="Logged in error")

    answered_while_it_holds_a_lock(therapist_voids, token)
    session.refresh_from_db()
    assert session.is_voided and not Rating.objects.filter(session=session).exists()


def remind(invitation: RatingInvitation) -> None:
    assert invitations.reminders_send() == 1


def email_again(invitation: RatingInvitation) -> None:
    assert invitations.invitation_send(invitation_id=invitation.pk) is True


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("replace", [remind, email_again], ids=["reminder", "e-mailed link"])
def test_a_link_replaced_while_its_client_answers_ends_cleanly_for_both(
    postgresql: None, client_record: Client, replace: Callable[[RatingInvitation], None]
) -> None:
    """A reminder, or the link e-mailed at the therapist's asking, replaces the client's
    link; it takes the session's lock before the link's, as the answer does, so the answer
    waits and then finds its link replaced by the one just e-mailed. (Claiming the link
    first, the job and the answer had each waited for the other until PostgreSQL broke the
    deadlock by failing one: the client got the error page, their answers lost.)"""
    Client.objects.filter(pk=client_record.pk).update(email="rk@example.org")
    invitation, token = invitations.invitation_create(session=SessionFactory(client=client_record))
    a_reminder_is_due = timezone.now() - dt.timedelta(hours=49)
    RatingInvitation.objects.filter(pk=invitation.pk).update(created_at=a_reminder_is_due)
    answered_while_it_holds_a_lock(lambda: replace(invitation), token)
    [message] = mail.outbox
    assert answer_by_link(message.body.split("/r/")[1].split("/")[0]).session_id == (
        invitation.session_id
    )


def test_a_phone_gets_no_cookie_and_its_answers_count_with_origin_null(link: Any) -> None:
    """A page with no Referer makes browsers send `Origin: null` with its form; the link's
    token, not a cookie, is what makes the answer the client's."""
    phone = Browser(enforce_csrf_checks=True, HTTP_ORIGIN="null")
    page = phone.get(url(link[1]))
    assert page.status_code == 200 and not page.cookies
    assert phone.post(url(link[1]), ANSWERS).status_code == 302
    assert Rating.objects.filter(session=link[0].session, rater="client").count() == 1


def test_switching_language_keeps_the_answers_chosen_and_stores_nothing(
    client: Any, link: Any
) -> None:
    """The switch is a button of the form: what was chosen is drawn again, chosen, in the
    other language, with no "answers missing" message, and the link stays open."""
    token = link[1]
    half = {"trust": "9", "rupture": "a_little", "comment": "Felt rushed.", "lang": "en"}
    response = client.post(url(token), {**half, "notice_version": "1", "switch_to": "es"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "¿Cómo fue la sesión de hoy?" in html
    assert 'name="trust" id="id_trust_9" value="9" checked' in html
    assert 'value="a_little" checked' in html and "Felt rushed." in html
    assert 'name="lang" value="es"' in html
    assert 'role="alert"' not in html
    assert not Rating.objects.exists()
    link[0].refresh_from_db()
    assert link[0].used_at is None


def test_an_unknown_language_to_switch_to_is_a_submission_like_any_other(
    client: Any, link: Any
) -> None:
    response = client.post(url(link[1]), {"trust": "9", "notice_version": "1", "switch_to": "xx"})
    assert response.status_code == 200
    assert "Some answers are missing" in response.content.decode()
    assert not Rating.objects.exists()
