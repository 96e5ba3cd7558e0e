"""E-mails about concerns: the therapist's daily digest, and escalation to supervisors.

Both jobs claim their concerns with a conditional UPDATE (`notified_at` /
`escalated_at` still empty) inside the transaction that sends the mail. So a second
run sends nothing new, two runs at once never send the same concern twice, and a
failed mail rolls the claim back for the next run to retry ("due and not done").
A concern that grows more severe is due again in the digest (grouping clears its
`notified_at`), so the therapist hears that it changed. A concern follows its client to
another therapist (`clients.moves`): told to the previous one (`notified_at` before the
client's `therapist_since`), it is due in the receiver's digest; and it escalates once the
receiver has left it unacknowledged too long, counted from the move, to the receiver's
supervisors (once again if the previous one's heard of it). A client re-opened after a
discharge (`Client.reopened_at`) likewise: their therapist hears again of what is still
open, and has a full period from the re-opening before their supervisors do.

Neither e-mail tells a concern's story, scores or severity: an e-mail is read outside
Alliance (on a phone, a shared screen, a forwarded thread) and kept beyond the clinic's
reach. Each names the client by their pseudonym label, with a link to the concern, whose
story the reader opens in Alliance behind their sign-in.

Neither job mails about a discharged (or erased) client's concern: there is no next
session to repair the alliance in, and an erased client's record is closed for good. The
concern is not closed for them (a dismissal would count as a false alarm on the precision
page); it stays unclaimed in the review queue, and is due again if the client is re-opened.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from clients.models import Supervision, User
from measures.models import Concern, ConcernEvent

logger = logging.getLogger(__name__)

# The steps that change a concern's severity (a rise lists it again in the digest).
CHANGES = [ConcernEvent.Action.SEVERITY_RAISED, ConcernEvent.Action.SIGNALS_WITHDRAWN]


def absolute_url(name: str, *args: Any) -> str:
    """E-mails have no request to build a link from; the configured base URL stands in."""
    return settings.ALLIANCE_BASE_URL.rstrip("/") + reverse(name, args=args)


def concerns_claim(concerns: QuerySet[Concern], *, field: str, now: dt.datetime) -> set[int]:
    """Mark `field` = now on the concerns still unclaimed (`Concern.unclaimed`: never
    claimed, or only before the client moved to their therapist or was re-opened); returns
    their ids.

    Call inside a transaction. On PostgreSQL the rows are locked first and rows
    another run holds are skipped, so that run alone mails them. SQLite has no
    row locks: there the count check refuses a claim another run got to first,
    and the rollback leaves those concerns for the next run.
    """
    unclaimed = concerns.filter(Concern.unclaimed(field))
    ids = set(unclaimed.select_for_update(skip_locked=True).values_list("pk", flat=True))
    if unclaimed.filter(pk__in=ids).update(**{field: now}) != len(ids):
        raise RuntimeError("Another run claimed some of these concerns first.")
    return ids


# --- The therapist's daily digest -----------------------------------------


def digests_send(now: dt.datetime | None = None) -> int:
    """E-mail each therapist the concerns opened (or grown more severe) on their clients
    since their last digest.

    Returns how many e-mails were sent. A therapist with no e-mail address, or whose
    account is inactive, is skipped and their concerns stay due until that changes.
    """
    now = now or timezone.now()
    pending = (
        Concern.objects.of_clients_in_therapy()
        .filter(Concern.unclaimed("notified_at"), client__therapist__is_active=True)
        .exclude(client__therapist__email="")
        .select_related("client__therapist")
        .annotate(
            changed=Exists(ConcernEvent.objects.filter(concern=OuterRef("pk"), action__in=CHANGES))
        )
        .order_by("client__label", "client_id", "opened_at")
    )
    by_therapist: dict[int, list[Concern]] = defaultdict(list)
    for concern in pending:
        by_therapist[concern.client.therapist_id].append(concern)
    sent = 0
    for therapist_id, concerns in by_therapist.items():
        # One failing mailbox must not hold up the others; its concerns wait for the next run.
        try:
            sent += digest_send(therapist=concerns[0].client.therapist, concerns=concerns, now=now)
        except OSError as error:  # smtplib's errors are OSErrors, as a refused connection is
            logger.warning(
                "Concern digest for therapist %s not sent: %s", therapist_id, mail_failure(error)
            )
        except Exception:
            logger.exception("Concern digest for therapist %s failed", therapist_id)
    logger.info("Sent %d concern digests to %d therapists", sent, len(by_therapist))
    return sent


def digest_send(*, therapist: User, concerns: list[Concern], now: dt.datetime) -> bool:
    """Claim `concerns` (all this therapist's) and mail the ones still needing review.

    A concern closed before its digest is marked notified but not listed: the
    therapist has already dealt with it. Each of `concerns` carries `changed` (as
    `digests_send` annotates it). Returns whether a mail went out.
    """
    with transaction.atomic():
        claimed = concerns_claim(
            # Discharged meanwhile: left unclaimed, as if it had not been listed. Moved to
            # another therapist meanwhile: left for theirs.
            Concern.objects.of_clients_in_therapy().filter(
                pk__in=[c.pk for c in concerns], client__therapist=therapist
            ),
            field="notified_at",
            now=now,
        )
        listed = [c for c in concerns if c.pk in claimed and c.needs_review]
        if not listed:
            return False
        context = {
            "therapist": therapist,
            "concerns": [digest_row(concern) for concern in listed],
            "review_url": absolute_url("measures:review-queue"),
        }
        send_templated_mail("digest", context, therapist.email)
    return True


def digest_row(concern: Concern) -> dict[str, str]:
    """What the digest may say about a concern: its client's pseudonym label, where the
    concern stands in the therapist's work (new, changed since it opened, or re-opened) and
    its link. The template gets these values and no model, so no client detail beyond the
    label (no story, score or severity) can slip into an e-mail."""
    return {
        "label": concern.client.label,
        "state": digest_state(concern),
        "url": absolute_url("measures:concern-detail", concern.pk),
    }


def digest_state(concern: Concern) -> str:
    """Why the concern is in this digest, in a word: the therapist may have read it before."""
    came = _came_back(concern)
    if came is not None:
        # Opened before: new to this therapist, or not heard of since the discharge.
        return {
            "moved": "moved to you with the client",
            "reopened": "still open from before the discharge",
        }[came[1]]
    if concern.recovery == Concern.Recovery.NOT_RECOVERED:
        return "re-opened"  # by Alliance: the repair did not hold
    if concern.changed:
        # Grown more severe since a digest listed it (or since it opened, if a rise came
        # before its first digest): still true to say it changed.
        return "changed"
    return "new"


def _came_back(concern: Concern) -> tuple[dt.datetime, str] | None:
    """When, and how, a concern opened (or re-opened by Alliance) before became its client's
    therapist's anew: "moved" (the client moved to them) or "reopened" (the client was
    re-opened after a discharge), the later; None when neither happened since."""
    since = concern.reopened_at or concern.opened_at
    client = concern.client
    came = [
        (moment, how)
        for moment, how in ((client.therapist_since, "moved"), (client.reopened_at, "reopened"))
        if moment is not None and moment > since
    ]
    return max(came) if came else None


# --- Escalation to supervisors --------------------------------------------


def escalations_send(now: dt.datetime | None = None) -> int:
    """Tell supervisors about concerns their supervisees have left open too long.

    A concern is due when it is still open (not even acknowledged) more than
    ALLIANCE_ESCALATE_AFTER_DAYS after it opened, after Alliance re-opened it, or after its
    client moved to their therapist or was re-opened (`Concern.left_unacknowledged`). Each
    supervisor gets one e-mail listing all their supervisees' due concerns. Returns how many
    were sent.
    """
    now = now or timezone.now()
    due = list(
        _due_for_escalation(now).select_related("client__therapist").order_by("opened_at", "pk")
    )
    if not due:
        return 0
    # A therapist with no (reachable) supervisor is in no team: their concerns are
    # left unmarked, so they escalate as soon as a supervisor is assigned.
    supervisions = Supervision.objects.reaching(
        {concern.client.therapist_id for concern in due}
    ).select_related("supervisor")
    sent = 0
    for team in supervision_teams(supervisions):
        supervisees = set().union(*team.values())
        team_concerns = [c for c in due if c.client.therapist_id in supervisees]
        try:
            sent += escalation_send(team=team, concerns=team_concerns, now=now)
        except OSError as error:
            logger.warning(
                "Concern escalation to supervisors %s not sent: %s",
                sorted(s.pk for s in team),
                mail_failure(error),
            )
        except Exception:
            logger.exception(
                "Concern escalation to supervisors %s failed", sorted(s.pk for s in team)
            )
    logger.info("Sent %d escalation e-mails about %d overdue concerns", sent, len(due))
    return sent


def supervision_teams(supervisions: QuerySet[Supervision]) -> list[dict[User, set[int]]]:
    """Group supervisors who share a supervisee; each maps to the therapists they supervise.

    A concern is escalated once, but every supervisor of its therapist must hear of
    it, so all those supervisors' e-mails go out in the one transaction that
    claims it. With one supervisor per therapist (the usual case) a team is one
    supervisor and their supervisees.
    """
    supervisees: dict[User, set[int]] = defaultdict(set)
    for supervision in supervisions:
        supervisees[supervision.supervisor].add(supervision.therapist_id)
    teams: list[dict[User, set[int]]] = []
    for supervisor, therapist_ids in supervisees.items():
        team = {supervisor: therapist_ids}
        for other in [t for t in teams if any(ids & therapist_ids for ids in t.values())]:
            team.update(other)
            teams.remove(other)
        teams.append(team)
    return teams


def _due_for_escalation(now: dt.datetime) -> QuerySet[Concern]:
    cutoff = now - dt.timedelta(days=settings.ALLIANCE_ESCALATE_AFTER_DAYS)
    return Concern.objects.of_clients_in_therapy().filter(
        Concern.left_unacknowledged(cutoff), Concern.unclaimed("escalated_at")
    )


def escalation_send(
    *, team: dict[User, set[int]], concerns: list[Concern], now: dt.datetime
) -> int:
    """Claim the team's due concerns and mail each supervisor theirs; returns mails sent.

    If one supervisor's mail fails, the whole team's claim rolls back and is
    retried, so a co-supervisor already mailed may hear of those concerns twice:
    better twice than never.
    """
    sent = 0
    with transaction.atomic():
        supervisees = set().union(*team.values())
        claimed = concerns_claim(
            # Still due, and still with one of this team's therapists: one acknowledged
            # meanwhile is not, nor one whose client moved to another team's therapist,
            # who has only just received it.
            _due_for_escalation(now).filter(
                pk__in=[c.pk for c in concerns], client__therapist__in=supervisees
            ),
            field="escalated_at",
            now=now,
        )
        for supervisor, therapist_ids in team.items():
            theirs = [
                escalation_row(concern, now)
                for concern in concerns
                if concern.pk in claimed and concern.client.therapist_id in therapist_ids
            ]
            if not theirs:
                continue
            theirs.sort(key=lambda row: (row["therapist"], -row["days_open"]))
            context = {
                "supervisor": supervisor,
                "concerns": theirs,
                "days": settings.ALLIANCE_ESCALATE_AFTER_DAYS,
            }
            send_templated_mail("escalation", context, supervisor.email)
            sent += 1
    return sent


def escalation_row(concern: Concern, now: dt.datetime) -> dict[str, Any]:
    """What the escalation may say about a concern: the therapist, the client's pseudonym
    label, how many days it has waited for them and its link. No client detail beyond the
    label (no story, score or severity): the template gets these values and no model."""
    return {
        "therapist": str(concern.client.therapist),
        "label": concern.client.label,
        # Unacknowledged since: its opening, or Alliance's re-opening (as it fell due).
        "days_open": (now - (concern.reopened_at or concern.opened_at)).days,
        # Since a move or the client's re-opening: the days that made it due.
        "since": _since_words(concern, now),
        "url": absolute_url("measures:concern-detail", concern.pk),
    }


def _since_words(concern: Concern, now: dt.datetime) -> str:
    came = _came_back(concern)
    if came is None:
        return ""
    moment, how = came
    event = {"moved": "the client moved to them", "reopened": "the client was re-opened"}[how]
    return f"{(now - moment).days} since {event}"


def mail_failure(error: OSError) -> str:
    """A failed send as the log may tell it: the error's kind and the server's reply code.
    Not its text, nor a traceback: smtplib's refusal names the address, and a server's
    reply often quotes it."""
    code = getattr(error, "smtp_code", None)
    return type(error).__name__ + (f", reply {code}" if code else "")


def send_templated_mail(name: str, context: dict[str, Any], to: str) -> None:
    """Render templates/measures/email/<name>_subject.txt and <name>.txt and send them."""
    subject = render_to_string(f"measures/email/{name}_subject.txt", context).strip()
    body = render_to_string(f"measures/email/{name}.txt", context)
    send_mail(subject, body, None, [to])
