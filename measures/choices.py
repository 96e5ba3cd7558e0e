"""The vocabularies of signals and concerns: rules, severities, statuses, review steps.

They live apart from the models so that pure code which words them for people
(`measures.evidence`) can read their labels without importing the models, and the
models can use that wording without an import cycle.
"""

from __future__ import annotations

from django.db import models


class Severity(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


class Rule(models.TextChoices):
    BELOW_CUTOFF = "below_cutoff", "Below the cut-off"
    RELIABLE_DROP = "reliable_drop", "Reliable drop"
    DIMENSION_DROP = "dimension_drop", "Drop in one dimension"
    DECLINING_TREND = "declining_trend", "Declining trend"
    RUPTURE_UNRESOLVED = "rupture_unresolved", "Rupture not fully talked through"
    RATER_DISCREPANCY = "rater_discrepancy", "Therapist rated higher than client"
    DISENGAGEMENT = "disengagement", "Disengagement"
    # Outcome beside the alliance (measures.tracking): the client newly not on track.
    NOT_ON_TRACK = "not_on_track", "Not on track (outcome)"


class ConcernStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved with a repair"
    DISMISSED = "dismissed", "Dismissed"
    # Alliance's own closing: every signal that called for review has stopped holding (a
    # rating corrected, a rupture later reported talked through, a session voided), so
    # nothing is left to review. Not a review: it is neither of CLOSED's.
    WITHDRAWN = "withdrawn", "Withdrawn by Alliance"


# A concern waiting for its therapist, and one they have closed.
REVIEWABLE = (ConcernStatus.OPEN, ConcernStatus.ACKNOWLEDGED)
CLOSED = (ConcernStatus.RESOLVED, ConcernStatus.DISMISSED)


class ConcernAction(models.TextChoices):
    SEVERITY_RAISED = "severity_raised", "Severity raised"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved with a repair"
    DISMISSED = "dismissed", "Dismissed"
    COMMENTED = "commented", "Commented"
    # Alliance's own steps in following up a repair (measures.follow_up); no actor, no note.
    RECOVERED = "recovered", "Recovered after the repair"
    REOPENED = "reopened", "Did not recover: re-opened"
    NOT_RECOVERED = "not_recovered", "Did not recover"
    # The concern that carried the review of a repair that did not hold was withdrawn by
    # Alliance: the repair's concern re-opens. Not a follow-up finishing (that one was
    # counted when it did not recover).
    HANDED_BACK = "handed_back", "Did not recover: re-opened, the open concern withdrawn"
    # Detection's own steps when signals stop holding (measures.withdrawal): the signals
    # named in the evidence, and the severity if it fell; then the concern itself.
    SIGNALS_WITHDRAWN = "signal_withdrawn", "Signals withdrawn"
    WITHDRAWN = "withdrawn", "Withdrawn by Alliance"


class Recovery(models.TextChoices):
    """Whether the alliance came back after a concern was resolved with a repair."""

    WATCHING = "watching", "Not yet recovered"
    RECOVERED = "recovered", "Recovered"
    NOT_RECOVERED = "not_recovered", "Did not recover"
    NO_BASELINE = "no_baseline", "No earlier ratings to compare with"
