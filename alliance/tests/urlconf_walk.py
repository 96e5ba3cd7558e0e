"""The URL conf as a walk: every named URL, the records that fill its arguments, and a
browser signed in as each role. Shared by the access matrix and the scoped-reads walk;
the `world` fixture that builds the people and records is in this folder's conftest.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.test import Client as Browser
from django.urls import URLResolver, get_resolver, reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import AccessToken
from accounts.tokens import token_create
from clients.models import Client, Supervision, User
from measures.calibration_runs import calibration_run
from measures.instruments import instrument_add
from measures.models import (
    Calibration,
    ClinicThresholds,
    Concern,
    Flag,
    Instrument,
    Sweep,
    ThresholdChange,
)
from measures.tests.factories import (
    OutcomeAnswerFactory,
    RatingFactory,
    concern_with_signal,
    instrument_definition,
)
from measures.thresholds import thresholds_reset
from sessions import invitations
from sessions.models import RatingInvitation, Session
from sessions.tests.factories import SessionFactory

# Variants: which records fill a URL's arguments.
OWN = "A's"  # therapist A's records (and, for a URL without arguments, just the URL)
OTHER = "another clinic's"
UNKNOWN = "unknown"

# Query strings some URLs need to reach their view's checks.
QUERIES = {"admin:autocomplete": "?app_label=clients&model_name=client&field_name=therapist"}

# --- Walking the URL conf ----------------------------------------------------------------


@functools.cache
def named_urls() -> dict[str, tuple[str, ...]]:
    """Every named URL, namespaced ("reports:client-detail"), with its arguments' names."""
    found: dict[str, tuple[str, ...]] = {}

    def walk(patterns: list[Any], namespace: str, params: tuple[str, ...]) -> None:
        for entry in patterns:
            names = params + tuple(entry.pattern.regex.groupindex)
            if isinstance(entry, URLResolver):
                inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
                walk(entry.url_patterns, inner, names)
            elif entry.name:
                # Like reverse(), the first pattern of a name wins.
                found.setdefault(f"{namespace}{entry.name}", names)

    walk(get_resolver().url_patterns, "", ())
    return found


@functools.cache
def admin_url_models() -> dict[str, str]:
    """The model (app_label.model_name) whose record an admin URL's object id names."""
    models_by_url = {"admin:view_on_site": "measures.concern"}
    for model in admin.site._registry:
        for view in ("change", "delete", "history"):
            url_name = f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}"
            models_by_url[url_name] = model._meta.label_lower
    return models_by_url


# --- The records and the people ----------------------------------------------------------


class Records:
    """One clinic's records, to fill URL arguments with; each is made when first needed."""

    def __init__(self, client: Client, *, supervision: Supervision, clinic_admin: User) -> None:
        self.client = client
        self.therapist = client.therapist
        self.supervision = supervision
        self.clinic_admin = clinic_admin

    @functools.cached_property
    def concern(self) -> Concern:
        """Open, holding one signal, on a session the client has not rated yet."""
        return concern_with_signal(self.client)

    @functools.cached_property
    def session(self) -> Session:
        return self.concern.last_session

    @functools.cached_property
    def invitation(self) -> tuple[RatingInvitation, str]:
        """The session's live rating link, and its token."""
        return invitations.invitation_create(session=self.session)

    @property
    def token(self) -> str:
        return self.invitation[1]

    @functools.cached_property
    def flag(self) -> Flag:
        return self.concern.signals.get()

    @functools.cached_property
    def access_token(self) -> AccessToken:
        """A personal access token of the client's therapist."""
        return token_create(user=self.therapist, name="Clinic tool")[0]

    @functools.cached_property
    def calibration(self) -> Calibration:
        return calibration_run(clinic=self.client.clinic, actor=self.clinic_admin)

    @functools.cached_property
    def instrument(self) -> Instrument:
        """An outcome instrument of the clinic's own, not in use."""
        return instrument_add(
            clinic=self.client.clinic, definition=instrument_definition(), actor=self.clinic_admin
        )

    @functools.cached_property
    def threshold_change(self) -> ThresholdChange:
        # A value of the clinic's own to go back from (a reset with none records nothing).
        ClinicThresholds.objects.update_or_create(
            clinic=self.client.clinic, defaults={"discrepancy": 2.0}
        )
        return thresholds_reset(clinic=self.client.clinic, actor=self.clinic_admin)

    def of_model(self, label: str) -> models.Model:
        """The record an admin URL for `label` names."""
        makers = {
            "clients.clinic": lambda: self.client.clinic,
            "clients.user": lambda: self.therapist,
            "clients.supervision": lambda: self.supervision,
            "clients.client": lambda: self.client,
            "therapy_sessions.session": lambda: self.session,
            "therapy_sessions.ratinginvitation": lambda: self.invitation[0],
            "measures.rating": lambda: RatingFactory(session=SessionFactory(client=self.client)),
            "measures.flag": lambda: self.flag,
            "measures.concern": lambda: self.concern,
            "measures.clinicthresholds": lambda: ClinicThresholds.objects.get(
                clinic_id=self.threshold_change.clinic_id
            ),
            "measures.calibration": lambda: self.calibration,
            "measures.thresholdchange": lambda: self.threshold_change,
            # Records of no clinic.
            "measures.sweep": lambda: Sweep.objects.create(),
            "axes.accessattempt": lambda: AccessAttempt.objects.create(
                username="tara", ip_address="203.0.113.9", failures_since_start=1
            ),
            "axes.accesslog": lambda: AccessLog.objects.create(
                username="tara", ip_address="203.0.113.9"
            ),
            "axes.accessfailurelog": lambda: AccessFailureLog.objects.create(
                username="tara", ip_address="203.0.113.9"
            ),
        }
        return makers[label]()


@dataclass
class World:
    users: dict[str, User | None]
    own: Records
    other: Records


def browser_for(role: str, world: World) -> Browser:
    """A browser signed in as `role`; a 500 comes back as a response, not an exception."""
    browser = Browser(raise_request_exception=False)
    user = world.users[role]
    if user is not None:
        browser.force_login(user)
    if role == "link_holder":
        link = browser.get(invitations.rating_path(world.own.token))
        assert link.status_code == 200, "the link holder's link should open"
    return browser


def argument(name: str, param: str, variant: str, records: Records) -> Any:
    if param == "token":
        return "no-such-link" if variant == UNKNOWN else records.token
    if param == "uidb64":
        return urlsafe_base64_encode(force_bytes(records.therapist.pk))
    if param == "app_label":
        return "clients"
    if param == "content_type_id":
        return ContentType.objects.get_for_model(Concern).pk
    if param in ("object_id", "id"):
        return records.of_model(admin_url_models()[name]).pk
    if param == "pk":  # the API's records: "api:session-detail" names a session
        api_records = {
            "client": records.client,
            "session": records.session,
            "rating": lambda: RatingFactory(session=records.session),
            "outcome-answer": lambda: OutcomeAnswerFactory(session=records.session),
            "concern": records.concern,
        }
        resource = name.removeprefix("api:").removesuffix("-detail").removesuffix("-fhir")
        record = api_records[resource]
        return (record() if callable(record) else record).pk
    by_param = {
        "client_id": records.client,
        "session_id": records.session,
        "concern_id": records.concern,
        "flag_id": records.flag,
        "calibration_id": records.calibration,
        "therapist_id": records.therapist,
        "instrument_id": records.instrument,
        "member_id": records.therapist,
        "supervision_id": records.supervision,
        "token_id": records.access_token,
    }
    if param not in by_param:
        pytest.fail(f"{name}: no record to fill <{param}> with; add one to argument()")
    return by_param[param].pk


def url_for(name: str, variant: str, world: World) -> str:
    records = world.other if variant == OTHER else world.own
    kwargs = {param: argument(name, param, variant, records) for param in named_urls()[name]}
    return reverse(name, kwargs=kwargs) + QUERIES.get(name, "")
