import os

from django.core.asgi import get_asgi_application

from alliance.memory import keep_loaded_out_of_collections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alliance.settings")
application = get_asgi_application()
keep_loaded_out_of_collections()  # as the WSGI entry point does (alliance/memory.py)
