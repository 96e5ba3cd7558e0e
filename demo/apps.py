from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo clinic: believable histories and `manage.py seed_demo`. No models; it writes
    through the other apps' services, as a clinic would."""

    name = "demo"
    verbose_name = "Demo data"
