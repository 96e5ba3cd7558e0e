from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("accounts/", include("accounts.urls")),
    # One log-in page for everyone, with its throttle and two-factor step: the admin's
    # own log-in form sends people there.
    path(
        "admin/login/",
        RedirectView.as_view(pattern_name="login", query_string=True),
        name="admin-login",
    ),
    path("admin/", admin.site.urls),
    # The apps share the clients/… and sessions/… URL space; each names its own.
    path("", include("clients.urls")),
    path("", include("sessions.urls")),
    path("", include("measures.urls")),
]
