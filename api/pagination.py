"""The API's lists page by record id: `?after=<id>` and `?page_size=`, never by page number.

A page number costs a count of every record the owner sees and an offset past all the
pages before it, both growing with the clinic: at the huge scale (25,000 clients, a million
ratings) the clinic admin's first page of ratings took 0.44 s and the last 2.3 s.
A page that starts after an id is one index range, as fast at the last page as at the
first. It also holds still while records come and go: a session voided during a pull
shifts every later page number by one, silently skipping a record, while "after id 9,000"
means the same records however many went before. (It is not a change feed: records
change in place, and one written during a pull can take an id below one already read;
README's API section says so.)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django import forms
from django.db import connections, transaction
from django.db.models import QuerySet
from rest_framework import serializers
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from alliance.fields import WholeNumberField

PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
LARGEST_ID = 2**63 - 1  # a bigint primary key's range
# Other ways of paging, refused with the way on: a client stepping through them would get
# the first page for ever.
OTHER_PAGING = ("page", "offset", "limit", "cursor")
NO_PAGE_NUMBERS = "Lists page by id, not by number: follow `next` (?after=<the last id of a page>)."


@contextmanager
def serial_plan(alias: str) -> Iterator[None]:
    """The page's query planned without PostgreSQL's parallel workers. Walking the ids in
    order until a page of a team's records is found, it is cheap in one process (1.4 ms for
    a supervisor of ten therapists' ratings, 2 % of a million); planned in three, each
    walking its own share of the ids, it took 40–140 ms, while the dashboard's long
    aggregates gain from the workers (0.74 against 0.94 s at the same scale), so they stay
    on for the rest. SET LOCAL lasts to the end of the transaction it is in."""
    connection = connections[alias]
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic(using=alias):
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        yield


class ParameterNumberField(WholeNumberField):
    """A query parameter's whole number: left out, it is None; given empty (`?client=`), it
    is refused. Read as left out, an empty value would widen the answer: a tool that built
    `?client={id}` with its id missing would get every client's records."""

    empty_values = [None]  # "" is a value given, and not a whole number
    default_error_messages = {"empty": "Give a whole number, or leave the parameter out."}

    def to_python(self, value: Any) -> Any:
        if value == "":
            raise forms.ValidationError(self.error_messages["empty"], code="empty")
        return super().to_python(value)


class PageChoice(forms.Form):
    """`?after=` and `?page_size=`: whole numbers in range, or the request is refused with
    the reason."""

    after = ParameterNumberField(min_value=0, max_value=LARGEST_ID, required=False)
    page_size = ParameterNumberField(min_value=1, max_value=MAX_PAGE_SIZE, required=False)


class AfterIdPagination(BasePagination):
    """Up to `page_size` records with an id greater than `after`, in id order, and a `next`
    link while more follow."""

    parameters = tuple(PageChoice.base_fields)

    def paginate_queryset(
        self, queryset: QuerySet[Any], request: Request, view: Any = None
    ) -> list[Any]:
        chosen = PageChoice(request.query_params)
        if not chosen.is_valid():
            raise serializers.ValidationError(chosen.errors)
        after = chosen.cleaned_data["after"] or 0
        size = chosen.cleaned_data["page_size"] or PAGE_SIZE
        # One more than the page, to know whether another follows without a count.
        with serial_plan(queryset.db):
            records = list(queryset.filter(pk__gt=after).order_by("pk")[: size + 1])
        self.page = records[:size]
        self.more = len(records) > size
        self.request = request
        return self.page

    def next_link(self) -> str | None:
        if not self.more:
            return None
        url = self.request.build_absolute_uri()
        return replace_query_param(url, "after", self.page[-1].pk)

    def get_paginated_response(self, data: Any) -> Response:
        return Response({"next": self.next_link(), "results": data})

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["next", "results"],
            "properties": {
                "next": {
                    "type": "string",
                    "nullable": True,
                    "format": "uri",
                    "description": "The next page, or null on the last one.",
                },
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": "after",
                "required": False,
                "in": "query",
                "description": "Only records with an id greater than this: the last id "
                "of the page before (as `next` gives it).",
                "schema": {"type": "integer", "minimum": 0, "maximum": LARGEST_ID},
            },
            {
                "name": "page_size",
                "required": False,
                "in": "query",
                "description": f"Records a page (default {PAGE_SIZE}, at most {MAX_PAGE_SIZE}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
            },
        ]
