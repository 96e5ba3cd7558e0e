from django.apps import AppConfig


class TherapySessionsConfig(AppConfig):
    # The folder is "sessions", but that label belongs to django.contrib.sessions,
    # so this app installs beside it as "therapy_sessions".
    name = "sessions"
    label = "therapy_sessions"
    verbose_name = "Therapy sessions"
