"""Existing flags become concerns, keeping every review already written.

- A client's flags still waiting for review (open or acknowledged) become one
  concern, as grouping would have made them: acknowledged if any of them was,
  as severe as the most severe alerting flag. If all of them are context
  (below the cut-off), they stay signals outside any concern, as they would now.
- Each flag already resolved or dismissed becomes a closed concern of its own,
  with its note, who closed it and when, so the record reads as it was written.
- Each flag's history (acknowledged, resolved, dismissed, comments) moves to its
  concern; the open concern keeps the first acknowledgement of its flags.

Written against the historical models, so it runs the same on any later code.
"""

from __future__ import annotations

import itertools

from django.conf import settings
from django.db import migrations
from django.utils import timezone

SEVERITY_ORDER = {"low": 0, "medium": 1, "high": 2}
RULE_ORDER = [
    "rupture_unresolved",
    "reliable_drop",
    "dimension_drop",
    "rater_discrepancy",
    "declining_trend",
    "disengagement",
    "below_cutoff",
]
REVIEWABLE = ("open", "acknowledged")


def _alerting(flag) -> bool:  # type: ignore[no-untyped-def]
    context = set(getattr(settings, "ALLIANCE_CONTEXT_RULES", ["below_cutoff"]))
    return flag.severity != "low" and flag.rule not in context


def _opening(flags):  # type: ignore[no-untyped-def]
    return min(
        flags,
        key=lambda f: (
            f.session.number,
            -SEVERITY_ORDER.get(f.severity, 0),
            RULE_ORDER.index(f.rule) if f.rule in RULE_ORDER else len(RULE_ORDER),
        ),
    )


def _all_or_none(values):  # type: ignore[no-untyped-def]
    """The earliest time if every flag has one (all notified), else None (still due)."""
    values = list(values)
    return min(values) if values and all(v is not None for v in values) else None


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    Flag = apps.get_model("measures", "Flag")
    FlagEvent = apps.get_model("measures", "FlagEvent")
    Concern = apps.get_model("measures", "Concern")
    ConcernEvent = apps.get_model("measures", "ConcernEvent")
    now = timezone.now()
    flags = Flag.objects.select_related("session").order_by("client_id", "session__number", "pk")
    concern_of: dict[int, int] = {}
    for client_id, group in itertools.groupby(flags.iterator(), key=lambda f: f.client_id):
        group = list(group)
        waiting = [f for f in group if f.status in REVIEWABLE]
        alerting = [f for f in waiting if _alerting(f)]
        if alerting:
            concern = _open_concern(Concern, client_id, waiting, alerting, now)
            for flag in waiting:
                concern_of[flag.pk] = concern.pk
        for flag in group:
            if flag.status not in REVIEWABLE:
                concern_of[flag.pk] = _closed_concern(Concern, flag, now).pk
    for flag_id, concern_id in concern_of.items():
        Flag.objects.filter(pk=flag_id).update(concern_id=concern_id)
    Flag.objects.update(grouped_at=now)
    _move_history(FlagEvent, ConcernEvent, Concern, concern_of)


def _open_concern(Concern, client_id, waiting, alerting, now):  # type: ignore[no-untyped-def]
    acknowledged = sorted(
        (f for f in waiting if f.acknowledged_at is not None), key=lambda f: f.acknowledged_at
    )
    opening = _opening(alerting)
    numbers = [f.session.number for f in waiting]
    return Concern.objects.create(
        client_id=client_id,
        status="acknowledged" if acknowledged else "open",
        severity=max((f.severity for f in alerting), key=lambda s: SEVERITY_ORDER.get(s, 0)),
        opening_rule=opening.rule,
        opened_at=min(f.created_at for f in alerting),
        first_session_id=waiting[numbers.index(min(numbers))].session_id,
        last_session_id=waiting[numbers.index(max(numbers))].session_id,
        acknowledged_at=acknowledged[0].acknowledged_at if acknowledged else None,
        acknowledged_by_id=acknowledged[0].acknowledged_by_id if acknowledged else None,
        notified_at=_all_or_none(f.notified_at for f in alerting),
        escalated_at=_all_or_none(f.escalated_at for f in alerting),
        updated_at=now,
    )


def _closed_concern(Concern, flag, now):  # type: ignore[no-untyped-def]
    resolved = flag.status == "resolved"
    return Concern.objects.create(
        client_id=flag.client_id,
        status=flag.status,
        severity=flag.severity,
        opening_rule=flag.rule,
        opened_at=flag.created_at,
        first_session_id=flag.session_id,
        last_session_id=flag.session_id,
        acknowledged_at=flag.acknowledged_at,
        acknowledged_by_id=flag.acknowledged_by_id,
        closed_at=flag.resolved_at if resolved else flag.dismissed_at,
        closed_by_id=flag.resolved_by_id if resolved else flag.dismissed_by_id,
        note=flag.note,
        reviewed_through=flag.session.number,
        notified_at=flag.notified_at,
        escalated_at=flag.escalated_at,
        updated_at=now,
    )


def _move_history(FlagEvent, ConcernEvent, Concern, concern_of):  # type: ignore[no-untyped-def]
    seen_acknowledgement: set[int] = set()
    events = []
    for event in FlagEvent.objects.order_by("at", "pk").iterator():
        concern_id = concern_of.get(event.flag_id)
        if concern_id is None:
            continue  # a context flag outside any concern has no review to keep
        if event.action == "acknowledged":
            if concern_id in seen_acknowledgement:
                continue  # the merged concern was acknowledged once
            seen_acknowledgement.add(concern_id)
        events.append(
            ConcernEvent(
                concern_id=concern_id,
                action=event.action,
                actor_id=event.actor_id,
                note=event.note,
                at=event.at,
            )
        )
    ConcernEvent.objects.bulk_create(events, batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [
        ("measures", "0003_concerns_and_clinic_thresholds"),
    ]

    operations = [
        migrations.RunPython(forwards, migrations.RunPython.noop, elidable=False),
    ]
