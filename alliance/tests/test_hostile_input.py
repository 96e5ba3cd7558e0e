"""Every address of the site under hostile requests, as the person it is for.

- A NUL byte in the address, its parameters or a form: 400, nothing stored.
- A form declared in a charset other than UTF-8: 400, nothing stored.
- A body past the size cap: 413, nothing stored.
- Any method on any address: a clean answer (405 where the page has no such method),
  and nothing stored by a method that is not POST.
- Any bytes, valid UTF-8 or not, in an address, a parameter or a form; ids too large
  for any column; sign-in and account forms with hostile input and `next` addresses:
  never a server error, never a redirect to another site.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_from_bytes, urlsplit

from django.conf import settings
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from alliance.tests.hostile import (
    HostileInputTestCase,
    assert_no_server_error,
    hostile_number,
    hostile_text,
    post,
    row_counts,
)
from clients.models import Supervision
from clients.tests.factories import (
    ClientFactory,
    ClinicAdminFactory,
    ClinicFactory,
    SupervisorFactory,
    TherapistFactory,
)
from measures.models import Calibration
from measures.tests.factories import concern_with_signal
from sessions.invitations import invitation_create

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "PROPFIND"]
OTHER_CHARSETS = ["utf-16", "UTF-16LE", "utf-32", "latin-1", "cp500", "utf-7", "x" * 200]


@dataclass(frozen=True)
class Address:
    url: str
    who: str | None  # the person the page is for; None: anyone, signed in or not


class EveryAddressTestCase(HostileInputTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.clinic = ClinicFactory(name="Riverside", slug="riverside")
        cls.tara = TherapistFactory(clinic=cls.clinic, username="tara", email="tara@example.com")
        cls.sue = SupervisorFactory(clinic=cls.clinic, username="sue")
        Supervision.objects.create(supervisor=cls.sue, therapist=cls.tara)
        cls.ada = ClinicAdminFactory(clinic=cls.clinic, username="ada")
        cls.record = ClientFactory(therapist=cls.tara, label="R.K.", email="rk@example.com")
        cls.concern = concern_with_signal(cls.record)
        cls.session = cls.concern.last_session
        cls.calibration = Calibration.objects.create(clinic=cls.clinic, created_by=cls.ada)
        _invitation, cls.token = invitation_create(session=cls.session)

    def addresses(self) -> list[Address]:
        """Every page of the site (the admin's by example), with whom it is for."""
        record, session, concern = self.record.pk, self.session.pk, self.concern.pk
        flag = self.concern.signals.first().pk
        named = [
            ("reports:caseload", [], "tara"),
            ("reports:dashboard", [], "sue"),
            ("reports:dashboard-csv", [], "sue"),
            ("reports:precision", [], "sue"),
            ("reports:therapist-caseload", [self.tara.pk], "sue"),
            ("reports:client-ratings-csv", [record], "tara"),
            ("reports:client-outcomes-csv", [record], "tara"),
            ("reports:client-detail", [record], "tara"),
            ("reports:session-detail", [session], "tara"),
            ("measures:invitation-create", [session], "tara"),
            ("measures:invitation-email", [session], "tara"),
            ("measures:client-rating", [self.token], None),
            ("measures:client-rating-thanks", [self.token], None),
            ("measures:client-rating-thanks-plain", [], None),
            ("measures:therapist-rating", [session], "tara"),
            ("measures:review-queue", [], "tara"),
            ("measures:concern-detail", [concern], "tara"),
            ("measures:concern-acknowledge", [concern], "tara"),
            ("measures:concern-resolve", [concern], "tara"),
            ("measures:concern-dismiss", [concern], "tara"),
            ("measures:concern-comment", [concern], "sue"),
            ("measures:flag-detail", [flag], "tara"),
            ("measures:thresholds", [], "ada"),
            ("measures:thresholds-calibrate", [], "ada"),
            ("measures:thresholds-apply", [self.calibration.pk], "ada"),
            ("measures:thresholds-reset", [], "ada"),
            ("clients:client-create", [], "tara"),
            ("clients:client-edit", [record], "tara"),
            ("clients:client-discharge", [record], "tara"),
            ("clients:client-reopen", [record], "tara"),
            ("sessions:session-log", [record], "tara"),
            ("sessions:session-edit", [session], "tara"),
            ("sessions:session-void", [session], "tara"),
            ("login", [], None),
            ("logout", [], "tara"),
            ("account", [], "tara"),
            ("reauthenticate", [], "tara"),
            ("account-email", [], "tara"),
            ("password_change", [], "tara"),
            ("password_reset", [], None),
            ("two-factor-verify", [], "ada"),
            ("two-factor-setup", [], "tara"),
            ("two-factor-recovery-codes", [], "ada"),
            ("two-factor-off", [], "tara"),
        ]
        admin = ["/admin/", "/admin/clients/client/", f"/admin/clients/client/{record}/change/"]
        return [Address(reverse(name, args=args), who) for name, args, who in named] + [
            Address(url, "ada") for url in admin
        ]

    def as_(self, who: str | None) -> None:
        self.client.logout()
        if who is not None:
            self.client.force_login(getattr(self, who))

    def assert_refused(self, address: Address, response: Any, status: int) -> None:
        assert response.status_code == status, (address, response.status_code)

    def test_a_nul_byte_in_any_address_or_form_is_a_bad_request(self) -> None:
        before = row_counts()
        for address in self.addresses():
            self.as_(address.who)
            path = address.url.rstrip("/")
            for url in (f"{address.url}?q=%00", f"{address.url}?%00=1", f"{path}%00/"):
                self.assert_refused(address, self.client.get(url), 400)
            for body in ({"note": "a\x00b"}, {"x\x00": "1"}):
                self.assert_refused(address, self.client.post(address.url, body), 400)
                response = post(self.client, address.url, body, "multipart")
                self.assert_refused(address, response, 400)
        assert row_counts() == before

    def test_a_form_in_another_charset_is_a_bad_request(self) -> None:
        before = row_counts()
        for address in self.addresses():
            self.as_(address.who)
            for charset in OTHER_CHARSETS:
                content_type = f"application/x-www-form-urlencoded; charset={charset}"
                body = "note=caf\u00e9&label=R.K.".encode("utf-16" if "16" in charset else "utf-8")
                response = self.client.generic("POST", address.url, body, content_type)
                self.assert_refused(address, response, 400)
        assert row_counts() == before

    def test_a_body_over_the_size_cap_is_too_large(self) -> None:
        before = row_counts()
        too_large = "x" * (settings.ALLIANCE_MAX_REQUEST_BYTES + 1)
        for address in self.addresses():
            self.as_(address.who)
            response = self.client.post(address.url, {"note": too_large})
            self.assert_refused(address, response, 413)
            body = f"note={too_large}"
            content_type = "application/x-www-form-urlencoded"
            response = self.client.post(address.url, body, content_type=content_type)
            self.assert_refused(address, response, 413)
        assert row_counts() == before

    def test_any_method_on_any_address_is_answered_cleanly(self) -> None:
        for address in self.addresses():
            self.as_(address.who)
            before = row_counts()
            for method in METHODS:
                if method != "POST":
                    assert_no_server_error(self.client.generic(method, address.url))
            assert row_counts() == before, address
            # Last: an empty POST may act (discharge, log out); it must still answer cleanly.
            assert_no_server_error(self.client.generic("POST", address.url))

    def test_ids_beyond_any_column_are_not_found(self) -> None:
        self.as_("ada")
        for huge in ("2147483648", "9223372036854775808", "9" * 40):
            for url in (
                f"/clients/{huge}/",
                f"/clients/{huge}/edit/",
                f"/sessions/{huge}/",
                f"/sessions/{huge}/rating/",
                f"/concerns/{huge}/",
                f"/flags/{huge}/",
                f"/dashboard/therapists/{huge}/",
                f"/clients/{huge}/ratings.csv",
                f"/thresholds/calibrations/{huge}/apply/",
                f"/admin/clients/client/{huge}/change/",
            ):
                response = self.client.get(url)
                assert response.status_code in {302, 404, 405}, (url, response.status_code)

    @given(
        index=st.integers(0, 44),
        raw=st.binary(max_size=40),
        where=st.sampled_from(["path", "query", "key", "body", "headers"]),
        method=st.sampled_from(["GET", "POST"]),
    )
    def test_any_bytes_anywhere_are_no_server_error(
        self, index: int, raw: bytes, where: str, method: str
    ) -> None:
        """Bytes that are not UTF-8, percent-encoded or raw, in any part of a request
        (a NUL anywhere is the guard's 400)."""
        addresses = self.addresses()
        address = addresses[index % len(addresses)]
        self.as_(address.who)
        before = row_counts()
        escaped = quote_from_bytes(raw, safe="")
        url = {
            "path": address.url.rstrip("/") + escaped + "/",
            "query": f"{address.url}?q={escaped}&status={escaped}&page={escaped}",
            "key": f"{address.url}?{escaped}=1",
            "body": address.url,
            "headers": address.url,
        }[where]
        if where == "body":
            content_type = "application/x-www-form-urlencoded"
            response = self.client.generic(method, url, b"note=" + raw, content_type)
        elif where == "headers":
            # A WSGI server hands headers over as Latin-1 text, whatever the bytes were.
            text = raw.decode("latin-1")
            headers = {"HTTP_USER_AGENT": text, "HTTP_ACCEPT_LANGUAGE": text, "HTTP_REFERER": text}
            response = self.client.generic(method, url, **headers)
        else:
            response = self.client.generic(method, url)
        assert_no_server_error(response)
        if method == "GET":
            assert row_counts() == before

    @given(
        username=st.one_of(st.just("tara"), hostile_text(200)),
        password=st.one_of(st.just("correct horse battery"), hostile_text(200)),
        next_url=st.one_of(
            st.sampled_from(
                [
                    "/clients/1/",
                    "//evil.example/",
                    "https://evil.example/",
                    "/\\evil.example",
                    "\\\\evil.example",
                    "javascript:alert(1)",
                    " //evil.example",
                    "http:/evil.example",
                    "/%2F%2Fevil.example",
                ]
            ),
            hostile_text(60),
        ),
    )
    def test_signing_in_takes_any_input_and_stays_on_this_site(
        self, username: str, password: str, next_url: str
    ) -> None:
        before = row_counts()
        response = post(
            self.client,
            reverse("login"),
            {"username": username, "password": password, "next": next_url},
        )
        if response.status_code == 302:
            target = urlsplit(response["Location"])
            assert not target.scheme and not target.netloc, response["Location"]
            assert not response["Location"].startswith(("//", "\\", "/\\"))
        assert row_counts() == before

    @given(
        form=st.sampled_from(
            [
                ("reauthenticate", "password"),
                ("account-email", "email"),
                ("two-factor-verify", "code"),
                ("two-factor-setup", "code"),
                ("password_change", "old_password"),
                ("password_change", "new_password1"),
                ("password_reset", "email"),
            ]
        ),
        value=st.one_of(hostile_text(300), hostile_number(0, 999999)),
        who=st.sampled_from(["tara", "ada", None]),
        next_url=st.one_of(st.none(), hostile_text(40), st.just("//evil.example/")),
    )
    def test_account_forms_take_any_input(
        self, form: tuple[str, str], value: str, who: str | None, next_url: str | None
    ) -> None:
        name, field = form
        self.as_(who)
        data = {field: value, "new_password2": value}
        if next_url is not None:
            data["next"] = next_url
        response = post(self.client, reverse(name), data)
        if response.status_code == 302:
            assert not urlsplit(response["Location"]).netloc, response["Location"]
