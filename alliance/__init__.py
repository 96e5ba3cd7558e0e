from alliance.logging import install_token_redaction

# Before anything logs: no rating-link token may reach a log line.
install_token_redaction()

# The Celery app is loaded with Django so that @shared_task uses it.
from alliance.celery import app as celery_app  # noqa: E402

__all__ = ("celery_app",)
