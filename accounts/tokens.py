"""Personal access tokens: made and revoked by their owner, looked up by the API.

A token is `alliance_` and 43 URL-safe characters (256 random bits); only its SHA-256 is
stored, as for rating links, so a copy of the database opens nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import AccessToken
from clients import audit
from clients.models import AuditAction, User

PREFIX = "alliance_"
TOKEN_BYTES = 32
SHOWN = len(PREFIX) + 6  # how much of a token its list shows
MAX_LIVE_TOKENS = 10
# Last use is written at most this often: not one write per API request.
USE_RECORDED_EVERY = dt.timedelta(minutes=5)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_create(*, user: Any, name: str) -> tuple[AccessToken, str]:
    """A new token for `user`, and the token itself: the only moment it exists in clear."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Name the token, so you know it later."})
    raw = PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    token = AccessToken(user=user, name=name, token_hash=hash_token(raw), prefix=raw[:SHOWN])
    token.full_clean()
    with transaction.atomic():
        # Counted under the owner's lock: two made at once (a double click) each counted
        # the other's as not there yet, and passed the limit together.
        User.objects.select_for_update().filter(pk=user.pk).exists()
        if AccessToken.objects.owned_by(user).live().count() >= MAX_LIVE_TOKENS:
            raise ValidationError(f"You have {MAX_LIVE_TOKENS} tokens: revoke one first.")
        token.save()
        audit.written(user, AuditAction.CREATED, token, clinic_id=user.clinic_id)
    return token, raw


def token_revoke(*, user: Any, token: AccessToken) -> AccessToken:
    """Its owner revokes a token: it stops working at once; the row stays, for the trail."""
    if token.user_id != user.pk:
        raise ValidationError("This token is not yours.")
    if token.revoked_at is not None:
        raise ValidationError("This token was revoked already.")
    token.revoked_at = timezone.now()
    with transaction.atomic():
        token.save(update_fields=["revoked_at"])
        audit.written(user, AuditAction.ENDED, token, clinic_id=user.clinic_id)
    return token


def tokens_revoke_all(*, actor: Any, user: Any) -> int:
    """Every live token of `user` stops working (they were deactivated, or signed out
    everywhere); each revocation is recorded. Returns how many."""
    revoked = 0
    for token in AccessToken.objects.owned_by(user).live().select_for_update():
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit.written(actor, AuditAction.ENDED, token, clinic_id=user.clinic_id)
        revoked += 1
    return revoked


def token_user(raw: str) -> Any | None:
    """The owner of a live token, if they may still sign in; None for anything else."""
    if not raw.startswith(PREFIX) or len(raw) > 100:
        return None
    token = (
        AccessToken.objects.live().select_related("user").filter(token_hash=hash_token(raw)).first()
    )
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > USE_RECORDED_EVERY:
        AccessToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
