"""The rating and review forms under hostile input: the therapist's rating, the client's
rating link (its form, its token, its language), the review notes and the rating link's
e-mail. Never a server error; a refused form stores nothing; a stored comment or note
comes back escaped on the page that shows it."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from alliance.fields import has_other_digits
from alliance.tests.hostile import (
    ENCODINGS,
    NUMBER_CASES,
    TEXT_CASES,
    HostileInputTestCase,
    added_rows,
    assert_no_server_error,
    assert_shown_escaped,
    get,
    hostile_choice,
    hostile_number,
    hostile_text,
    last,
    post,
    row_counts,
    stored_whole_or_not_at_all,
    submission,
    welcome_text,
    with_examples,
)
from clients.models import Client, Supervision
from clients.tests.factories import (
    ClientFactory,
    ClinicFactory,
    SupervisorFactory,
    TherapistFactory,
)
from measures.models import Concern, ConcernEvent, Rating
from measures.scoring import DIMENSIONS
from measures.tests.factories import concern_with_signal
from sessions.invitations import TOKEN_ALPHABET, TOKEN_MAX_LENGTH, invitation_create
from sessions.tests.factories import SessionFactory

SCORES = [str(score) for score in range(11)]
RUPTURES = [value for value, _label in Rating.Rupture.choices]
RESOLUTIONS = [value for value, _label in Rating.RuptureResolved.choices]
LANGUAGES = [value for value, _label in Client.Language.choices]

RATING_FIELDS = {
    **{name: st.sampled_from(SCORES) for name in DIMENSIONS},
    "rupture": st.sampled_from(RUPTURES),
    "rupture_resolved": st.sampled_from(RESOLUTIONS),
    "comment": welcome_text(max_size=300),
}
HOSTILE_RATING_FIELDS = {
    **{name: hostile_number(-2, 12) for name in DIMENSIONS},
    "rupture": hostile_choice(RUPTURES),
    "rupture_resolved": hostile_choice(RESOLUTIONS),
    "comment": hostile_text(2100),
}
VALID_RATING = {
    **dict.fromkeys(DIMENSIONS, "7"),
    "rupture": "a_little",
    "rupture_resolved": "partly",
    "comment": "",
}
RATING_CASES = {
    DIMENSIONS[0]: NUMBER_CASES,
    DIMENSIONS[-1]: ["١٠", "10.0", "010", " 7", "7\x00"],
    "rupture": ["NONE", "a_lot\x00", None],
    "rupture_resolved": ["", "fully ", None],
    "comment": [*TEXT_CASES, "x" * 2001],
}
NOTE_FIELDS = ["note", "reason"]


class RatingFormsTestCase(HostileInputTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.clinic = ClinicFactory(name="Riverside", slug="riverside")
        cls.tara = TherapistFactory(clinic=cls.clinic, username="tara")
        cls.sue = SupervisorFactory(clinic=cls.clinic, username="sue")
        Supervision.objects.create(supervisor=cls.sue, therapist=cls.tara)
        cls.otto = TherapistFactory(clinic=ClinicFactory(slug="hillside"), username="otto")
        cls.record = ClientFactory(therapist=cls.tara, label="R.K.", email="rk@example.com")
        cls.session = SessionFactory(client=cls.record)

    def assert_rating_is_shown(self, rating: Rating, data: dict[str, Any]) -> None:
        """Stored scores were typed in 0–9; the comment is escaped on the session page."""
        for name in DIMENSIONS:
            assert not has_other_digits(last(data[name]))
            assert str(getattr(rating, name)) == last(data[name]).strip()
        self.client.force_login(self.tara)
        page = get(self.client, reverse("reports:session-detail", args=[self.session.pk]))
        assert_shown_escaped(page.content.decode(), rating.comment)

    @given(
        data=submission(RATING_FIELDS, HOSTILE_RATING_FIELDS),
        encoding=st.sampled_from(ENCODINGS),
    )
    @with_examples(VALID_RATING, RATING_CASES, encoding="urlencoded")
    def test_the_therapists_rating_stores_all_of_it_or_nothing(
        self, data: dict[str, Any], encoding: str
    ) -> None:
        self.client.force_login(self.tara)
        url = reverse("measures:therapist-rating", args=[self.session.pk])
        if not stored_whole_or_not_at_all(
            self.client, url, data, encoding, adds={"measures.Rating": 1}
        ):
            return
        rating = Rating.objects.get(session=self.session, rater=Rating.Rater.THERAPIST)
        assert rating.submitted_by == self.tara
        self.assert_rating_is_shown(rating, data)

    @given(
        data=submission(
            {**RATING_FIELDS, "lang": st.sampled_from(LANGUAGES)},
            {**HOSTILE_RATING_FIELDS, "lang": hostile_choice(LANGUAGES)},
        ),
        query_lang=st.one_of(st.none(), hostile_choice(LANGUAGES)),
        encoding=st.sampled_from(ENCODINGS),
    )
    @with_examples(
        {**VALID_RATING, "notice_version": "1"},
        {
            **RATING_CASES,
            "lang": ["fr", "ES", "es\x00", "<script>", ["es", "xx"]],
            "notice_version": ["0", "2", "١", "1\x00", "-1", None],
        },
        query_lang=None,
        encoding="urlencoded",
    )
    def test_the_clients_rating_stores_all_of_it_or_nothing(
        self, data: dict[str, Any], query_lang: str | None, encoding: str
    ) -> None:
        invitation, token = invitation_create(session=self.session)
        url = reverse("measures:client-rating", args=[token])
        if query_lang is not None:
            url += f"?lang={quote(query_lang)}"
        form = get(self.client, url)
        assert form.status_code in {200, 400}
        before = row_counts()
        response = post(self.client, url, data, encoding)
        invitation.refresh_from_db()
        if response.status_code != 302:
            assert row_counts() == before
            assert invitation.used_at is None
            return
        assert added_rows(before) == {"measures.Rating": 1}
        thanks_url = reverse("measures:client-rating-thanks", args=[token])
        assert response["Location"].startswith(thanks_url)
        assert get(self.client, response["Location"]).status_code == 200
        rating = Rating.objects.get(session=self.session, rater=Rating.Rater.CLIENT)
        assert (rating.submitted_by, invitation.used_at) == (None, rating.submitted_at)
        self.assert_rating_is_shown(rating, data)

    @given(
        token=st.one_of(
            st.text(st.sampled_from(sorted(TOKEN_ALPHABET)), max_size=TOKEN_MAX_LENGTH + 5),
            hostile_text(100),
        ),
        method=st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"]),
        lang=st.one_of(st.none(), hostile_choice(LANGUAGES)),
    )
    def test_any_rating_link_is_a_calm_page(
        self, token: str, method: str, lang: str | None
    ) -> None:
        """Unknown, malformed or hostile tokens: the same calm page (or a refusal)."""
        invitation_create(session=self.session)
        path = f"/r/{quote(token, safe='')}/"
        if lang is not None:
            path += f"?{urlencode({'lang': lang})}"
        assert_no_server_error(self.client.generic(method, path))
        assert not Rating.objects.exists()

    @given(lang=hostile_choice(LANGUAGES))
    def test_the_thanks_page_takes_any_language(self, lang: str) -> None:
        _invitation, token = invitation_create(session=self.session)
        for url in (
            reverse("measures:client-rating-thanks", args=[token]),
            reverse("measures:client-rating-thanks-plain"),
        ):
            response = get(self.client, url, {"lang": lang})
            assert response.status_code in {200, 400}

    @given(
        token=st.one_of(st.just("the link"), hostile_text(100)),
        who=st.sampled_from(["tara", "sue", "otto"]),
    )
    def test_e_mailing_a_rating_link_takes_only_a_live_token(self, token: str, who: str) -> None:
        _invitation, raw = invitation_create(session=self.session)
        self.client.force_login(getattr(self, who))
        before = row_counts()
        url = reverse("measures:invitation-email", args=[self.session.pk])
        response = post(self.client, url, {"token": raw if token == "the link" else token})
        if who != "tara":
            assert response.status_code in {400, 403, 404, 413}
            assert row_counts() == before
        # At most a new link replaces the old one; nothing else is written.
        assert set(added_rows(before)) <= {"therapy_sessions.RatingInvitation"}


class ReviewFormsTestCase(HostileInputTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.clinic = ClinicFactory(name="Riverside", slug="riverside")
        cls.tara = TherapistFactory(clinic=cls.clinic, username="tara")
        cls.sue = SupervisorFactory(clinic=cls.clinic, username="sue")
        Supervision.objects.create(supervisor=cls.sue, therapist=cls.tara)
        cls.otto = TherapistFactory(clinic=ClinicFactory(slug="hillside"), username="otto")
        cls.record = ClientFactory(therapist=cls.tara, label="R.K.")
        cls.concern = concern_with_signal(cls.record)

    @given(
        step=st.sampled_from(["concern-resolve", "concern-dismiss", "concern-comment"]),
        who=st.sampled_from(["tara", "sue", "otto"]),
        data=st.dictionaries(
            st.sampled_from(NOTE_FIELDS),
            st.one_of(welcome_text(max_size=300), hostile_text(4100), st.lists(hostile_text())),
            max_size=2,
        ),
        encoding=st.sampled_from(ENCODINGS),
    )
    @with_examples(
        {"note": "We talked it through.", "reason": "A hard week."},
        {"note": [*TEXT_CASES, "x" * 4001, "   "], "reason": [*TEXT_CASES, "x" * 4001]},
        step="concern-resolve",
        who="tara",
        encoding="urlencoded",
    )
    def test_a_review_note_is_stored_whole_or_not_at_all(
        self, step: str, who: str, data: dict[str, Any], encoding: str
    ) -> None:
        self.client.force_login(getattr(self, who))
        before = row_counts()
        stored = Concern.objects.filter(pk=self.concern.pk).values().get()
        response = post(self.client, reverse(f"measures:{step}", args=[self.concern.pk]), data)
        if response.status_code != 302:
            assert row_counts() == before
            assert Concern.objects.filter(pk=self.concern.pk).values().get() == stored
            return
        assert added_rows(before) == {"measures.ConcernEvent": 1}
        event = ConcernEvent.objects.latest("pk")
        assert event.actor == getattr(self, who)
        page = get(self.client, reverse("measures:concern-detail", args=[self.concern.pk]))
        assert_shown_escaped(page.content.decode(), event.note, linebreaks=True)


def test_the_rating_scale_is_read_in_the_digits_0_to_9() -> None:
    """Each score is a choice among "0"…"10": another script's digits are no choice."""
    from measures.forms import ClientRatingForm, TherapistRatingForm

    for form_class in (ClientRatingForm, TherapistRatingForm):
        for typed in ("٧", "７", "७", "7.0", "07"):
            form = form_class({**VALID_RATING, DIMENSIONS[0]: typed})
            assert not form.is_valid() and DIMENSIONS[0] in form.errors, (form_class, typed)
