"""The session form under hostile input: logging and editing a session. Never a server
error; a refused form stores nothing; what is stored was typed in the digits 0–9 and
falls within the session dates; the notes come back escaped."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from alliance.fields import has_other_digits
from alliance.tests.hostile import (
    DATETIME_CASES,
    ENCODINGS,
    NUMBER_CASES,
    TEXT_CASES,
    HostileInputTestCase,
    assert_shown_escaped,
    get,
    hostile_choice,
    hostile_datetime,
    hostile_number,
    hostile_text,
    last,
    local_minute,
    post,
    recent_moment,
    row_counts,
    stored_whole_or_not_at_all,
    submission,
    welcome_text,
    with_examples,
)
from clients.models import Supervision
from clients.tests.factories import (
    ClientFactory,
    ClinicFactory,
    SupervisorFactory,
    TherapistFactory,
)
from sessions.dates import session_date_bounds
from sessions.models import Session
from sessions.tests.factories import SessionFactory

ATTENDANCES = [value for value, _label in Session.Attendance.choices]
MODALITIES = [value for value, _label in Session.Modality.choices]
SESSION_FIELDS = {
    "starts_at": recent_moment().map(local_minute),
    "duration_minutes": st.integers(1, 600).map(str),
    "attendance": st.sampled_from(ATTENDANCES),
    "modality": st.sampled_from(MODALITIES),
    # Notes are a textarea: line breaks are welcome, and kept.
    "notes": st.one_of(welcome_text(max_size=200), st.just("First line.\r\nSecond <b>line</b>.")),
}
VALID_SESSION = {
    "starts_at": local_minute(timezone.localtime() - dt.timedelta(hours=3)),
    "duration_minutes": "50",
    "attendance": "attended",
    "modality": "in_person",
    "notes": "",
}
SESSION_CASES = {
    "starts_at": DATETIME_CASES,
    "duration_minutes": [*NUMBER_CASES, "٥٠", "601"],
    "attendance": ["ATTENDED", "attended\x00", None],
    "modality": ["video ", None],
    "notes": TEXT_CASES,
}
# Editing shares the form and the checks: the cases that reach the service are enough.
EDIT_CASES = {
    "starts_at": ["1900-01-01T10:00", "٢٠٢٥-٠٣-٠١T١٠:٠٠", "9999-12-31T23:59"],
    "duration_minutes": ["٥٠", "601"],
    "notes": ["<script>alert(1)</script>", "a\x00b", None],
}
HOSTILE_SESSION_FIELDS = {
    "starts_at": hostile_datetime(),
    "duration_minutes": hostile_number(-5, 700),
    "attendance": hostile_choice(ATTENDANCES),
    "modality": hostile_choice(MODALITIES),
    "notes": hostile_text(300),
}


class SessionFormTestCase(HostileInputTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.clinic = ClinicFactory(name="Riverside", slug="riverside")
        cls.tara = TherapistFactory(clinic=cls.clinic, username="tara")
        cls.sue = SupervisorFactory(clinic=cls.clinic, username="sue")
        Supervision.objects.create(supervisor=cls.sue, therapist=cls.tara)
        cls.otto = TherapistFactory(clinic=ClinicFactory(slug="hillside"), username="otto")
        cls.record = ClientFactory(therapist=cls.tara, label="R.K.")
        cls.session = SessionFactory(client=cls.record, notes="Talked about the move.")

    def assert_stored_as_typed(self, session: Session, data: dict[str, Any]) -> None:
        """What was stored was typed in 0–9, falls within the bounds, and reads back."""
        typed_start, typed_duration = last(data["starts_at"]), last(data["duration_minutes"])
        assert not has_other_digits(typed_start) and not has_other_digits(typed_duration)
        assert session.duration_minutes == int(typed_duration.strip().removesuffix(".0"))
        bounds = session_date_bounds()
        day = timezone.localtime(session.starts_at).date()
        assert bounds.earliest <= day <= bounds.latest
        assert session.starts_at <= timezone.now() + dt.timedelta(days=1)
        page = get(self.client, reverse("reports:session-detail", args=[session.pk]))
        assert_shown_escaped(page.content.decode(), session.notes, linebreaks=True)

    @given(
        data=submission(SESSION_FIELDS, HOSTILE_SESSION_FIELDS),
        encoding=st.sampled_from(ENCODINGS),
    )
    @with_examples(VALID_SESSION, SESSION_CASES, encoding="urlencoded")
    def test_logging_a_session_stores_all_of_it_or_nothing(
        self, data: dict[str, Any], encoding: str
    ) -> None:
        self.client.force_login(self.tara)
        url = reverse("sessions:session-log", args=[self.record.pk])
        adds = {"therapy_sessions.Session": 1}
        if not stored_whole_or_not_at_all(self.client, url, data, encoding, adds=adds):
            return
        session = Session.objects.latest("pk")
        assert (session.client, session.therapist, session.number) == (self.record, self.tara, 2)
        self.assert_stored_as_typed(session, data)

    @given(data=submission(SESSION_FIELDS, HOSTILE_SESSION_FIELDS))
    @with_examples(VALID_SESSION, EDIT_CASES)
    def test_editing_a_session_changes_all_of_it_or_nothing(self, data: dict[str, Any]) -> None:
        self.client.force_login(self.tara)
        before = row_counts()
        stored = Session.objects.filter(pk=self.session.pk).values().get()
        response = post(self.client, reverse("sessions:session-edit", args=[self.session.pk]), data)
        after = row_counts()
        # An edit that changes something keeps one revision of what it replaced.
        revisions = "therapy_sessions.SessionRevision"
        added = after.pop(revisions) - before.pop(revisions)
        assert after == before
        if response.status_code != 302:
            assert added == 0
            assert Session.objects.filter(pk=self.session.pk).values().get() == stored
            return
        changed = Session.objects.filter(pk=self.session.pk).values().get() != stored
        assert added == int(changed)
        session = Session.objects.get(pk=self.session.pk)
        assert (session.client, session.therapist, session.number) == (self.record, self.tara, 1)
        self.assert_stored_as_typed(session, data)

    @given(
        data=submission(SESSION_FIELDS, HOSTILE_SESSION_FIELDS),
        who=st.sampled_from(["sue", "otto"]),
    )
    def test_others_log_and_change_nothing_whatever_they_send(
        self, data: dict[str, Any], who: str
    ) -> None:
        self.client.force_login(getattr(self, who))
        before = row_counts()
        stored = Session.objects.filter(pk=self.session.pk).values().get()
        for url in (
            reverse("sessions:session-log", args=[self.record.pk]),
            reverse("sessions:session-edit", args=[self.session.pk]),
            reverse("sessions:session-void", args=[self.session.pk]),
        ):
            assert post(self.client, url, data).status_code in {400, 403, 404, 413}
        assert row_counts() == before
        assert Session.objects.filter(pk=self.session.pk).values().get() == stored
