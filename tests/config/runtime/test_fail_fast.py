"""config.runtime.postgresql: once getting a connection has failed, other attempts fail
at once for DB_FAIL_FAST_SECONDS, then one attempt at a time probes the
database. (test_outage.py checks the effect end to end: 503s within the pool
timeout from a uvicorn worker with two sync threads, and recovery.)

The wrappers here point at a port nothing listens on, so these run without a
PostgreSQL server; the driver's connect is wrapped to count real attempts."""

import threading
import time
import uuid

import psycopg
import pytest
from django.db import OperationalError
from psycopg_pool import AsyncConnectionPool

from config.runtime import native_db
from config.runtime.postgresql import base

CLOSED_PORT = 9  # discard: nothing listens there on a test machine


@pytest.fixture(autouse=True)
def database_access(django_db_blocker):
    """Connecting is what these test (to a port that refuses), not the test
    database: no django_db mark, just leave to connect."""
    with django_db_blocker.unblock():
        yield


@pytest.fixture
def attempts(monkeypatch):
    """Every call that reaches the driver, in order."""
    calls = []
    real_connect = psycopg.connect

    def counting_connect(*args, **kwargs):
        calls.append(time.monotonic())
        return real_connect(*args, **kwargs)

    monkeypatch.setattr(psycopg, "connect", counting_connect)
    return calls


def unreachable_database():
    """A connection to a database that refuses, under an alias of its own
    (the breaker is per alias and per process)."""
    settings_dict = {
        "ENGINE": "config.runtime.postgresql",
        "NAME": "nowhere",
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": "127.0.0.1",
        "PORT": CLOSED_PORT,
        "OPTIONS": {"connect_timeout": 2},
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": False,
        "AUTOCOMMIT": True,
        "ATOMIC_REQUESTS": False,
        "TIME_ZONE": None,
        "TEST": {},
    }
    return base.DatabaseWrapper(settings_dict, alias=f"unreachable-{uuid.uuid4().hex[:8]}")


def test_after_a_failure_other_attempts_fail_at_once_without_reaching_the_server(
    attempts, settings
):
    settings.DB_FAIL_FAST_SECONDS = 60
    database = unreachable_database()
    with pytest.raises(OperationalError) as first:
        database.ensure_connection()
    assert "failing fast" not in str(first.value)  # the driver's own error
    assert len(attempts) == 1

    for _ in range(3):
        with pytest.raises(OperationalError, match="database unavailable.*failing fast"):
            database.ensure_connection()
    assert len(attempts) == 1


def test_after_the_cooldown_one_attempt_probes_the_database_again(attempts, settings):
    settings.DB_FAIL_FAST_SECONDS = 0.05
    database = unreachable_database()
    with pytest.raises(OperationalError):
        database.ensure_connection()
    time.sleep(0.1)
    with pytest.raises(OperationalError) as probe:
        database.ensure_connection()
    assert "failing fast" not in str(probe.value)
    assert len(attempts) == 2
    # The probe failed too: fail fast again.
    with pytest.raises(OperationalError, match="failing fast"):
        database.ensure_connection()
    assert len(attempts) == 2


def test_while_a_probe_waits_the_other_attempts_fail_at_once(monkeypatch, settings):
    settings.DB_FAIL_FAST_SECONDS = 0.01
    database = unreachable_database()
    real_connect = psycopg.connect
    probe_started, release_probe = threading.Event(), threading.Event()

    def slow_refusal(*args, **kwargs):
        if threading.current_thread().name == "probe":
            probe_started.set()
            release_probe.wait(10)
        return real_connect(*args, **kwargs)

    monkeypatch.setattr(psycopg, "connect", slow_refusal)
    with pytest.raises(OperationalError):
        database.ensure_connection()
    time.sleep(0.05)

    probe_error = []

    def probe():
        try:
            database.ensure_connection()
        except OperationalError as exc:
            probe_error.append(exc)

    prober = threading.Thread(target=probe, name="probe")
    prober.start()
    assert probe_started.wait(10)
    try:
        # Long past the cooldown, but the probe is still out: fail fast.
        time.sleep(0.05)
        with pytest.raises(OperationalError, match="failing fast"):
            database.ensure_connection()
    finally:
        release_probe.set()
        prober.join(10)
    assert len(probe_error) == 1 and "failing fast" not in str(probe_error[0])


def test_zero_seconds_turns_failing_fast_off(attempts, settings):
    settings.DB_FAIL_FAST_SECONDS = 0
    database = unreachable_database()
    for _ in range(3):
        with pytest.raises(OperationalError) as error:
            database.ensure_connection()
        assert "failing fast" not in str(error.value)
    assert len(attempts) == 3


def test_a_success_ends_failing_fast():
    breaker = base.ConnectBreaker()
    breaker.failed(cooldown=0.0)
    breaker.before_attempt(cooldown=0.0)  # off: goes through
    breaker.failed(cooldown=60)
    with pytest.raises(psycopg.OperationalError, match="failing fast"):
        breaker.before_attempt(cooldown=60)
    breaker.succeeded()
    breaker.before_attempt(cooldown=60)  # no error: the database is back


async def test_native_async_reads_fail_fast_too(settings, monkeypatch):
    """config.runtime.native_db's pool shares the breaker: after a read found no
    connection within the pool timeout, the next ones fail at once."""
    settings.DB_FAIL_FAST_SECONDS = 60
    pool = AsyncConnectionPool(
        f"host=127.0.0.1 port={CLOSED_PORT} dbname=nowhere user=postgres connect_timeout=1",
        min_size=1,
        timeout=0.3,
        open=False,
    )
    await pool.open(wait=False)
    alias = f"native-unreachable-{uuid.uuid4().hex[:8]}"
    monkeypatch.setitem(native_db._pools, alias, pool)
    try:
        with pytest.raises(psycopg.OperationalError) as first:
            await native_db.execute("SELECT 1", using=alias)
        assert "failing fast" not in str(first.value)  # the pool's own timeout
        started = time.monotonic()
        for _ in range(3):
            with pytest.raises(psycopg.OperationalError, match="failing fast"):
                await native_db.execute("SELECT 1", using=alias)
        assert time.monotonic() - started < 0.2
    finally:
        await pool.close()
