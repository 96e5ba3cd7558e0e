"""Two-factor sign-in: required for clinic admins and superusers, optional for others."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from django.test import Client as Browser
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import two_factor
from accounts.tests.steps import authenticator_for, current_code, log_in
from clients.models import AuditAction, AuditEntry, User

pytestmark = pytest.mark.django_db


def test_a_clinic_admin_without_an_authenticator_must_set_one_up_first(
    client: Any, clinic_admin: User
) -> None:
    response = log_in(client, "ada")
    assert response.status_code == 302
    for page in ("/", "/admin/", reverse("reports:dashboard"), reverse("measures:thresholds")):
        answer = client.get(page)
        assert answer.status_code == 302, page
        assert answer["Location"].startswith(reverse("two-factor-setup")), page
    # A write is stopped too, before it reaches the view.
    assert client.post(reverse("measures:thresholds-reset")).status_code == 302


def test_setting_up_shows_a_qr_code_and_a_key_then_gives_recovery_codes(
    client: Any, clinic_admin: User
) -> None:
    log_in(client, "ada")
    page = client.get(reverse("two-factor-setup"))
    assert page.status_code == 200 and b"<svg" in page.content
    key = re.search(r'id="secret">([A-Z2-7 ]+)<', page.content.decode()).group(1)
    device = TOTPDevice.objects.get(user=clinic_admin, confirmed=False)
    assert key.replace(" ", "") in device.config_url
    wrong = client.post(reverse("two-factor-setup"), {"code": "000000"})
    assert wrong.status_code == 200 and b"did not match" in wrong.content
    # After a wrong code django-otp makes the next try wait; let the wait pass.
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0)
    done = client.post(reverse("two-factor-setup"), {"code": current_code(device)})
    assert done.status_code == 302
    codes_page = client.get(done["Location"])
    codes = re.findall(r"<li>([a-z2-7]+)</li>", codes_page.content.decode())
    assert len(codes) == two_factor.RECOVERY_CODE_COUNT
    assert client.get(reverse("two-factor-recovery-codes")).status_code == 302  # shown once
    assert client.get("/").status_code == 200
    assert TOTPDevice.objects.get(user=clinic_admin).confirmed


def test_a_right_code_sent_too_soon_after_a_wrong_one_is_told_to_wait(
    client: Any, clinic_admin: User
) -> None:
    log_in(client, "ada")
    client.get(reverse("two-factor-setup"))
    device = TOTPDevice.objects.get(user=clinic_admin, confirmed=False)
    client.post(reverse("two-factor-setup"), {"code": "000000"})
    soon = client.post(reverse("two-factor-setup"), {"code": current_code(device)})
    assert soon.status_code == 200
    page = html.unescape(soon.content.decode())
    assert "wait a few seconds" in page and "did not match" not in page
    assert not TOTPDevice.objects.get(pk=device.pk).confirmed


def test_reloading_the_setup_page_keeps_the_key_already_scanned(
    client: Any, clinic_admin: User
) -> None:
    log_in(client, "ada")
    first = client.get(reverse("two-factor-setup")).content.decode()
    again = client.get(reverse("two-factor-setup")).content.decode()
    key = re.compile(r'id="secret">([A-Z2-7 ]+)<')
    assert key.search(first).group(1) == key.search(again).group(1)
    assert TOTPDevice.objects.filter(user=clinic_admin).count() == 1
    # No recovery code exists before setup: the page does not offer one.
    assert "recovery code" not in first


def _key_on_setup_page(browser: Browser) -> str:
    page = browser.get(reverse("two-factor-setup"))
    assert page.status_code == 200
    return re.search(r'id="secret">([A-Z2-7 ]+)<', page.content.decode()).group(1)


def test_a_key_shown_to_another_sign_in_is_not_the_one_set_up(
    client: Any, clinic_admin: User
) -> None:
    """Mallory has Ada's password before Ada has set up two-factor: she opens the setup
    page, copies the key and leaves. Ada, signing in, must be shown a key of her own, or
    Mallory's copy would make valid codes for good."""
    mallory = Browser()
    log_in(mallory, "ada")
    mallorys_key = _key_on_setup_page(mallory)
    mallory.post(reverse("logout"))
    log_in(client, "ada")
    assert _key_on_setup_page(client) != mallorys_key


def test_a_key_shown_to_another_sign_in_cannot_be_confirmed_by_it(
    client: Any, clinic_admin: User
) -> None:
    mallory = Browser()
    log_in(mallory, "ada")
    _key_on_setup_page(mallory)
    mallorys = TOTPDevice.objects.get(user=clinic_admin, confirmed=False)
    log_in(client, "ada")
    _key_on_setup_page(client)
    mallory.post(reverse("two-factor-setup"), {"code": current_code(mallorys)})
    assert not TOTPDevice.objects.filter(user=clinic_admin, confirmed=True).exists()


def test_next_time_the_code_is_asked_after_the_password(client: Any, clinic_admin: User) -> None:
    device = authenticator_for(clinic_admin)
    log_in(client, "ada")
    page = client.get("/admin/")
    assert page["Location"].startswith(reverse("two-factor-verify"))
    assert client.get(page["Location"]).status_code == 200
    session_before = client.session.session_key
    wrong = client.post(reverse("two-factor-verify"), {"code": "123456", "next": "/admin/"})
    assert wrong.status_code == 200 and b"did not work" in wrong.content
    assert client.get("/admin/").status_code == 302
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0)
    right = client.post(
        reverse("two-factor-verify"), {"code": current_code(device), "next": "/admin/"}
    )
    assert right.status_code == 302 and right["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    assert client.session.session_key != session_before  # a new session once verified


def test_repeated_wrong_codes_are_throttled(client: Any, clinic_admin: User) -> None:
    device = authenticator_for(clinic_admin)
    log_in(client, "ada")
    for _ in range(3):
        client.post(reverse("two-factor-verify"), {"code": "000000"})
    # Even the right code waits while the device is throttled.
    late = client.post(reverse("two-factor-verify"), {"code": current_code(device)})
    assert late.status_code == 200 and client.get("/").status_code == 302


def test_a_recovery_code_signs_in_once(client: Any, clinic_admin: User) -> None:
    authenticator_for(clinic_admin)
    codes = two_factor.new_recovery_codes(clinic_admin)
    log_in(client, "ada")
    spaced = f"{codes[0][:4]} {codes[0][4:]}".upper()
    assert client.post(reverse("two-factor-verify"), {"code": spaced}).status_code == 302
    assert client.get("/").status_code == 200
    assert StaticToken.objects.filter(device__user=clinic_admin).count() == len(codes) - 1
    client.post(reverse("logout"))
    log_in(client, "ada")
    again = client.post(reverse("two-factor-verify"), {"code": codes[0]})
    assert again.status_code == 200 and client.get("/").status_code == 302


def test_a_therapist_need_not_use_it(client: Any, therapist: User) -> None:
    log_in(client, "tara")
    assert client.get("/").status_code == 200


def test_the_setting_requires_it_of_everyone(client: Any, therapist: User, settings: Any) -> None:
    settings.ALLIANCE_TWO_FACTOR = "all"
    log_in(client, "tara")
    assert client.get("/")["Location"].startswith(reverse("two-factor-setup"))


def test_a_therapist_who_turned_it_on_is_asked_for_the_code(client: Any, therapist: User) -> None:
    device = authenticator_for(therapist)
    log_in(client, "tara")
    assert client.get("/")["Location"].startswith(reverse("two-factor-verify"))
    client.post(reverse("two-factor-verify"), {"code": current_code(device)})
    assert client.get("/").status_code == 200


def test_a_therapist_turns_it_off_after_giving_the_password_again(
    client: Any, therapist: User
) -> None:
    device = authenticator_for(therapist)
    log_in(client, "tara")
    client.post(reverse("two-factor-verify"), {"code": current_code(device)})
    session = client.session
    session["alliance_password_given"] -= 3600
    session.save()
    asked = client.post(reverse("two-factor-off"))
    assert asked["Location"].startswith(reverse("reauthenticate"))
    assert TOTPDevice.objects.filter(user=therapist).exists()
    wrong = client.post(reverse("reauthenticate"), {"password": "nope", "next": "/accounts/"})
    assert wrong.status_code == 200 and b"not your password" in wrong.content
    client.post(reverse("reauthenticate"), {"password": "correct horse battery"})
    assert client.post(reverse("two-factor-off")).status_code == 302
    assert not TOTPDevice.objects.filter(user=therapist).exists()


def test_a_clinic_admin_cannot_turn_it_off(client: Any, clinic_admin: User) -> None:
    client.force_login(clinic_admin)
    response = client.post(reverse("two-factor-off"), follow=True)
    assert b"requires two-factor" in response.content
    assert TOTPDevice.objects.filter(user=clinic_admin, confirmed=True).exists()


def test_replacing_the_authenticator_needs_the_current_one_and_the_password(
    client: Any, therapist: User
) -> None:
    old = authenticator_for(therapist)
    log_in(client, "tara")
    # Before the code: setup sends to the code page, not to a new QR code.
    assert client.get(reverse("two-factor-setup"))["Location"].startswith(
        reverse("two-factor-verify")
    )
    client.post(reverse("two-factor-verify"), {"code": current_code(old)})
    session = client.session
    session["alliance_password_given"] -= 3600
    session.save()
    assert client.get(reverse("two-factor-setup"))["Location"].startswith(reverse("reauthenticate"))
    client.post(reverse("reauthenticate"), {"password": "correct horse battery"})
    assert client.get(reverse("two-factor-setup")).status_code == 200
    new = TOTPDevice.objects.get(user=therapist, confirmed=False)
    client.post(reverse("two-factor-setup"), {"code": current_code(new)})
    assert list(TOTPDevice.objects.filter(user=therapist)) == [new]


def verified_elsewhere(device: TOTPDevice) -> Browser:
    """Another browser of the same person, signed in with the code of `device`."""
    browser = Browser()
    log_in(browser, device.user.username)
    browser.post(reverse("two-factor-verify"), {"code": current_code(device)})
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0, last_t=-1)
    assert browser.get("/").status_code == 200
    return browser


def test_replacing_the_authenticator_signs_out_every_other_browser(
    client: Any, therapist: User
) -> None:
    """A browser verified with the old one (the lost phone's, say) must not carry on."""
    old = authenticator_for(therapist)
    elsewhere = verified_elsewhere(old)
    log_in(client, "tara")
    client.post(reverse("two-factor-verify"), {"code": current_code(old)})
    client.get(reverse("two-factor-setup"))
    new = TOTPDevice.objects.get(user=therapist, confirmed=False)
    assert client.post(reverse("two-factor-setup"), {"code": current_code(new)}).status_code == 302
    assert elsewhere.get("/")["Location"].startswith(reverse("login"))
    assert client.get("/").status_code == 200


def test_turning_it_on_signs_out_every_other_browser(client: Any, therapist: User) -> None:
    """Someone who had Tara's password signed in before she turned two-factor on (often
    why one turns it on): once it is on, their browser must not carry on with the
    password alone."""
    thief = Browser()
    log_in(thief, "tara")
    assert thief.get("/").status_code == 200
    log_in(client, "tara")
    client.get(reverse("two-factor-setup"))
    device = TOTPDevice.objects.get(user=therapist, confirmed=False)
    assert (
        client.post(reverse("two-factor-setup"), {"code": current_code(device)}).status_code == 302
    )
    assert thief.get("/")["Location"].startswith(reverse("login"))
    assert client.get("/").status_code == 200


def test_turning_it_off_signs_out_every_other_browser(client: Any, therapist: User) -> None:
    device = authenticator_for(therapist)
    elsewhere = verified_elsewhere(device)
    log_in(client, "tara")
    client.post(reverse("two-factor-verify"), {"code": current_code(device)})
    assert client.post(reverse("two-factor-off")).status_code == 302
    assert elsewhere.get("/")["Location"].startswith(reverse("login"))
    assert client.get("/").status_code == 200


def _entries_about(user: User) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(model="clients.user", object_id=str(user.pk)))


def test_turning_it_off_is_in_the_audit_trail(client: Any, therapist: User) -> None:
    """Removed by an admin it is recorded ("two_factor"); removed by whoever holds the
    session and the password, it must be too."""
    device = authenticator_for(therapist)
    verified_elsewhere(device)
    log_in(client, "tara")
    client.post(reverse("two-factor-verify"), {"code": current_code(device)})
    assert client.post(reverse("two-factor-off")).status_code == 302
    [entry] = _entries_about(therapist)
    assert (entry.actor, entry.action) == (therapist, AuditAction.CHANGED)
    assert entry.fields == ["sessions", "two_factor"]


def test_turning_it_off_when_it_was_never_on_records_nothing(client: Any, therapist: User) -> None:
    """The trail says what happened: a POST by someone who never had it on changes nothing."""
    log_in(client, "tara")
    assert client.post(reverse("two-factor-off")).status_code == 302
    assert _entries_about(therapist) == []


def test_turning_it_on_is_in_the_audit_trail(client: Any, therapist: User) -> None:
    """Whoever holds the session and the password can put their own phone in."""
    log_in(client, "tara")
    client.get(reverse("two-factor-setup"))
    device = TOTPDevice.objects.get(user=therapist, confirmed=False)
    client.post(reverse("two-factor-setup"), {"code": current_code(device)})
    [entry] = _entries_about(therapist)
    assert (entry.actor, entry.action, entry.fields) == (
        therapist,
        AuditAction.CHANGED,
        ["two_factor"],
    )


def test_wrong_passwords_when_confirming_count_towards_the_lock(
    client: Any, therapist: User, settings: Any
) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    client.force_login(therapist)
    statuses = [
        client.post(reverse("reauthenticate"), {"password": f"guess-{n}"}).status_code
        for n in range(4)
    ]
    assert statuses[-1] == 429


def test_the_account_page_says_where_two_factor_stands(client: Any, therapist: User) -> None:
    client.force_login(therapist)
    page = client.get(reverse("account")).content.decode()
    assert "Turn on two-factor sign-in" in page
    authenticator_for(therapist)
    two_factor.new_recovery_codes(therapist)
    page = client.get(reverse("account")).content.decode()
    assert "10 recovery codes left" in page and "Turn off" in page


def test_a_colleague_who_lost_their_phone_sets_up_again_after_an_admin_removes_it(
    client: Any, clinic_admin: User, clinic: Any
) -> None:
    from django.test import Client as Browser

    from clients.tests.factories import ClinicAdminFactory

    colleague = ClinicAdminFactory(clinic=clinic, username="cora")
    device = authenticator_for(colleague)
    signed_in = Browser()
    log_in(signed_in, "cora")
    signed_in.post(reverse("two-factor-verify"), {"code": current_code(device)})
    assert signed_in.get("/").status_code == 200
    client.force_login(clinic_admin)
    client.post(
        reverse("admin:clients_user_changelist"),
        {"action": "remove_two_factor", "_selected_action": [colleague.pk]},
    )
    assert not TOTPDevice.objects.filter(user=colleague).exists()
    assert signed_in.get("/")["Location"].startswith(reverse("login"))
    log_in(signed_in, "cora")
    assert signed_in.get("/")["Location"].startswith(reverse("two-factor-setup"))


def test_nobody_sees_an_authenticator_key_in_the_admin(client: Any, clinic_admin: User) -> None:
    root = User.objects.create_superuser(username="root", password="x")
    authenticator_for(clinic_admin)
    client.force_login(root)
    assert client.get("/admin/otp_totp/totpdevice/").status_code == 404
    assert b"otp_totp" not in client.get("/admin/").content


def test_a_code_in_other_digits_is_refused_not_read_as_0_to_9(
    client: Any, clinic_admin: User
) -> None:
    device = authenticator_for(clinic_admin)
    log_in(client, "ada")
    code = current_code(device).translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    response = client.post(reverse("two-factor-verify"), {"code": code})
    assert response.status_code == 200 and "Use the digits 0–9." in response.content.decode()
    assert client.get("/").status_code == 302


def _reads_the_api(raw: str) -> int:
    return Browser().get("/api/v1/clients/", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code


def test_turning_it_on_revokes_the_tokens_made_with_the_password_alone(
    client: Any, therapist: User
) -> None:
    """A token is a sign-in that never ends by itself: one made by whoever had Tara's
    password would outlive every browser two-factor signs out."""
    from accounts.models import AccessToken
    from accounts.tokens import token_create

    token, raw = token_create(user=therapist, name="Made with the password alone")
    assert _reads_the_api(raw) == 200
    log_in(client, "tara")
    client.get(reverse("two-factor-setup"))
    device = TOTPDevice.objects.get(user=therapist, confirmed=False)
    done = client.post(reverse("two-factor-setup"), {"code": current_code(device)}, follow=True)
    assert "Your API tokens were revoked" in done.content.decode()
    assert _reads_the_api(raw) == 401
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert AuditEntry.objects.filter(
        action=AuditAction.ENDED, model="accounts.accesstoken", object_id=str(token.pk)
    ).exists()
    # One made now, signed in with the code, works.
    _, fresh = token_create(user=therapist, name="Made with the code")
    assert _reads_the_api(fresh) == 200
    assert AccessToken.objects.live().count() == 1


def test_replacing_the_authenticator_revokes_the_tokens_too(client: Any, therapist: User) -> None:
    """One made by a browser that held the lost phone's code must not carry on."""
    old = authenticator_for(therapist)
    from accounts.tokens import token_create

    _, raw = token_create(user=therapist, name="Made on the lost phone's sign-in")
    log_in(client, "tara")
    client.post(reverse("two-factor-verify"), {"code": current_code(old)})
    client.get(reverse("two-factor-setup"))
    new = TOTPDevice.objects.get(user=therapist, confirmed=False)
    assert client.post(reverse("two-factor-setup"), {"code": current_code(new)}).status_code == 302
    assert _reads_the_api(raw) == 401


def test_turning_it_on_without_tokens_says_nothing_of_them(client: Any, therapist: User) -> None:
    log_in(client, "tara")
    client.get(reverse("two-factor-setup"))
    device = TOTPDevice.objects.get(user=therapist, confirmed=False)
    done = client.post(reverse("two-factor-setup"), {"code": current_code(device)}, follow=True)
    assert "Two-factor sign-in is on." in done.content.decode()
    assert "API tokens" not in done.content.decode()
