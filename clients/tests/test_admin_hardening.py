"""The admin as an attacker tries it: probing filters, other clinics, free text, passwords."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.db import models
from django.test import RequestFactory
from django.urls import reverse

from clients.models import Client, Clinic, User
from measures.models import ConcernEvent
from measures.tests.factories import RatingFactory, concern_with_signal
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db

NOTE = "Disclosed trauma at age nine"
COMMENT = "My therapist seemed distracted"
REVIEW_NOTE = "Talked it through with her supervisor"


@pytest.fixture
def superuser(db: None) -> User:
    return User.objects.create_superuser(username="root", password="x")


@pytest.fixture
def record(client_record: Client, clinic_admin: User) -> dict[str, Any]:
    session = SessionFactory(client=client_record, notes=NOTE)
    rating = RatingFactory(session=session, comment=COMMENT)
    concern = concern_with_signal(client_record)
    concern.note = REVIEW_NOTE
    concern.save()
    ConcernEvent.objects.create(
        concern=concern, action="commented", actor=clinic_admin, note=REVIEW_NOTE
    )
    return {"session": session, "rating": rating, "concern": concern}


PROBES = [
    "/admin/therapy_sessions/session/?notes__icontains=trauma",
    "/admin/therapy_sessions/session/?notes__regex=^D",
    "/admin/therapy_sessions/session/?id__exact=1&notes__startswith=D",
    "/admin/therapy_sessions/session/?client__label__regex=^R",
    "/admin/measures/rating/?comment__icontains=distracted",
    "/admin/measures/concern/?note__icontains=supervisor",
    "/admin/measures/concern/?events__note__icontains=supervisor",
    "/admin/clients/client/?email__icontains=a",
    "/admin/clients/user/?password__startswith=md5",
    "/admin/clients/user/?clinic__name__icontains=Hill",
]


@pytest.mark.parametrize("who", ["clinic_admin", "superuser"])
@pytest.mark.parametrize("probe", PROBES)
def test_a_lookup_the_page_does_not_offer_is_refused(
    client: Any, record: dict[str, Any], who: str, probe: str, request: Any
) -> None:
    client.force_login(request.getfixturevalue(who))
    response = client.get(probe)
    assert response.status_code == 400
    assert b"1 result" not in response.content and b"0 results" not in response.content


@pytest.mark.parametrize(
    "path",
    [
        "/admin/therapy_sessions/session/?attendance__exact=attended",
        "/admin/therapy_sessions/session/?starts_at__year=2026",
        "/admin/therapy_sessions/session/?q=R.K.",
        "/admin/measures/rating/?rater__exact=client",
        "/admin/measures/concern/?status__exact=open",
        "/admin/clients/client/?status__exact=active&language__exact=en",
        "/admin/clients/user/?is_therapist__exact=1",
    ],
)
def test_the_filters_the_page_offers_still_work(
    client: Any, clinic_admin: User, record: dict[str, Any], path: str
) -> None:
    client.force_login(clinic_admin)
    assert client.get(path).status_code == 200


def test_the_clinic_filter_lists_only_the_viewers_clinic(
    client: Any, clinic_admin: User, outsider: User, other_clinic: Clinic
) -> None:
    client.force_login(clinic_admin)
    page = client.get(reverse("admin:clients_user_changelist"))
    assert page.status_code == 200
    assert b"Hillside" not in page.content and b"Riverside" in page.content
    foreign = client.get(
        f"{reverse('admin:clients_user_changelist')}?clinic__id__exact={other_clinic.pk}"
    )
    assert b"otto" not in foreign.content


def test_a_superusers_clinic_filter_lists_every_clinic(
    client: Any, superuser: User, clinic_admin: User, outsider: User
) -> None:
    client.force_login(superuser)
    page = client.get(reverse("admin:clients_user_changelist"))
    assert b"Hillside" in page.content and b"Riverside" in page.content


@pytest.mark.parametrize("who", ["clinic_admin", "superuser"])
def test_no_admin_page_shows_clinical_free_text(
    client: Any, record: dict[str, Any], who: str, request: Any
) -> None:
    client.force_login(request.getfixturevalue(who))
    pages = [
        reverse("admin:therapy_sessions_session_changelist"),
        reverse("admin:therapy_sessions_session_change", args=[record["session"].pk]),
        reverse("admin:measures_rating_changelist"),
        reverse("admin:measures_rating_change", args=[record["rating"].pk]),
        reverse("admin:measures_concern_changelist"),
        reverse("admin:measures_concern_change", args=[record["concern"].pk]),
        reverse("admin:measures_flag_changelist"),
    ]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        text = response.content.decode()
        for secret in (NOTE, COMMENT, REVIEW_NOTE):
            assert secret not in text, (path, secret)


def _free_text_fields(model: type[models.Model]) -> set[str]:
    return {field.name for field in model._meta.get_fields() if isinstance(field, models.TextField)}


def test_no_registered_admin_offers_a_free_text_field(superuser: User) -> None:
    """A model admin added later must keep notes, comments and the like out too."""
    request = RequestFactory().get("/admin/")
    request.user = superuser
    for model, model_admin in admin.site._registry.items():
        free_text = _free_text_fields(model)
        if not free_text:
            continue
        shown = set(flatten_fieldsets(model_admin.get_fieldsets(request)))
        shown |= set(model_admin.get_list_display(request))
        shown |= set(model_admin.get_search_fields(request)) | set(model_admin.list_filter)
        for inline in model_admin.get_inline_instances(request):
            inline_text = _free_text_fields(inline.model)
            inline_fields = flatten_fieldsets(inline.get_fieldsets(request))
            assert not inline_text & set(inline_fields), inline
        assert not free_text & shown, (model.__name__, free_text & shown)


def test_admin_pages_carry_the_apps_icon(client: Any, clinic_admin: User) -> None:
    """Else the browser asks for /favicon.ico on every admin page, a 404 in its console."""
    client.force_login(clinic_admin)
    page = client.get(reverse("admin:index")).content.decode()
    assert '<link rel="icon" href="/static/favicon.svg"' in page
    assert 'id="site-name"' in page  # still Django's own page, extended
