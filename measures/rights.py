"""The client's rights: everything held about one client as one document, and erasure.

`client_export` gathers the client, their sessions, both raters' ratings, signals,
concerns with their review history, the rating links' dates and the audit entries about
the record into one JSON-serialisable document; `client_summary_html` renders it for
people. `client_erase` anonymises a discharged client. Both are for the clinic's admins
and leave an audit entry naming fields, never values.

Erasure never deletes a row (clinical records are never hard-deleted, DESIGN): it
overwrites what names or describes the person — the label, external ID, e-mail, every
free text (rating comments, private notes, review notes) — and voids any open rating
link. The numbers (scores, dates, signals) stay as rows; a clinic that keeps no numbers
after erasure has the client marked `excluded_from_statistics`, which takes them out of
the clinic's statistics (calibration) while leaving nothing that could name them.

Every model is serialised from an explicit field list (an allow-list, like
`measures/exports.py`): a field added to a model appears here only when someone decides
it should, and `test_rights` fails until they do. Fields a list names but the model does
not have (yet) are skipped, so the lists can run ahead of the models.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.db import models, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from clients import audit
from clients.models import AuditAction, AuditEntry, Client, User
from clients.scoping import may_exercise_rights_of
from measures import evidence
from measures.models import Concern, ConcernEvent, Flag, OutcomeAnswer, Rating
from sessions.models import RatingInvitation, Session, SessionRevision

SCHEMA = "alliance.client-export"
# 2: outcome answers, the client's outcome switches, a concern's raised_from.
# 3: a signal's withdrawn_at; a concern may be "withdrawn" (by Alliance); its reopened_at.
# 4: a concern event may be "handed_back" (its repair's review re-opened when the concern
#    carrying it was withdrawn); a "not_recovered" event's evidence names that concern
#    ("carried_by", one of the client's concern ids in the document).
# 5: an audit entry says who acted in "by" (a name or a role), not "actor_name" (a log-in).
SCHEMA_VERSION = 5

# What each record gives the document. Left out on purpose: ids of other people's
# accounts (a person appears by name only, and only as the therapist or a reviewer),
# rating links' token hashes (a credential), addresses in the audit trail (staff's data),
# and the therapist's private notes (theirs alone, SECURITY.md: the document says that
# they exist; the therapist answers for them).
CLIENT_FIELDS = (
    "id",
    "label",
    "external_id",
    "email",
    "language",
    "status",
    "created_at",
    "discharged_at",
    "erased_at",
    "asks_outcome",
    "shows_own_chart",
)
SESSION_FIELDS = (
    "number",
    "starts_at",
    "duration_minutes",
    "attendance",
    "modality",
    "created_at",
    "updated_at",
    "voided_at",
    "void_reason",
)
RATING_FIELDS = (
    "rater",
    "trust",
    "empathy",
    "collaboration",
    "boundaries",
    "growth",
    "respect",
    "rupture",
    "rupture_resolved",
    "comment",
    # The therapist's guess of the client's score: an opinion about the client, so theirs
    # to see, as the therapist's own scores are.
    "guessed_client_score",
    "submitted_at",
    "updated_at",
    # The consent record: which wording of the privacy notice the client was shown.
    "notice_version",
    "notice_language",
    "notice_shown_at",
)
# The outcome check's answers, and how Alliance judged them against the clinic's course.
OUTCOME_FIELDS = (
    "answers",
    "score",
    "submitted_at",
    "track",
    "expected",
    "lowest_on_track",
    "judged_at",
)
SIGNAL_FIELDS = ("rule", "severity", "evidence", "created_at", "grouped_at", "withdrawn_at")
CONCERN_FIELDS = (
    "id",
    "status",
    "severity",
    "opening_rule",
    "opened_at",
    "acknowledged_at",
    "closed_at",
    "note",
    "reviewed_through",
    "level_at_closing",
    "recovery",
    "recovered_at_session",
    "raised_from",
    "notified_at",
    "escalated_at",
    "reopened_at",
    "updated_at",
)
CONCERN_EVENT_FIELDS = ("action", "severity", "note", "evidence", "at")
RATING_LINK_FIELDS = (
    "created_at",
    "expires_at",
    "used_at",
    "voided_at",
    "emailed_at",
    "reminded_at",
)
# Who acted is given as "by" (`_audit_row`), never `actor_name`: that is a log-in.
AUDIT_FIELDS = ("at", "action", "model", "object_id", "fields", "place")
# Fields each exported model holds that the document leaves out, with the reason above.
WITHHELD = {
    # Clinic, therapist: by name. The copies of the latest score and outcome status are in
    # the ratings and outcome answers. When they moved to their therapist, or were last
    # re-opened: the audit trail has each move and re-opening.
    Client: {
        "clinic",
        "therapist",
        "therapist_since",
        "reopened_at",
        "excluded_from_statistics",
        "evaluated_score",
        "evaluated_track",
    },
    # Staff: not the client's data. The copies of the ratings' numbers are in the ratings.
    Session: {
        "id",
        "client",
        "therapist",
        "notes",
        "voided_by",
        "client_score",
        "guessed_client_score",
    },
    Rating: {"id", "session", "submitted_by"},
    OutcomeAnswer: {"id", "session", "instrument"},  # the session by number, instrument by name
    Flag: {"id", "client", "session", "concern"},
    Concern: {"client", "first_session", "last_session", "acknowledged_by", "closed_by"},
    ConcernEvent: {"id", "concern", "actor"},
    RatingInvitation: {"id", "session", "token_hash"},
    AuditEntry: {"id", "clinic", "actor", "actor_name", "client", "address"},
}
EXPORTED = {
    Client: CLIENT_FIELDS,
    Session: SESSION_FIELDS,
    Rating: RATING_FIELDS,
    OutcomeAnswer: OUTCOME_FIELDS,
    Flag: SIGNAL_FIELDS,
    Concern: CONCERN_FIELDS,
    ConcernEvent: CONCERN_EVENT_FIELDS,
    RatingInvitation: RATING_LINK_FIELDS,
    AuditEntry: AUDIT_FIELDS,
}
NOTES_WITHHELD = (
    "A therapist's private session notes are theirs alone and are not part of this "
    "export; `private_notes_held` says which sessions have any. Ask the treating therapist."
)

# What erasure overwrites: every field that names or describes the person.
ERASED_NOTE = "(erased)"


class RightsRefused(PermissionDenied):
    """Someone other than the client's clinic admin asked to export or erase."""


def _check_may_exercise(actor: Any, client: Client) -> None:
    if not may_exercise_rights_of(actor, client):
        raise RightsRefused("Only a clinic admin of the client's clinic can export or erase it.")


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _row(record: models.Model, names: tuple[str, ...]) -> dict[str, Any]:
    """The named fields the record's model has, as plain values; a choice field also
    gives its words (`<name>_display`) so no code has to be read."""
    row: dict[str, Any] = {}
    for name in names:
        try:
            field = record._meta.get_field(name)
        except FieldDoesNotExist:
            continue
        value = getattr(record, field.attname)
        row[name] = _plain(value)
        if field.choices and value:
            row[f"{name}_display"] = str(getattr(record, f"get_{name}_display")())
    return row


def _name(user: User | None) -> str:
    """A person by name; one with no name given, by role: never their log-in, which
    `str(user)` falls back on."""
    if user is None:
        return ""
    return user.get_full_name() or _role(user)


def _role(user: User | None) -> str:
    """A member of staff the document does not name, by what they do in the clinic."""
    roles = user.roles if user is not None else []
    return f"a {roles[-1]}" if roles else "a member of staff"


def _audit_row(entry: AuditEntry, named: dict[int, User]) -> dict[str, Any]:
    """An entry, saying who acted: the therapist or a reviewer by name, any other
    colleague by role (a person appears by name only as one of those), and who acted
    without an account in its own word ("system", "client link")."""
    if entry.actor_id is None:
        by = entry.actor_name
    elif entry.actor_id in named:
        by = _name(named[entry.actor_id])
    else:
        by = _role(entry.actor)
    return _row(entry, AUDIT_FIELDS) | {"by": by}


def _named_people(
    client: Client, sessions: list[Session], concerns: list[Concern]
) -> dict[int, User]:
    """The people the document names: the client's therapists and the concerns' reviewers."""
    people = [client.therapist, *(session.therapist for session in sessions)]
    for concern in concerns:
        people += [concern.acknowledged_by, concern.closed_by]
        people += [event.actor for event in concern.events.all()]
    return {person.pk: person for person in people if person is not None}


def client_export(*, actor: Any, client: Client, place: str = "") -> dict[str, Any]:
    """Everything held about `client`, as one JSON-serialisable document; recorded."""
    _check_may_exercise(actor, client)
    sessions = list(Session.objects.filter(client=client).select_related("therapist"))
    numbers = {session.pk: session.number for session in sessions}
    ratings = Rating.objects.filter(session__client=client).order_by("session__starts_at", "rater")
    outcomes = (
        OutcomeAnswer.objects.filter(session__client=client)
        .select_related("instrument")
        .order_by("session__starts_at")
    )
    signals = Flag.objects.filter(client=client).order_by("created_at", "pk")
    concerns = list(
        Concern.objects.filter(client=client)
        .select_related("acknowledged_by", "closed_by")
        .prefetch_related("events__actor")
        .order_by("opened_at", "pk")
    )
    links = RatingInvitation.objects.filter(session__client=client).order_by("created_at")
    entries = (
        AuditEntry.objects.filter(client_id=client.pk).select_related("actor").order_by("at", "pk")
    )
    named = _named_people(client, sessions, concerns)
    document = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "generated_at": timezone.now().isoformat(),
        "generated_by": _name(actor),
        "clinic": {"name": client.clinic.name},
        "client": _row(client, CLIENT_FIELDS) | {"therapist": _name(client.therapist)},
        "sessions": [
            _row(session, SESSION_FIELDS)
            | {"therapist": _name(session.therapist), "private_notes_held": bool(session.notes)}
            for session in sessions
        ],
        "ratings": [
            {"session": numbers[rating.session_id]}
            | _row(rating, RATING_FIELDS)
            | {"alliance_score": float(rating.alliance_score)}
            for rating in ratings
        ],
        "outcome_answers": [
            {"session": numbers[answer.session_id], "instrument": answer.instrument.name}
            | _row(answer, OUTCOME_FIELDS)
            for answer in outcomes
        ],
        "signals": [
            {"session": numbers[signal.session_id], "concern": signal.concern_id}
            | _row(signal, SIGNAL_FIELDS)
            | {"description": str(evidence.describe(signal.rule, signal.evidence))}
            for signal in signals
        ],
        "concerns": [
            _row(concern, CONCERN_FIELDS)
            | {
                "acknowledged_by": _name(concern.acknowledged_by),
                "closed_by": _name(concern.closed_by),
                "events": [
                    _row(event, CONCERN_EVENT_FIELDS) | {"by": _name(event.actor)}
                    for event in concern.events.all()
                ],
            }
            for concern in concerns
        ],
        "rating_links": [
            {"session": numbers[link.session_id]} | _row(link, RATING_LINK_FIELDS) for link in links
        ],
        "audit": [_audit_row(entry, named) for entry in entries],
        "withheld": NOTES_WITHHELD,
    }
    audit.written(actor, AuditAction.EXPORTED, client, place=place)
    return document


def client_summary_html(document: dict[str, Any]) -> str:
    """The document as a page a person can read (and print)."""
    # A concern Alliance withdrew reviewed nothing: its repair's review was handed back.
    opened = {
        concern["id"]: concern["opened_at"]
        for concern in document["concerns"]
        if concern["status"] != Concern.Status.WITHDRAWN
    }
    concerns = [
        concern | {"events": [_carrier_named(event, opened) for event in concern["events"]]}
        for concern in document["concerns"]
    ]
    return render_to_string(
        "measures/rights/summary.html", {"document": document | {"concerns": concerns}}
    )


def _carrier_named(event: dict[str, Any], opened: dict[int, str]) -> dict[str, Any]:
    """The event, with the opening date of the concern that carried its review, if it
    names one that did (a repair that did not hold while another concern was open): the
    page reads no ids."""
    carrier = (event.get("evidence") or {}).get("carried_by")
    if carrier not in opened:
        return event
    return event | {"carried_by_opened": opened[carrier]}


def _admin_log_renamed(client: Client) -> None:
    """Name the client by their erased label in Django's admin change log (not our audit
    trail), which kept `str(client)`, the label, for each add and change in the admin
    ("Recent actions"). Its messages name changed fields, never values (the client's admin
    has no inlines, the only way a message names another record), so they stay. Only the
    client's admin writes there: the admin of every record belonging to a client is
    read-only, so no other row names them."""
    LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Client), object_id=str(client.pk)
    ).update(object_repr=str(client))


def _erasure_label(client: Client, now: dt.datetime) -> str:
    return f"Erased {timezone.localdate(now):%Y-%m-%d} #{client.pk}"


@transaction.atomic
def client_erase(*, actor: Any, client: Client, place: str = "") -> Client:
    """Anonymise a discharged client: every personal field and free text is overwritten,
    no row is deleted, and the clinic's setting decides whether the numbers still count.

    `actor` is the client's clinic admin, or `audit.SYSTEM` for the retention task."""
    if actor != audit.SYSTEM:
        _check_may_exercise(actor, client)
    client = Client.objects.select_for_update().select_related("clinic").get(pk=client.pk)
    if client.is_erased:
        raise ValidationError("This client has already been erased.")
    if client.status != Client.Status.DISCHARGED:
        raise ValidationError("Only a discharged client can be erased: discharge them first.")
    now = timezone.now()
    # The sessions are locked before anything is erased, and then their open links closed,
    # in the order an answer through a link takes them (`client_rating_submit`): an answer
    # being stored is waited for and erased with the rest; a later one finds its link
    # closed. (Closing the links last, an answer stored meanwhile kept its comment.)
    len(Session.objects.select_for_update().filter(client=client).order_by("pk").values("pk"))
    # Then the concerns, each of which a review step locks before it reads the client
    # (`measures.review`): a repair note, reason or comment being written is waited for and
    # erased with the rest; a later one finds the record erased.
    len(Concern.objects.select_for_update().filter(client=client).order_by("pk").values("pk"))
    RatingInvitation.objects.filter(
        session__client=client, used_at__isnull=True, voided_at__isnull=True
    ).update(voided_at=now)
    client.label = _erasure_label(client, now)
    client.external_id = ""
    client.email = ""
    client.erased_at = now
    client.excluded_from_statistics = not client.clinic.keep_numbers_after_erasure
    client.save(
        update_fields=["label", "external_id", "email", "erased_at", "excluded_from_statistics"]
    )
    erased = ["label", "external_id", "email", "erased_at", "excluded_from_statistics"]
    _admin_log_renamed(client)
    erased.append("admin.logentry.object_repr")
    sessions = Session.objects.filter(client=client)
    sessions.exclude(notes="").update(notes="")
    erased.append("therapy_sessions.session.notes")
    sessions.exclude(void_reason="").update(void_reason=ERASED_NOTE)
    erased.append("therapy_sessions.session.void_reason")
    # An edit kept the notes it replaced: those are erased too (the other fields' earlier
    # values, dates and durations, are numbers like the session's own).
    revisions = list(
        SessionRevision.objects.filter(session__client=client, previous__has_key="notes")
    )
    for revision in revisions:
        revision.previous = {**revision.previous, "notes": ""}
    SessionRevision.objects.bulk_update(revisions, ["previous"])
    erased.append("therapy_sessions.sessionrevision.previous.notes")
    Rating.objects.filter(session__client=client).exclude(comment="").update(comment="")
    # A closed concern must keep a note (its CHECK constraint): it says "(erased)".
    Concern.objects.filter(client=client).exclude(note="").update(note=ERASED_NOTE)
    ConcernEvent.objects.filter(concern__client=client).exclude(note="").update(note="")
    erased += [
        "measures.rating.comment",
        "measures.concern.note",
        "measures.concernevent.note",
        "therapy_sessions.ratinginvitation.voided_at",
    ]
    audit.written(actor, AuditAction.ERASED, client, fields=erased, place=place)
    return client
