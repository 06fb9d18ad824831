"""The tests in this folder are of the runtime itself (config/runtime/): with
it turned off (``DJANGO_RUNTIME=0``, the third run of ``.ci/run``) there is
nothing of it to test, and they skip with that reason. The rest of the suite
runs either way."""

import pytest
from django.conf import settings

from config.runtime import native_db


def pytest_collection_modifyitems(config, items):
    if settings.RUNTIME:
        return
    skip = pytest.mark.skip(reason="DJANGO_RUNTIME=0: a test of config/runtime/, which is off")
    for item in items:
        if "tests/config/runtime/" in item.nodeid:
            item.add_marker(skip)


@pytest.fixture
async def native():
    """Skip unless reads run natively here (PostgreSQL, the test's loop bound)."""
    if not native_db.native_enabled():
        pytest.skip("native async reads run on PostgreSQL only")
