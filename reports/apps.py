from django.apps import AppConfig


class ReportsConfig(AppConfig):
    """The read side: caseloads, the client and session pages, the supervisor's dashboard
    and its drill-down, and the CSV exports. No models: it reads what the apps below it
    (clients, sessions, measures) write, always through their scoped querysets."""

    name = "reports"
    verbose_name = "Reports"
