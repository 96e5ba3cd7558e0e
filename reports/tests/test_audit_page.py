"""The audit page and its CSV: a clinic's trail for its clinic admins, filtered by
colleague, client, action and period; bad filters said and left out; nobody else's."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from clients import audit
from clients.models import AuditAction, AuditEntry, Client, User
from clients.tests.factories import ClientFactory, TherapistFactory
from reports.views import audit as audit_view

pytestmark = pytest.mark.django_db

PAGE = reverse("reports:audit")
CSV = reverse("reports:audit-csv")


def entry(
    actor: User, action: str, record: Any, *, days_ago: float = 0, place: str = "client page"
) -> AuditEntry:
    """An entry as the app writes it, `days_ago` back (written whole: entries never change)."""
    return AuditEntry.objects.create(
        at=timezone.now() - dt.timedelta(days=days_ago),
        clinic_id=actor.clinic_id,
        actor=actor,
        actor_name=actor.username,
        address="203.0.113.9",
        action=action,
        model=record._meta.label_lower,
        object_id=str(record.pk),
        client_id=record.pk if isinstance(record, Client) else None,
        fields=["label"] if action == AuditAction.CHANGED else [],
        place=place,
    )


def shown(response: Any) -> list[AuditEntry]:
    assert response.status_code == 200
    return list(response.context["page"].object_list)


def warnings(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def trail(
    supervisor: User,
    therapist: User,
    client_record: Client,
    colleague_client: Client,
    outsider: User,
    outsider_client: Client,
) -> dict[str, AuditEntry]:
    return {
        "supervisor_viewed": entry(supervisor, AuditAction.VIEWED, client_record, days_ago=1),
        "supervisor_exported": entry(
            supervisor, AuditAction.EXPORTED, client_record, place="ratings CSV"
        ),
        "therapist_changed": entry(therapist, AuditAction.CHANGED, colleague_client, days_ago=2),
        "old": entry(therapist, AuditAction.VIEWED, client_record, days_ago=60),
        "other_clinic": entry(outsider, AuditAction.VIEWED, outsider_client),
    }


# --- Who may open it ---------------------------------------------------------------------


def test_anonymous_is_sent_to_log_in(client: Any) -> None:
    for url in (PAGE, CSV):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("role", ["therapist", "supervisor", "outsider"])
def test_anyone_but_a_clinic_admin_is_refused(client: Any, role: str, request: Any) -> None:
    client.force_login(request.getfixturevalue(role))
    assert client.get(PAGE).status_code == 403
    assert client.get(CSV).status_code == 403
    assert not AuditEntry.objects.exists()  # a refused export is not one


def test_the_clinic_admin_sees_the_clinics_entries_newest_first(
    client: Any, clinic_admin: User, trail: dict[str, AuditEntry]
) -> None:
    client.force_login(clinic_admin)
    response = client.get(PAGE)
    # The last 30 days by default: the 60-day-old entry and the other clinic's are not here.
    assert shown(response) == [
        trail["supervisor_exported"],
        trail["supervisor_viewed"],
        trail["therapist_changed"],
    ]
    html = response.content.decode()
    assert "203.0.113.9" in html and "ratings CSV" in html and "R.K." in html
    assert ">otto<" not in html and "Z.Z." not in html
    link = reverse("reports:client-detail", args=[trail["supervisor_viewed"].client_id])
    assert f'href="{link}"' in html


def test_the_page_says_where_and_what_in_words_and_the_csv_keeps_the_stored_values(
    client: Any, clinic_admin: User, client_record: Client
) -> None:
    entry(clinic_admin, AuditAction.CHANGED, client_record, place="sessions:session-log")
    client.force_login(clinic_admin)
    html = client.get(PAGE).content.decode()
    assert f"<td>client {client_record.pk}</td>" in html
    assert "<td>session log</td>" in html and "sessions:session-log" not in html
    # A route without a namespace too; a place already in words stays as it is.
    entry(clinic_admin, AuditAction.CHANGED, client_record, place="two-factor-setup")
    entry(clinic_admin, AuditAction.CHANGED, client_record, place="concern page")
    html = client.get(PAGE).content.decode()
    assert "<td>two factor setup</td>" in html and "two-factor-setup" not in html
    assert "<td>concern page</td>" in html
    rows = list(csv.DictReader(io.StringIO(b"".join(client.get(CSV).streaming_content).decode())))
    assert "sessions:session-log" in {row["place"] for row in rows}


def test_who_acted_is_named_as_the_colleague_filter_names_them_and_the_csv_keeps_usernames(
    client: Any, clinic_admin: User, therapist: User, client_record: Client, other_clinic: Any
) -> None:
    """The page said "tara" where its filter offered "Tara Young": the same person, found
    under two names."""
    therapist.first_name, therapist.last_name = "Tara", "Young"
    therapist.save()
    nameless = TherapistFactory(
        clinic=clinic_admin.clinic, username="nn", first_name="", last_name=""
    )
    root = User.objects.create_superuser(username="root", password="x", first_name="Rosa")
    moved = TherapistFactory(clinic=clinic_admin.clinic, username="mover", first_name="Mo")
    for actor in (therapist, nameless, moved, root):
        audit.written(actor, AuditAction.CHANGED, client_record)
    User.objects.filter(pk=moved.pk).update(clinic=other_clinic)  # since moved away
    audit.written(None, AuditAction.CHANGED, client_record)  # "system"
    client.force_login(clinic_admin)
    response = client.get(PAGE)
    html = response.content.decode()
    cells = [row.split("<td>")[2].split("</td>")[0] for row in html.split("<tr>")[2:]]
    # Newest first: the system, then root, mover, nn and Tara. A colleague of the clinic by
    # their name (their username without one), anyone else by the username the entry kept.
    assert cells == ["system", "root", "mover", "nn", "Tara Young"]
    options = [label for _value, label in response.context["form"].fields["user"].choices]
    assert {"Tara Young", "nn"} <= set(options)
    rows = list(csv.DictReader(io.StringIO(b"".join(client.get(CSV).streaming_content).decode())))
    assert [row["who"] for row in rows[1:]] == ["system", "root", "mover", "nn", "tara"]


def test_the_colleague_filter_lists_colleagues_by_name_as_every_list_of_staff(
    client: Any, clinic_admin: User
) -> None:
    """The filter shows names ("Zoe Young"), so it is sorted by them, last name then first,
    in the database's collation, as the dashboard and the staff page sort them; sorted by
    the usernames it does not show, "amy" (Zoe Young) came before "bob" (Bo Dawson)."""
    for username, first, last in [
        ("zed", "Ann", "de Vries"),
        ("amy", "Zoe", "Young"),
        ("bob", "Bo", "Dawson"),
        ("al", "Al", "Dawson"),
        ("cy", "Cy", "abbott"),
    ]:
        TherapistFactory(
            clinic=clinic_admin.clinic, username=username, first_name=first, last_name=last
        )
    client.force_login(clinic_admin)
    response = client.get(PAGE)
    [anyone, *choices] = response.context["form"].fields["user"].choices
    assert anyone[1] == "Anyone"
    options = [label for _value, label in choices]
    by_name = User.objects.visible_to(clinic_admin).order_by("last_name", "first_name", "username")
    assert options == [str(colleague) for colleague in by_name]
    assert options.index("Al Dawson") < options.index("Bo Dawson") < options.index("Zoe Young")


def test_two_colleagues_of_one_name_are_told_apart_by_username_in_the_column_and_filter(
    client: Any, clinic_admin: User, client_record: Client
) -> None:
    """Named as the filter names them, two "José Ortega" were one person twice in the Who
    column (the usernames it showed before told them apart) and twice in the filter."""
    first = TherapistFactory(
        clinic=clinic_admin.clinic, username="jortega", first_name="José", last_name="Ortega"
    )
    second = TherapistFactory(
        clinic=clinic_admin.clinic, username="jose.o", first_name="José", last_name="Ortega"
    )
    audit.written(first, AuditAction.CHANGED, client_record)
    audit.written(second, AuditAction.CHANGED, client_record)
    client.force_login(clinic_admin)
    response = client.get(PAGE)
    html = response.content.decode()
    cells = [row.split("<td>")[2].split("</td>")[0] for row in html.split("<tr>")[2:]]
    assert cells == ["José Ortega (jose.o)", "José Ortega (jortega)"]
    options = [label for _value, label in response.context["form"].fields["user"].choices]
    assert {"José Ortega (jose.o)", "José Ortega (jortega)", str(clinic_admin)} <= set(options)
    assert "José Ortega" not in options
    # The colleague chosen stays chosen in the filter.
    chosen = client.get(PAGE, {"user": second.pk}).content.decode()
    assert f'<option value="{second.pk}" selected>José Ortega (jose.o)</option>' in chosen


def test_another_clinics_admin_sees_only_their_own(
    client: Any, other_clinic: Any, trail: dict[str, AuditEntry]
) -> None:
    from clients.tests.factories import ClinicAdminFactory

    client.force_login(ClinicAdminFactory(clinic=other_clinic))
    assert shown(client.get(PAGE)) == [trail["other_clinic"]]


# --- Filters -----------------------------------------------------------------------------


def test_it_filters_by_colleague(
    client: Any, clinic_admin: User, supervisor: User, trail: dict[str, AuditEntry]
) -> None:
    client.force_login(clinic_admin)
    response = client.get(PAGE, {"user": supervisor.pk})
    assert shown(response) == [trail["supervisor_exported"], trail["supervisor_viewed"]]
    assert warnings(response) == []


def test_it_filters_by_client(
    client: Any, clinic_admin: User, colleague_client: Client, trail: dict[str, AuditEntry]
) -> None:
    client.force_login(clinic_admin)
    response = client.get(PAGE, {"client": colleague_client.pk})
    assert shown(response) == [trail["therapist_changed"]]
    assert "client M.P. only" in response.content.decode()


def test_it_filters_by_action(
    client: Any, clinic_admin: User, trail: dict[str, AuditEntry]
) -> None:
    client.force_login(clinic_admin)
    assert shown(client.get(PAGE, {"action": "exported"})) == [trail["supervisor_exported"]]


def test_it_filters_by_period(
    client: Any, clinic_admin: User, trail: dict[str, AuditEntry]
) -> None:
    client.force_login(clinic_admin)
    assert trail["old"] in shown(client.get(PAGE, {"period": "90"}))
    # The entry's own local day: sixty days back can cross a change of clocks, and
    # "now minus 60 days" late in the evening is then already the next local day.
    day = timezone.localtime(trail["old"].at).date()
    response = client.get(PAGE, {"period": "custom", "from": day, "to": day})
    assert shown(response) == [trail["old"]]


@pytest.mark.parametrize(
    ("params", "said"),
    [
        ({"user": "99999"}, "That colleague is not one we know; showing everyone's entries."),
        ({"user": "٣"}, "That colleague is not one we know; showing everyone's entries."),
        ({"client": "abc"}, "That client is not one we know; showing every client's entries."),
        ({"action": "deleted"}, "That action is not one we know; showing every action."),
        ({"period": "12"}, "That period is not one we know; showing the last 30 days."),
        (
            {"period": "custom", "from": "2025-13-01", "to": "2025-01-01"},
            "Enter both dates as YYYY-MM-DD; showing the last 30 days.",
        ),
    ],
)
def test_a_bad_filter_is_said_and_left_out(
    client: Any, clinic_admin: User, trail: dict[str, AuditEntry], params: dict, said: str
) -> None:
    client.force_login(clinic_admin)
    response = client.get(PAGE, params)
    assert warnings(response) == [said]
    assert len(shown(response)) == 3


def test_a_refused_filter_keeps_the_page_asked_for(
    client: Any, clinic_admin: User, trail: dict[str, AuditEntry], monkeypatch: Any
) -> None:
    """Only the mistyped filter is left out: the reader stays on the page they were at."""
    monkeypatch.setattr(audit_view, "PAGE_SIZE", 2)
    client.force_login(clinic_admin)
    response = client.get(PAGE, {"action": "nonsense", "page": "2"})
    assert warnings(response) == ["That action is not one we know; showing every action."]
    assert response.context["page"].number == 2
    assert shown(response) == [trail["therapist_changed"]]


@pytest.mark.parametrize("asked", ["3", str(2**31), str(2**63), "9" * 5000])
def test_a_page_past_the_end_is_the_last_however_large(
    client: Any, clinic_admin: User, trail: dict[str, AuditEntry], monkeypatch: Any, asked: str
) -> None:
    monkeypatch.setattr(audit_view, "PAGE_SIZE", 2)
    client.force_login(clinic_admin)
    response = client.get(PAGE, {"page": asked})
    assert response.context["page"].number == 2
    assert shown(response) == [trail["therapist_changed"]]


def test_another_clinics_colleague_or_client_is_refused_like_an_unknown_one(
    client: Any,
    clinic_admin: User,
    outsider: User,
    outsider_client: Client,
    trail: dict[str, AuditEntry],
) -> None:
    client.force_login(clinic_admin)
    response = client.get(PAGE, {"user": outsider.pk, "client": outsider_client.pk})
    assert len(warnings(response)) == 2
    assert trail["other_clinic"] not in shown(response)


# --- The export --------------------------------------------------------------------------


def test_the_export_holds_the_filtered_rows_and_is_itself_recorded(
    client: Any,
    clinic_admin: User,
    supervisor: User,
    client_record: Client,
    trail: dict[str, AuditEntry],
) -> None:
    client.force_login(clinic_admin)
    response = client.get(CSV, {"user": supervisor.pk}, REMOTE_ADDR="192.0.2.4")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert response["Content-Disposition"].startswith('attachment; filename="alliance-audit-')
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(row["who"], row["action"], row["place"]) for row in rows] == [
        ("sue", "Exported", "ratings CSV"),
        ("sue", "Viewed", "client page"),
    ]
    assert rows[0]["client"] == "R.K." and rows[0]["client_id"] == str(client_record.pk)
    assert rows[0]["record_type"] == "clients.client" and rows[0]["address"] == "203.0.113.9"
    export = AuditEntry.objects.filter(actor=clinic_admin).get()
    assert (export.action, export.place, export.address) == (
        AuditAction.EXPORTED,
        "audit CSV",
        "192.0.2.4",
    )
    assert (export.model, export.clinic_id) == ("clients.clinic", clinic_admin.clinic_id)


@pytest.mark.parametrize(
    "params",
    [
        {"user": "999999"},
        {"client": "abc"},
        {"action": "nonsense"},
        {"period": "custom", "from": "2025-02-01", "to": "2025-01-01"},
    ],
)
def test_an_export_asking_for_a_filter_the_page_cannot_use_downloads_nothing_and_says_why(
    client: Any,
    clinic_admin: User,
    outsider: User,
    trail: dict[str, AuditEntry],
    params: dict,
) -> None:
    """Asked for one colleague's entries by a mistyped id, the file held everyone's under a
    name that did not say so: the address opens the page instead, which names the filter."""
    client.force_login(clinic_admin)
    before = AuditEntry.objects.count()
    response = client.get(CSV, params, follow=True)
    assert not response.streaming
    [(address, status)] = response.redirect_chain
    assert (status, address.split("?")[0]) == (302, PAGE)
    assert len(warnings(response)) == 1
    assert AuditEntry.objects.count() == before  # nothing exported, nothing recorded


# --- The client page's link, the page's cost --------------------------------------------


def test_the_client_page_links_clinic_admins_to_that_clients_audit(
    client: Any, clinic_admin: User, supervisor: User, client_record: Client
) -> None:
    link = f"{PAGE}?client={client_record.pk}"
    client.force_login(clinic_admin)
    page = reverse("reports:client-detail", args=[client_record.pk])
    assert link in client.get(page).content.decode()
    client.force_login(supervisor)
    assert PAGE not in client.get(page).content.decode()


@pytest.mark.parametrize("size", [5, 60])
def test_the_page_costs_the_same_queries_at_any_size(
    client: Any, clinic_admin: User, django_assert_num_queries: Any, size: int
) -> None:
    for number in range(size):
        someone = ClientFactory(
            therapist=TherapistFactory(clinic=clinic_admin.clinic), label=f"C{number:02d}"
        )
        audit.written(someone.therapist, AuditAction.CREATED, someone)
    client.force_login(clinic_admin)
    # session + user, the colleague and the client asked for, the count, the page of
    # entries (with their clients), the colleagues for the filter
    with django_assert_num_queries(7):
        response = client.get(PAGE, {"user": someone.therapist_id, "client": someone.pk})
    assert len(shown(response)) == 1
    with django_assert_num_queries(5):
        response = client.get(PAGE)
    assert len(shown(response)) == min(size, 50)
