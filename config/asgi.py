"""Production entry point: ``uvicorn config.asgi:application`` (or
``python -m config.runtime.serve``).

With ``RUNTIME_HANDLER`` on (the default) the runtime's handler serves
(config/runtime/handler.py); off, Django's own ``ASGIHandler``. Either way
``BodyLimits`` (config/access/body_limits.py) bounds request bodies in size
and time before the handler reads them, and outside it ``observe``
(config/observability/) logs, times and counts every request."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup(set_prefix=False)

from django.conf import settings  # noqa: E402
from django.core.handlers.asgi import ASGIHandler  # noqa: E402

from config.access.body_limits import BodyLimits  # noqa: E402
from config.observability.middleware import observe  # noqa: E402
from config.runtime.handler import PooledThreadASGIHandler  # noqa: E402

handler = PooledThreadASGIHandler() if settings.RUNTIME_HANDLER else ASGIHandler()
application = observe(BodyLimits(handler), sync_backlog=getattr(handler, "sync_backlog", None))
