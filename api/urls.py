"""/api/v1/…: the read-only API; /api/schema/: its OpenAPI description (no data in it)."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from api import views

app_name = "api"

router = SimpleRouter()
router.register("clients", views.ClientViewSet, basename="client")
router.register("sessions", views.SessionViewSet, basename="session")
router.register("ratings", views.RatingViewSet, basename="rating")
router.register("outcome-answers", views.OutcomeAnswerViewSet, basename="outcome-answer")
router.register("concerns", views.ConcernViewSet, basename="concern")

urlpatterns = [
    path("v1/", include(router.urls)),
    path("schema/", views.SchemaView.as_view(), name="schema"),
]
