"""The client form under hostile input: adding and editing a client, as a therapist and
as a clinic admin. Never a server error; a refused form stores nothing; a stored label
comes back escaped."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from alliance.fields import has_other_digits
from alliance.tests.hostile import (
    ENCODINGS,
    NUMBER_CASES,
    TEXT_CASES,
    HostileInputTestCase,
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
    welcome_line,
    with_examples,
)
from clients.models import Client, Supervision
from clients.tests.factories import (
    ClientFactory,
    ClinicAdminFactory,
    ClinicFactory,
    SupervisorFactory,
    TherapistFactory,
)

LANGUAGES = [value for value, _label in Client.Language.choices]
emails = st.one_of(st.just(""), st.emails().filter(lambda email: len(email) <= 254))
CLIENT_FIELDS = {
    "label": welcome_line(min_size=1, max_size=40),
    "external_id": welcome_line(max_size=64),
    "email": emails,
    "language": st.sampled_from(LANGUAGES),
}
HOSTILE_CLIENT_FIELDS = {
    "label": hostile_text(),
    "external_id": hostile_text(80),
    "email": st.one_of(hostile_text(), hostile_number()),
    "language": hostile_choice(LANGUAGES),
}

VALID_CLIENT = {"label": "M.P.", "external_id": "", "email": "", "language": "en"}
CLIENT_CASES = {
    "label": [*TEXT_CASES, "", "   ", "x" * 41, "R.\nK.", "李 明 👩‍⚕️"],
    "external_id": [*TEXT_CASES, "x" * 65],
    "email": ["a@b.c\nBcc: x@y.z", "<a@b.c>", "a@\x00.com", "ü@ü.example", "x" * 300],
    "language": ["EN", "fr", "en\x00", None],
}

EDIT_CASES = {
    "label": ["<script>alert(1)</script>", "", "R.\nK.", "x" * 41],
    "external_id": ["a\x00b", "\u202eevil"],
    "language": ["fr", None],
}


class ClientFormTestCase(HostileInputTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.clinic = ClinicFactory(name="Riverside", slug="riverside")
        cls.tara = TherapistFactory(clinic=cls.clinic, username="tara")
        cls.colin = TherapistFactory(clinic=cls.clinic, username="colin")
        cls.ada = ClinicAdminFactory(clinic=cls.clinic, username="ada")
        cls.sue = SupervisorFactory(clinic=cls.clinic, username="sue")
        Supervision.objects.create(supervisor=cls.sue, therapist=cls.tara)
        cls.otto = TherapistFactory(clinic=ClinicFactory(slug="hillside"), username="otto")
        cls.record = ClientFactory(therapist=cls.tara, label="R.K.", external_id="RK-1")

    def assert_client_pages_show(self, client: Client) -> None:
        """The stored label and reference come back escaped on the client's page and
        the caseload."""
        page = get(self.client, reverse("reports:client-detail", args=[client.pk]))
        html = page.content.decode()
        assert_shown_escaped(html, client.label)
        assert_shown_escaped(html, client.external_id)
        caseload = get(self.client, reverse("reports:caseload"), {"q": client.label[:40]})
        assert_shown_escaped(caseload.content.decode(), client.label)

    @given(
        data=submission(CLIENT_FIELDS, HOSTILE_CLIENT_FIELDS),
        encoding=st.sampled_from(ENCODINGS),
    )
    @with_examples(VALID_CLIENT, CLIENT_CASES, encoding="urlencoded")
    def test_adding_a_client_stores_all_of_it_or_nothing(
        self, data: dict[str, Any], encoding: str
    ) -> None:
        self.client.force_login(self.tara)
        url = reverse("clients:client-create")
        if not stored_whole_or_not_at_all(
            self.client, url, data, encoding, adds={"clients.Client": 1}
        ):
            return
        client = Client.objects.latest("pk")
        # Smuggled fields change nothing: the client is Tara's, in Tara's clinic.
        assert (client.therapist, client.clinic, client.status) == (
            self.tara,
            self.clinic,
            Client.Status.ACTIVE,
        )
        assert client.label == last(data["label"]).strip()
        self.assert_client_pages_show(client)

    @given(
        data=submission(
            {**CLIENT_FIELDS, "therapist": st.just("therapist")},
            {**HOSTILE_CLIENT_FIELDS, "therapist": hostile_number(1, 50)},
        ),
    )
    @with_examples(
        {**VALID_CLIENT, "therapist": "therapist"},
        {"therapist": [*NUMBER_CASES, "other clinic"]},
    )
    def test_a_clinic_admin_assigns_only_the_clinics_therapists(self, data: dict[str, Any]) -> None:
        # The ids exist only once the cast is made: stand-ins are replaced here.
        stand_ins = {"therapist": str(self.colin.pk), "other clinic": str(self.otto.pk)}
        data["therapist"] = stand_ins.get(last(data.get("therapist")), data.get("therapist"))
        if data["therapist"] is None:
            del data["therapist"]
        self.client.force_login(self.ada)
        before = row_counts()
        response = post(self.client, reverse("clients:client-create"), data)
        if response.status_code != 302:
            assert row_counts() == before
            return
        client = Client.objects.latest("pk")
        assert client.therapist.clinic == self.clinic and client.therapist.is_therapist
        assert not has_other_digits(last(data["therapist"]))
        self.assert_client_pages_show(client)

    @given(data=submission(CLIENT_FIELDS, HOSTILE_CLIENT_FIELDS))
    @with_examples(VALID_CLIENT, EDIT_CASES)
    def test_editing_a_client_changes_all_of_it_or_nothing(self, data: dict[str, Any]) -> None:
        self.client.force_login(self.tara)
        before = row_counts()
        stored = Client.objects.filter(pk=self.record.pk).values().get()
        url = reverse("clients:client-edit", args=[self.record.pk])
        response = post(self.client, url, data)
        assert row_counts() == before
        if response.status_code != 302:
            assert Client.objects.filter(pk=self.record.pk).values().get() == stored
            return
        client = Client.objects.get(pk=self.record.pk)
        assert (client.therapist, client.clinic) == (self.tara, self.clinic)
        self.assert_client_pages_show(client)

    @given(
        data=submission(CLIENT_FIELDS, HOSTILE_CLIENT_FIELDS),
        who=st.sampled_from(["sue", "otto", "colin"]),
    )
    def test_others_change_no_client_whatever_they_send(
        self, data: dict[str, Any], who: str
    ) -> None:
        self.client.force_login(getattr(self, who))
        before = row_counts()
        stored = Client.objects.filter(pk=self.record.pk).values().get()
        for name in ("client-edit", "client-discharge", "client-reopen"):
            response = post(self.client, reverse(f"clients:{name}", args=[self.record.pk]), data)
            assert response.status_code in {400, 403, 404, 413}
        assert row_counts() == before
        assert Client.objects.filter(pk=self.record.pk).values().get() == stored
