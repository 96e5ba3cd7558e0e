"""Content negotiation that refuses an unknown `?format=` by name.

DRF answers a format no renderer gives with 404, which this API keeps for "a record you do
not see": a tool asking for `?format=xml` would read that the list does not exist."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation


class KnownFormats(DefaultContentNegotiation):
    def filter_renderers(self, renderers: list[Any], format: str) -> list[Any]:
        known = [renderer for renderer in renderers if renderer.format == format]
        if not known:
            given = ", ".join(sorted({renderer.format for renderer in renderers}))
            raise NotAcceptable(f"No format {format!r} here; this address gives: {given}.")
        return known
