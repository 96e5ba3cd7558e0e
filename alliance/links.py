"""Addresses of the read side's pages, for the apps below it.

`reports` (the caseload, client and session pages) sits above `clients`, `sessions`
and `measures`, which never import it or name its URLs; when one of them must send
someone to a client's or a session's page, or home, it asks here. So the read side's
URL names are written in one place (besides its own templates).
"""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import resolve_url
from django.urls import reverse


def home() -> str:
    """Where staff land after signing in: their caseload."""
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def client_page(client_id: int) -> str:
    return reverse("reports:client-detail", args=[client_id])


def session_page(session_id: int) -> str:
    return reverse("reports:session-detail", args=[session_id])
