"""The Django admin, scoped for staff who are not superusers."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from clients.models import Client, User
from measures.models import Concern, ConcernEvent, Flag, Sweep
from measures.tests.factories import (
    ConcernEventFactory,
    ConcernFactory,
    FlagFactory,
    RatingFactory,
    concern_with_signal,
)
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db


def staff(user: User) -> User:
    user.is_staff = True
    user.save()
    return user


def changelist_labels(client: Any, model: str) -> set[str]:
    response = client.get(reverse(f"admin:{model}_changelist"))
    assert response.status_code == 200
    return {str(obj) for obj in response.context["cl"].result_list}


def test_anonymous_is_sent_to_the_admin_log_in(client: Any) -> None:
    response = client.get(reverse("admin:clients_client_changelist"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_a_therapist_sees_only_their_caseload_read_only(
    client: Any,
    therapist: User,
    client_record: Client,
    colleague_client: Client,
    outsider_client: Client,
) -> None:
    client.force_login(staff(therapist))
    assert changelist_labels(client, "clients_client") == {"R.K."}
    # A colleague's client is not there to open.
    response = client.get(reverse("admin:clients_client_change", args=[colleague_client.pk]))
    assert response.status_code == 302
    # Read-only: no add, and a post to change is refused.
    assert client.get(reverse("admin:clients_client_add")).status_code == 403
    response = client.post(
        reverse("admin:clients_client_change", args=[client_record.pk]),
        {
            "label": "Changed",
            "clinic": client_record.clinic_id,
            "therapist": therapist.pk,
            "language": "en",
            "status": "active",
            "created_at_0": "2026-01-01",
            "created_at_1": "10:00",
        },
    )
    assert response.status_code == 403
    client_record.refresh_from_db()
    assert client_record.label == "R.K."


def test_scoping_covers_sessions_ratings_signals_and_concerns(
    client: Any, therapist: User, client_record: Client, outsider_client: Client
) -> None:
    for someone in (client_record, outsider_client):
        session = SessionFactory(client=someone)
        RatingFactory(session=session)
        concern = ConcernFactory(session=session)
        FlagFactory(session=session, concern=concern, rule=Flag.Rule.RELIABLE_DROP)
        FlagFactory(session=session)  # context outside any concern
        ConcernEventFactory(concern=concern)
    client.force_login(staff(therapist))
    assert changelist_labels(client, "therapy_sessions_session") == {"Session 1 with R.K."}
    assert changelist_labels(client, "measures_rating") == {"Client rating of Session 1 with R.K."}
    assert changelist_labels(client, "measures_flag") == {
        "Reliable drop — R.K., session 1",
        "Below the cut-off — R.K., session 1",
    }
    assert changelist_labels(client, "measures_concern") == {"Concern for R.K. (open)"}
    # The other clinic's concern is not there to open.
    other = Concern.objects.get(client=outsider_client)
    response = client.get(reverse("admin:measures_concern_change", args=[other.pk]))
    assert response.status_code == 302


def test_a_clinic_admin_manages_the_clinics_clients(
    client: Any, clinic_admin: User, colleague: User, client_record: Client, outsider_client: Client
) -> None:
    client.force_login(clinic_admin)
    assert changelist_labels(client, "clients_client") == {"R.K."}
    response = client.post(
        reverse("admin:clients_client_change", args=[client_record.pk]),
        {
            "label": "R.K.",
            "clinic": client_record.clinic_id,
            "therapist": colleague.pk,
            "language": "es",
            "status": "active",
            "external_id": "",
            "email": "",
            "created_at_0": "2026-01-01",
            "created_at_1": "10:00",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    client_record.refresh_from_db()
    assert (client_record.therapist, client_record.language) == (colleague, "es")


def test_a_clinic_admin_moves_an_erased_client_but_writes_no_words_back(
    client: Any, clinic_admin: User, colleague: User, client_record: Client
) -> None:
    """An erased record takes no new words; a move writes none, here as on the move page."""
    from clients import services
    from measures import rights

    services.client_discharge(actor=clinic_admin, client=client_record)
    rights.client_erase(actor=clinic_admin, client=client_record)
    client_record.refresh_from_db()
    client.force_login(clinic_admin)
    url = reverse("admin:clients_client_change", args=[client_record.pk])
    form = {
        "label": client_record.label,
        "therapist": colleague.pk,
        "external_id": "",
        "email": "",
        "language": client_record.language,
        "status": client_record.status,
    }
    moved = client.post(url, form)
    assert "record was erased" not in moved.content.decode()
    client_record.refresh_from_db()
    assert client_record.therapist == colleague
    refused = client.post(url, {**form, "label": "Jane Roe"})
    assert "record was erased" in refused.content.decode()
    client_record.refresh_from_db()
    assert client_record.label != "Jane Roe"


def test_a_clinic_admin_cannot_assign_to_another_clinics_therapist(
    client: Any, clinic_admin: User, outsider: User, client_record: Client
) -> None:
    client.force_login(clinic_admin)
    response = client.post(
        reverse("admin:clients_client_change", args=[client_record.pk]),
        {
            "label": "R.K.",
            "clinic": client_record.clinic_id,
            "therapist": outsider.pk,
            "language": "en",
            "status": "active",
            "created_at_0": "2026-01-01",
            "created_at_1": "10:00",
        },
    )
    assert response.status_code == 200
    assert "therapist" in response.context["adminform"].form.errors
    client_record.refresh_from_db()
    assert client_record.therapist != outsider


def test_a_clinic_admin_cannot_reach_another_clinic(
    client: Any, clinic_admin: User, outsider: User, outsider_client: Client
) -> None:
    client.force_login(clinic_admin)
    for url in (
        reverse("admin:clients_client_change", args=[outsider_client.pk]),
        reverse("admin:clients_user_change", args=[outsider.pk]),
        reverse("admin:clients_clinic_change", args=[outsider.clinic_id]),
    ):
        assert client.get(url).status_code == 302, url
    assert outsider.username not in changelist_labels(client, "clients_user")


def test_a_clinic_admin_cannot_grant_superuser(
    client: Any, clinic_admin: User, therapist: User
) -> None:
    client.force_login(clinic_admin)
    response = client.get(reverse("admin:clients_user_change", args=[therapist.pk]))
    assert response.status_code == 200
    assert "is_superuser" not in response.context["adminform"].form.fields


def test_a_superuser_sees_every_clinic(
    client: Any, client_record: Client, outsider_client: Client
) -> None:
    root = User.objects.create_superuser(username="root", password="x")
    client.force_login(root)
    assert changelist_labels(client, "clients_client") == {"R.K.", "Z.Z."}


def test_a_concerns_history_shows_in_the_admin_without_notes_and_sweeps_only_to_superusers(
    client: Any, clinic_admin: User, client_record: Client
) -> None:
    concern = concern_with_signal(client_record)
    ConcernEventFactory(concern=concern, actor=clinic_admin, note="Seen in supervision.")
    Sweep.objects.create()
    client.force_login(clinic_admin)
    page = client.get(reverse("admin:measures_concern_change", args=[concern.pk]))
    assert page.status_code == 200 and b"Seen in supervision." not in page.content
    assert str(clinic_admin).encode() in page.content  # who acted stays visible
    [signal] = concern.signals.all()
    page = client.get(reverse("admin:measures_flag_change", args=[signal.pk]))
    assert page.status_code == 200 and b"Reliable drop" in page.content
    assert client.get(reverse("admin:measures_sweep_changelist")).status_code == 403
    root = User.objects.create_superuser(username="root", password="x")
    client.force_login(root)
    assert client.get(reverse("admin:measures_sweep_changelist")).status_code == 200


# --- Signals and concerns are read-only in the admin, for everyone ------------------------
# Concerns move through the review services, which keep who did what; the admin writing
# around them would leave no history.


@pytest.fixture
def superuser(db: None) -> User:
    return User.objects.create_superuser(username="root", password="x")


def concern_and_signal(client_record: Client) -> tuple[Concern, Flag]:
    concern = concern_with_signal(client_record)
    ConcernEventFactory(concern=concern, note="Seen in supervision.")
    return concern, concern.signals.get()


def snapshot(concern: Concern) -> tuple[Any, ...]:
    concern.refresh_from_db()
    signals = list(concern.signals.values_list("pk", "rule", "severity", "concern_id"))
    events = list(concern.events.values_list("pk", "action", "note"))
    return concern.status, concern.severity, concern.note, concern.closed_at, signals, events


@pytest.mark.parametrize("who", ["clinic_admin", "superuser"])
@pytest.mark.parametrize("model", ["concern", "flag"])
def test_nobody_may_add_signals_or_concerns_in_the_admin(
    client: Any, client_record: Client, who: str, model: str, request: Any
) -> None:
    client.force_login(request.getfixturevalue(who))
    assert client.get(reverse(f"admin:measures_{model}_add")).status_code == 403
    assert client.post(reverse(f"admin:measures_{model}_add"), {}).status_code == 403
    changelist = client.get(reverse(f"admin:measures_{model}_changelist"))
    assert changelist.status_code == 200
    assert changelist.context["has_add_permission"] is False
    assert reverse(f"admin:measures_{model}_add") not in changelist.content.decode()
    assert not Concern.objects.exists() and not Flag.objects.exists()


@pytest.mark.parametrize("who", ["clinic_admin", "superuser"])
def test_a_concern_in_the_admin_is_shown_read_only_and_a_change_is_refused(
    client: Any, client_record: Client, who: str, request: Any
) -> None:
    concern, _signal = concern_and_signal(client_record)
    before = snapshot(concern)
    client.force_login(request.getfixturevalue(who))
    change = reverse("admin:measures_concern_change", args=[concern.pk])
    page = client.get(change)
    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    assert page.context["has_delete_permission"] is False
    html = page.content.decode()
    assert 'name="_save"' not in html and 'name="status"' not in html
    assert "Seen in supervision." not in html  # review notes are clinical free text
    assert 'name="events-0-note"' not in html
    response = client.post(
        change,
        {
            "client": client_record.pk,
            "status": Concern.Status.RESOLVED,
            "severity": Concern.Severity.LOW,
            "opening_rule": Flag.Rule.RELIABLE_DROP,
            "note": "Closed from the admin.",
            "opened_at_0": "2026-01-01",
            "opened_at_1": "10:00",
            "updated_at_0": "2026-01-01",
            "updated_at_1": "10:00",
            "events-TOTAL_FORMS": "0",
            "events-INITIAL_FORMS": "1",
        },
    )
    assert response.status_code == 403
    assert snapshot(concern) == before


@pytest.mark.parametrize("who", ["clinic_admin", "superuser"])
def test_a_signal_in_the_admin_is_shown_read_only_and_a_change_is_refused(
    client: Any, client_record: Client, who: str, request: Any
) -> None:
    concern, signal = concern_and_signal(client_record)
    before = snapshot(concern)
    client.force_login(request.getfixturevalue(who))
    change = reverse("admin:measures_flag_change", args=[signal.pk])
    page = client.get(change)
    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    assert 'name="_save"' not in page.content.decode()
    response = client.post(
        change,
        {
            "client": client_record.pk,
            "session": signal.session_id,
            "rule": Flag.Rule.BELOW_CUTOFF,
            "severity": Flag.Severity.LOW,
            "evidence": "{}",
            "created_at_0": "2026-01-01",
            "created_at_1": "10:00",
        },
    )
    assert response.status_code == 403
    assert snapshot(concern) == before


@pytest.mark.parametrize("who", ["clinic_admin", "superuser"])
@pytest.mark.parametrize("model", ["concern", "flag"])
def test_nobody_may_delete_signals_or_concerns_in_the_admin(
    client: Any, client_record: Client, who: str, model: str, request: Any
) -> None:
    concern, signal = concern_and_signal(client_record)
    before = snapshot(concern)
    target = concern if model == "concern" else signal
    client.force_login(request.getfixturevalue(who))
    delete = reverse(f"admin:measures_{model}_delete", args=[target.pk])
    assert client.get(delete).status_code == 403
    assert client.post(delete, {"post": "yes"}).status_code == 403
    # Nor in bulk: the changelist offers no delete action, and asking for it does nothing.
    changelist = reverse(f"admin:measures_{model}_changelist")
    page = client.get(changelist)
    assert "delete_selected" not in page.content.decode()
    client.post(
        changelist,
        {"action": "delete_selected", "_selected_action": [target.pk], "post": "yes"},
    )
    assert snapshot(concern) == before
    assert ConcernEvent.objects.filter(concern=concern).count() == 1
