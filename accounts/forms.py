"""Forms for one's own account: the log-in, a code, the password again, a new e-mail address."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import authenticate
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm, SetPasswordForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from accounts.services import password_save
from alliance.fields import refuse_other_digits
from clients.models import User


class LogInForm(AuthenticationForm):
    """Django's log-in form, saying which field is exact: a username signs in in any case
    (`StaffManager.get_by_natural_key`), where Django's message says both "may be"."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _(
            "Please enter a correct username and password. "
            "The password is case-sensitive; the username is not."
        ),
    }


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code"),
        max_length=40,
        validators=[refuse_other_digits],
        help_text=_(
            "The 6 digits your authenticator app shows now, or one of your recovery codes."
        ),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True}),
    )


class SetupCodeForm(CodeForm):
    """The first code of a new authenticator: no recovery code exists yet."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["code"].help_text = _("The 6 digits your authenticator app shows now.")


class ConfirmPasswordForm(forms.Form):
    """The password again, counted by the log-in throttle like any other attempt."""

    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
    )

    def __init__(self, request: HttpRequest, *args: Any, **kwargs: Any) -> None:
        self.request = request
        super().__init__(*args, **kwargs)

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        user = authenticate(
            self.request, username=self.request.user.get_username(), password=password
        )
        if user is None or user.pk != self.request.user.pk:
            raise ValidationError(_("That is not your password."), code="wrong_password")
        return password


class EmailForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["email"]

    def clean_email(self) -> str:
        email = self.cleaned_data["email"]
        # Within the clinic, as for a colleague invited (`staff_invite`): asked of every
        # clinic, the answer told anyone signed in whether an address has an account in
        # another clinic, of which nothing is to be seen.
        colleagues = User.objects.filter(clinic_id=self.instance.clinic_id, email__iexact=email)
        if email and colleagues.exclude(pk=self.instance.pk).exists():
            raise ValidationError(
                _("A colleague of this clinic already uses this address."), code="taken"
            )
        return email


class AccessEnded(Exception):
    """The account was deactivated, or the reset link ended, while the form was filled in."""


class PasswordAloneSaved:
    """A password form that writes the password alone, the row locked and read again
    (`password_save`), never the whole row as it was read when the request began."""

    user: Any
    cleaned_data: dict[str, Any]
    link_token: str | None = None  # a reset link's, checked again under the lock

    def save(self, commit: bool = True) -> Any:
        password = self.cleaned_data["new_password1"]
        if not password_save(user=self.user, password=password, link_token=self.link_token):
            raise AccessEnded
        return self.user


class ResetPasswordForm(PasswordAloneSaved, SetPasswordForm):
    """The new password chosen with an e-mailed reset link."""


class ThrottledPasswordChangeForm(PasswordAloneSaved, PasswordChangeForm):
    """The old password is checked through the log-in throttle, so a borrowed session
    cannot guess it here without limit."""

    def __init__(self, user: Any, *args: Any, request: HttpRequest, **kwargs: Any) -> None:
        self.request = request
        super().__init__(user, *args, **kwargs)

    def clean_old_password(self) -> str:
        old_password = self.cleaned_data["old_password"]
        checked = authenticate(
            self.request, username=self.user.get_username(), password=old_password
        )
        if checked is None or checked.pk != self.user.pk:
            raise ValidationError(
                self.error_messages["password_incorrect"], code="password_incorrect"
            )
        return old_password
