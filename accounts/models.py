"""Personal access tokens: how a member of staff's own tools read the API as them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from alliance.fields import validate_visible_line


class AccessTokenQuerySet(models.QuerySet):
    def live(self) -> AccessTokenQuerySet:
        return self.filter(revoked_at__isnull=True)

    def owned_by(self, user: object) -> AccessTokenQuerySet:
        """A token is its owner's alone: nobody else lists or revokes it."""
        if not getattr(user, "is_authenticated", False):
            return self.none()
        return self.filter(user_id=user.pk)


class AccessToken(models.Model):
    """A token its owner made on their account page. Only a hash of it is stored: the
    token itself is shown once, when made. It reads exactly what its owner may read, and
    stops working when revoked or when its owner is deactivated."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_tokens"
    )
    name = models.CharField(
        max_length=60,
        help_text="What it is for, so you know it later.",
        validators=[validate_visible_line],
    )
    token_hash = models.CharField(max_length=64, unique=True)
    # The first characters of the token, to recognise it in the list (never enough to use).
    prefix = models.CharField(max_length=16)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = AccessTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
