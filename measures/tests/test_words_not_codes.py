"""No stored code reaches a reader: every page, e-mail and CSV of the demo clinic, read by
each role, says "a lot", "no-show" and "Reliable drop" — never a_lot, no_show, reliable_drop,
"Operator lt" or a Python list."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client as Browser
from django.urls import reverse

from clients.models import Client
from conftest import visible_text
from measures.calibration_runs import calibration_run
from measures.models import Concern
from measures.notifications import digests_send, escalations_send
from sessions.models import Session

pytestmark = pytest.mark.django_db

# snake_case words (a_lot, not_at_all, below_cutoff…), "Operator", and lists like [9.5, 9.0].
CODE = re.compile(r"\b[a-z]+_[a-z_]+\b|\boperator\b|\[\s*[\d'\"]", re.IGNORECASE)


def codes_in(text: str) -> list[str]:
    return sorted(set(CODE.findall(text)))


def page_text(browser: Browser, url: str) -> str:
    response = browser.get(url)
    assert response.status_code == 200, url
    if response.get("Content-Type", "").startswith("text/csv"):
        # The header row names the columns for a spreadsheet; the values are what is read.
        return b"".join(response.streaming_content).decode().split("\n", 1)[1]
    return visible_text(response.content.decode())


def urls_for(user: Any) -> list[str]:
    username = user.username
    clients = Client.objects.visible_to(user)
    sessions = Session.objects.visible_to(user).filter(ratings__isnull=False).distinct()[:40]
    urls = [
        reverse("reports:caseload"),
        f"{reverse('reports:caseload')}?status=discharged",
        reverse("measures:review-queue"),
        *[reverse("reports:client-detail", args=[c.pk]) for c in clients],
        *[reverse("reports:client-ratings-csv", args=[c.pk]) for c in clients],
        *[reverse("reports:session-detail", args=[s.pk]) for s in sessions],
        *[
            reverse("measures:concern-detail", args=[c.pk])
            for c in Concern.objects.visible_to(user)
        ],
    ]
    if username != "therapist1":
        therapists = Client.objects.values_list("therapist_id", flat=True).distinct()
        urls += [
            reverse("reports:dashboard"),
            reverse("reports:dashboard-csv"),
            f"{reverse('reports:precision')}?period=90",
            *[reverse("reports:therapist-caseload", args=[pk]) for pk in therapists],
        ]
    if username == "clinicadmin":
        urls.append(reverse("measures:thresholds"))
    return urls


def test_no_stored_code_reaches_any_page_e_mail_or_csv(settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    from clients.models import User

    admin = User.objects.get(username="clinicadmin")
    calibration_run(clinic=admin.clinic, actor=admin)
    assert Concern.objects.exists() and Session.objects.filter(attendance="no_show").exists()

    found: dict[str, list[str]] = {}
    for username in ("therapist1", "supervisor", "clinicadmin"):
        browser = Browser()
        user = User.objects.get(username=username)
        browser.force_login(user)
        for url in urls_for(user):
            codes = codes_in(page_text(browser, url))
            if codes:
                found[f"{username} {url}"] = codes
    for user in User.objects.all():
        user.email = f"{user.username}@example.org"
        user.save(update_fields=["email"])
    Concern.objects.update(notified_at=None, escalated_at=None)
    digests_send()
    escalations_send()
    assert mail.outbox, "the demo has concerns to mail"
    for message in mail.outbox:
        codes = codes_in(f"{message.subject}\n{message.body}")
        if codes:
            found[f"mail to {message.to}"] = codes
    assert found == {}
