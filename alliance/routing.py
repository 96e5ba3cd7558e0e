"""Which view a request was for, even when it failed before its URL was resolved."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.urls import ResolverMatch


def resolver_match(request: Any) -> ResolverMatch | None:
    """The request's view: resolved already, or (when it failed in a middleware before its
    URL was resolved, as a request with a session cookie does while the database is away)
    resolved here. None for an address no view answers."""
    from django.urls import Resolver404, resolve  # here: alliance.logging loads before Django

    match = getattr(request, "resolver_match", None)
    if match is not None:
        return match
    path = getattr(request, "path_info", None)
    if not isinstance(path, str):
        return None
    try:
        return resolve(path)
    except Resolver404:
        return None
