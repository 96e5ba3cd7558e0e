"""Writes for ratings."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy

from alliance.fields import (
    direction_control_problem,
    has_control_characters_in_paragraphs,
    one_kind_of_line_break,
    written,
)
from clients import audit
from clients.models import AuditAction, ClientLanguage, User
from clients.notice import is_known_version
from clients.scoping import may_rate_session, takes_personal_data
from clients.services import check_takes_personal_data
from measures.models import Instrument, Rating
from measures.outcomes import outcome_answer_save
from measures.scoring import DIMENSIONS, SCORE_MAX, SCORE_MIN
from measures.tasks import evaluate_client
from sessions import invitations
from sessions.models import RatingInvitation, Session

logger = logging.getLogger(__name__)

DUPLICATE_RATING_MESSAGE = "This session has already been rated by this rater."
# Shown to the client, in their language, above their answers, which are all kept.
UNKNOWN_NOTICE = gettext_lazy(
    "This page showed a privacy notice we do not recognise. Please read the notice above "
    "and send your answers again: nothing you entered is lost."
)
VOIDED_MESSAGE = "This session was voided; it can no longer be rated."
CHANGED_MEANWHILE = (
    "Your rating of this session was saved from another tab or window after this page was "
    "opened, so nothing was saved here. What you chose is below: check it against the "
    "session's page, then save again to replace it."
)
# `rating_update`'s `last_changed` for a page drawn before there was any rating: whatever
# rating stands now was saved from elsewhere since.
NOT_RATED_YET = dt.datetime.min.replace(tzinfo=dt.UTC)
ALREADY_RATED = "The client has already rated this session."


def _check_rater(session: Session, rater: str, submitted_by: User | None) -> None:
    if rater == Rating.Rater.THERAPIST:
        if not may_rate_session(submitted_by, session):
            raise PermissionDenied(
                "Only the therapist who led this session can rate it as therapist, while "
                "the client is theirs."
            )
        if submitted_by.clinic_id != session.client.clinic_id:
            raise PermissionDenied("This session belongs to another clinic.")
    elif rater == Rating.Rater.CLIENT:
        if submitted_by is not None:
            raise PermissionDenied("A client rating comes from the client, not from staff.")
    else:
        raise ValidationError({"rater": f"Unknown rater {rater!r}."})


SCORE_MESSAGE = "Please choose a score from 0 to 10."
GUESS_QUESTION = "How do you think the client rated today?"
GUESS_MESSAGE = "Please choose a score from 0 to 10 for your guess, or leave it blank."


def _score(value: Any) -> int | None:
    """An answer as a whole number from 0 to 10, or None when it is not one."""
    if isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return (
        number if SCORE_MIN <= number <= SCORE_MAX and str(number) == str(value).strip() else None
    )


# The form's limit, held here too for callers other than the form (an import, a script).
COMMENT_MAX_LENGTH = 2000
COMMENT_TOO_LONG = gettext_lazy("Please keep the comment to 2,000 characters or fewer.")
COMMENT_NOT_TEXT = gettext_lazy(
    "This comment holds characters that are not text. Please write plain text."
)


def _rating_from_answers(session: Session, rater: str, answers: Mapping[str, Any]) -> Rating:
    """Build the rating, collecting every problem so a form can show them all at once."""
    errors: dict[str, str] = {}
    rating = Rating(session=session, rater=rater)
    for name in DIMENSIONS:
        score = _score(answers.get(name))
        if score is None:
            errors[name] = SCORE_MESSAGE
        setattr(rating, name, score)
    rating.rupture = answers.get("rupture") or Rating.Rupture.NONE
    rating.rupture_resolved = answers.get("rupture_resolved") or ""
    rating.comment = one_kind_of_line_break(written(answers.get("comment")))
    if len(rating.comment) > COMMENT_MAX_LENGTH:
        errors["comment"] = COMMENT_TOO_LONG
    # The client's words reach the therapist's pages and e-mails: text only. (A therapist's
    # own note may hold a pasted tab: it is shown only to those who may see it, escaped.)
    elif rater == Rating.Rater.CLIENT and (
        has_control_characters_in_paragraphs(rating.comment)
        or direction_control_problem(rating.comment)
    ):
        errors["comment"] = COMMENT_NOT_TEXT
    elif problem := direction_control_problem(rating.comment):
        # A therapist's note is read by their supervisors too: it reads as written.
        errors["comment"] = problem
    # Only the therapist is asked to guess the client's score; it may be left blank.
    guess = answers.get("guessed_client_score") if rater == Rating.Rater.THERAPIST else None
    if guess is not None and str(guess).strip() != "":
        rating.guessed_client_score = _score(guess)
        if rating.guessed_client_score is None:
            errors["guessed_client_score"] = GUESS_MESSAGE
    if rating.rupture not in Rating.Rupture.values:
        errors["rupture"] = "Please choose none, a little or a lot."
    elif rating.rupture == Rating.Rupture.NONE:
        # The follow-up question is only asked after a rupture; drop a stray answer.
        rating.rupture_resolved = ""
    elif rating.rupture_resolved not in Rating.RuptureResolved.values and (
        # A client is always asked; a therapist may leave it blank, but not garbled.
        rater == Rating.Rater.CLIENT or rating.rupture_resolved
    ):
        errors["rupture_resolved"] = "Please say whether it was talked through."
    if errors:
        raise ValidationError(errors)
    return rating


def rating_submit(
    *,
    session: Session,
    rater: str,
    answers: Mapping[str, Any],
    submitted_by: User | None = None,
    evaluate: bool = True,
    notice: tuple[int, str] | None = None,
) -> Rating:
    """Store one rater's rating of an attended session; a second one is refused.

    Either rater's rating can change what Alliance raises (a discrepancy needs both), so
    each queues an evaluation of the client once it is committed. `evaluate=False` is for
    bulk loads that run detection themselves (the demo seeder replays it week by week).
    `notice` is a client's consent record, (version, language), as `client_rating_submit`
    gives it. The audit trail names `submitted_by` (or "system": a client's rating through
    their link is `client_rating_submit`'s, which names the link).
    """
    with transaction.atomic():
        rating = _rating_save(
            session=_session_locked(session.pk),
            rater=rater,
            answers=answers,
            submitted_by=submitted_by,
            evaluate=evaluate,
            notice=notice,
        )
        _rating_created(submitted_by, rating)
    return rating


def _session_locked(session_id: int) -> Session:
    """The session read again and locked till the rating commits, as a client's answer takes
    it (`client_rating_submit`): a void, an erasure or a move committed since the page was
    drawn counts, and one under way (each locks the session) waits for the rating, then
    finds it. Only the session's row (`of`), and NO KEY, as the client's answer locks it."""
    return (
        Session.objects.select_for_update(no_key=True, of=("self",))
        .select_related("client__clinic")
        .get(pk=session_id)
    )


def _rating_created(actor: Any, rating: Rating) -> None:
    session = rating.session
    audit.written(
        actor,
        AuditAction.CREATED,
        rating,
        client_id=session.client_id,
        clinic_id=session.client.clinic_id,
    )


def _rating_save(
    *,
    session: Session,
    rater: str,
    answers: Mapping[str, Any],
    submitted_by: User | None,
    evaluate: bool,
    notice: tuple[int, str] | None = None,
) -> Rating:
    _check_rater(session, rater, submitted_by)
    if session.is_voided:
        raise ValidationError(VOIDED_MESSAGE)
    # A rating carries a comment; an erased record takes none (a client's link is closed by
    # the erasure, and `client_rating_submit` refuses it before this).
    check_takes_personal_data(session.client)
    if not session.was_attended:
        raise ValidationError("Only an attended session can be rated.")
    # As its client's link opens (`sessions.invitations.NOT_BEGUN`): a session may be logged
    # up to a day ahead, and a view of it given before it began would stand for a session
    # that had not happened, compared with the client's as if it had.
    if session.starts_at > timezone.now():
        raise ValidationError(NOT_BEGUN)
    rating = _rating_from_answers(session, rater, answers)
    rating.submitted_by = submitted_by
    if notice is not None:
        rating.notice_version, rating.notice_language = notice
        rating.notice_shown_at = rating.submitted_at
    # The answers were checked above and the database's constraints back them
    # up; validating each CHECK constraint here would cost a query apiece, and the
    # session, already read, a query to see it exists.
    rating.full_clean(exclude=["session"], validate_constraints=False)
    try:
        # A savepoint, so that a second rating refused by the database (one per session
        # and rater, a constraint) leaves the caller's transaction usable. The constraint
        # decides, not a look first: a look costs every rating a query, and two
        # submissions at once would both pass it anyway.
        with transaction.atomic():
            rating.save()
    except IntegrityError:
        if Rating.objects.filter(session=session, rater=rater).exists():
            raise ValidationError(DUPLICATE_RATING_MESSAGE) from None
        raise
    if evaluate:
        evaluate_on_commit(session.client_id)
    return rating


NOT_BEGUN = "This session has not begun yet: rate it once it has."


def therapist_rating_is_editable(rating: Rating, *, now: dt.datetime | None = None) -> bool:
    """A therapist may revise their own rating for a while; after that it is the record."""
    window = dt.timedelta(hours=settings.ALLIANCE_THERAPIST_RATING_EDIT_HOURS)
    return rating.rater == Rating.Rater.THERAPIST and (now or timezone.now()) < (
        rating.submitted_at + window
    )


def therapist_rating_edit_window() -> str:
    """How long a therapist may revise their rating, in words: "a day", "12 hours"."""
    hours = settings.ALLIANCE_THERAPIST_RATING_EDIT_HOURS
    if hours % 24 == 0:
        days = hours // 24
        return "a day" if days == 1 else f"{days} days"
    return "an hour" if hours == 1 else f"{hours} hours"


# What a therapist may revise; the audit names the ones that changed.
RATING_ANSWERS = (*DIMENSIONS, "rupture", "rupture_resolved", "comment", "guessed_client_score")


@transaction.atomic
def rating_update(
    *,
    rating: Rating,
    actor: User,
    answers: Mapping[str, Any],
    last_changed: dt.datetime | None = None,
) -> Rating:
    """Revise a therapist's own rating within the edit window; client ratings never change.

    The rating is read again under its session's lock (`_session_locked`): two revisions at
    once each compare with what the other stored, so the audit names every field each one
    changed, and a void or an erasure committed since the form was drawn refuses it.

    `last_changed` is the rating's `updated_at` as the form showed it (`NOT_RATED_YET` for a
    form drawn before it was given): when it has changed since (a second tab saved first),
    the revision is refused, since saving it would put back, unseen, what that one replaced
    (the form sends every answer, changed or not). The same answers again change nothing."""
    session = _session_locked(rating.session_id)
    rating = Rating.objects.select_related("submitted_by").get(pk=rating.pk)
    rating.session = session
    if (
        rating.rater != Rating.Rater.THERAPIST
        or actor.pk != rating.submitted_by_id
        or not may_rate_session(actor, rating.session)
    ):
        raise PermissionDenied("Only the therapist who gave this rating can change it.")
    if rating.session.is_voided:
        raise ValidationError(VOIDED_MESSAGE)
    check_takes_personal_data(rating.session.client)
    if not therapist_rating_is_editable(rating):
        hours = settings.ALLIANCE_THERAPIST_RATING_EDIT_HOURS
        raise PermissionDenied(
            f"A therapist rating can be changed for {hours} hours; this one is locked."
        )
    revised = _rating_from_answers(rating.session, rating.rater, answers)
    before = {name: getattr(rating, name) for name in RATING_ANSWERS}
    for name in RATING_ANSWERS:
        setattr(rating, name, getattr(revised, name))
    changed = audit.changed_fields(before, rating)
    if not changed:
        # The same form saved twice (a double click on "Save your rating") changes nothing.
        return rating
    if last_changed is not None and last_changed != rating.updated_at:
        raise ValidationError(CHANGED_MEANWHILE, code="changed_meanwhile")
    rating.updated_at = timezone.now()
    rating.full_clean(exclude=["session"], validate_constraints=False)
    rating.save()
    audit.written(
        actor,
        AuditAction.CHANGED,
        rating,
        fields=changed,
        client_id=rating.session.client_id,
        clinic_id=rating.session.client.clinic_id,
    )
    evaluate_on_commit(rating.session.client_id)
    return rating


class LinkUnavailable(Exception):
    """The rating link cannot take an answer: expired, replaced or unknown."""


class AlreadyAnswered(LinkUnavailable):
    """The link's one answer has been given (a double click, a second tab, a retry)."""


@transaction.atomic
def client_rating_submit(
    *,
    invitation: RatingInvitation,
    answers: Mapping[str, Any],
    notice_version: int | None,
    notice_language: str,
    outcome: tuple[Instrument | None, Sequence[object]] | None = None,
) -> Rating:
    """Store the client's answers through their link: exactly one rating per link and session,
    with the consent record: the version of the clinic's privacy notice the form showed, in
    which language, and when the answers were sent under it.

    The version is the one the page was drawn with, not the clinic's current one, so a
    notice changed while the form was open is recorded truthfully. A version the clinic
    never had (a forged or stale page from before the notice) is refused.

    `outcome` is (the instrument the page showed, the answers in its order) when the page
    asked the outcome check: stored in the same transaction, so both or neither are kept.

    The invitation row is locked, so simultaneous submissions queue here and all
    but the first find it used.
    """
    # The session first, then its link, in the order voiding or editing a session takes
    # them (the session, then its open links): the other way round, a client answering
    # while their therapist voids the session would each wait for the other. Only the
    # session's own row is locked (`of`; its client and clinic come with it unlocked: a
    # lock on the clinic's row would queue every answer the clinic receives), and NO KEY,
    # so the rating's reference to it is not held up.
    session = (
        Session.objects.select_for_update(no_key=True, of=("self",))
        .select_related("client__clinic")
        .get(pk=invitation.session_id)
    )
    invitation = RatingInvitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.used_at is not None:
        raise AlreadyAnswered()
    if not invitation.is_open():
        raise LinkUnavailable()
    if session.is_voided or not session.was_attended or not takes_personal_data(session.client):
        # Voided, or marked cancelled or a no-show after the link went out, or the client
        # erased (which closes their links): nothing the client can fix.
        raise LinkUnavailable()
    if notice_version is None or not is_known_version(session.client.clinic, notice_version):
        raise ValidationError({"notice_version": UNKNOWN_NOTICE}, code="unknown_notice")
    if notice_language not in ClientLanguage.values:
        raise ValidationError({"notice_version": UNKNOWN_NOTICE}, code="unknown_notice")
    try:
        rating = _rating_save(
            session=session,
            rater=Rating.Rater.CLIENT,
            answers=answers,
            submitted_by=None,
            evaluate=True,
            notice=(notice_version, notice_language),
        )
    except ValidationError as error:
        if DUPLICATE_RATING_MESSAGE in error.messages:
            raise AlreadyAnswered() from None
        raise
    if outcome is not None:
        instrument, answers = outcome
        outcome_answer_save(
            session=session,
            instrument=instrument,
            answers=answers,
            actor=audit.CLIENT_LINK,
            shown_since=invitation.created_at,
        )
    invitation.used_at = rating.submitted_at
    invitation.save(update_fields=["used_at"])
    _rating_created(audit.CLIENT_LINK, rating)
    return rating


def evaluate_on_commit(client_id: int) -> None:
    """Queue the client's evaluation for when the current transaction commits (at once if
    there is none), so the worker never looks before the rating exists."""
    transaction.on_commit(lambda: enqueue_evaluation(client_id))


def enqueue_evaluation(client_id: int) -> None:
    """Ask a worker to re-evaluate a client: new signals, and the concerns they open.

    A broker outage must never lose or refuse a rating: the rating is already
    committed, so the failure is logged (by id only) and the periodic sweep,
    which re-evaluates everything that changed, picks the client up.
    """
    try:
        evaluate_client.delay(client_id)
    except Exception:
        logger.warning("Could not enqueue evaluation for client %s; the sweep will.", client_id)


def _lock_unrated(session: Session) -> None:
    """Lock the session, then refuse it if its client has rated it. A client's answer takes
    the same lock (`client_rating_submit`): checked before the lock, a link opened as the
    client answered stayed open on a rated session for ever, and was reminded about."""
    locked = Session.objects.select_for_update(of=("self",)).get(pk=session.pk)
    if locked.ratings.filter(rater=Rating.Rater.CLIENT).exists():
        raise ValidationError(ALREADY_RATED)


@transaction.atomic
def client_link_open(*, session: Session) -> tuple[RatingInvitation, str]:
    """A new rating link for a session its client has not rated, replacing any open one:
    the invitation and its raw token (`sessions.invitations.invitation_create`)."""
    _lock_unrated(session)
    return invitations.invitation_create(session=session)


@transaction.atomic
def client_link_for_email(*, session: Session) -> RatingInvitation:
    """The link a worker is to e-mail, for a session its client has not rated
    (`sessions.invitations.invitation_for_email`)."""
    _lock_unrated(session)
    return invitations.invitation_for_email(session=session)
