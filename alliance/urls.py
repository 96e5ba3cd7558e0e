from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from clients.admin import view_on_site

urlpatterns = [
    path("accounts/", include("accounts.urls")),
    path("staff/", include("accounts.staff_urls")),
    path("api/", include("api.urls")),
    # One log-in page for everyone, with its throttle and two-factor step: the admin's
    # own log-in form sends people there.
    path(
        "admin/login/",
        RedirectView.as_view(pattern_name="login", query_string=True),
        name="admin-login",
    ),
    # Changing one's password: our page, whose old-password check the throttle counts.
    path(
        "admin/password_change/",
        RedirectView.as_view(pattern_name="password_change"),
        name="admin-password-change",
    ),
    # The admin's "view on site", scoped like its pages (it replaces Django's unscoped one).
    path("admin/r/<int:content_type_id>/<path:object_id>/", admin.site.admin_view(view_on_site)),
    path("admin/", admin.site.urls),
    # The apps share the clients/… and sessions/… URL space; each names its own. The pages
    # that read (reports) sit above the apps that write, which link to them through
    # `get_absolute_url` and `home_url`, never by a reports URL name.
    path("", include("clients.urls")),
    path("", include("sessions.urls")),
    path("", include("measures.urls")),
    path("", include("reports.urls")),
]

if settings.ALLIANCE_BENCH_FLOOR_VIEW:  # the benchmarks' floors; off unless they ask
    from bench.ceiling import bench_form_statements
    from bench.floor import bench_by_hand, bench_floor, bench_layout

    urlpatterns += [
        path("bench/floor/<str:token>/", bench_floor, name="bench-floor"),
        path("bench/layout/", bench_layout, name="bench-layout"),
        path("bench/by-hand/<str:page>/", bench_by_hand, name="bench-by-hand"),
        path("bench/form/<str:token>/", bench_form_statements, name="bench-form-statements"),
    ]

# A database outage answers 503 with a clean page; anything else, Django's 500 (errors.py).
handler500 = "alliance.errors.server_error"
# Django's 404 page, or in the API its JSON.
handler404 = "alliance.errors.page_not_found"
