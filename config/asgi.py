"""Production entry point: ``uvicorn config.asgi:application``."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup(set_prefix=False)

from config.handlers import PooledThreadASGIHandler  # noqa: E402

application = PooledThreadASGIHandler()
