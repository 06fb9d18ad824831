"""Redis (``REDIS_URL``): rate-limit counters and cached sessions, and what a
client sees when Redis goes away mid-run.

The shared server is the one on 127.0.0.1:6379 that CI starts (``.ci/run``);
without it these tests skip with the reason locally and fail under CI. The
outage tests start a redis-server of their own on a free port and stop or
freeze it, so the shared one is never touched. Every test counts under
identities of its own, so parallel runs never share a counter."""

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid

import pytest
import redis
from django.db import connection
from django.test import AsyncClient, Client

from config import redis_client
from config.access import ratelimit
from config.access.ratelimit import Rate
from tests.live import free_port

pytestmark = pytest.mark.django_db(transaction=True)

SHARED_REDIS = "redis://127.0.0.1:6379/0"
ANON_READ = "/api/categories"


def _unavailable(reason: str):
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"{reason} (CI runs these tests against the Redis that .ci/run starts)")
    pytest.skip(reason)


class ThrowawayRedis:
    """A redis-server of the test's own, on a free port, without persistence."""

    def __init__(self):
        binary = shutil.which("redis-server")
        if binary is None:
            _unavailable("redis-server is not installed (apt-get install redis-server)")
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="throwaway-redis-")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.url = f"redis://127.0.0.1:{self.port}/0"
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(redis.ConnectionError):
                if redis.Redis.from_url(self.url).ping():
                    return
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the throwaway redis-server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)

    def freeze(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.process.send_signal(signal.SIGCONT)


@pytest.fixture(autouse=True)
def fresh_redis_state(settings):
    """Each test starts with Redis considered up and the project's settings
    for a Redis deployment applied by the test itself."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    redis_client._down_until = 0.0
    yield
    redis_client._down_until = 0.0


def use_redis(settings, url: str) -> None:
    """What config/settings.py does when REDIS_URL is set."""
    settings.REDIS_URL = url
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "OPTIONS": {
                "socket_connect_timeout": settings.REDIS_TIMEOUT,
                "socket_timeout": settings.REDIS_TIMEOUT,
            },
        }
    }
    settings.SESSION_ENGINE = "config.sessions"


@pytest.fixture
def shared_redis(settings):
    """The settings of a Redis deployment, on the shared server."""
    try:
        redis.Redis.from_url(SHARED_REDIS, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        _unavailable(f"no Redis at {SHARED_REDIS} ({exc.__class__.__name__})")
    use_redis(settings, SHARED_REDIS)
    return redis.Redis.from_url(SHARED_REDIS)


@pytest.fixture
def throwaway_redis(settings):
    server = ThrowawayRedis()
    use_redis(settings, server.url)
    yield server
    server.thaw()
    server.stop()


def address() -> str:
    """A client address no other test (or parallel run) counts under."""
    raw = uuid.uuid4().bytes
    return f"10.{raw[0]}.{raw[1]}.{raw[2]}"


def client_from(ip: str) -> AsyncClient:
    client = AsyncClient()
    base_scope = client._base_scope
    client._base_scope = lambda **request: {**base_scope(**request), "client": [ip, 40000]}
    return client


def redis_key(scope: str, ident: str, rate: Rate) -> str:
    """The key that counts ``ident`` in ``scope`` in the current window."""
    window_start = int(time.time() // rate.period) * rate.period
    return "ratelimit:" + ratelimit._row_key(scope, ident, window_start)


def counter_rows() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM config_ratecounter")
        return cursor.fetchone()[0]


# --- counters in Redis --------------------------------------------------------


async def test_api_limit_counts_in_redis_not_in_the_database(shared_redis, settings):
    settings.API_THROTTLE_ANON = "3/hour"
    ip = address()
    client = client_from(ip)
    statuses = [(await client.get(ANON_READ)).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    assert await asyncio.to_thread(counter_rows) == 0
    assert int(shared_redis.get(redis_key("anon", ip, Rate(3, 3600)))) == 5


async def test_concurrent_hits_each_get_their_own_count(shared_redis, monkeypatch):
    """INCR in one script: a burst never loses a hit, as get-then-set would; and
    the count runs on the event loop, with no thread hop."""

    def no_thread_hop(*args, **kwargs):
        raise AssertionError("ahit hopped to a thread")

    monkeypatch.setattr(ratelimit, "sync_to_async", no_thread_hop)
    rate = Rate(limit=50, period=3600)
    ident = address()
    hits = await asyncio.gather(*(ratelimit.ahit("anon", ident, rate) for _ in range(60)))
    assert sorted(hit.count for hit in hits) == list(range(1, 61))
    assert sum(hit.allowed for hit in hits) == 50
    key = redis_key("anon", ident, rate)
    assert int(shared_redis.get(key)) == 60
    # The key goes when its window has ended.
    assert 0 < shared_redis.ttl(key) <= 3601


async def test_more_concurrent_hits_than_connections_wait_their_turn(
    shared_redis, settings, caplog
):
    """A burst larger than the pool (redis-py's default refuses the call
    past 100 busy connections, which read as Redis being down): every hit
    counts in Redis, on at most REDIS_POOL_SIZE connections."""
    settings.REDIS_POOL_SIZE = 3
    rate = Rate(limit=1000, period=3600)
    ident = address()
    with caplog.at_level(logging.WARNING, logger="config.redis_client"):
        hits = await asyncio.gather(*(ratelimit.ahit("anon", ident, rate) for _ in range(250)))
    assert sorted(hit.count for hit in hits) == list(range(1, 251))
    assert int(shared_redis.get(redis_key("anon", ident, rate))) == 250
    assert await asyncio.to_thread(counter_rows) == 0
    assert not [r for r in caplog.records if r.name == "config.redis_client"]
    pool = redis_client.async_client().connection_pool
    assert len(pool._available_connections) + len(pool._in_use_connections) <= 3


async def test_a_burst_is_counted_in_fewer_commands_than_hits(shared_redis, monkeypatch):
    """Hits of one counter that arrive while its command is out go together
    in the next command: each hit still gets its own count, and the window's
    total is every hit."""
    client = redis_client.async_client()
    commands = []
    evalsha = client.evalsha

    async def counted_evalsha(*args):
        commands.append(args)
        return await evalsha(*args)

    monkeypatch.setattr(client, "evalsha", counted_evalsha)
    rate = Rate(limit=30, period=3600)
    ident = address()
    hits = await asyncio.gather(*(ratelimit.ahit("anon", ident, rate) for _ in range(100)))
    assert sorted(hit.count for hit in hits) == list(range(1, 101))
    assert sum(hit.allowed for hit in hits) == 30
    assert int(shared_redis.get(redis_key("anon", ident, rate))) == 100
    assert 1 <= len(commands) < 100
    assert 0 < shared_redis.ttl(redis_key("anon", ident, rate)) <= 3601


async def test_a_cancelled_hit_is_counted_and_takes_no_other_with_it(shared_redis):
    rate = Rate(limit=100, period=3600)
    ident = address()
    first = asyncio.ensure_future(ratelimit.ahit("anon", ident, rate))
    others = [asyncio.ensure_future(ratelimit.ahit("anon", ident, rate)) for _ in range(5)]
    await asyncio.sleep(0)  # every hit is waiting for its batch
    first.cancel()
    hits = await asyncio.gather(*others)
    assert first.cancelled()
    assert sorted(hit.count for hit in hits) == [2, 3, 4, 5, 6]
    assert (await ratelimit.ahit("anon", ident, rate)).count == 7
    assert int(shared_redis.get(redis_key("anon", ident, rate))) == 7


async def test_a_batch_that_fails_falls_back_to_the_database_hit_by_hit(
    shared_redis, monkeypatch, caplog
):
    """Redis failing under a burst: every hit of the failed command counts
    in the database instead, with the one warning of an outage."""
    client = redis_client.async_client()

    async def refused(*args):
        raise redis.ConnectionError("connection refused")

    monkeypatch.setattr(client, "evalsha", refused)
    rate = Rate(limit=4, period=3600)
    ident = address()
    with caplog.at_level(logging.WARNING, logger="config.redis_client"):
        hits = await asyncio.gather(*(ratelimit.ahit("anon", ident, rate) for _ in range(6)))
    assert sorted(hit.count for hit in hits) == [1, 2, 3, 4, 5, 6]
    assert sum(hit.allowed for hit in hits) == 4
    assert await asyncio.to_thread(counter_rows) == 1
    warnings = [r for r in caplog.records if r.name == "config.redis_client"]
    assert len(warnings) == 1
    redis_client.succeeded()


def test_failed_logins_count_in_redis(shared_redis, settings, user):
    settings.LOGIN_THROTTLE = "3/15min"
    client = Client()
    ip = address()

    def attempt(password):
        return client.post(
            "/accounts/login/", {"username": "alice", "password": password}, REMOTE_ADDR=ip
        )

    assert [attempt("wrong").status_code for _ in range(3)] == [200, 200, 200]
    refused = attempt("correct-horse-battery")
    assert refused.status_code == 429
    assert "Too many failed attempts" in refused.content.decode()
    assert counter_rows() == 0
    # From elsewhere the owner logs in, and that clears only their own count.
    assert Client().post(
        "/accounts/login/",
        {"username": "alice", "password": "correct-horse-battery"},
        REMOTE_ADDR=address(),
    ).status_code == 302  # fmt: skip


# --- Redis away ---------------------------------------------------------------


async def test_an_unreachable_redis_leaves_the_limits_to_the_database(settings, caplog):
    """A REDIS_URL whose server is not there: every request is served, the
    limits still hold (counted in the database), and one warning says so."""
    use_redis(settings, f"redis://127.0.0.1:{free_port()}/0")
    settings.API_THROTTLE_ANON = "3/hour"
    client = client_from(address())
    with caplog.at_level(logging.WARNING, logger="config.redis_client"):
        statuses = [(await client.get(ANON_READ)).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    assert await asyncio.to_thread(counter_rows) == 1
    warnings = [r for r in caplog.records if r.name == "config.redis_client"]
    assert len(warnings) == 1
    assert "Redis unreachable" in warnings[0].getMessage()


async def test_redis_stopped_mid_run(throwaway_redis, settings):
    """Counting in Redis, then Redis dies: no request fails, the limit keeps
    holding from the database; when a Redis answers again, counting goes back
    to it."""
    settings.API_THROTTLE_ANON = "4/hour"
    client = client_from(address())
    assert [(await client.get(ANON_READ)).status_code for _ in range(2)] == [200, 200]
    assert await asyncio.to_thread(counter_rows) == 0
    throwaway_redis.stop()
    # The database's window starts afresh: 4 more, then refused.
    statuses = [(await client.get(ANON_READ)).status_code for _ in range(6)]
    assert statuses == [200, 200, 200, 200, 429, 429]
    assert await asyncio.to_thread(counter_rows) == 1


def test_sessions_survive_redis_going_away(throwaway_redis, settings, user):
    """Logged in with sessions cached in Redis; Redis dies: the user stays
    logged in (the session's row), logs out and in again, never a 500."""
    client = Client()
    response = client.post(
        "/accounts/login/", {"username": "alice", "password": "correct-horse-battery"}
    )
    assert response.status_code == 302
    session_key = client.cookies["sessionid"].value
    cached = redis.Redis.from_url(throwaway_redis.url)
    assert any(session_key.encode() in key for key in cached.scan_iter())

    throwaway_redis.stop()
    profile = client.get("/accounts/profile/")
    assert profile.status_code == 200
    assert "alice" in profile.content.decode()
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/accounts/profile/").status_code == 302  # to the login page
    response = client.post(
        "/accounts/login/", {"username": "alice", "password": "correct-horse-battery"}
    )
    assert response.status_code == 302
    assert client.get("/accounts/profile/").status_code == 200


def test_a_logout_while_redis_hangs_does_not_come_back_with_it(throwaway_redis, settings, user):
    """Redis frozen (it keeps its data) while the user logs out: once it
    answers again the session's cached copy is gone, so the old cookie does
    not log anyone back in."""
    settings.REDIS_TIMEOUT = 0.2
    use_redis(settings, throwaway_redis.url)
    client = Client()
    client.post("/accounts/login/", {"username": "alice", "password": "correct-horse-battery"})
    old_cookie = client.cookies["sessionid"].value
    assert client.get("/accounts/profile/").status_code == 200

    throwaway_redis.freeze()
    assert client.post("/accounts/logout/").status_code == 302
    throwaway_redis.thaw()
    redis_client._down_until = 0.0  # past the retry period
    replay = Client()
    replay.cookies["sessionid"] = old_cookie
    assert replay.get("/accounts/profile/").status_code == 302
    cached = redis.Redis.from_url(throwaway_redis.url)
    assert not any(old_cookie.encode() in key for key in cached.scan_iter())
