"""The periodic sweep: evaluate (`measures.detection`) every client whose history, or whose
time-based rules, changed since the last sweep began, in this process in one pass
(`sweep_run`), or split into chunks for workers (`sweep_plan`, then `sweep_chunk_run` for
each). Each sweep and chunk is recorded (`Sweep`, `SweepChunk`): the last finished bounds
the next, and says whether detection keeps up (`measures.freshness`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Sum
from django.utils import timezone

from alliance.progress import OnProgress
from clients.models import Client
from measures import detection
from measures.courses import courses_refresh
from measures.history import Thresholds
from measures.models import (
    ClinicThresholds,
    OutcomeAnswer,
    Rating,
    Sweep,
    SweepChunk,
    copy_evaluated_to_clients,
)
from sessions.models import RatingInvitation, Session

logger = logging.getLogger(__name__)


def clients_to_sweep(since: dt.datetime | None, now: dt.datetime, grace: dt.timedelta) -> QuerySet:
    """Ids of clients whose history changed since the last sweep, or whose time-based
    rules may have changed: an attended session's rating window closed since then, or a
    link made later, which outlasted it, expired unanswered; and every client in therapy
    at a clinic whose thresholds changed since then."""
    if since is None:
        return Client.objects.values("pk")
    # Voided sessions included: voiding one changes the history the rules read.
    changed_session = Session.objects.filter(client=OuterRef("pk"), updated_at__gte=since)
    changed_rating = Rating.objects.filter(session__client=OuterRef("pk"), updated_at__gte=since)
    window_closed = Session.objects.current().filter(
        client=OuterRef("pk"),
        attendance=Session.Attendance.ATTENDED,
        starts_at__gt=since - grace,
        starts_at__lte=now - grace,
    )
    link_expired = RatingInvitation.objects.filter(
        session__client=OuterRef("pk"),
        used_at__isnull=True,
        voided_at__isnull=True,
        expires_at__gt=since,
        expires_at__lte=now,
    )
    # A calibration applied, or the defaults taken back: a concern open under the old
    # thresholds that the new ones would not raise is withdrawn now, not at a next rating
    # that a client who has stopped coming never gives (README "Signals that stop holding").
    # Clients still in therapy only: lower thresholds would otherwise open concerns on the
    # old sessions of clients long discharged, whom nobody will see again.
    thresholds_changed = Q(status=Client.Status.ACTIVE) & Exists(
        ClinicThresholds.objects.filter(clinic=OuterRef("clinic"), updated_at__gte=since)
    )
    return Client.objects.filter(
        Exists(changed_session)
        | Exists(changed_rating)
        | Exists(window_closed)
        | Exists(link_expired)
        | thresholds_changed
    ).values("pk")


def sweep_overlap() -> dt.timedelta:
    return dt.timedelta(seconds=settings.ALLIANCE_SWEEP_OVERLAP_SECONDS)


# Longer than any one task of a sweep may run (`measures.tasks`: a chunk 5 minutes, a
# catch-up 9): a sweep whose last sign of work is older than this has stopped, not slowed.
SWEEP_STALLED_AFTER = dt.timedelta(minutes=10)


def sweep_at_work(now: dt.datetime) -> Sweep | None:
    """An unfinished sweep or catch-up still at work: begun, or one of its chunks done,
    within SWEEP_STALLED_AFTER. A catch-up begun beside it would read what it is reading
    (every client, before any sweep has finished) and judge again the clinics it judges
    again (`_clinics_to_rejudge` carries an unfinished sweep's), so it would do the
    sweep's work a second time, beside it; one whose workers are lost is left to the
    next catch-up once it has stalled."""
    cutoff = now - SWEEP_STALLED_AFTER
    chunk_done = SweepChunk.objects.filter(sweep=OuterRef("pk"), finished_at__gte=cutoff)
    return (
        Sweep.objects.filter(finished_at__isnull=True, started_at__lte=now)
        .filter(Q(started_at__gte=cutoff) | Exists(chunk_done))
        .order_by("-started_at")
        .first()
    )


def _sweep_start(now: dt.datetime, *, refresh_courses: bool = True) -> tuple[Sweep, QuerySet]:
    """Record a new sweep and pick its clients: everything changed since a little before
    the last finished sweep began (`ALLIANCE_SWEEP_OVERLAP_SECONDS`: a change stamped
    before it began but committed after was hidden from it). A sweep left unfinished (a
    chunk lost with its worker) bounds nothing, so the next one covers its clients again.
    The catch-up between nightly sweeps leaves the expected courses as they are
    (`refresh_courses`), and the old sweeps' records to the nightly one (`sweeps_forget`)."""
    last = Sweep.objects.last_finished()
    if refresh_courses:  # the nightly sweep
        sweeps_forget(now, keep=last)
    sweep = Sweep.objects.create(started_at=now)
    # The longest rating window any clinic could have: the setting (clinics do not change it).
    grace = Thresholds.from_settings().rating_grace
    since = last.started_at - sweep_overlap() if last else None
    clients = clients_to_sweep(since, now, grace)
    rejudge = _clinics_to_rejudge(sweep, since, now, refresh_courses=refresh_courses)
    if rejudge:
        answered = OutcomeAnswer.objects.filter(session__client_id=OuterRef("pk"))
        clients = Client.objects.filter(
            Q(pk__in=clients) | (Q(clinic_id__in=rejudge) & Exists(answered))
        ).values("pk")
    return sweep, clients


def _clinics_to_rejudge(
    sweep: Sweep, since: dt.datetime | None, now: dt.datetime, *, refresh_courses: bool
) -> set[int]:
    """The clinics whose answered clients `sweep` judges again: those whose expected course
    moved now (the clinics' own experience first: where it moved, every answer is judged
    again), and those an unfinished sweep begun since `since` was to judge again. A chunk
    of those lost with its worker, or never queued, would otherwise leave its clients
    judged against the old course for good: their history did not change, and the course,
    already stored, does not move again. Recorded on the sweep with the courses stored, so
    the next sweep carries them on if this one does not finish either."""
    unfinished = Sweep.objects.filter(finished_at__isnull=True).exclude(pk=sweep.pk)
    if since is not None:
        unfinished = unfinished.filter(started_at__gte=since)
    carried = {
        clinic
        for clinics in unfinished.values_list("rejudged_clinics", flat=True)
        for clinic in clinics
    }
    with transaction.atomic():
        rejudge = carried | (courses_refresh(now) if refresh_courses else set())
        if rejudge:
            sweep.rejudged_clinics = sorted(rejudge)
            sweep.save(update_fields=["rejudged_clinics"])
    return rejudge


def _copies_mend(refresh_courses: bool) -> None:
    """The nightly sweep's first step: every client's copies of their latest score and
    track written again from what is stored (`copy_evaluated_to_clients`), mending any
    that something wrote past detection (a hand-made SQL fix, the clients' table restored
    alone). Between sweeps only the clients that changed are evaluated, so nothing else
    would reach such a copy. A first sweep evaluates, and so writes, every client anyway."""
    if refresh_courses and Sweep.objects.last_finished() is not None:
        copy_evaluated_to_clients(Client.objects.values_list("pk", flat=True))


def sweeps_forget(now: dt.datetime, *, keep: Sweep | None) -> int:
    """Delete the records of sweeps and catch-ups begun more than ALLIANCE_SWEEP_KEEP_DAYS
    ago, with their chunks; returns how many sweeps. Nothing reads them but the operators'
    log, and the catch-up alone leaves 52,000 a year. `keep` (the latest finished) stays
    whatever its age: it bounds the next sweep; so do the unfinished ones begun since it,
    whose clinics the next sweep carries on. They hold no clinical record, only when
    detection ran and what it found."""
    cutoff = now - dt.timedelta(days=settings.ALLIANCE_SWEEP_KEEP_DAYS)
    old = Sweep.objects.filter(started_at__lt=cutoff)
    if keep is not None:
        # Nor an unfinished sweep the next one carries on (`_clinics_to_rejudge`): nothing
        # may have finished for longer than the days kept, and its clinics still wait.
        carried = Q(finished_at__isnull=True, started_at__gte=keep.started_at - sweep_overlap())
        old = old.exclude(pk=keep.pk).exclude(carried)
    forgotten = old.delete()[1].get(Sweep._meta.label, 0)
    if forgotten:
        logger.info("Forgot %s sweep records older than %s", forgotten, cutoff.date())
    return forgotten


# What a sweep and each of its chunks record of what they did (an Outcome's own names).
_COUNTS = ["clients_evaluated", "flags_created", "concerns_opened", "signals_withdrawn"]


def _sweep_finish(sweep: Sweep, outcome: detection.Outcome) -> None:
    for count in _COUNTS:
        setattr(sweep, count, getattr(outcome, count))
    sweep.finished_at = timezone.now()
    sweep.save(update_fields=[*_COUNTS, "finished_at"])
    logger.info(
        "Sweep evaluated %s clients: %s new signals, %s new concerns, %s signals withdrawn",
        outcome.clients_evaluated,
        outcome.flags_created,
        outcome.concerns_opened,
        outcome.signals_withdrawn,
    )


def sweep_run(
    now: dt.datetime | None = None,
    *,
    chunked: bool = False,
    refresh_courses: bool = True,
    progress: Callable[[int | None], OnProgress] | None = None,
) -> Sweep:
    """The periodic sweep: everything changed since the last finished sweep began.

    In this process, in one pass; or, `chunked`, as the workers run it (`sweep_plan`, then
    each chunk) one chunk after another. `progress`, given the number of clients to sweep,
    returns what to call with the number evaluated so far; only then are they counted (one
    statement more)."""
    if chunked:
        sweep = sweep_plan(now, refresh_courses=refresh_courses)
        for chunk_id in sweep.chunks.values_list("pk", flat=True):
            sweep_chunk_run(chunk_id)
        sweep.refresh_from_db()
        return sweep
    now = now or timezone.now()
    _copies_mend(refresh_courses)
    sweep, clients = _sweep_start(now, refresh_courses=refresh_courses)
    on_progress = progress(clients.count()) if progress is not None else None
    _sweep_finish(sweep, detection.evaluation_run(clients, now, on_progress))
    detection.copies_write(clients)
    return sweep


def sweep_plan(
    now: dt.datetime | None = None,
    *,
    chunk_clients: int | None = None,
    refresh_courses: bool = True,
) -> Sweep:
    """Start a sweep whose clients are split into chunks (`SweepChunk`), for workers to
    evaluate side by side; returns it, finished at once if no client needs evaluating.

    All or nothing: a coordinator that dies while planning leaves no half-planned sweep."""
    _copies_mend(refresh_courses)
    return _sweep_plan(now, chunk_clients=chunk_clients, refresh_courses=refresh_courses)


@transaction.atomic
def _sweep_plan(
    now: dt.datetime | None, *, chunk_clients: int | None, refresh_courses: bool
) -> Sweep:
    now = now or timezone.now()
    size = chunk_clients or settings.ALLIANCE_SWEEP_CHUNK_CLIENTS
    if size < 1:
        raise ValueError(f"A sweep's chunks hold 1 client or more, not {size}.")
    sweep, clients = _sweep_start(now, refresh_courses=refresh_courses)
    # Neighbouring ids: each chunk's histories come from one range of the sessions' index.
    ids = list(clients.order_by("pk").values_list("pk", flat=True))
    SweepChunk.objects.bulk_create(
        SweepChunk(sweep=sweep, number=number, client_ids=ids[start : start + size])
        for number, start in enumerate(range(0, len(ids), size), start=1)
    )
    if not ids:
        _sweep_finish(sweep, detection.Outcome())
    return sweep


def sweep_chunk_run(chunk_id: int) -> detection.Outcome:
    """Evaluate one chunk of a sweep's clients, as of the sweep's start, and record it done;
    the chunk that finishes last finishes the sweep with the chunks' summed counts.

    Safe to run twice, or twice at once (a chunk delivered again after its worker died):
    the signals are upserted and grouping locks each client, so the second run writes
    nothing new; a chunk already recorded done is not evaluated again. A chunk whose
    sweep's record was forgotten meanwhile (`sweeps_forget`: its workers away for longer
    than ALLIANCE_SWEEP_KEEP_DAYS) is skipped: the sweeps since have covered its clients."""
    chunk = SweepChunk.objects.select_related("sweep").filter(pk=chunk_id).first()
    if chunk is None:
        logger.info("Sweep chunk %s skipped: its sweep's record was forgotten", chunk_id)
        return detection.Outcome()
    if chunk.finished_at is not None:
        return detection.Outcome()
    outcome = detection.evaluation_run(chunk.client_ids, chunk.sweep.started_at)
    # Recorded done before the copies are written (a worker lost in between leaves these
    # clients' copies to their next evaluation, or the nightly sweep's).
    _chunk_finish(chunk, outcome)
    detection.copies_write(chunk.client_ids)
    return outcome


# What each delivery of a chunk did to the records: two deliveries never do the same thing
# twice (signals are upserted, concerns opened and signals withdrawn under the client's
# lock), so what a second delivery did adds to the first's. Both read the same clients.
_EFFECTS = ["flags_created", "concerns_opened", "signals_withdrawn"]


@transaction.atomic
def _chunk_finish(chunk: SweepChunk, outcome: detection.Outcome) -> None:
    # The sweep's row first: chunks finishing at once take turns, so exactly one of them
    # sees no chunk left unfinished.
    sweep = Sweep.objects.select_for_update().filter(pk=chunk.sweep_id).first()
    if sweep is None:
        return  # forgotten while this chunk ran (`sweeps_forget`)
    recorded = SweepChunk.objects.filter(pk=chunk.pk, finished_at__isnull=True).update(
        finished_at=timezone.now(), **{count: getattr(outcome, count) for count in _COUNTS}
    )
    if not recorded:
        # Another delivery recorded this chunk first. Which of two deliveries at once raised
        # what they found depends on which read after the other's writes committed, not on
        # which records first: add this one's effects, to the sweep's sums too if done.
        _effects_add(chunk, sweep, outcome)
        return
    if sweep.finished_at is not None:
        return
    if sweep.chunks.filter(finished_at__isnull=True).exists():
        return
    _sweep_finish(
        sweep, detection.Outcome(**sweep.chunks.aggregate(**{c: Sum(c) for c in _COUNTS}))
    )


def _effects_add(chunk: SweepChunk, sweep: Sweep, outcome: detection.Outcome) -> None:
    added = {name: F(name) + getattr(outcome, name) for name in _EFFECTS if getattr(outcome, name)}
    if not added:
        return
    SweepChunk.objects.filter(pk=chunk.pk).update(**added)
    if sweep.finished_at is not None:
        Sweep.objects.filter(pk=sweep.pk).update(**added)
