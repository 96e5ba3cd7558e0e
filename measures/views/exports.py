"""CSV exports of the dashboard and of one client's ratings. (Being written.)"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse


def dashboard_csv(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError


def client_ratings_csv(request: HttpRequest, client_id: int) -> HttpResponse:
    raise NotImplementedError
