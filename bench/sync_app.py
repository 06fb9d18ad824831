"""WSGI entry of the sync baseline: ``gunicorn bench.sync_app:application``."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.sync_settings")

application = get_wsgi_application()
