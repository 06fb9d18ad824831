"""Django's stock ASGI handler, for `make bench BENCH_ARGS=--stock` only: shows
what config/runtime/handler.py and config/runtime/native_db.py change. Not used in production."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_asgi_application()
