from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Staff accounts: signing in (throttled, two-factor), sessions, passwords."""

    name = "accounts"
    verbose_name = "Staff accounts"

    def ready(self) -> None:
        from accounts import signals  # noqa: F401  (connects the log-in handler)
