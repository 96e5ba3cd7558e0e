"""The read-only API: clients, sessions, ratings, outcome answers and concerns, each
reached through its scoped queryset (`visible_to`), so a token reads exactly what its
owner reads in the app: another clinic's record, or one outside their caseload, is a 404.

Each answer that shows clients' records is in the audit trail: one "exported" entry per
client it showed, as a CSV download is (not a HEAD request's, which sends none:
`clients.audit.READS`).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from drf_spectacular.views import SpectacularAPIView
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from api import serializers as shapes
from api.pagination import NO_PAGE_NUMBERS, OTHER_PAGING, AfterIdPagination, ParameterNumberField
from clients import audit
from clients.models import Client
from measures.fhir import client_bundle
from measures.models import Concern, OutcomeAnswer, Rating
from sessions.models import Session

PLACE = "api"


class FhirJSONRenderer(JSONRenderer):
    """FHIR's own media type, which an EHR's client asks for (and is sent by default)."""

    media_type = "application/fhir+json"
    format = "fhir"


class SchemaView(SpectacularAPIView):
    """The OpenAPI description (YAML, or JSON when asked), whose refusals — the rate's 429,
    an unknown `?format=`'s 406 — answer in JSON, `{"detail": "…"}`, as every other error
    under /api/ does. In the description's own YAML, `detail` read `{string: …, code: …}`."""

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        # `finalize_response` renders with the request's renderer, chosen before the
        # refusal (or, for a 406, chosen afterwards as the first: YAML) unless set here.
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return response


BY_CLIENT = OpenApiParameter(
    "client", OpenApiTypes.INT, description="Only this client's records (their id)."
)


class ClientFilter(forms.Form):
    """`?client=<id>`: a whole number, or the request is refused with the reason."""

    client = ParameterNumberField(min_value=1, required=False)


# DRF's own: `?format=json` picks the renderer.
FORMAT = "format"


def refuse_unknown(request: Request, allowed: tuple[str, ...]) -> None:
    """A list takes only its own parameters, each once: a misspelt filter or a page number
    silently ignored would answer with records the tool did not ask for."""
    problems: dict[str, list[str]] = {}
    for name in request.query_params:
        if name in OTHER_PAGING:
            problems[name] = [NO_PAGE_NUMBERS]
        elif name not in allowed:
            problems[name] = [f"Not a parameter of this list; it takes {', '.join(allowed)}."]
        elif len(request.query_params.getlist(name)) > 1:
            problems[name] = ["Give it once."]
    if problems:
        raise serializers.ValidationError(problems)


class AuditedReadOnly(viewsets.ReadOnlyModelViewSet):
    """List (paginated) and retrieve, each recorded per client shown."""

    client_path = "client"  # how a record reaches its client, for `?client=` and the trail
    # A record's address is its id in the digits 0–9: DRF's default reads any characters
    # and Django's lookup `int()` then reads "١٢" or "１２" as record 12 (alliance/fields.py).
    lookup_value_regex = "[0-9]+"
    list_filters: tuple[str, ...] = ("client",)  # the list's own query parameters

    def scoped(self) -> QuerySet[Any]:
        raise NotImplementedError

    def get_queryset(self) -> QuerySet[Any]:
        records = self.scoped().order_by("pk")
        if self.action == "list":
            chosen = ClientFilter(self.request.query_params)
            if not chosen.is_valid():
                raise serializers.ValidationError(chosen.errors)
            if client_id := chosen.cleaned_data["client"]:
                # A client one does not see is a 404, as their own record would be.
                if not Client.objects.visible_to(self.request.user).filter(pk=client_id).exists():
                    raise NotFound("No such client among those you see.")
                records = records.filter(**{f"{self.client_path}_id": client_id})
        return records

    def clients_of(self, records: list[Any]) -> dict[int, int]:
        """Client id → clinic id of the records shown."""
        return {record.client_id: record.client.clinic_id for record in records}

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        refuse_unknown(request, (*self.list_filters, *AfterIdPagination.parameters, FORMAT))
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        audit.exported_clients(request.user, self.clients_of(page), place=PLACE)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        record = self.get_object()
        audit.exported_clients(request.user, self.clients_of([record]), place=PLACE)
        return Response(self.get_serializer(record).data)


@extend_schema_view(list=extend_schema(description="The clients you see, 100 a page."))
class ClientViewSet(AuditedReadOnly):
    serializer_class = shapes.ClientSerializer
    list_filters = ()

    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        description="The client's ratings and outcome answers as a FHIR R4 Bundle "
        "(collection), with the questionnaires they answer. For the clinic's admins.",
    )
    @action(detail=True, url_path="fhir", renderer_classes=[FhirJSONRenderer, JSONRenderer])
    def fhir(self, request: Request, pk: str | None = None) -> Response:
        client = self.get_object()  # 404 outside the owner's scope
        return Response(client_bundle(actor=request.user, client=client, place=PLACE))

    def scoped(self) -> QuerySet[Client]:
        return Client.objects.visible_to(self.request.user)

    def get_queryset(self) -> QuerySet[Client]:
        return self.scoped().order_by("pk")  # a client's own list takes no ?client=

    def clients_of(self, records: list[Any]) -> dict[int, int]:
        return {client.pk: client.clinic_id for client in records}


class SessionClientMixin:
    client_path = "session__client"

    def clients_of(self, records: list[Any]) -> dict[int, int]:
        return {r.session.client_id: r.session.client.clinic_id for r in records}


@extend_schema_view(list=extend_schema(parameters=[BY_CLIENT]))
class SessionViewSet(AuditedReadOnly):
    serializer_class = shapes.SessionSerializer

    def scoped(self) -> QuerySet[Session]:
        return Session.objects.visible_to(self.request.user).select_related("client")


@extend_schema_view(list=extend_schema(parameters=[BY_CLIENT]))
class RatingViewSet(SessionClientMixin, AuditedReadOnly):
    serializer_class = shapes.RatingSerializer

    def scoped(self) -> QuerySet[Rating]:
        # Of sessions not voided, as every page and export counts them (a voided session
        # is listed by sessions/, with its voided_at).
        return (
            Rating.objects.visible_to(self.request.user)
            .of_current_sessions()
            .with_guess_shown_to(self.request.user)
            .select_related("session__client")
        )


@extend_schema_view(list=extend_schema(parameters=[BY_CLIENT]))
class OutcomeAnswerViewSet(SessionClientMixin, AuditedReadOnly):
    serializer_class = shapes.OutcomeAnswerSerializer

    def scoped(self) -> QuerySet[OutcomeAnswer]:
        return (
            OutcomeAnswer.objects.visible_to(self.request.user)
            .of_current_sessions()
            .select_related("session__client")
        )


@extend_schema_view(list=extend_schema(parameters=[BY_CLIENT]))
class ConcernViewSet(AuditedReadOnly):
    serializer_class = shapes.ConcernSerializer

    def scoped(self) -> QuerySet[Concern]:
        return Concern.objects.visible_to(self.request.user).select_related("client")
