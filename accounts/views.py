"""Signing in and one's own account: two-factor, the password again, the e-mail address."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

import segno
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import INTERNAL_RESET_SESSION_TOKEN
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts import sessions, two_factor
from accounts.forms import (
    AccessEnded,
    CodeForm,
    ConfirmPasswordForm,
    EmailForm,
    ResetPasswordForm,
    SetupCodeForm,
    ThrottledPasswordChangeForm,
)
from accounts.models import AccessToken
from accounts.services import (
    base_url_parts,
    password_chosen,
    reset_mail_allowed,
    reset_tokens,
    user_email_change,
)
from alliance import links

SHOW_CODES = "alliance_recovery_codes_to_show"


def _next(request: HttpRequest, default: str = "") -> str:
    """The page to go on to: a safe `next`, else the named page `default`, else home."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return reverse(default) if default else links.home()


def _posted(request: HttpRequest) -> Any:
    """The form's data on a POST (even an empty one, so missing fields are reported)."""
    return request.POST if request.method == "POST" else None


def _go(name: str, next_url: str) -> HttpResponseRedirect:
    """Redirect to the page `name`, which returns to `next_url` when done."""
    return HttpResponseRedirect(f"{reverse(name)}?{urlencode({'next': next_url})}")


def password_recently_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Ask for the password again first, unless it was given in the last few minutes."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not sessions.password_recently_given(request):
            # After the password, come back here; a POST-only action comes back to the account.
            back = request.get_full_path() if request.method == "GET" else reverse("account")
            return _go("reauthenticate", back)
        return view(request, *args, **kwargs)

    return wrapped


@login_required
@require_http_methods(["GET", "HEAD"])
def account(request: HttpRequest) -> HttpResponse:
    return account_page(request)


def account_page(request: HttpRequest, new_token: str | None = None) -> HttpResponse:
    """The account page; with `new_token`, the answer to making one, which shows it this
    once (the page is no-store, and the token is kept nowhere, not even in the session)."""
    user = request.user
    return render(
        request,
        "accounts/account.html",
        {
            "authenticator": two_factor.authenticator(user),
            "required": two_factor.is_required(user),
            "codes_left": two_factor.recovery_codes_left(user),
            "tokens": AccessToken.objects.owned_by(user),
            "new_token": new_token,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def reauthenticate(request: HttpRequest) -> HttpResponse:
    form = ConfirmPasswordForm(request, _posted(request))
    if request.method == "POST" and form.is_valid():
        sessions.password_given(request)
        return redirect(_next(request, "account"))
    return render(
        request, "accounts/reauthenticate.html", {"form": form, "next": _next(request, "account")}
    )


@login_required
@password_recently_required
@require_http_methods(["GET", "POST"])
def email_change(request: HttpRequest) -> HttpResponse:
    form = EmailForm(_posted(request), instance=request.user)
    if request.method == "POST" and form.is_valid():
        user_email_change(user=request.user, email=form.cleaned_data["email"])
        messages.success(request, _("Your e-mail address is saved."))
        return redirect("account")
    return render(request, "accounts/email_form.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    if two_factor.is_verified(request) or two_factor.step_owed(request) is None:
        return redirect(_next(request))
    if not two_factor.has_authenticator(request.user):
        return _go("two-factor-setup", _next(request))
    form = CodeForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        if two_factor.verify(request, form.cleaned_data["code"]):
            return redirect(_next(request))
        form.add_error("code", _("That code did not work. Wait for a new one and try again."))
    return render(
        request, "accounts/two_factor_verify.html", {"form": form, "next": _next(request)}
    )


def _setup_allowed(request: HttpRequest) -> bool:
    """Setting up needs the password recently given; a fresh sign-in counts."""
    return sessions.password_recently_given(request)


@login_required
@require_http_methods(["GET", "POST"])
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    if two_factor.step_owed(request) == "verify":
        # Replacing an authenticator takes the current one first.
        return _go("two-factor-verify", request.get_full_path())
    if not _setup_allowed(request):
        return _go("reauthenticate", request.get_full_path())
    device = two_factor.pending_setup(request)
    form = SetupCodeForm(_posted(request))
    if request.method == "POST" and device is not None and form.is_valid():
        if two_factor.must_wait(device):
            form.add_error(
                "code",
                _(
                    "Wrong codes in a row make the next one wait: wait a few seconds, then "
                    "enter the code your app shows."
                ),
            )
        elif setup := two_factor.confirm_setup(request, device, form.cleaned_data["code"]):
            request.session[SHOW_CODES] = setup.recovery_codes
            messages.success(request, _("Two-factor sign-in is on."))
            if setup.tokens_revoked:
                messages.info(
                    request,
                    _(
                        "Your API tokens were revoked, as your other sign-ins were ended: "
                        "make new ones on your account page."
                    ),
                )
            return _go("two-factor-recovery-codes", _next(request, "account"))
        else:
            form.add_error(
                "code",
                _("That code did not match. Check the time on your phone and try the next code."),
            )
    if device is None:
        # One key per sign-in until it is confirmed: reloading the page keeps the one
        # already scanned; another sign-in gets its own.
        device = two_factor.start_setup(request)
    qr = segno.make(device.config_url, error="m").svg_inline(scale=4, dark="#111", light="#fff")
    return render(
        request,
        "accounts/two_factor_setup.html",
        {"form": form, "qr": qr, "secret": _grouped(device.key), "next": _next(request, "account")},
    )


def _grouped(hex_key: str) -> str:
    """The key as an app expects it typed: base32, in groups of four."""
    from base64 import b32encode

    text = b32encode(bytes.fromhex(hex_key)).decode().rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


@login_required
@require_http_methods(["GET", "POST"])
def recovery_codes(request: HttpRequest) -> HttpResponse:
    """Show freshly made recovery codes once; POST makes a new set (password needed)."""
    if request.method == "POST":
        if not sessions.password_recently_given(request):
            return _go("reauthenticate", reverse("account"))
        if two_factor.authenticator(request.user) is None:
            return redirect("account")
        request.session[SHOW_CODES] = two_factor.new_recovery_codes(request.user)
        return redirect("two-factor-recovery-codes")
    codes = request.session.pop(SHOW_CODES, None)
    if codes is None:
        return redirect("account")
    return render(
        request, "accounts/recovery_codes.html", {"codes": codes, "next": _next(request, "account")}
    )


@login_required
@password_recently_required
@require_POST
def two_factor_off(request: HttpRequest) -> HttpResponse:
    if two_factor.is_required(request.user):
        messages.error(request, _("Your role requires two-factor sign-in; it stays on."))
        return redirect("account")
    two_factor.turn_off(request)
    messages.success(request, _("Two-factor sign-in is off."))
    return redirect("account")


class NewPasswordEndsTokens:
    """For the views where a person chooses a new password: the API tokens made before it
    are revoked (`password_chosen`), and the page says so when there were any."""

    request: HttpRequest

    @transaction.atomic
    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)  # type: ignore[misc]
        if password_chosen(form.user):
            messages.info(
                self.request,
                _(
                    "Your API tokens made before this password were revoked with the old one: "
                    "make new ones on your account page where you still need them."
                ),
            )
        return response


class PasswordChangeView(NewPasswordEndsTokens, auth_views.PasswordChangeView):
    """Django's, with the old password counted by the log-in throttle."""

    form_class = ThrottledPasswordChangeForm

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "request": self.request}

    def form_valid(self, form: Any) -> HttpResponse:
        try:
            return super().form_valid(form)
        except AccessEnded:  # deactivated as they typed: their sessions are ending too
            raise PermissionDenied("Your access to Alliance has ended.") from None


class PasswordResetConfirmView(NewPasswordEndsTokens, auth_views.PasswordResetConfirmView):
    """Django's, not signing in after: whoever asked for the link may have lost the old
    password, and the tokens made with it end."""

    post_reset_login = False
    token_generator = reset_tokens
    form_class = ResetPasswordForm

    def get_user(self, uidb64: str) -> Any:
        user = super().get_user(uidb64)
        # A deactivated colleague's link chooses no password, as their invitation does not.
        return user if user is not None and user.is_active else None

    def get_form(self, form_class: Any = None) -> Any:
        form = super().get_form(form_class)
        # Checked again as the password is written: the link was checked as the request
        # began, and a deactivation may have committed since.
        form.link_token = self.request.session.get(INTERNAL_RESET_SESSION_TOKEN)
        return form

    def form_valid(self, form: Any) -> HttpResponse:
        try:
            return super().form_valid(form)
        except AccessEnded:  # the page says the link no longer works
            self.validlink = False
            return self.render_to_response(self.get_context_data())


class PasswordResetView(auth_views.PasswordResetView):
    """Django's, with the link in the e-mail built on ALLIANCE_BASE_URL, never on the
    Host header the request happened to carry, and at most a few e-mails an hour to one
    address (past that, the same answer and no e-mail, so no inbox is flooded)."""

    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"
    token_generator = reset_tokens

    def form_valid(self, form: Any) -> HttpResponse:
        # Counted by the addresses the e-mails would go to, however the request spelled it.
        addresses = sorted({user.email for user in form.get_users(form.cleaned_data["email"])})
        if not all([reset_mail_allowed(address) for address in addresses]):
            return HttpResponseRedirect(self.get_success_url())
        scheme, domain = base_url_parts()
        self.extra_email_context = {"protocol": scheme, "domain": domain, "site_name": "Alliance"}
        return super().form_valid(form)
