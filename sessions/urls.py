from django.urls import path

from sessions import views

app_name = "sessions"

urlpatterns = [
    path("clients/<int:client_id>/sessions/new/", views.session_log, name="session-log"),
    path("sessions/<int:session_id>/edit/", views.session_edit, name="session-edit"),
    path("sessions/<int:session_id>/void/", views.session_void, name="session-void"),
]
