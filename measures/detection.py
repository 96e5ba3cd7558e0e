"""Detection: run the rules over clients' histories, judge their outcome answers, and store
what is found.

The same code serves one client after a new rating (`evaluate_clients([id])`) and the
periodic sweep (`measures.sweeps`, which picks the clients and calls `evaluation_run`).
Both are set-based: one streamed query reads every session of the clients in question with
both raters' ratings joined, the pure rules in `measures.rules` judge each history by its
clinic's thresholds, and the findings are stored in batches (`measures.findings_store`),
upserted on their session and rule — so running twice, or twice at once, never duplicates
a signal (unique per session and rule). Each batch's new signals are placed into concerns
(`measures.concerns`) in the same transaction, so no signal is left unplaced.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from django.conf import settings
from django.db.models import Exists, FilteredRelation, OuterRef, Q, QuerySet
from django.utils import timezone

from alliance.progress import OnProgress
from alliance.replica import caught_up_alias
from clients.models import Client
from measures import follow_up
from measures.courses import course_for
from measures.findings_store import Batch, JudgedAnswer, store
from measures.history import Finding, Point, Thresholds
from measures.models import Instrument, Rating, copy_evaluated_to_clients, instrument_for
from measures.rules import MEDIUM, NOT_ON_TRACK, evaluate
from measures.scoring import DIMENSIONS
from measures.thresholds import thresholds_for_clinics
from measures.tracking import Course, Scale, judge, newly_not_on_track
from sessions.models import RatingInvitation, Session

STREAM_CHUNK = 5000
INSERT_BATCH = 10_000

_CLIENT_COLUMNS = [f"client_rating__{name}" for name in DIMENSIONS]
_THERAPIST_COLUMNS = [f"therapist_rating__{name}" for name in DIMENSIONS]
_COLUMNS = [
    "client_id",
    "id",
    "number",
    "starts_at",
    "attendance",
    *_CLIENT_COLUMNS,
    "client_rating__rupture",
    "client_rating__rupture_resolved",
    *_THERAPIST_COLUMNS,
    "therapist_rating__rupture",
    "therapist_rating__rupture_resolved",
    # The outcome answer given at the session, and how it was last judged.
    "outcome__id",
    "outcome__score",
    "outcome__instrument_id",
    "outcome__track",
    "outcome__expected",
    "outcome__lowest_on_track",
    "client__clinic_id",
]
_OUTCOME = _COLUMNS.index("outcome__id")
_N = len(DIMENSIONS)


def _history_rows(clients: QuerySet | Iterable[int]) -> Iterator[tuple]:
    """Every current session of `clients` (voided ones are out of the history), in history
    order, with both raters' answers: one query, from the read replica once it has caught up."""
    return (
        Session.objects.using(caught_up_alias())
        .current()
        .filter(client_id__in=clients)
        .annotate(
            client_rating=FilteredRelation(
                "ratings", condition=Q(ratings__rater=Rating.Rater.CLIENT)
            ),
            therapist_rating=FilteredRelation(
                "ratings", condition=Q(ratings__rater=Rating.Rater.THERAPIST)
            ),
        )
        .order_by("client_id", "starts_at", "number")
        .values_list(*_COLUMNS)
        .iterator(chunk_size=STREAM_CHUNK)
    )


def _point(row: tuple) -> Point:
    client = row[5 : 5 + _N]
    therapist = row[7 + _N : 7 + 2 * _N]
    # In Point's order, by position: one is made per session of every client swept.
    return Point(
        row[1],  # session id
        row[2],  # number
        row[3],  # starts at
        row[4],  # attendance
        client if client[0] is not None else None,
        row[5 + _N] or "",  # rupture
        row[6 + _N] or "",  # rupture resolved
        therapist if therapist[0] is not None else None,
        row[7 + 2 * _N] or "",  # therapist's rupture
        row[8 + 2 * _N] or "",  # therapist's rupture resolved
    )


class _Answer(NamedTuple):
    """An outcome answer in a client's history, with how it was last judged (a tuple, as
    `JudgedAnswer`: one is made for each answer a sweep reads)."""

    pk: int
    session_id: int
    number: int
    score: float
    instrument_id: int
    judged: tuple[str, float | None, float | None]  # track, expected, lowest on track


def _answer(row: tuple) -> _Answer | None:
    pk, score, instrument_id, track, expected, lowest = row[_OUTCOME : _OUTCOME + 6]
    if pk is None:
        return None
    # The stored numbers (two places) as floats, to compare with the judgement's own, which
    # are rounded to two places: equal exactly when they are the same number.
    judged = (track, _float(expected), _float(lowest))
    return _Answer(pk, row[1], row[2], float(score), instrument_id, judged)


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _client_histories(
    clients: QuerySet | Iterable[int],
) -> Iterator[tuple[int, int, list[Point], list[_Answer]]]:
    for client_id, rows in itertools.groupby(_history_rows(clients), key=lambda row: row[0]):
        rows = list(rows)
        answers = [answer for answer in map(_answer, rows) if answer is not None]
        yield client_id, rows[0][-1], [_point(row) for row in rows], answers


def _open_links(clients: QuerySet | Iterable[int], now: dt.datetime) -> dict[int, set[int]]:
    """Client → their sessions with a rating link still open at `now`: the client may yet
    answer, though a link made late outlasts the session's own rating window (which the
    rules count from its start). Few: a link lives days, and only unanswered ones count."""
    open_links: dict[int, set[int]] = defaultdict(set)
    rows = (
        RatingInvitation.objects.live(now)
        .filter(session__client_id__in=clients)
        .values_list("session__client_id", "session_id")
    )
    for client_id, session_id in rows:
        open_links[client_id].add(session_id)
    return open_links


def _marked(history: list[Point], open_links: set[int]) -> list[Point]:
    return [p._replace(link_open=True) if p.session_id in open_links else p for p in history]


def histories(
    clients: QuerySet | Iterable[int], now: dt.datetime | None = None
) -> Iterator[tuple[int, int, list[Point], list[Point] | None]]:
    """(client id, clinic id, ordered history, as it stands) for each client that has
    sessions, streamed. With `now`, each session holding a link still open then, past its
    own rating window, is marked so, and the history as it stands, unmarked, comes too
    (None for a client holding no such link): detection raises what the rules find both
    ways (a replay at `now` then raises what detection would; `_with_links_sent_late`)."""
    open_links = _open_links(clients, now) if now is not None else {}
    grace = Thresholds.from_settings().rating_grace  # clinics do not change it
    for client_id, clinic_id, history, _answers in _client_histories(clients):
        late = _sent_late(history, open_links.get(client_id, set()), grace, now)
        if late:
            yield client_id, clinic_id, _marked(history, late), history
        else:
            yield client_id, clinic_id, history, None


@dataclass
class Outcome:
    clients_evaluated: int = 0
    flags_created: int = 0  # signals raised, or updated with new evidence
    concerns_opened: int = 0
    repairs_followed_up: int = 0  # repairs whose follow-up finished (measures.follow_up)
    signals_withdrawn: int = 0  # stopped holding while open to review (measures.withdrawal)


class _Tracks:
    """Each clinic's instrument, its scale and expected course, read once per evaluation."""

    def __init__(self) -> None:
        self._clinics: dict[int, tuple[Instrument, Scale, Course]] = {}
        self.min_clients = settings.ALLIANCE_OUTCOME_MIN_CLIENTS

    def of(self, clinic_id: int) -> tuple[Instrument, Scale, Course]:
        if clinic_id not in self._clinics:
            instrument = instrument_for(clinic_id)
            self._clinics[clinic_id] = (
                instrument,
                instrument.scale(),
                course_for(clinic_id, instrument.pk),
            )
        return self._clinics[clinic_id]


def _judge_outcome(
    client_id: int, clinic_id: int, answers: list[_Answer], tracks: _Tracks, batch: Batch
) -> tuple[list[tuple[int, int, str, str, str]], bool, list[JudgedAnswer]]:
    """Judge one client's answers to their clinic's instrument: the "not on track" findings
    to store, whether the latest answer is off track, and the answers judged anew. The
    answers to any other instrument are not judged (`batch.unjudged`)."""
    instrument, scale, course = tracks.of(clinic_id)
    mine = [answer for answer in answers if answer.instrument_id == instrument.pk]
    batch.unjudged.update(
        (answer.session_id, NOT_ON_TRACK)
        for answer in answers
        if answer.instrument_id != instrument.pk
    )
    judgements = judge(
        [(answer.number, answer.score) for answer in mine],
        scale,
        course,
        min_clients=tracks.min_clients,
    )
    sessions = {answer.number: answer.session_id for answer in mine}
    findings = [
        (
            client_id,
            sessions[j.session_number],
            NOT_ON_TRACK,
            MEDIUM,
            json.dumps(j.evidence(mine[0].score, scale)),
        )
        for j in newly_not_on_track(judgements)
    ]
    rejudged = []
    for answer, j in zip(mine, judgements, strict=True):
        judged = (j.status, j.expected, j.lowest_on_track)
        if answer.judged != judged:
            rejudged.append(JudgedAnswer(answer.pk, *judged))
    return findings, bool(judgements) and judgements[-1].not_on_track, rejudged


def evaluation_run(
    clients: QuerySet | Iterable[int], now: dt.datetime, on_progress: OnProgress | None = None
) -> Outcome:
    """Evaluate these clients as of `now` and store what is found, a batch at a time;
    `on_progress` is called with the number evaluated so far. Their copies of their latest
    score and track are the caller's to write after (`copies_write`): a sweep records
    itself done first."""
    by_clinic: dict[int, Thresholds] = {}
    tracks = _Tracks()
    outcome = Outcome()
    batch = Batch([], {}, {})
    # Repairs followed up on the same histories; judged after this batch's concerns are placed.
    repairs = follow_up.watched(clients)
    followed: list[tuple[int, follow_up.Watched, follow_up.rules.Recovery]] = []
    open_links = _open_links(clients, now)
    for client_id, clinic_id, history, answers in _client_histories(clients):
        outcome.clients_evaluated += 1
        if on_progress is not None:
            on_progress(outcome.clients_evaluated)
        if clinic_id not in by_clinic:
            by_clinic.update(thresholds_for_clinics([clinic_id]))
        thresholds = by_clinic[clinic_id]
        batch.evaluated[client_id] = thresholds
        late = _sent_late(history, open_links.get(client_id, set()), thresholds.rating_grace, now)
        if late:
            findings, held = _with_links_sent_late(history, late, thresholds, now)
            batch.held.extend(_rows(client_id, held))
            batch.unjudged.update((finding.session_id, finding.rule) for finding in held)
        else:
            findings = evaluate(history, thresholds, now)
        if client_id in repairs:
            followed.extend(
                (client_id, repair, result)
                for repair, result in follow_up.judge(repairs[client_id], history, thresholds)
            )
        batch.rows.extend(_rows(client_id, findings))
        off_track, not_on_track, judged = _judge_outcome(
            client_id, clinic_id, answers, tracks, batch
        )
        batch.rows.extend(off_track)
        batch.judged.extend(judged)
        # For every client: a withdrawal works out their concern's level with it too.
        batch.not_on_track[client_id] = not_on_track
        if findings or off_track or late:
            batch.thresholds[client_id] = thresholds
            batch.scores[client_id] = {p.number: p.client_score for p in history}
            batch.numbers.update((p.session_id, p.number) for p in history)
        if len(batch.rows) + len(batch.judged) >= INSERT_BATCH:
            _store(batch, now, outcome)
            batch = Batch([], {}, {})
    batch.evaluated.update(_without_history(clients, outcome.clients_evaluated, by_clinic))
    _store(batch, now, outcome)
    if followed:
        outcome.repairs_followed_up = follow_up.repairs_record(followed, now)
    return outcome


def _rows(client_id: int, findings: Iterable[Finding]) -> Iterator[tuple[int, int, str, str, str]]:
    for f in findings:
        yield client_id, f.session_id, f.rule, f.severity, json.dumps(f.evidence)


def _sent_late(
    history: list[Point], open_links: set[int], grace: dt.timedelta, now: dt.datetime | None
) -> set[int]:
    """The client's sessions with a link still open past the session's own rating window
    (`grace` from its start): the client may yet answer (inside its window, a session
    waits for their answer anyway, link or not)."""
    if not open_links or now is None:
        return set()
    return {
        point.session_id
        for point in history
        if point.session_id in open_links and point.starts_at + grace <= now
    }


def _with_links_sent_late(
    history: list[Point], late: set[int], thresholds: Thresholds, now: dt.datetime
) -> tuple[list[Finding], list[Finding]]:
    """(findings, held) for a client the rules would judge one way with these links and
    another without them. A link sent late that the client may still answer neither raises
    nor withdraws anything: its answer, or its expiry, will. So the findings are those made
    both ways, with the numbers of the history as it stands; the rest are held: a signal
    already raised for one of them stays, following the ratings (its numbers are those of
    the history as it stands, else those made with the links), and none is raised.

    (The link withdrawing a raised signal and its expiry raising it again opened a concern,
    closed it and opened a new one for one fact; and a session held back shifts a run of
    unrated sessions to end a session later, which raised a second signal for the run.)"""
    as_it_stands = evaluate(history, thresholds, now)
    awaiting = evaluate(_marked(history, late), thresholds, now)
    stands = {(f.session_id, f.rule) for f in as_it_stands}
    waits = {(f.session_id, f.rule) for f in awaiting}
    findings = [f for f in as_it_stands if (f.session_id, f.rule) in waits]
    held = [f for f in as_it_stands if (f.session_id, f.rule) not in waits]
    held += [f for f in awaiting if (f.session_id, f.rule) not in stands]
    return findings, held


def _without_history(
    clients: QuerySet | Iterable[int], streamed: int, by_clinic: dict[int, Thresholds]
) -> dict[int, Thresholds]:
    """The clients asked for that had no history to stream (every session voided), each
    with their clinic's thresholds: nothing of theirs holds now (measures.withdrawal). A
    list asked for costs no query when every client had a history."""
    if not isinstance(clients, QuerySet):
        clients = list(clients)
        if len(set(clients)) == streamed:
            return {}
    unseen = Client.objects.filter(pk__in=clients).exclude(
        Exists(Session.objects.current().filter(client=OuterRef("pk")))
    )
    found: dict[int, Thresholds] = {}
    for client_id, clinic_id in unseen.values_list("pk", "clinic_id"):
        if clinic_id not in by_clinic:
            by_clinic.update(thresholds_for_clinics([clinic_id]))
        found[client_id] = by_clinic[clinic_id]
    return found


def _store(batch: Batch, now: dt.datetime, outcome: Outcome) -> None:
    """Store the batch (`measures.findings_store`), and count what it wrote."""
    stored = store(batch, now)
    outcome.flags_created += stored.flags_created
    outcome.concerns_opened += stored.concerns_opened
    outcome.signals_withdrawn += stored.signals_withdrawn


def copies_write(clients: QuerySet | Iterable[int]) -> None:
    """After an evaluation, its clients' copies of their latest score and track, from what
    is stored now: the answers it judged, and any rating or voided session committed
    meanwhile (whose own evaluation writes them again after). For every client it was
    asked for, not only those with a history left: a client whose one rated session was
    voided has no score now."""
    if isinstance(clients, QuerySet):
        clients = clients.values_list("pk", flat=True)
    copy_evaluated_to_clients(clients)


def evaluate_clients(client_ids: Iterable[int], now: dt.datetime | None = None) -> Outcome:
    """Evaluate these clients now: their new signals, and the concerns those opened."""
    clients = list(client_ids)
    outcome = evaluation_run(clients, now or timezone.now())
    copies_write(clients)
    return outcome
