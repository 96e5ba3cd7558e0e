"""Forms for the filters in a page's address: the dashboard's period and sort (shared by
the page, the precision page and the CSV export), the caseload's status and search, and
the audit trail's colleague, client, action and period.

Addresses are typed, bookmarked and shared, so no filter is ever an error page: each
form says in one sentence what it could not use (`problem`), the view shows that above
the page and falls back to its default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.http import QueryDict
from django.utils import timezone

from alliance.fields import DateField, RecordChoiceField, SingleLineField
from alliance.forms import PageForm, first_error
from clients.colleagues import colleague_names
from clients.models import AuditAction, Client, User
from measures.models import OutcomeAnswer
from reports import dashboard
from reports.audit_trail import AuditFilters
from reports.selectors import CaseloadFilters
from sessions.dates import session_date_bounds

PRESETS = (7, 30, 90)
DEFAULT_DAYS = 30
CUSTOM = "custom"
LONGEST_RANGE_DAYS = 366
SEARCH_MAX_LENGTH = 40


def without_stale_dates(query: QueryDict) -> QueryDict | None:
    """The query without its from–to dates when the period chosen is not "From – to" (a
    preset, or none: the default), or None when there is nothing to take out. The form
    sends its dates whatever the period, so choosing "Last 7 days" after a custom period
    left the old dates in the address, and in every link and bookmark made from it."""
    if query.get("period") == CUSTOM or not ({"from", "to"} & set(query)):
        return None
    kept = query.copy()
    for name in ("from", "to"):
        kept.pop(name, None)
    return kept


class PeriodForm(forms.Form):
    """`?period=7|30|90|custom&from=YYYY-MM-DD&to=YYYY-MM-DD`: the dashboard's period."""

    period = forms.ChoiceField(
        label="Period",
        required=False,
        choices=[*((str(days), f"Last {days} days") for days in PRESETS), (CUSTOM, "From – to")],
        widget=forms.Select(attrs={"class": "form-select"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # The page's ids are the parameters' names: `<label for="from">`.
        kwargs.setdefault("auto_id", "%s")
        super().__init__(*args, **kwargs)
        self.bounds = session_date_bounds()
        # "from" is a Python keyword, so the two dates are added here, not declared above.
        for name in ("from", "to"):
            self.fields[name] = DateField(
                label=name.capitalize(),
                required=False,
                earliest=lambda: self.bounds.earliest,
                latest=lambda: self.bounds.latest,
                widget=forms.DateInput(
                    format="%Y-%m-%d", attrs={"type": "date", "class": "form-control"}
                ),
            )

    @classmethod
    def showing(cls, period: dashboard.Period, asked: Mapping[str, Any]) -> PeriodForm:
        """The form as the page shows it: filled in with the period in use. A from–to range
        refused (`asked`, the request's) keeps the dates as typed, to be corrected rather
        than typed again; the message above and the dates below the form say which period
        the numbers are for instead."""
        if asked.get("period") == CUSTOM and period.days is not None:
            return cls(initial={"period": CUSTOM, "from": asked.get("from"), "to": asked.get("to")})
        return cls(
            initial={
                "period": str(period.days) if period.days else CUSTOM,
                "from": timezone.localtime(period.start).date(),
                "to": period.last_day,
            }
        )

    def chosen(self) -> tuple[dashboard.Period, str]:
        """The period asked for and "" — or the default period and what was wrong."""
        self.is_valid()
        if first_error(self, "period"):
            return self._default(), "That period is not one we know"
        chosen = self.cleaned_data["period"] or str(DEFAULT_DAYS)
        if chosen != CUSTOM:
            return dashboard.period_of_days(int(chosen)), ""
        first, last = self.cleaned_data.get("from"), self.cleaned_data.get("to")
        errors = [first_error(self, name) for name in ("from", "to")]
        codes = {error.code for error in errors if error is not None}
        if "digits" in codes:
            problem = "Enter both dates as YYYY-MM-DD, in the digits 0–9"
        elif codes & {"too_early", "too_late"}:
            problem = f"Choose dates {self.bounds}"
        elif first is None or last is None:
            problem = "Enter both dates as YYYY-MM-DD"
        elif first > last:
            problem = "The start date is after the end date"
        elif (last - first).days >= LONGEST_RANGE_DAYS:
            problem = "Choose at most a year"
        else:
            return dashboard.period_between(first, last), ""
        return self._default(), problem

    @staticmethod
    def _default() -> dashboard.Period:
        return dashboard.period_of_days(DEFAULT_DAYS)


def dashboard_query(period: dashboard.Period, sort: str, descending: bool) -> str:
    """The address's query for `period` in `sort`'s order, as PeriodForm and SortForm read
    it: the dashboard's Export CSV asks for what the page shows."""
    if period.days:
        params = {"period": str(period.days)}
    else:
        first = timezone.localtime(period.start).date().isoformat()
        params = {"period": CUSTOM, "from": first, "to": period.last_day.isoformat()}
    params["sort"] = sort
    if descending:
        params["dir"] = "desc"
    return urlencode(params)


class SortForm(forms.Form):
    """`?sort=<column>&dir=desc`: the dashboard's order. An unknown `dir` is ascending."""

    sort = forms.ChoiceField(
        required=False, choices=[(column, column) for column in dashboard.SORTABLE]
    )
    dir = forms.ChoiceField(required=False, choices=[("asc", "asc"), ("desc", "desc")])

    def chosen(self) -> tuple[str, bool, str]:
        """The column, whether descending, and what was wrong ("" when nothing)."""
        self.is_valid()
        descending = self.cleaned_data.get("dir") == "desc"
        if first_error(self, "sort"):
            return "therapist", descending, "That column cannot be sorted; sorted by therapist."
        return self.cleaned_data["sort"] or "therapist", descending, ""


class CaseloadFilterForm(PageForm):
    """`?status=active|discharged&q=<part of a label>&outcome=not_on_track&page=N`."""

    status = forms.ChoiceField(required=False, choices=Client.Status.choices)
    q = SingleLineField(required=False)
    outcome = forms.ChoiceField(
        required=False, choices=[(OutcomeAnswer.Track.NOT_ON_TRACK, "Not on track only")]
    )

    def chosen(self) -> tuple[CaseloadFilters, list[str]]:
        """The filters asked for, and what was wrong with any (one sentence each); a
        refused filter is left at its default."""
        self.is_valid()
        problems = []
        status = self.cleaned_data.get("status") or Client.Status.ACTIVE
        if first_error(self, "status"):
            problems.append("That filter is not one we know; showing active clients.")
        search = self.cleaned_data.get("q", "")
        if first_error(self, "q"):
            problems.append("Search for one line of text, without control characters.")
        elif len(search) > SEARCH_MAX_LENGTH:
            problems.append(f"Search uses the first {SEARCH_MAX_LENGTH} characters.")
            search = search[:SEARCH_MAX_LENGTH]
        if first_error(self, "outcome"):
            problems.append("That outcome filter is not one we know; showing every client.")
        not_on_track_only = self.cleaned_data.get("outcome") == OutcomeAnswer.Track.NOT_ON_TRACK
        return CaseloadFilters(status, search, not_on_track_only), problems


class AuditFilterForm(PageForm):
    """`?user=<id>&client=<id>&action=<action>&page=N`, and the period as PeriodForm reads
    it (`period`, `from`, `to`). Colleagues and clients are those `viewer` sees: anyone
    else's id is refused like one that does not exist."""

    user = RecordChoiceField(
        label="Who",
        queryset=User.objects.none(),
        required=False,
        empty_label="Anyone",
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    # Chosen by following "Audit of this client" from a client's page, so not a list of
    # every client of the clinic: it rides along in the address.
    client = RecordChoiceField(
        queryset=Client.objects.none(), required=False, widget=forms.HiddenInput
    )
    action = forms.ChoiceField(
        label="Action",
        required=False,
        choices=[("", "Any action"), *AuditAction.choices],
        widget=forms.Select(attrs={"class": "form-select"}),
    )

    def __init__(self, *args: Any, viewer: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "%s")
        super().__init__(*args, **kwargs)
        # Listed by the names they show, as every other list of staff (the dashboard, the
        # staff page), in the database's collation; not by usernames nobody sees here.
        self.fields["user"].queryset = User.objects.visible_to(viewer).order_by(
            "last_name", "first_name", "username"
        )
        self.fields["client"].queryset = Client.objects.visible_to(viewer)
        self.period_form = PeriodForm(*args)

    @classmethod
    def showing(cls, filters: AuditFilters, viewer: Any) -> AuditFilterForm:
        """The form filled in with the filters in use (a refused one left out)."""
        initial = {"user": filters.actor, "client": filters.client, "action": filters.action}
        return cls(viewer=viewer, initial=initial)

    def colleague_names(self) -> dict[int, str]:
        """The colleagues the filter lists, by id, as the page names them
        (`clients.colleagues.colleague_names`), read once for the filter and the Who column."""
        names = colleague_names(self.fields["user"].queryset)
        self.fields["user"].choices = [("", self.fields["user"].empty_label), *names.items()]
        return names

    def chosen(self) -> tuple[AuditFilters, list[str]]:
        """The filters asked for, and what was wrong with any (one sentence each); a
        refused filter is left out."""
        self.is_valid()
        problems = []
        if first_error(self, "user"):
            problems.append("That colleague is not one we know; showing everyone's entries.")
        if first_error(self, "client"):
            problems.append("That client is not one we know; showing every client's entries.")
        if first_error(self, "action"):
            problems.append("That action is not one we know; showing every action.")
        period, problem = self.period_form.chosen()
        if problem:
            problems.append(f"{problem}; showing the last {DEFAULT_DAYS} days.")
        filters = AuditFilters(
            period=period,
            actor=self.cleaned_data.get("user"),
            client=self.cleaned_data.get("client"),
            action=self.cleaned_data.get("action", ""),
        )
        return filters, problems
