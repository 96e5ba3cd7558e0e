from django.urls import path

from clients import views

app_name = "clients"

urlpatterns = [
    path("clients/new/", views.client_create, name="client-create"),
    path("clients/<int:client_id>/edit/", views.client_edit, name="client-edit"),
    path("clients/<int:client_id>/move/", views.client_move, name="client-move"),
    path("clients/<int:client_id>/discharge/", views.client_discharge, name="client-discharge"),
    path("clinic/settings/", views.clinic_settings, name="clinic-settings"),
    path("clients/<int:client_id>/reopen/", views.client_reopen, name="client-reopen"),
]
