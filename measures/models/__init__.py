"""The measures app's models: ratings, signals and concerns, and each clinic's thresholds."""

from measures.models.outcomes import (
    ExpectedCourse,
    Instrument,
    OutcomeAnswer,
    built_in_check,
    copy_evaluated_to_clients,
    current_track,
    instrument_for,
)
from measures.models.ratings import (
    Rating,
    RatingQuerySet,
    alliance_score_expression,
    copy_ratings_to_sessions,
    latest_client_score,
    sessions_with_stale_copies,
)
from measures.models.signals import (
    Concern,
    ConcernEvent,
    ConcernQuerySet,
    Flag,
    FlagQuerySet,
    Rule,
    Severity,
    Sweep,
    SweepChunk,
    severity_rank,
)
from measures.models.thresholds import (
    CLINIC_THRESHOLDS,
    Calibration,
    ClinicThresholds,
    ThresholdChange,
)

__all__ = [
    "CLINIC_THRESHOLDS",
    "Calibration",
    "ClinicThresholds",
    "Concern",
    "ConcernEvent",
    "ConcernQuerySet",
    "ExpectedCourse",
    "Flag",
    "FlagQuerySet",
    "Instrument",
    "OutcomeAnswer",
    "Rating",
    "RatingQuerySet",
    "Rule",
    "Severity",
    "Sweep",
    "SweepChunk",
    "ThresholdChange",
    "alliance_score_expression",
    "built_in_check",
    "copy_evaluated_to_clients",
    "copy_ratings_to_sessions",
    "current_track",
    "instrument_for",
    "latest_client_score",
    "sessions_with_stale_copies",
    "severity_rank",
]
