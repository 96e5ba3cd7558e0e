"""The one way views reach records: scoped look-ups that answer 404 or 403.

A record outside the user's scope is a 404, as if it did not exist, so an
outsider learns nothing. A record the user may read but not change (a
supervisor's view of a supervisee's client) is a 403 on writes.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404

M = TypeVar("M", bound=models.Model)


def get_visible_or_404(queryset: models.QuerySet[M], pk: Any) -> M:
    """`queryset` must already be scoped with `visible_to(user)`."""
    try:
        return queryset.get(pk=pk)
    except (queryset.model.DoesNotExist, ValueError, TypeError):
        raise Http404("Not found.") from None


def require_editable(editable: models.QuerySet[M], obj: M, message: str) -> None:
    """Refuse a write with 403 unless `obj` is in the `editable_by(user)` queryset."""
    if not editable.filter(pk=obj.pk).exists():
        raise PermissionDenied(message)
