"""/staff/: the clinic admin's pages for the clinic's people; /staff/welcome/: a new
colleague's invitation."""

from django.urls import path

from accounts import staff_views as views

app_name = "staff"

urlpatterns = [
    path("", views.staff_list, name="list"),
    path("invite/", views.staff_invite, name="invite"),
    path("<int:member_id>/", views.colleague, name="colleague"),
    path("<int:member_id>/invitation/", views.invitation_resend, name="invitation"),
    path("<int:member_id>/move-clients/", views.move_clients, name="move-clients"),
    path("<int:member_id>/deactivate/", views.deactivate, name="deactivate"),
    path("<int:member_id>/reactivate/", views.reactivate, name="reactivate"),
    path("supervision/<int:supervision_id>/end/", views.supervision_end, name="supervision-end"),
    path("welcome/<uidb64>/<token>/", views.WelcomeView.as_view(), name="welcome"),
]
