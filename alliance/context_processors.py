"""What every template may link to without naming a higher app's URL."""

from __future__ import annotations

from django.http import HttpRequest

from alliance import links


def home(request: HttpRequest) -> dict[str, str]:
    """`home_url`: the caseload, for "Back" and "Cancel" links in the apps below the read
    side (see `alliance.links`)."""
    return {"home_url": links.home()}
