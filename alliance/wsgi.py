"""The web tier's entry point (gunicorn alliance.wsgi).

It says it is the web tier before the settings load: its database statements are then
cancelled after DATABASE_WEB_STATEMENT_TIMEOUT_SECONDS (alliance/settings.py).
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alliance.settings")
os.environ["ALLIANCE_WEB_TIER"] = "true"
application = get_wsgi_application()
