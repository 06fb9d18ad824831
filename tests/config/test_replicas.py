"""Read replicas (``DATABASE_REPLICA_URLS``) against a real streaming
replica: a throwaway primary made with ``initdb``, a standby of it made with
``pg_basebackup -R``, both on ports and directories of the test's own, and
two app servers on them sharing one Redis (a redis-server of the test's own).

With the standby's replay paused, what the servers answer shows where each
read went: anonymous reads come from the replica (rows added on the primary
are not there yet), while a client that has just placed an order reads it
back at once, on the other server too, until REPLICA_READ_AFTER_WRITE_SECONDS
have passed. Both servers share one anonymous rate limit and the sessions.
``/readyz`` reports both databases."""

import http.cookiejar
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request

import psycopg
import pytest

from tests.config.test_outage import SEED, ThrowawayCluster, manage
from tests.config.test_redis import ThrowawayRedis
from tests.live import uvicorn_server

pytestmark = pytest.mark.live

PIN_SECONDS = 3
ANON_LIMIT = 30


class Standby(ThrowawayCluster):
    """A streaming replica of ``primary``, cloned with pg_basebackup -R."""

    def __init__(self, primary: ThrowawayCluster):
        super().__init__()
        self.primary = primary

    def init(self) -> None:
        self.run(
            "pg_basebackup", "-D", str(self.data), "-h", "127.0.0.1",
            "-p", str(self.primary.port), "-U", "postgres",
            # A standby's configuration (-R), the WAL meanwhile, no wait for
            # the next checkpoint.
            "-R", "-X", "stream", "-c", "fast", "--no-sync",
        )  # fmt: skip


def sql(url: str, statement: str, params=()):
    with psycopg.connect(url.replace("postgres://", "postgresql://"), autocommit=True) as conn:
        cursor = conn.execute(statement, params)
        return cursor.fetchall() if cursor.description else None


def request(url: str, *, data=None, token=None, cookie=None):
    """(status, headers, parsed JSON body)."""
    headers = {"Content-Type": "application/json"} if data is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if cookie:
        headers["Cookie"] = cookie
    body = json.dumps(data).encode() if data is not None else None
    req = urllib.request.Request(url, data=body, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=15) as response:  # noqa: S310
            return response.status, response.headers, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, json.loads(exc.read() or b"null")


def wait_for(condition, what: str, limit: float = 15.0):
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def clusters():
    primary = ThrowawayCluster()
    standby = Standby(primary)
    try:
        primary.init()
        primary.start()
        primary.run("createdb", "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres", "app")
        manage(primary.url(), "migrate", "--noinput", "-v", "0")
        standby.init()
        standby.start()
        (in_recovery,) = sql(standby.url(), "SELECT pg_is_in_recovery()")[0]
        assert in_recovery, "the standby is not replicating"
        yield primary, standby
    finally:
        standby.remove()
        primary.remove()


@pytest.fixture
def own_redis():
    """A Redis of the test's own: the servers count every anonymous call
    from 127.0.0.1 under one key, which must start from nothing."""
    server = ThrowawayRedis()
    yield server.url
    server.stop()


def test_reads_go_to_the_replica_and_a_writer_reads_its_writes(clusters, own_redis):
    primary, standby = clusters
    product_id, token = manage(primary.url(), "shell", "-c", SEED).split()[-2:]
    env = {
        "DATABASE_REPLICA_URLS": standby.url(),
        "REPLICA_READ_AFTER_WRITE_SECONDS": str(PIN_SECONDS),
        "REDIS_URL": own_redis,
        "API_THROTTLE_ANON": f"{ANON_LIMIT}/hour",
        # Plain HTTP here: cookies without the Secure flag, so they are sent.
        "DJANGO_SECURE_COOKIES": "0",
    }
    with (
        uvicorn_server(database_url=primary.url(), extra_env=env) as one,
        uvicorn_server(database_url=primary.url(), extra_env=env) as other,
    ):
        status, _, body = request(one + "/readyz")
        assert status == 200
        assert body == {"status": "ok", "databases": {"default": "ok", "replica1": "ok"}}

        # A first call records the token's use (a write); once the replica
        # has it, reading the token is no write.
        assert request(one + "/api/orders", token=token)[0] == 200
        wait_for(
            lambda: sql(standby.url(), "SELECT last_used_at FROM config_apitoken")[0][0],
            "the replica has the token's last use",
        )

        sql(standby.url(), "SELECT pg_wal_replay_pause()")
        sql(primary.url(), "INSERT INTO catalog_category (name, slug) VALUES ('Books', 'books')")
        status, _, categories = request(other + "/api/categories")
        assert status == 200
        assert [c["name"] for c in categories["items"]] == ["Tools"]  # the replica's rows

        status, headers, order = request(
            one + "/api/orders",
            data={"items": [{"product_id": int(product_id), "quantity": 2}]},
            token=token,
        )
        assert status == 201, order
        assert "primary_until=" in headers.get("Set-Cookie", "")
        # The writer reads it back at once, through the other server too ...
        status, _, orders = request(other + "/api/orders", token=token)
        assert status == 200
        assert [o["id"] for o in orders["items"]] == [order["id"]]
        # ... while anyone else still reads the replica, where stock is whole.
        status, _, product = request(other + f"/api/products/{product_id}")
        assert status == 200
        assert product["stock"] == 10_000
        (stock,) = sql(primary.url(), "SELECT stock FROM catalog_product")[0]
        assert stock == 9_998

        # The pin lasts REPLICA_READ_AFTER_WRITE_SECONDS, then reads go back
        # to the (still paused) replica.
        time.sleep(PIN_SECONDS + 0.5)
        assert request(other + "/api/orders", token=token)[2]["items"] == []
        sql(standby.url(), "SELECT pg_wal_replay_resume()")
        wait_for(
            lambda: len(request(other + "/api/orders", token=token)[2]["items"]) == 1,
            "the replica has caught up with the order",
        )

        # One anonymous limit for both servers, counted in the one Redis:
        # two calls above, then the rest of the limit and no more.
        statuses = [request(server + "/api/categories")[0] for server in [one, other] * 20]
        assert statuses.count(200) == ANON_LIMIT - 2
        assert set(statuses) == {200, 429}

        # A session made on one server is valid on the other.
        browser = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        page = browser.open(one + "/accounts/login/").read().decode()
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        form = {"username": "buyer", "password": "correct-horse-battery"}
        browser.open(
            one + "/accounts/login/",
            urllib.parse.urlencode({**form, "csrfmiddlewaretoken": csrf}).encode(),
        )
        profile = browser.open(other + "/accounts/profile/")
        assert profile.url == other + "/accounts/profile/"  # not sent to the login page
        assert "buyer" in profile.read().decode()

        standby.stop()
        status, _, body = request(one + "/readyz")
        assert status == 200
        assert body["status"] == "degraded"
        assert body["databases"]["default"] == "ok"
        # Refused, or still waiting for the pool when READYZ_TIMEOUT ends.
        assert body["databases"]["replica1"] in {
            "unreachable (OperationalError)",
            "did not answer in time",
        }
