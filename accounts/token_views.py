"""A member of staff's personal access tokens, on their account page: made (shown once)
and revoked by their owner alone."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from accounts import tokens
from accounts.models import AccessToken
from accounts.views import account_page, password_recently_required
from alliance.fields import NameField
from clients.access import get_visible_or_404


def _token_list() -> HttpResponse:
    """Back to the account page, at its tokens."""
    return redirect(f"{reverse('account')}#api-tokens")


class TokenForm(forms.Form):
    name = NameField(label="Name", max_length=60, help_text="What it is for.")


@login_required
@password_recently_required
@require_http_methods(["GET", "POST"])
def token_create(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":  # this page's address, opened again: the list
        return _token_list()
    form = TokenForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Name the token (up to 60 characters, one line); none was made.")
        return _token_list()
    try:
        _token, raw = tokens.token_create(user=request.user, name=form.cleaned_data["name"])
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return _token_list()
    # Shown once, in this answer; only its hash is kept.
    return account_page(request, new_token=raw)


@login_required
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    token = get_visible_or_404(AccessToken.objects.owned_by(request.user), token_id)
    try:
        tokens.token_revoke(user=request.user, token=token)
    except ValidationError as error:
        messages.info(request, " ".join(error.messages))
    else:
        messages.success(request, f"Token “{token.name}” revoked: it no longer works.")
    return _token_list()
