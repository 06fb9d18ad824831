"""Settings of the bench-only sync baseline: the project's settings with a
URLconf of plain sync views (bench/sync_urls.py).

ServeStatic's middleware is async-only: under a WSGI server Django would run
the whole middleware chain through ``async_to_sync`` (an event loop and a
thread hop per request), which is not what plain sync Django costs. No
benchmarked URL is a static file, so the baseline leaves it out; every other
middleware runs in sync mode.
"""

from config.settings import *  # noqa: F403
from config.settings import MIDDLEWARE

ROOT_URLCONF = "bench.sync_urls"
MIDDLEWARE = [m for m in MIDDLEWARE if m != "servestatic.middleware.ServeStaticMiddleware"]
