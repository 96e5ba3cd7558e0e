from django.urls import path

from measures.views import (
    client_rating,
    health,
    instruments,
    invitations,
    review,
    rights,
    therapist_rating,
    thresholds,
)

app_name = "measures"

urlpatterns = [
    # For a load balancer, and for a monitor (measures/views/health.py); open to anyone.
    path("health/", health.serving, name="health"),
    path("health/detection/", health.detection, name="health-detection"),
    path(
        "sessions/<int:session_id>/rating-link/",
        invitations.invitation_create,
        name="invitation-create",
    ),
    path(
        "sessions/<int:session_id>/rating-link/email/",
        invitations.invitation_email,
        name="invitation-email",
    ),
    # The client's form, and the page thanking them, at their link's token. The plain
    # thanks first, so it is never taken for a token: the address clients were thanked at
    # before the thanks carried the token (a tab left open still reads "thank you").
    path("r/thanks/", client_rating.client_rating_thanks, name="client-rating-thanks-plain"),
    path("r/<str:token>/", client_rating.client_rating, name="client-rating"),
    path(
        "r/<str:token>/thanks/",
        client_rating.client_rating_thanks,
        name="client-rating-thanks",
    ),
    path(
        "sessions/<int:session_id>/rating/",
        therapist_rating.therapist_rating,
        name="therapist-rating",
    ),
    path("review/", review.review_queue, name="review-queue"),
    path("concerns/<int:concern_id>/", review.concern_detail, name="concern-detail"),
    path(
        "concerns/<int:concern_id>/acknowledge/",
        review.concern_acknowledge,
        name="concern-acknowledge",
    ),
    path("concerns/<int:concern_id>/resolve/", review.concern_resolve, name="concern-resolve"),
    path("concerns/<int:concern_id>/dismiss/", review.concern_dismiss, name="concern-dismiss"),
    path("concerns/<int:concern_id>/comment/", review.concern_comment, name="concern-comment"),
    # A signal's old address, from links in earlier e-mails: redirects to its concern.
    path("flags/<int:flag_id>/", review.flag_detail, name="flag-detail"),
    # The client's rights: the clinic admin exports everything held, or erases.
    path("clients/<int:client_id>/export/", rights.client_export_view, name="client-export"),
    path("clients/<int:client_id>/fhir/", rights.client_fhir_view, name="client-fhir"),
    path("clients/<int:client_id>/erase/", rights.client_erase_view, name="client-erase"),
    path("thresholds/", thresholds.thresholds_page, name="thresholds"),
    path("thresholds/calibrate/", thresholds.calibrate, name="thresholds-calibrate"),
    path(
        "thresholds/calibrations/<int:calibration_id>/apply/",
        thresholds.apply_proposal,
        name="thresholds-apply",
    ),
    path(
        "thresholds/calibrations/<int:calibration_id>/progress/",
        thresholds.calibration_progress,
        name="thresholds-progress",
    ),
    path("thresholds/reset/", thresholds.reset, name="thresholds-reset"),
    # The clinic's outcome instruments: the built-in check and those it holds a licence for.
    path("clinic/instruments/", instruments.instruments_page, name="instruments"),
    path(
        "clinic/instruments/<int:instrument_id>/use/",
        instruments.instrument_use,
        name="instrument-use",
    ),
    path(
        "clinic/instruments/<int:instrument_id>/retire/",
        instruments.instrument_retire,
        name="instrument-retire",
    ),
]
