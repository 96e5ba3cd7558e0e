"""E-mails about concerns: the therapist's daily digest and the escalation to supervisors."""

from __future__ import annotations

import datetime as dt
import re
import smtplib
import threading
import time
from typing import Any

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import resolve
from django.utils import timezone

from clients.models import Client, Supervision, User
from clients.moves import client_move
from clients.services import client_discharge, client_reopen
from clients.tests.factories import ClientFactory, SupervisorFactory
from measures import notifications, tasks
from measures.concern_selectors import with_stories
from measures.concerns import concerns_update
from measures.history import Thresholds
from measures.models import Concern, Flag
from measures.tests.factories import (
    RELIABLE_DROP_EVIDENCE,
    ConcernEventFactory,
    ConcernFactory,
    FlagFactory,
    RatingFactory,
    erased,
)
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2025, 3, 10, 7, 0, tzinfo=dt.UTC)
BASE = "https://alliance.example.org"
# Stored values that must never reach a reader: choice codes, rule codes, evidence keys
# and Python's rendering of a list.
STORED_CODES = ["a_lot", "not_at_all", "reliable_drop", "no_show", "Operator", "[", "]"]


@pytest.fixture(autouse=True)
def base_url(settings: Any) -> None:
    settings.ALLIANCE_BASE_URL = BASE + "/"
    settings.ALLIANCE_ESCALATE_AFTER_DAYS = 7


@pytest.fixture
def therapist(therapist: User) -> User:
    therapist.email = "tara@example.org"
    therapist.save()
    return therapist


@pytest.fixture
def colleague(colleague: User) -> User:
    colleague.email = "colin@example.org"
    colleague.save()
    return colleague


@pytest.fixture
def supervisor(supervisor: User) -> User:
    supervisor.email = "sue@example.org"
    supervisor.save()
    return supervisor


def concern_for(
    client: Client,
    *,
    opened_at: dt.datetime = NOW - dt.timedelta(days=1),
    severity: str = Concern.Severity.HIGH,
    **fields: Any,
) -> Concern:
    """A concern opened by one reliable-drop signal at a new session of `client`.

    Its story, with no ratings on record, reads "A reliable drop at session N."
    """
    session = SessionFactory(client=client)
    concern = ConcernFactory(
        session=session,
        opened_at=opened_at,
        severity=severity,
        opening_rule=Flag.Rule.RELIABLE_DROP,
        **fields,
    )
    FlagFactory(
        session=session,
        concern=concern,
        rule=Flag.Rule.RELIABLE_DROP,
        severity=severity,
        evidence=RELIABLE_DROP_EVIDENCE,
        created_at=opened_at,
    )
    return concern


def slid(client: Client, **fields: Any) -> Concern:
    """A concern whose story tells the client's scores: a rating of 9.0 at one session,
    then a reliable drop to 6.2 at the next, the concern's. Returns it with its `story`
    as Alliance's pages tell it to the therapist."""
    RatingFactory(session=SessionFactory(client=client))
    concern = concern_for(client, **fields)
    RatingFactory(session=concern.first_session, trust=7, **dict.fromkeys(FALLEN, 6))
    [told] = with_stories([concern], client.therapist)
    assert "9.0" in told.story and "6.2" in told.story, told.story
    return told


# The dimensions of the fallen rating other than trust.
FALLEN = ["empathy", "collaboration", "boundaries", "growth", "respect"]
# What no e-mail tells of a concern: its severity, in any case.
SEVERITY_WORDS = ["severity", "high", "medium", "low"]


def assert_tells_no_clinical_detail(body: str, concern: Concern) -> None:
    """The story, each score in it and the severity are for Alliance's pages, not e-mail."""
    assert concern.story not in body
    for told in ["9.0", "6.2", "reliable drop", "session"]:
        assert told not in body.lower(), told
    for word in SEVERITY_WORDS:
        assert not re.search(rf"\b{word}\b", body, re.IGNORECASE), word


def opened_ago(client: Client, age: dt.timedelta, **fields: Any) -> Concern:
    return concern_for(client, opened_at=NOW - age, **fields)


def link_to(concern: Concern) -> str:
    return f"{BASE}/concerns/{concern.pk}/"


def mails_to(address: str) -> list[mail.EmailMessage]:
    return [message for message in mail.outbox if message.to == [address]]


def mail_server_down(*args: Any, **kwargs: Any) -> None:
    raise ConnectionRefusedError("SMTP down")


def signal_joins(concern: Concern, *, severity: str, now: dt.datetime) -> None:
    """A new signal at a new session of the concern's client, placed by grouping itself."""
    FlagFactory(
        session=SessionFactory(client=concern.client),
        rule=Flag.Rule.RUPTURE_UNRESOLVED,
        severity=severity,
        evidence={"client": {"rupture": "a_lot", "talked_through": "not_at_all"}},
        grouped_at=None,
    )
    concerns_update({concern.client_id: Thresholds()}, now)


# --- The digest --------------------------------------------------------------


def test_each_therapist_gets_one_digest_with_their_own_concerns_only(
    client_record: Client, colleague_client: Client, therapist: User, colleague: User
) -> None:
    high = concern_for(client_record)
    medium = concern_for(
        ClientFactory(therapist=therapist, label="A.B."), severity=Concern.Severity.MEDIUM
    )
    colleagues = concern_for(colleague_client, severity=Concern.Severity.LOW)
    assert notifications.digests_send(NOW) == 2
    [digest] = mails_to("tara@example.org")
    assert digest.subject == "Alliance: 2 concerns to review"
    assert "M.P." not in digest.body
    assert f"- A.B. (new)\n  {link_to(medium)}\n\n- R.K. (new)\n  {link_to(high)}\n" in digest.body
    assert f"{BASE}/review/" in digest.body
    [other] = mails_to("colin@example.org")
    assert other.subject == "Alliance: 1 concern to review"
    assert f"- M.P. (new)\n  {link_to(colleagues)}\n" in other.body
    assert "R.K." not in other.body and "A.B." not in other.body
    assert set(Concern.objects.values_list("notified_at", flat=True)) == {NOW}


def test_the_digest_names_each_client_by_label_with_a_link_and_tells_no_story(
    client_record: Client, therapist: User
) -> None:
    """No client detail in an e-mail beyond the pseudonym label: the story (the scores, the
    rules that fired) and the severity are read in Alliance, behind the therapist's sign-in."""
    concern = slid(client_record)
    assert notifications.digests_send(NOW) == 1
    [digest] = mail.outbox
    assert f"- R.K. (new)\n  {link_to(concern)}\n" in digest.body
    assert "open a concern's link in Alliance to read its story" in digest.body
    assert_tells_no_clinical_detail(digest.subject + digest.body, concern)


def test_no_digest_without_concerns_due(client_record: Client, therapist: User) -> None:
    assert notifications.digests_send(NOW) == 0
    concern_for(client_record, notified_at=NOW - dt.timedelta(days=1))
    assert notifications.digests_send(NOW) == 0
    assert mail.outbox == []


def test_a_second_run_the_same_day_sends_nothing(client_record: Client, therapist: User) -> None:
    concern_for(client_record)
    assert notifications.digests_send(NOW) == 1
    assert notifications.digests_send(NOW + dt.timedelta(hours=1)) == 0
    assert len(mail.outbox) == 1


def test_a_concern_opened_after_a_digest_is_in_the_next_one_only(
    client_record: Client, therapist: User
) -> None:
    first = concern_for(client_record)
    notifications.digests_send(NOW)
    later = concern_for(ClientFactory(therapist=therapist, label="A.B."))
    assert notifications.digests_send(NOW + dt.timedelta(days=1)) == 1
    _, second_digest = mail.outbox
    assert second_digest.subject == "Alliance: 1 concern to review"
    assert link_to(later) in second_digest.body
    assert link_to(first) not in second_digest.body and "R.K." not in second_digest.body


def test_a_concern_whose_severity_was_raised_is_listed_again(
    client_record: Client, therapist: User
) -> None:
    concern = concern_for(client_record, severity=Concern.Severity.MEDIUM)
    assert notifications.digests_send(NOW) == 1
    signal_joins(concern, severity=Flag.Severity.HIGH, now=NOW + dt.timedelta(hours=12))
    concern.refresh_from_db()
    assert (concern.severity, concern.notified_at) == (Concern.Severity.HIGH, None)
    assert notifications.digests_send(NOW + dt.timedelta(days=1)) == 1
    first, second = mail.outbox
    assert f"- R.K. (new)\n  {link_to(concern)}\n" in first.body
    assert second.subject == "Alliance: 1 concern to review"
    # Listed again as changed: how (a rupture, the severity it rose to) is in Alliance.
    assert f"- R.K. (changed)\n  {link_to(concern)}\n" in second.body
    for told in ["rupture", "severity", "high", "medium"]:
        assert told not in second.body.lower()
    concern.refresh_from_db()
    assert concern.notified_at == NOW + dt.timedelta(days=1)


def test_a_signal_that_joins_without_raising_the_severity_is_not_mailed_again(
    client_record: Client, therapist: User
) -> None:
    concern = concern_for(client_record, severity=Concern.Severity.HIGH)
    notifications.digests_send(NOW)
    signal_joins(concern, severity=Flag.Severity.HIGH, now=NOW + dt.timedelta(hours=12))
    assert concern.signals.count() == 2
    assert notifications.digests_send(NOW + dt.timedelta(days=1)) == 0
    assert len(mail.outbox) == 1


def test_a_failed_digest_leaves_its_concerns_for_the_next_run(
    client_record: Client,
    colleague_client: Client,
    therapist: User,
    colleague: User,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    taras = concern_for(client_record)
    colins = concern_for(colleague_client)
    real_send_mail = notifications.send_mail

    def tara_unreachable(subject: str, body: str, sender: Any, to: list[str]) -> Any:
        if to == ["tara@example.org"]:
            mail_server_down()
        return real_send_mail(subject, body, sender, to)

    monkeypatch.setattr(notifications, "send_mail", tara_unreachable)  # the edge: delivery
    assert notifications.digests_send(NOW) == 1  # one failing mailbox holds up no one else
    taras.refresh_from_db()
    colins.refresh_from_db()
    assert taras.notified_at is None
    assert colins.notified_at == NOW
    assert "R.K." not in caplog.text and "M.P." not in caplog.text
    monkeypatch.undo()
    assert notifications.digests_send(NOW + dt.timedelta(days=1)) == 1
    [digest] = mails_to("tara@example.org")
    assert "R.K." in digest.body
    assert len(mails_to("colin@example.org")) == 1


def test_the_mails_name_the_client_by_label_and_nothing_else(
    client_record: Client, therapist: User, supervisor: User
) -> None:
    client_record.email = "private.person@example.org"
    client_record.external_id = "MRN-99417"
    client_record.save()
    concern = opened_ago(client_record, dt.timedelta(days=8), note="Her mother's illness.")
    session = concern.first_session
    session.notes = "Talked about the divorce."
    session.save()
    RatingFactory(session=session, comment="I felt judged about my drinking.")
    ConcernEventFactory(concern=concern, note="Ask about the custody hearing.")
    assert notifications.digests_send(NOW) == 1
    assert notifications.escalations_send(NOW) == 1
    for message in mail.outbox:
        text = message.subject + message.body
        assert "R.K." in text
        for secret in [
            "private.person",
            "MRN-99417",
            "divorce",
            "drinking",
            "mother",
            "custody",
        ]:
            assert secret not in text


def test_no_stored_code_reaches_a_mail(
    client_record: Client, therapist: User, supervisor: User
) -> None:
    """Every rule's evidence as detection stores it, codes and lists included."""
    concern = opened_ago(client_record, dt.timedelta(days=8))
    signals = [
        (
            Flag.Rule.RUPTURE_UNRESOLVED,
            {
                "client": {"rupture": "a_lot", "talked_through": "not_at_all"},
                "therapist": {"rupture": "a_little", "talked_through": "partly"},
            },
        ),
        (Flag.Rule.RATER_DISCREPANCY, {"therapist": 9.5, "client": 7.5, "difference": 2.0}),
        (Flag.Rule.DECLINING_TREND, {"scores": [9.5, 9.0, 8.0], "sessions": [2, 3, 4]}),
        (
            Flag.Rule.DISENGAGEMENT,
            {"kind": "missed", "sessions": [4, 5], "attendance": ["no_show", "no_show"]},
        ),
        (Flag.Rule.BELOW_CUTOFF, {"score": 8.5, "cutoff": 9.0, "operator": "lt"}),
    ]
    for rule, evidence in signals:
        FlagFactory(
            session=SessionFactory(client=client_record),
            concern=concern,
            rule=rule,
            severity=Flag.Severity.MEDIUM,
            evidence=evidence,
        )
    assert notifications.digests_send(NOW) == 1
    assert notifications.escalations_send(NOW) == 1
    digest, escalation = mail.outbox
    # The story is told to the treating therapist in Alliance, not by e-mail.
    assert "rupture" not in digest.body and "missed" not in digest.body
    for message in [digest, escalation]:
        text = message.subject + message.body
        for code in STORED_CODES:
            assert code not in text, f"{code!r} in {message.subject!r}"


def test_the_digest_is_plain_text_not_html_escaped(therapist: User) -> None:
    concern_for(ClientFactory(therapist=therapist, label="O'N & J"))
    notifications.digests_send(NOW)
    assert "O'N & J" in mail.outbox[0].body


def test_a_therapist_without_an_email_address_or_account_is_skipped_and_their_concerns_wait(
    client_record: Client, colleague_client: Client, therapist: User, colleague: User
) -> None:
    therapist.email = ""
    therapist.save()
    colleague.is_active = False
    colleague.save()
    concern_for(client_record)
    concern_for(colleague_client)
    assert notifications.digests_send(NOW) == 0
    assert mail.outbox == []
    assert Concern.objects.filter(notified_at__isnull=True).count() == 2
    therapist.email = "tara@example.org"
    therapist.save()
    assert notifications.digests_send(NOW) == 1
    assert [message.to for message in mail.outbox] == [["tara@example.org"]]


def test_concerns_closed_before_the_digest_are_marked_but_not_listed(
    client_record: Client, therapist: User
) -> None:
    resolved = concern_for(
        client_record, status=Concern.Status.RESOLVED, closed_at=NOW, note="We talked."
    )
    dismissed = concern_for(
        client_record, status=Concern.Status.DISMISSED, closed_at=NOW, note="Noise."
    )
    assert notifications.digests_send(NOW) == 0  # nothing left worth a mail
    assert mail.outbox == []
    for concern in [resolved, dismissed]:
        concern.refresh_from_db()
        assert concern.notified_at == NOW
    acknowledged = concern_for(
        client_record, status=Concern.Status.ACKNOWLEDGED, acknowledged_at=NOW
    )
    open_concern = concern_for(ClientFactory(therapist=therapist, label="A.B."))
    closed_later = concern_for(
        ClientFactory(therapist=therapist, label="C.D."),
        status=Concern.Status.DISMISSED,
        closed_at=NOW,
        note="Noise.",
    )
    assert notifications.digests_send(NOW) == 1
    [digest] = mail.outbox
    assert digest.subject == "Alliance: 2 concerns to review"
    for concern in [acknowledged, open_concern]:
        assert link_to(concern) in digest.body
    for concern in [resolved, dismissed, closed_later]:
        assert link_to(concern) not in digest.body
    assert "C.D." not in digest.body
    assert not Concern.objects.filter(notified_at__isnull=True).exists()


def test_a_clients_concerns_go_to_their_current_therapist(
    client_record: Client, therapist: User, colleague: User
) -> None:
    concern_for(client_record)
    client_record.therapist = colleague
    client_record.save()
    notifications.digests_send(NOW)
    assert len(mails_to("colin@example.org")) == 1
    assert mails_to("tara@example.org") == []


def test_the_digest_costs_the_same_queries_for_one_concern_or_many(therapist: User) -> None:
    """The concerns due with whether each changed; the claim (a savepoint around a lock and
    an update). No story is told, so no signal or score is read."""

    def queries_for(concern_count: int, now: dt.datetime) -> int:
        for _ in range(concern_count):
            slid(ClientFactory(therapist=therapist))
        with CaptureQueriesContext(connection) as queries:
            assert notifications.digests_send(now) == 1
        return len(queries)

    assert queries_for(1, NOW) == 5
    assert queries_for(5, NOW + dt.timedelta(days=1)) == 5


@pytest.mark.django_db(transaction=True)
def test_digests_run_at_once_send_each_concern_once(
    postgresql: None, therapist: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    concerns = [concern_for(ClientFactory(therapist=therapist)) for _ in range(3)]
    real_send_mail = notifications.send_mail

    def slow_send_mail(*args: Any) -> Any:
        time.sleep(0.2)  # a slow SMTP server keeps the claim open while the others run
        return real_send_mail(*args)

    monkeypatch.setattr(notifications, "send_mail", slow_send_mail)
    assert run_at_once(notifications.digests_send, times=4) == []
    # Runs that lock rows at the same instant may split them between two mails; what
    # must never happen is a concern mailed twice (or not at all).
    bodies = "".join(message.body for message in mail.outbox)
    for concern in concerns:
        assert bodies.count(link_to(concern)) == 1
    assert not Concern.objects.filter(notified_at__isnull=True).exists()


def run_at_once(job: Any, times: int) -> list[BaseException]:
    """Start `job` in `times` threads together; returns the errors they raised."""
    barrier = threading.Barrier(times)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            job()
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


# --- The escalation ----------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "escalated"),
    [
        (dt.timedelta(days=6, hours=23), False),
        (dt.timedelta(days=7), False),  # "more than seven days"
        (dt.timedelta(days=7, minutes=1), True),
    ],
)
def test_an_open_concern_escalates_after_seven_days(
    client_record: Client, supervisor: User, age: dt.timedelta, escalated: bool
) -> None:
    concern = opened_ago(client_record, age)
    assert notifications.escalations_send(NOW) == int(escalated)
    concern.refresh_from_db()
    assert (concern.escalated_at == NOW) is escalated


def test_the_escalation_waits_as_long_as_the_setting_says(
    client_record: Client, supervisor: User, settings: Any
) -> None:
    settings.ALLIANCE_ESCALATE_AFTER_DAYS = 3
    concern = opened_ago(client_record, dt.timedelta(days=3, minutes=1))
    opened_ago(ClientFactory(therapist=client_record.therapist), dt.timedelta(days=2))
    assert notifications.escalations_send(NOW) == 1
    [message] = mail.outbox
    assert message.subject == "Alliance: 1 concern left unacknowledged in your team"
    assert link_to(concern) in message.body
    assert "more than 3 days" in message.body


def test_the_escalation_lists_the_concerns_with_a_link_to_each(
    client_record: Client, therapist: User, supervisor: User
) -> None:
    therapist.first_name, therapist.last_name = "Tara", "Quinn"
    therapist.save()
    old = opened_ago(client_record, dt.timedelta(days=12), severity=Concern.Severity.MEDIUM)
    newer = opened_ago(
        ClientFactory(therapist=therapist, label="A.B."),
        dt.timedelta(days=8),
        severity=Concern.Severity.LOW,
    )
    assert notifications.escalations_send(NOW) == 1
    [message] = mail.outbox
    assert message.to == ["sue@example.org"]
    assert message.subject == "Alliance: 2 concerns left unacknowledged in your team"
    assert f"- Tara Quinn: R.K., open 12 days\n  {link_to(old)}\n" in message.body
    assert f"- Tara Quinn: A.B., open 8 days\n  {link_to(newer)}\n" in message.body
    assert "more than 7 days" in message.body


def test_the_escalation_names_each_client_by_label_with_a_link_and_tells_no_severity(
    client_record: Client, therapist: User, supervisor: User
) -> None:
    """The therapist, the label, the days open (the therapist's follow-up) and the link:
    the story, its scores and the severity are read in Alliance, behind a sign-in."""
    therapist.first_name, therapist.last_name = "Tara", "Quinn"
    therapist.save()
    concern = slid(client_record, opened_at=NOW - dt.timedelta(days=9))
    assert notifications.escalations_send(NOW) == 1
    [message] = mail.outbox
    assert f"- Tara Quinn: R.K., open 9 days\n  {link_to(concern)}\n" in message.body
    assert "open a concern's link in Alliance to read its story" in message.body
    assert_tells_no_clinical_detail(message.subject + message.body, concern)


def test_acknowledged_or_closed_concerns_never_escalate(
    client_record: Client, supervisor: User
) -> None:
    old = dt.timedelta(days=30)
    opened_ago(client_record, old, status=Concern.Status.ACKNOWLEDGED, acknowledged_at=NOW - old)
    opened_ago(client_record, old, status=Concern.Status.RESOLVED, closed_at=NOW, note="Repaired.")
    opened_ago(client_record, old, status=Concern.Status.DISMISSED, closed_at=NOW, note="Noise.")
    assert notifications.escalations_send(NOW) == 0
    assert mail.outbox == []
    assert not Concern.objects.filter(escalated_at__isnull=False).exists()


def test_only_the_therapists_own_supervisors_hear_of_it(
    client_record: Client, colleague_client: Client, colleague: User, supervisor: User
) -> None:
    colleagues_supervisor = SupervisorFactory(clinic=colleague.clinic, email="sam@example.org")
    Supervision.objects.create(supervisor=colleagues_supervisor, therapist=colleague)
    opened_ago(client_record, dt.timedelta(days=8))
    opened_ago(colleague_client, dt.timedelta(days=8))
    assert notifications.escalations_send(NOW) == 2
    [to_sue] = mails_to("sue@example.org")
    assert "R.K." in to_sue.body and "M.P." not in to_sue.body
    [to_sam] = mails_to("sam@example.org")
    assert "M.P." in to_sam.body and "R.K." not in to_sam.body


def test_every_supervisor_of_a_therapist_hears_once_of_all_their_supervisees(
    client_record: Client,
    colleague_client: Client,
    therapist: User,
    colleague: User,
    supervisor: User,
) -> None:
    co_supervisor = SupervisorFactory(clinic=therapist.clinic, email="sam@example.org")
    Supervision.objects.create(supervisor=co_supervisor, therapist=therapist)
    Supervision.objects.create(supervisor=co_supervisor, therapist=colleague)
    taras = opened_ago(client_record, dt.timedelta(days=8))
    colins = opened_ago(colleague_client, dt.timedelta(days=9))
    assert notifications.escalations_send(NOW) == 2
    [to_sue] = mails_to("sue@example.org")
    assert "R.K." in to_sue.body and "M.P." not in to_sue.body
    assert to_sue.body.count(link_to(taras)) == 1
    [to_sam] = mails_to("sam@example.org")
    assert "R.K." in to_sam.body and "M.P." in to_sam.body
    assert to_sam.body.count(link_to(taras)) == 1 and to_sam.body.count(link_to(colins)) == 1
    assert not Concern.objects.filter(escalated_at__isnull=True).exists()


def test_a_second_escalation_run_sends_nothing_new(client_record: Client, supervisor: User) -> None:
    opened_ago(client_record, dt.timedelta(days=8))
    assert notifications.escalations_send(NOW) == 1
    assert notifications.escalations_send(NOW + dt.timedelta(days=1)) == 0
    assert len(mail.outbox) == 1


def test_concerns_of_an_unsupervised_therapist_wait_for_a_supervisor(
    client_record: Client, therapist: User
) -> None:
    concern = opened_ago(client_record, dt.timedelta(days=8))
    assert notifications.escalations_send(NOW) == 0
    concern.refresh_from_db()
    assert concern.escalated_at is None
    supervisor = SupervisorFactory(clinic=therapist.clinic, email="sue@example.org")
    Supervision.objects.create(supervisor=supervisor, therapist=therapist)
    assert notifications.escalations_send(NOW) == 1
    assert mail.outbox[0].to == ["sue@example.org"]


def test_a_supervisor_without_an_email_address_or_account_is_not_written_to(
    client_record: Client, supervisor: User
) -> None:
    supervisor.email = ""
    supervisor.save()
    opened_ago(client_record, dt.timedelta(days=8))
    assert notifications.escalations_send(NOW) == 0
    supervisor.email, supervisor.is_active = "sue@example.org", False
    supervisor.save()
    assert notifications.escalations_send(NOW) == 0
    assert mail.outbox == []
    assert not Concern.objects.filter(escalated_at__isnull=False).exists()


def test_a_failed_escalation_leaves_its_concerns_for_the_next_run(
    client_record: Client, supervisor: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    concern = opened_ago(client_record, dt.timedelta(days=8))
    monkeypatch.setattr(notifications, "send_mail", mail_server_down)  # the edge: delivery
    assert notifications.escalations_send(NOW) == 0
    concern.refresh_from_db()
    assert concern.escalated_at is None
    monkeypatch.undo()
    assert notifications.escalations_send(NOW) == 1


def address_refused(subject: str, body: str, sender: Any, to: list[str]) -> None:
    """The mail server refuses the address, and smtplib's error names it (as servers do)."""
    raise smtplib.SMTPRecipientsRefused({to[0]: (550, f"5.1.1 <{to[0]}>: unknown".encode())})


@pytest.mark.parametrize("job", ["digests_send", "escalations_send"])
def test_a_refused_address_is_logged_by_id_without_the_address(
    client_record: Client,
    therapist: User,
    supervisor: User,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    job: str,
) -> None:
    """The log names the therapist or supervisors by id, with the error's kind: smtplib's
    error (and so a traceback) would put their e-mail address in it."""
    opened_ago(client_record, dt.timedelta(days=8))
    monkeypatch.setattr(notifications, "send_mail", address_refused)  # the edge: delivery
    assert getattr(notifications, job)(NOW) == 0
    reader = therapist if job == "digests_send" else supervisor
    assert f"{reader.pk}" in caplog.text and "SMTPRecipientsRefused" in caplog.text
    assert "example.org" not in caplog.text and "R.K." not in caplog.text


def test_the_escalation_costs_the_same_queries_for_one_concern_or_many(
    therapist: User, supervisor: User
) -> None:
    def queries_for(concern_count: int, now: dt.datetime) -> int:
        for _ in range(concern_count):
            opened_ago(ClientFactory(therapist=therapist), dt.timedelta(days=8))
        with CaptureQueriesContext(connection) as queries:
            assert notifications.escalations_send(now) == 1
        return len(queries)

    assert queries_for(1, NOW) == queries_for(5, NOW)


@pytest.mark.django_db(transaction=True)
def test_escalations_run_at_once_send_each_concern_once(
    postgresql: None, client_record: Client, supervisor: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    concern = opened_ago(client_record, dt.timedelta(days=8))
    real_send_mail = notifications.send_mail

    def slow_send_mail(*args: Any) -> Any:
        time.sleep(0.2)
        return real_send_mail(*args)

    monkeypatch.setattr(notifications, "send_mail", slow_send_mail)
    assert run_at_once(lambda: notifications.escalations_send(NOW), times=4) == []
    [message] = mail.outbox
    assert message.body.count(link_to(concern)) == 1


# --- Wiring ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "task"),
    [
        ("send-concern-digests", tasks.send_concern_digests),
        ("escalate-unacknowledged-concerns", tasks.escalate_unacknowledged_concerns),
    ],
)
def test_beat_runs_both_jobs(entry: str, task: Any) -> None:
    assert settings.CELERY_BEAT_SCHEDULE[entry]["task"] == task.name


def test_the_tasks_send_when_called_directly(client_record: Client, supervisor: User) -> None:
    concern_for(client_record, opened_at=timezone.now() - dt.timedelta(days=8))
    assert tasks.send_concern_digests() == 1
    assert tasks.escalate_unacknowledged_concerns() == 1
    assert [message.to for message in mail.outbox] == [["tara@example.org"], ["sue@example.org"]]


def test_the_links_open_the_review_queue_and_the_concern(
    client_record: Client, supervisor: User
) -> None:
    concern = opened_ago(client_record, dt.timedelta(days=8))
    notifications.digests_send(NOW)
    notifications.escalations_send(NOW)
    assert [resolve(path).url_name for path in ["/review/", f"/concerns/{concern.pk}/"]] == [
        "review-queue",
        "concern-detail",
    ]
    digest, escalation = mail.outbox
    assert f"{BASE}/review/\n" in digest.body
    assert f"{link_to(concern)}\n" in digest.body
    assert f"{link_to(concern)}\n" in escalation.body


@pytest.mark.parametrize("erasing", [False, True], ids=["discharged", "erased"])
def test_no_mail_goes_out_about_a_discharged_or_erased_clients_concern(
    client_record: Client, therapist: User, supervisor: User, clinic_admin: User, erasing: bool
) -> None:
    """No next session to repair it in, and an erased record is closed for good: the
    concern stays in the review queue, unclaimed, and nobody is chased about it."""
    concern = opened_ago(client_record, dt.timedelta(days=10))
    if erasing:
        erased(client_record, by=clinic_admin)
    else:
        Client.objects.filter(pk=client_record.pk).update(status=Client.Status.DISCHARGED)
    assert notifications.digests_send(now=NOW) == 0
    assert notifications.escalations_send(now=NOW) == 0
    assert mail.outbox == []
    concern.refresh_from_db()
    assert (concern.notified_at, concern.escalated_at) == (None, None)
    assert concern.needs_review


# --- A client moved to another therapist ---------------------------------------


def moved(client: Client, *, to: User, by: User) -> dt.datetime:
    """`client` moved by the clinic admin `by` to `to`, now; returns when."""
    client_move(actor=by, client=client, therapist=to, from_therapist_id=client.therapist_id)
    client.refresh_from_db()
    return client.therapist_since


@pytest.fixture
def colleagues_supervisor(colleague: User) -> User:
    sam = SupervisorFactory(clinic=colleague.clinic, email="sam@example.org")
    Supervision.objects.create(supervisor=sam, therapist=colleague)
    return sam


def test_a_concern_the_previous_therapist_was_told_of_is_in_the_new_therapists_digest(
    client_record: Client, therapist: User, colleague: User, clinic_admin: User
) -> None:
    now = timezone.now()
    concern = concern_for(client_record, opened_at=now - dt.timedelta(days=3))
    closed = concern_for(
        client_record,
        opened_at=now - dt.timedelta(days=20),
        status=Concern.Status.DISMISSED,
        closed_at=now - dt.timedelta(days=10),
        note="Noise.",
    )
    assert notifications.digests_send(now - dt.timedelta(days=2)) == 1  # to Tara
    moved_at = moved(client_record, to=colleague, by=clinic_admin)
    assert notifications.digests_send(moved_at + dt.timedelta(hours=1)) == 1
    [to_tara, to_colin] = mail.outbox
    assert (to_tara.to, to_colin.to) == (["tara@example.org"], ["colin@example.org"])
    assert f"- R.K. (moved to you with the client)\n  {link_to(concern)}\n" in to_colin.body
    assert link_to(closed) not in to_colin.body
    # Told once: the next morning sends nothing.
    assert notifications.digests_send(moved_at + dt.timedelta(days=1)) == 0
    concern.refresh_from_db()
    assert concern.notified_at == moved_at + dt.timedelta(hours=1)


def test_a_concern_left_unacknowledged_before_a_move_escalates_a_week_after_the_move(
    client_record: Client,
    therapist: User,
    colleague: User,
    supervisor: User,
    colleagues_supervisor: User,
    clinic_admin: User,
) -> None:
    """Six days unacknowledged with Tara: Colin, receiving it, has his own week before his
    supervisor hears of it, and Tara's never does (the client is no longer hers)."""
    now = timezone.now()
    concern = concern_for(client_record, opened_at=now - dt.timedelta(days=6))
    moved_at = moved(client_record, to=colleague, by=clinic_admin)
    assert notifications.escalations_send(moved_at + dt.timedelta(days=1)) == 0
    assert notifications.escalations_send(moved_at + dt.timedelta(days=7)) == 0
    later = moved_at + dt.timedelta(days=7, minutes=1)
    assert notifications.escalations_send(later) == 1
    [message] = mail.outbox
    assert message.to == ["sam@example.org"]
    assert "R.K., open 13 days, 7 since the client moved to them\n" in message.body
    concern.refresh_from_db()
    assert concern.escalated_at == later


def test_a_concern_escalated_before_a_move_may_go_once_to_the_new_therapists_supervisors(
    client_record: Client,
    therapist: User,
    colleague: User,
    supervisor: User,
    colleagues_supervisor: User,
    clinic_admin: User,
) -> None:
    now = timezone.now()
    concern_for(client_record, opened_at=now - dt.timedelta(days=10))
    assert notifications.escalations_send(now - dt.timedelta(days=1)) == 1  # to Sue
    moved_at = moved(client_record, to=colleague, by=clinic_admin)
    assert notifications.escalations_send(moved_at + dt.timedelta(days=3)) == 0
    assert notifications.escalations_send(moved_at + dt.timedelta(days=8)) == 1
    assert notifications.escalations_send(moved_at + dt.timedelta(days=9)) == 0
    assert [message.to for message in mail.outbox] == [["sue@example.org"], ["sam@example.org"]]


def test_the_dashboards_stale_count_starts_again_with_the_new_therapist(
    client_record: Client, colleague: User, clinic_admin: User
) -> None:
    """The dashboard's "Unacknowledged > 7 days" and escalation read the same rule."""
    now = timezone.now()
    concern = concern_for(client_record, opened_at=now - dt.timedelta(days=10))
    stale = Concern.objects.filter(Concern.left_unacknowledged(now - dt.timedelta(days=7)))
    assert list(stale) == [concern]
    moved(client_record, to=colleague, by=clinic_admin)
    assert list(stale.all()) == []


def test_a_client_moved_while_the_digests_are_sent_is_left_for_the_new_therapist(
    client_record: Client, therapist: User, colleague: User, clinic_admin: User
) -> None:
    """Tara's digest read the concern as hers; the client moved before it was claimed."""
    concern = concern_for(client_record, opened_at=timezone.now() - dt.timedelta(days=1))
    read_as_taras = list(Concern.objects.select_related("client__therapist"))
    moved_at = moved(client_record, to=colleague, by=clinic_admin)
    later = moved_at + dt.timedelta(minutes=1)
    assert not notifications.digest_send(therapist=therapist, concerns=read_as_taras, now=later)
    assert notifications.digests_send(later) == 1
    [message] = mail.outbox
    assert message.to == ["colin@example.org"] and link_to(concern) in message.body


def test_a_client_moved_while_the_escalations_are_sent_is_left_for_the_new_team(
    client_record: Client,
    therapist: User,
    colleague: User,
    supervisor: User,
    colleagues_supervisor: User,
    clinic_admin: User,
) -> None:
    concern = concern_for(client_record, opened_at=timezone.now() - dt.timedelta(days=9))
    read_as_taras = list(Concern.objects.select_related("client__therapist"))
    moved_at = moved(client_record, to=colleague, by=clinic_admin)
    team = {supervisor: {therapist.pk}}
    later = moved_at + dt.timedelta(minutes=1)
    assert notifications.escalation_send(team=team, concerns=read_as_taras, now=later) == 0
    concern.refresh_from_db()
    assert concern.escalated_at is None and mail.outbox == []


# --- A client re-opened after a discharge -----------------------------------------------


def reopened(client: Client, *, by: User) -> dt.datetime:
    """`client` discharged by `by` and re-opened, now; returns when they were re-opened."""
    client_discharge(actor=by, client=client)
    client_reopen(actor=by, client=Client.objects.get(pk=client.pk))
    client.refresh_from_db()
    return client.reopened_at


def test_a_concern_still_open_when_the_client_is_reopened_is_in_the_next_digest_again(
    client_record: Client, therapist: User
) -> None:
    """Nobody was chased about it while they were discharged, months perhaps: back in
    therapy, their therapist is reminded of it."""
    now = timezone.now()
    concern = concern_for(client_record, opened_at=now - dt.timedelta(days=40))
    closed = concern_for(
        client_record,
        opened_at=now - dt.timedelta(days=60),
        status=Concern.Status.DISMISSED,
        closed_at=now - dt.timedelta(days=50),
        note="Noise.",
    )
    assert notifications.digests_send(now - dt.timedelta(days=39)) == 1
    reopened_at = reopened(client_record, by=therapist)
    assert notifications.digests_send(reopened_at + dt.timedelta(hours=1)) == 1
    message = mail.outbox[-1]
    assert f"- R.K. (still open from before the discharge)\n  {link_to(concern)}\n" in message.body
    assert link_to(closed) not in message.body
    assert notifications.digests_send(reopened_at + dt.timedelta(days=1)) == 0


def test_a_reopened_clients_concern_escalates_only_a_week_after_the_reopening(
    client_record: Client, therapist: User, supervisor: User
) -> None:
    """Time discharged is not time left unacknowledged: escalated the morning after the
    re-opening, the therapist had not even had the digest reminding them of it. One
    escalated before the discharge may go to the supervisors once again."""
    now = timezone.now()
    concern_for(client_record, opened_at=now - dt.timedelta(days=40))
    assert notifications.escalations_send(now - dt.timedelta(days=30)) == 1
    reopened_at = reopened(client_record, by=therapist)
    assert notifications.escalations_send(reopened_at + dt.timedelta(days=1)) == 0
    assert notifications.escalations_send(reopened_at + dt.timedelta(days=7)) == 0
    assert notifications.escalations_send(reopened_at + dt.timedelta(days=7, minutes=1)) == 1
    assert "open 47 days, 7 since the client was re-opened\n" in mail.outbox[-1].body
    assert len(mail.outbox) == 2


def test_the_dashboards_stale_count_starts_again_when_the_client_is_reopened(
    client_record: Client, therapist: User
) -> None:
    now = timezone.now()
    concern = concern_for(client_record, opened_at=now - dt.timedelta(days=10))
    stale = Concern.objects.filter(Concern.left_unacknowledged(now - dt.timedelta(days=7)))
    assert list(stale) == [concern]
    reopened(client_record, by=therapist)
    assert list(stale.all()) == []
