"""The web tier's entry point (gunicorn alliance.wsgi).

It says it is the web tier before the settings load: its database statements are then
cancelled after DATABASE_WEB_STATEMENT_TIMEOUT_SECONDS (alliance/settings.py). Once the app
is loaded, it is kept out of the garbage collector's full collections (alliance/memory.py).
"""

import os

from django.core.wsgi import get_wsgi_application

from alliance.memory import keep_loaded_out_of_collections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alliance.settings")
os.environ["ALLIANCE_WEB_TIER"] = "true"
application = get_wsgi_application()
keep_loaded_out_of_collections()
