"""E-mails about flags: the therapist's daily digest and the escalation to supervisors."""

from __future__ import annotations

import datetime as dt
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
from clients.tests.factories import ClientFactory, SupervisorFactory
from measures import notifications, tasks
from measures.models import Flag
from measures.tests.factories import FlagFactory, RatingFactory
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2025, 3, 10, 7, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def base_url(settings: Any) -> None:
    settings.ALLIANCE_BASE_URL = "https://alliance.example.org/"
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


def flag_for(client: Client, **fields: Any) -> Flag:
    return FlagFactory(session=SessionFactory(client=client), **fields)


def raised_ago(client: Client, age: dt.timedelta, **fields: Any) -> Flag:
    return flag_for(client, created_at=NOW - age, **fields)


def mails_to(address: str) -> list[mail.EmailMessage]:
    return [message for message in mail.outbox if message.to == [address]]


def mail_server_down(*args: Any, **kwargs: Any) -> None:
    raise ConnectionRefusedError("SMTP down")


# --- The digest --------------------------------------------------------------


def test_each_therapist_gets_one_digest_with_their_own_flags_only(
    client_record: Client, colleague_client: Client, therapist: User, colleague: User
) -> None:
    low = flag_for(client_record)
    high = flag_for(client_record, rule=Flag.Rule.RELIABLE_DROP, severity=Flag.Severity.HIGH)
    flag_for(colleague_client)
    assert notifications.digests_send(NOW) == 2
    [digest] = mails_to("tara@example.org")
    assert digest.subject == "Alliance: 2 new flags to review"
    assert "R.K." in digest.body and "M.P." not in digest.body
    assert "Below the cut-off (low severity)" in digest.body
    assert "Reliable drop (high severity)" in digest.body
    assert f"session {low.session.number}:" in digest.body
    assert f"session {high.session.number}:" in digest.body
    assert low.description in digest.body
    assert "https://alliance.example.org/review/" in digest.body
    [other] = mails_to("colin@example.org")
    assert other.subject == "Alliance: 1 new flag to review"
    assert "M.P." in other.body and "R.K." not in other.body
    assert not Flag.objects.filter(notified_at__isnull=True).exists()
    assert set(Flag.objects.values_list("notified_at", flat=True)) == {NOW}


def test_no_digest_without_new_flags(client_record: Client, therapist: User) -> None:
    assert notifications.digests_send(NOW) == 0
    flag_for(client_record, notified_at=NOW - dt.timedelta(days=1))
    assert notifications.digests_send(NOW) == 0
    assert mail.outbox == []


def test_a_second_run_sends_nothing_new(client_record: Client, therapist: User) -> None:
    flag_for(client_record)
    assert notifications.digests_send(NOW) == 1
    assert notifications.digests_send(NOW + dt.timedelta(hours=1)) == 0
    assert len(mail.outbox) == 1


def test_a_flag_raised_after_a_digest_is_in_the_next_one_only(
    client_record: Client, therapist: User
) -> None:
    first = flag_for(client_record)
    notifications.digests_send(NOW)
    later = flag_for(client_record, rule=Flag.Rule.DECLINING_TREND, severity=Flag.Severity.MEDIUM)
    assert notifications.digests_send(NOW + dt.timedelta(days=1)) == 1
    _, second_digest = mail.outbox
    assert second_digest.subject == "Alliance: 1 new flag to review"
    assert f"session {later.session.number}:" in second_digest.body
    assert f"session {first.session.number}:" not in second_digest.body


def test_a_failed_digest_leaves_its_flags_for_the_next_run(
    client_record: Client,
    colleague_client: Client,
    therapist: User,
    colleague: User,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    flag_for(client_record)
    flag_for(colleague_client)
    real_send_mail = notifications.send_mail

    def tara_unreachable(subject: str, body: str, sender: Any, to: list[str]) -> Any:
        if to == ["tara@example.org"]:
            mail_server_down()
        return real_send_mail(subject, body, sender, to)

    monkeypatch.setattr(notifications, "send_mail", tara_unreachable)  # the edge: delivery
    assert notifications.digests_send(NOW) == 1  # one failing mailbox holds up no one else
    assert Flag.objects.get(client=client_record).notified_at is None
    assert Flag.objects.get(client=colleague_client).notified_at == NOW
    assert "R.K." not in caplog.text and "M.P." not in caplog.text
    monkeypatch.undo()
    assert notifications.digests_send(NOW + dt.timedelta(days=1)) == 1
    [digest] = mails_to("tara@example.org")
    assert "R.K." in digest.body
    assert len(mails_to("colin@example.org")) == 1


def test_the_digest_names_the_client_by_label_and_nothing_else(
    client_record: Client, therapist: User
) -> None:
    client_record.email = "private.person@example.org"
    client_record.external_id = "MRN-99417"
    client_record.save()
    flag = flag_for(client_record)
    flag.session.notes = "Talked about the divorce."
    flag.session.save()
    RatingFactory(session=flag.session, comment="I felt judged about my drinking.")
    notifications.digests_send(NOW)
    [digest] = mail.outbox
    text = digest.subject + digest.body
    assert "R.K." in text
    for secret in ["private.person", "MRN-99417", "divorce", "drinking"]:
        assert secret not in text


def test_the_digest_is_plain_text_not_html_escaped(therapist: User) -> None:
    client = ClientFactory(therapist=therapist, label="O'N & J")
    flag_for(client)
    notifications.digests_send(NOW)
    assert "O'N & J" in mail.outbox[0].body


def test_a_therapist_without_an_email_address_or_account_is_skipped_and_their_flags_wait(
    client_record: Client, colleague_client: Client, therapist: User, colleague: User
) -> None:
    therapist.email = ""
    therapist.save()
    colleague.is_active = False
    colleague.save()
    flag_for(client_record)
    flag_for(colleague_client)
    assert notifications.digests_send(NOW) == 0
    assert mail.outbox == []
    assert Flag.objects.filter(notified_at__isnull=True).count() == 2
    therapist.email = "tara@example.org"
    therapist.save()
    assert notifications.digests_send(NOW) == 1


def test_flags_closed_before_the_digest_are_marked_but_not_listed(
    client_record: Client, therapist: User
) -> None:
    resolved = flag_for(client_record, status="resolved", resolved_at=NOW, note="We talked.")
    dismissed = flag_for(client_record, status="dismissed", dismissed_at=NOW, note="Noise.")
    assert notifications.digests_send(NOW) == 0  # nothing left worth a mail
    assert mail.outbox == []
    acknowledged = flag_for(client_record, status="acknowledged", acknowledged_at=NOW)
    open_flag = flag_for(client_record)
    assert notifications.digests_send(NOW) == 1
    [digest] = mail.outbox
    assert digest.subject == "Alliance: 2 new flags to review"
    for flag in [acknowledged, open_flag]:
        assert f"session {flag.session.number}:" in digest.body
    for flag in [resolved, dismissed]:
        assert f"session {flag.session.number}:" not in digest.body
        flag.refresh_from_db()
        assert flag.notified_at == NOW


def test_a_clients_flags_go_to_their_current_therapist(
    client_record: Client, therapist: User, colleague: User
) -> None:
    flag_for(client_record)
    client_record.therapist = colleague
    client_record.save()
    notifications.digests_send(NOW)
    assert len(mails_to("colin@example.org")) == 1
    assert mails_to("tara@example.org") == []


def test_the_digest_costs_the_same_queries_for_one_flag_or_many(
    client_record: Client, therapist: User
) -> None:
    def queries_for(flag_count: int, now: dt.datetime) -> int:
        for _ in range(flag_count):
            flag_for(client_record)
        with CaptureQueriesContext(connection) as queries:
            assert notifications.digests_send(now) == 1
        return len(queries)

    assert queries_for(1, NOW) == queries_for(5, NOW + dt.timedelta(days=1))


@pytest.mark.django_db(transaction=True)
def test_digests_run_at_once_send_each_flag_once(
    postgresql: None, client_record: Client, therapist: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    flags = [flag_for(client_record) for _ in range(3)]
    real_send_mail = notifications.send_mail

    def slow_send_mail(*args: Any) -> Any:
        time.sleep(0.2)  # a slow SMTP server keeps the claim open while the others run
        return real_send_mail(*args)

    monkeypatch.setattr(notifications, "send_mail", slow_send_mail)
    assert run_at_once(notifications.digests_send, times=4) == []
    [digest] = mail.outbox
    for flag in flags:
        assert digest.body.count(f"session {flag.session.number}:") == 1


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
def test_an_open_flag_escalates_after_seven_days(
    client_record: Client, supervisor: User, age: dt.timedelta, escalated: bool
) -> None:
    flag = raised_ago(client_record, age)
    assert notifications.escalations_send(NOW) == int(escalated)
    flag.refresh_from_db()
    assert (flag.escalated_at == NOW) is escalated


def test_the_escalation_lists_the_flags_with_a_link_to_each(
    client_record: Client, therapist: User, supervisor: User
) -> None:
    therapist.first_name, therapist.last_name = "Tara", "Quinn"
    therapist.save()
    old = raised_ago(client_record, dt.timedelta(days=12), severity=Flag.Severity.MEDIUM)
    newer = raised_ago(client_record, dt.timedelta(days=8), rule=Flag.Rule.RUPTURE_UNRESOLVED)
    assert notifications.escalations_send(NOW) == 1
    [message] = mail.outbox
    assert message.to == ["sue@example.org"]
    assert message.subject == "Alliance: 2 flags left unacknowledged in your team"
    assert "Tara Quinn: R.K., Below the cut-off (medium severity), open 12 days" in message.body
    assert "Rupture not talked through (low severity), open 8 days" in message.body
    assert f"https://alliance.example.org/flags/{old.pk}/" in message.body
    assert f"https://alliance.example.org/flags/{newer.pk}/" in message.body
    assert "more than 7 days" in message.body


def test_acknowledged_or_closed_flags_never_escalate(
    client_record: Client, supervisor: User
) -> None:
    old = dt.timedelta(days=30)
    raised_ago(client_record, old, status="acknowledged", acknowledged_at=NOW - old)
    raised_ago(client_record, old, status="resolved", resolved_at=NOW, note="Repaired.")
    raised_ago(client_record, old, status="dismissed", dismissed_at=NOW, note="Noise.")
    assert notifications.escalations_send(NOW) == 0
    assert mail.outbox == []
    assert not Flag.objects.filter(escalated_at__isnull=False).exists()


def test_only_the_therapists_own_supervisors_hear_of_it(
    client_record: Client, colleague_client: Client, colleague: User, supervisor: User
) -> None:
    colleagues_supervisor = SupervisorFactory(clinic=colleague.clinic, email="sam@example.org")
    Supervision.objects.create(supervisor=colleagues_supervisor, therapist=colleague)
    raised_ago(client_record, dt.timedelta(days=8))
    raised_ago(colleague_client, dt.timedelta(days=8))
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
    raised_ago(client_record, dt.timedelta(days=8))
    raised_ago(colleague_client, dt.timedelta(days=9))
    assert notifications.escalations_send(NOW) == 2
    [to_sue] = mails_to("sue@example.org")
    assert "R.K." in to_sue.body and "M.P." not in to_sue.body
    [to_sam] = mails_to("sam@example.org")
    assert "R.K." in to_sam.body and "M.P." in to_sam.body
    assert not Flag.objects.filter(escalated_at__isnull=True).exists()


def test_a_second_escalation_run_sends_nothing_new(client_record: Client, supervisor: User) -> None:
    raised_ago(client_record, dt.timedelta(days=8))
    assert notifications.escalations_send(NOW) == 1
    assert notifications.escalations_send(NOW + dt.timedelta(days=1)) == 0
    assert len(mail.outbox) == 1


def test_flags_of_an_unsupervised_therapist_wait_for_a_supervisor(
    client_record: Client, therapist: User
) -> None:
    flag = raised_ago(client_record, dt.timedelta(days=8))
    assert notifications.escalations_send(NOW) == 0
    flag.refresh_from_db()
    assert flag.escalated_at is None
    supervisor = SupervisorFactory(clinic=therapist.clinic, email="sue@example.org")
    Supervision.objects.create(supervisor=supervisor, therapist=therapist)
    assert notifications.escalations_send(NOW) == 1
    assert mail.outbox[0].to == ["sue@example.org"]


def test_a_supervisor_without_an_email_address_or_account_is_not_written_to(
    client_record: Client, supervisor: User
) -> None:
    supervisor.email = ""
    supervisor.save()
    raised_ago(client_record, dt.timedelta(days=8))
    assert notifications.escalations_send(NOW) == 0
    supervisor.email, supervisor.is_active = "sue@example.org", False
    supervisor.save()
    assert notifications.escalations_send(NOW) == 0
    assert not Flag.objects.filter(escalated_at__isnull=False).exists()


def test_a_failed_escalation_leaves_its_flags_for_the_next_run(
    client_record: Client, supervisor: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    flag = raised_ago(client_record, dt.timedelta(days=8))
    monkeypatch.setattr(notifications, "send_mail", mail_server_down)  # the edge: delivery
    assert notifications.escalations_send(NOW) == 0
    flag.refresh_from_db()
    assert flag.escalated_at is None
    monkeypatch.undo()
    assert notifications.escalations_send(NOW) == 1


def test_the_escalation_costs_the_same_queries_for_one_flag_or_many(
    client_record: Client, supervisor: User
) -> None:
    def queries_for(flag_count: int, now: dt.datetime) -> int:
        for _ in range(flag_count):
            raised_ago(client_record, dt.timedelta(days=8))
        with CaptureQueriesContext(connection) as queries:
            assert notifications.escalations_send(now) == 1
        return len(queries)

    assert queries_for(1, NOW) == queries_for(5, NOW)


@pytest.mark.django_db(transaction=True)
def test_escalations_run_at_once_send_each_flag_once(
    postgresql: None, client_record: Client, supervisor: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    flag = raised_ago(client_record, dt.timedelta(days=8))
    real_send_mail = notifications.send_mail

    def slow_send_mail(*args: Any) -> Any:
        time.sleep(0.2)
        return real_send_mail(*args)

    monkeypatch.setattr(notifications, "send_mail", slow_send_mail)
    assert run_at_once(lambda: notifications.escalations_send(NOW), times=4) == []
    [message] = mail.outbox
    assert message.body.count(f"/flags/{flag.pk}/") == 1


# --- Wiring ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "task"),
    [
        ("send-flag-digests", tasks.send_flag_digests),
        ("escalate-unacknowledged-flags", tasks.escalate_unacknowledged_flags),
    ],
)
def test_beat_runs_both_jobs(entry: str, task: Any) -> None:
    assert settings.CELERY_BEAT_SCHEDULE[entry]["task"] == task.name


def test_the_tasks_send_when_called_directly(client_record: Client, supervisor: User) -> None:
    flag_for(client_record, created_at=timezone.now() - dt.timedelta(days=8))
    assert tasks.send_flag_digests() == 1
    assert tasks.escalate_unacknowledged_flags() == 1
    assert [message.to for message in mail.outbox] == [["tara@example.org"], ["sue@example.org"]]


def test_the_links_open_the_review_queue_and_the_flag(
    client_record: Client, supervisor: User
) -> None:
    flag = raised_ago(client_record, dt.timedelta(days=8))
    notifications.digests_send(NOW)
    notifications.escalations_send(NOW)
    assert [resolve(path).url_name for path in ["/review/", f"/flags/{flag.pk}/"]] == [
        "review-queue",
        "flag-detail",
    ]
    digest, escalation = mail.outbox
    assert "https://alliance.example.org/review/\n" in digest.body
    assert f"https://alliance.example.org/flags/{flag.pk}/\n" in escalation.body
