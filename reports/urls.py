"""The read side's pages: the caseload, one client, one session, the supervisor's
dashboard with its drill-down and precision page, how well a therapist reads their
clients, the CSV exports, and the clinic admin's audit trail."""

from django.urls import path

from reports.views import (
    audit,
    caseload,
    client_page,
    dashboard,
    exports,
    reading,
    review_with_client,
    session_page,
)

app_name = "reports"

urlpatterns = [
    path("", caseload.caseload, name="caseload"),
    path("clients/<int:client_id>/", client_page.client_detail, name="client-detail"),
    path(
        "clients/<int:client_id>/review/",
        review_with_client.review_with_client,
        name="review-with-client",
    ),
    path(
        "clients/<int:client_id>/ratings.csv", exports.client_ratings_csv, name="client-ratings-csv"
    ),
    path(
        "clients/<int:client_id>/outcomes.csv",
        exports.client_outcomes_csv,
        name="client-outcomes-csv",
    ),
    path("sessions/<int:session_id>/", session_page.session_detail, name="session-detail"),
    path("dashboard/", dashboard.team_dashboard, name="dashboard"),
    path("dashboard/export.csv", exports.dashboard_csv, name="dashboard-csv"),
    path(
        "dashboard/therapists/<int:therapist_id>/",
        dashboard.therapist_caseload,
        name="therapist-caseload",
    ),
    path(
        "dashboard/therapists/<int:therapist_id>/reading/",
        reading.therapist_reading,
        name="therapist-reading",
    ),
    path("me/reading/", reading.my_reading, name="reading"),
    path("dashboard/precision/", dashboard.precision, name="precision"),
    path("audit/", audit.audit_page, name="audit"),
    path("audit/export.csv", audit.audit_csv, name="audit-csv"),
]
