from django.urls import path

from measures.views import caseload, client_page, session_page, therapist_rating

app_name = "measures"

urlpatterns = [
    path("", caseload.caseload, name="caseload"),
    path("clients/<int:client_id>/", client_page.client_detail, name="client-detail"),
    path("sessions/<int:session_id>/", session_page.session_detail, name="session-detail"),
    path(
        "sessions/<int:session_id>/rating/",
        therapist_rating.therapist_rating,
        name="therapist-rating",
    ),
]
