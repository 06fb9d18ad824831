"""Settings of the bench-only sync baseline: the project's settings with a
URLconf of plain sync views (bench/sync_urls.py)."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.sync_urls"
