"""Load benchmark: this project under uvicorn against a sync Django baseline
under gunicorn and a FastAPI + asyncpg + pydantic peer under uvicorn, on the
same PostgreSQL data, one server at a time.

    make bench                      # full run (about 8 minutes)
    make bench BENCH_ARGS="--quick" # 3-second runs, c=400 only: a smoke test

The peer (bench/fastapi_app.py, 2 uvicorn workers with the project's uvicorn
options) serves only the two API URLs, the list and the detail; its bodies
are checked equal to the project's as JSON before measuring (the baseline's
byte for byte, on every URL; the list's `next`/`previous` cursors included:
the baseline pages through config.pagination as the project does, the peer
signs the same cursors itself). Without fastapi or asyncpg installed (the
`bench` extra) the peer is skipped with a note. Only bodies are compared:
the project's ETag, Cache-Control and Vary headers are its own.

Prints a table per server and URL (req/s, p50, p99, socket errors, non-2xx,
peak RSS per worker, database connections left open) and the ratios
project/baseline and, on the API URLs, project/FastAPI; appends the figures
to bench/RESULTS.md and writes them as JSON to bench/last-run.json (ratios
and ratios_fastapi). Needs wrk (`apt-get install wrk`) and a PostgreSQL
server (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/bench).
Every request goes to 127.0.0.1 and every wrk run is bounded in time.

Two more sets of rows, in the same run (so their ratios are not swung by
the machine's load from one run to the next):

- The anonymous rate limit, on as production has it, raised out of reach
  (nothing is refused): the project with its counters in PostgreSQL (no
  REDIS_URL; one upsert on one hot row per request) and with them in Redis
  (REDIS_URL=BENCH_REDIS_URL, default redis://127.0.0.1:6379/15; with it
  Django's cache is Redis too, as in production). Each runs side by side
  with a twin that has the throttle off, and the two are measured in turn
  (``measure_alternating``: off, on, then on, off, …), so that the
  machine's drift during the run, which had swung these ratios by a fifth
  when the rows were taken minutes apart, falls on both alike. The list
  and the detail at c=400 only (three runs each, one with --quick),
  printed and recorded as "throttle on / off" over the twin
  (ratios_throttle in last-run.json; issues 16 and 18 target >= 0.9). The
  run checks that each store did count the hits; without a Redis answering
  PING its row is skipped with a note.
- A 304: the project's list sent with `If-None-Match: <the ETag its 200
  carried>`, at c=400 (three runs, one with --quick), after checking by hand
  that the answer is a bodiless 304 with that tag. wrk counts only statuses
  over 399 as "Non-2xx or 3xx", so a 304 is no error for it, but it cannot
  tell a 304 from a 200: the bytes read per response (about a 304's size,
  not a 200's) show the run was 304s. Printed and recorded as 304 req/s over
  the list's 200 req/s on the same server (not_modified in last-run.json;
  issue 16 targets >= 2, "a 304 costs less than half a 200").

The anonymous limit is off on the other rows: all load comes from one
address, which is exactly what that limit exists to stop. --with-throttle
keeps it counting (in PostgreSQL, raised out of reach) on the main rows of
every server that has it (project, baseline, stock), as before these rows
existed; the throttle rows are measured as above in any case.
BENCH_ARGS (all optional): --quick, --stock,
--with-throttle, --no-record, --soak.
"""

import argparse
import datetime as dt
import importlib.util
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BIN = Path(PYTHON).parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/bench"
MOVIES = 10_000
PRODUCTS = 1_000
# The URL keys of run()'s paths that the FastAPI peer serves (it has no pages).
API_PATHS = ("movies_list", "movie_detail")
# An anonymous rate limit that counts but never refuses.
THROTTLE_OUT_OF_REACH = "1000000000/min"
# The Redis database the throttle row counts in (its own, away from the tests' 0).
DEFAULT_REDIS = "redis://127.0.0.1:6379/15"
# Where the extra rows (throttle on / off, 304) are measured.
EXTRA_CONCURRENCY = 400


def log(message: str) -> None:
    print(message, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def base_env(database_url: str) -> dict:
    env = dict(os.environ)
    # The rows say where the counters live: only the Redis row has Redis.
    env.pop("REDIS_URL", None)
    env.update(
        DATABASE_URL=database_url,
        DJANGO_SECRET_KEY="bench-only-secret-key-" + "x" * 40,
        DJANGO_DEBUG="0",
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        LOG_LEVEL="WARNING",
        # All load comes from one address, which is exactly what the anonymous
        # read limit exists to stop: off by default (the seed's and
        # PERFORMANCE.md's servers had none); --with-throttle keeps it
        # counting, out of reach, on one hot row (see bench/RESULTS.md), and
        # the throttle rows measure it on the project in every run.
        API_THROTTLE_ANON=os.environ.get("BENCH_THROTTLE_ANON", "off"),
    )
    return env


def manage(env: dict, *args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True)


def prepare_database(database_url: str) -> None:
    name = database_url.rsplit("/", 1)[1]
    admin_url = database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    env = base_env(database_url)
    manage(env, "migrate", "--noinput", "-v", "0")
    with psycopg.connect(database_url) as conn:
        movies = conn.execute("SELECT count(*) FROM movies_movie").fetchone()[0]
        products = conn.execute("SELECT count(*) FROM catalog_product").fetchone()[0]
    if movies < MOVIES:
        log(f"Seeding {MOVIES} movies (found {movies})")
        manage(env, "seed_movies", "--count", str(MOVIES), "--seed", "1", "--no-progress")
    if products < PRODUCTS:
        log(f"Seeding {PRODUCTS} products (found {products})")
        manage(env, "seed_catalog", "--products", str(PRODUCTS), "--seed", "1")
    # Fresh statistics and visibility maps, as a live database would have:
    # the count of a page then uses an index-only scan.
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


UVICORN_OPTIONS = [
    "--host", "127.0.0.1", "--port", "{port}", "--workers", "2", "--loop", "uvloop",
    "--http", "httptools", "--no-access-log", "--log-level", "warning", "--backlog", "2048",
]  # fmt: skip


# The project as production runs it (config/runtime/serve.py): two uvicorn workers
# with the options above (which the stock server below uses as they are),
# each on its own SO_REUSEPORT socket.
PROJECT_COMMAND = [
    PYTHON, "-m", "config.runtime.serve", "--host", "127.0.0.1", "--port", "{port}",
    "--workers", "2", "--log-level", "warning",
]  # fmt: skip


def project_server(env: dict, variant: str = "", **options) -> "Server":
    """The project as production runs it: config.runtime.serve, 2 uvicorn workers;
    ``variant`` names a configuration other than the main row's."""
    pool_max = int(env.get("DB_POOL_MAX_SIZE", 10))
    native_max = int(env.get("NATIVE_ASYNC_DB_POOL_MAX_SIZE", 10))
    return Server(
        f"project{', ' + variant if variant else ''} (uvicorn, 2 workers)",
        PROJECT_COMMAND,
        env,
        workers=2,
        max_connections_per_worker=pool_max + native_max,
        **options,
    )


# The throttle rows' configurations: the anonymous limit off, or counting
# (out of reach) in PostgreSQL or in Redis.
THROTTLE_STORES = ("off", "postgresql", "redis")
STORE_NAMES = {"postgresql": "PostgreSQL", "redis": "Redis"}
THROTTLE_VARIANTS = {
    "off": "anonymous throttle off",
    "postgresql": "anonymous throttle on, counters in PostgreSQL",
    "redis": "anonymous throttle on, counters in Redis",
}


def throttle_env(env: dict, store: str, redis_url: str) -> dict:
    if store == "off":
        return dict(env, API_THROTTLE_ANON="off")
    env = dict(env, API_THROTTLE_ANON=THROTTLE_OUT_OF_REACH)
    if store == "redis":
        env["REDIS_URL"] = redis_url
    return env


def redis_answers(redis_url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(redis_url, socket_timeout=2).ping())
    except (redis.RedisError, OSError):
        return False


def anonymous_hits(store: str, database_url: str, redis_url: str, since: float) -> int:
    """The anonymous hits the store holds for the windows that ended after
    ``since`` (Redis keeps only the latest): more than none after a
    throttled row says the limit counted there."""
    if store == "redis":
        import redis

        client = redis.Redis.from_url(redis_url, socket_timeout=2)
        return sum(int(client.get(key) or 0) for key in client.scan_iter("ratelimit:anon:*"))
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT coalesce(sum(count), 0) FROM config_ratecounter "
            "WHERE key LIKE %s AND expires_at > %s",
            ["anon:%", int(since)],
        ).fetchone()[0]


def fastapi_server(env: dict) -> "Server | None":
    """The FastAPI + asyncpg peer (bench/fastapi_app.py) under uvicorn with the
    project's options, or None (with a note) when its packages are missing."""
    missing = [name for name in ("fastapi", "asyncpg") if importlib.util.find_spec(name) is None]
    if missing:
        log(
            f"Skipping the FastAPI peer: {' and '.join(missing)} not installed "
            "(pip install -c constraints.txt -e '.[bench]')."
        )
        return None
    return Server(
        "FastAPI + asyncpg (uvicorn, 2 workers)",
        [str(BIN / "uvicorn"), "bench.fastapi_app:app", *UVICORN_OPTIONS],
        env,
        workers=2,
        max_connections_per_worker=int(env.get("DB_POOL_MAX_SIZE", 10)),
        serves=API_PATHS,
    )


def first_movie_id(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        return conn.execute("SELECT min(id) FROM movies_movie").fetchone()[0]


def db_connections(database_url: str) -> int:
    name = database_url.rsplit("/", 1)[1]
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        ).fetchone()[0]


class Server:
    def __init__(
        self,
        name,
        command,
        env,
        workers,
        max_connections_per_worker,
        serves=None,
        concurrencies=None,
        throttle=None,
    ):
        self.name = name
        # The URL keys (of run()'s paths) this server serves; None: all of them.
        self.serves = serves
        # The concurrencies measured on it; None: the run's.
        self.concurrencies = concurrencies
        # For a project server: where its anonymous throttle counts (THROTTLE_STORES).
        self.throttle = throttle
        self.port = free_port()
        self.command = [c.replace("{port}", str(self.port)) for c in command]
        self.env = env
        self.workers = workers
        self.max_connections = workers * max_connections_per_worker
        self.process = None
        self.started_at = 0.0

    def serves_key(self, key: str) -> bool:
        return self.serves is None or key in self.serves

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        self.started_at = time.time()
        self.process = subprocess.Popen(
            self.command, cwd=ROOT, env=self.env, start_new_session=True
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url("/healthz"), timeout=1) as response:
                    if response.status == 200 and len(self.worker_pids()) >= self.workers:
                        return
            except OSError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"{self.name} did not start")

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            pids = [int(p) for p in children.read_text().split()]
        except OSError:
            return []
        # config.runtime.serve, uvicorn --workers N and gunicorn -w N all start N
        # workers under one parent; multiprocessing may also start a resource
        # tracker there, which serves nothing.
        return [pid for pid in pids if "resource_tracker" not in _cmdline(pid)]

    def peak_rss_mb(self) -> float:
        peaks = []
        for pid in self.worker_pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            match = re.search(r"VmHWM:\s+(\d+) kB", status)
            if match:
                peaks.append(int(match.group(1)) / 1024)
        return round(max(peaks), 1) if peaks else 0.0

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text()
    except OSError:
        return ""


def same_json(a: bytes, b: bytes) -> bool:
    try:
        return json.loads(a) == json.loads(b)
    except ValueError:
        return False


# A page's CSRF token is masked afresh in every response.
CSRF_TOKEN = re.compile(rb'(name="csrfmiddlewaretoken" value=")[^"]+(")')


def fetch(url: str) -> tuple[int, bytes]:
    """Status and body, with CSRF token values blanked so two answers compare."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    return status, CSRF_TOKEN.sub(rb"\1\2", body)


def parse_duration_ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]


BYTE_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}


def wrk(url: str, connections: int, seconds: int, headers: tuple[str, ...] = ()) -> dict:
    header_args = [arg for header in headers for arg in ("-H", header)]
    result = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "2s",
            "--latency",
            *header_args,
            url,
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=seconds + 30,
    )
    out = result.stdout
    served = re.search(r"(\d+) requests in [^,]+, ([\d.]+)([KMGT]?B) read", out)
    figures = {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "requests": int(served.group(1)),
        "bytes_read": round(float(served.group(2)) * BYTE_UNITS[served.group(3)]),
        "p50_ms": parse_duration_ms(re.search(r"\s50%\s+(\S+)", out).group(1)),
        "p99_ms": parse_duration_ms(re.search(r"\s99%\s+(\S+)", out).group(1)),
        "socket_errors": 0,
        "timeouts": 0,
        "non_2xx": 0,
    }
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if errors:
        connect, read, write, timeout = map(int, errors.groups())
        figures["socket_errors"] = connect + read + write + timeout
        figures["timeouts"] = timeout
    # wrk counts statuses over 399 here (its label notwithstanding): a 304 is
    # not among them.
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non_2xx:
        figures["non_2xx"] = int(non_2xx.group(1))
    return figures


def measure(
    server: "Server", path: str, connections: int, seconds: int, repeats: int, headers=()
) -> dict:
    """The median of ``repeats`` wrk runs (by req/s), with the errors of all of them."""
    runs = sorted(
        (wrk(server.url(path), connections, seconds, headers) for _ in range(repeats)),
        key=lambda run: run["rps"],
    )
    row = dict(runs[len(runs) // 2])
    for counter in ("socket_errors", "timeouts", "non_2xx"):
        row[counter] = sum(run[counter] for run in runs)
    row["runs_rps"] = [round(run["rps"]) for run in runs]
    row["max_bytes_per_response"] = round(
        max(run["bytes_read"] / max(run["requests"], 1) for run in runs), 1
    )
    row["rss_mb"] = server.peak_rss_mb()
    return row


def measure_alternating(
    servers: tuple["Server", ...], path: str, connections: int, seconds: int, repeats: int
) -> list[dict]:
    """``measure`` for servers running side by side, their runs taken in
    turn (the order reversed each round): one row per server."""
    for server in servers:
        wrk(server.url(path), 64, 2)  # warm-up: pools filled, code paths hot
    runs: dict[str, list[dict]] = {server.name: [] for server in servers}
    for round_ in range(repeats):
        for server in servers if round_ % 2 == 0 else servers[::-1]:
            runs[server.name].append(wrk(server.url(path), connections, seconds))
    rows = []
    for server in servers:
        ordered = sorted(runs[server.name], key=lambda run: run["rps"])
        row = dict(ordered[len(ordered) // 2])
        for counter in ("socket_errors", "timeouts", "non_2xx"):
            row[counter] = sum(run[counter] for run in ordered)
        row["runs_rps"] = [round(run["rps"]) for run in runs[server.name]]
        row["max_bytes_per_response"] = round(
            max(run["bytes_read"] / max(run["requests"], 1) for run in ordered), 1
        )
        row["rss_mb"] = server.peak_rss_mb()
        rows.append(row)
    return rows


def log_row(label: str, connections: int, row: dict) -> None:
    log(
        f"  {label:<28} c={connections:<4} {row['rps']:>8.0f} req/s  "
        f"p50 {row['p50_ms']:>7.1f} ms  p99 {row['p99_ms']:>7.1f} ms  "
        f"errors {row['socket_errors']:>4}  non-2xx {row['non_2xx']:>4}  "
        f"rss {row['rss_mb']:.0f} MB"
    )


def raw_get(server: "Server", path: str, headers: tuple[str, ...] = ()) -> tuple[int, bytes, bytes]:
    """Status, head and body of one GET as wrk sends it (HTTP/1.1, a Host
    header), read off the socket so the response's size on the wire is known."""
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{server.port}", *headers]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        expected = int(length.group(1)) if length and status != 304 else 0
        while len(body) < expected:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    return status, head + b"\r\n\r\n", body


def header_value(head: bytes, name: str) -> str | None:
    match = re.search(rb"(?im)^" + re.escape(name.encode()) + rb":\s*(.*?)\s*$", head)
    return match.group(1).decode("latin-1") if match else None


def measure_not_modified(server: Server, path: str, seconds: int, repeats: int) -> dict:
    """The 304 row: ``path`` sent with the ETag its 200 carries, at
    EXTRA_CONCURRENCY; checked to be 304s before, during and after."""
    status, head, body = raw_get(server, path)
    etag = header_value(head, "ETag")
    if status != 200 or not etag:
        sys.exit(f"{path}: answered {status} with ETag {etag!r}; the 304 row needs a tagged 200.")
    conditional = (f"If-None-Match: {etag}",)
    status, head_304, body_304 = raw_get(server, path, conditional)
    if status != 304 or body_304 or header_value(head_304, "ETag") != etag:
        sys.exit(f"{path} with If-None-Match {etag}: answered {status}, not a bodiless 304.")
    size_200, size_304 = len(head) + len(body), len(head_304)
    wrk(server.url(path), 64, 2, conditional)  # warm-up
    row = measure(server, path, EXTRA_CONCURRENCY, seconds, repeats, conditional)
    if raw_get(server, path, conditional)[0] != 304:
        sys.exit(f"{path}: its ETag changed during the 304 row; measure on a quiet database.")
    # A 200 in the run would read its body too: how far the bytes per response
    # are from a 304's towards a 200's is the share of 200s, at most.
    share_200 = (row["max_bytes_per_response"] - size_304) / (size_200 - size_304)
    if share_200 > 0.02:
        sys.exit(
            f"{path} with If-None-Match: {row['max_bytes_per_response']:.0f} bytes per response "
            f"(a 304 is {size_304}, a 200 {size_200}): not all 304s."
        )
    row.update(status=304, etag=etag, bytes_304=size_304, bytes_200=size_200)
    return row


def run(args) -> dict:
    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
    redis_url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS)
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: sudo apt-get install wrk (Debian/Ubuntu), then rerun.")
    prepare_database(database_url)
    movie_id = first_movie_id(database_url)
    paths = {
        "movies_list": "/api/movies?limit=10",
        "movie_detail": f"/api/movies/{movie_id}",
        "products_page": "/products/",
    }
    env = base_env(database_url)
    project_env = dict(env)
    baseline_env = dict(env, DB_POOL="off", DJANGO_SETTINGS_MODULE="bench.sync_settings")
    pool_max = int(env.get("DB_POOL_MAX_SIZE", 10))
    # The main rows' throttle is base_env's (off, or with --with-throttle
    # counting in PostgreSQL); the throttle rows are measured apart, each
    # store against a twin with the throttle off (measure_alternating).
    off = env["API_THROTTLE_ANON"].strip().lower() in ("", "off", "none", "0")
    project = project_server(project_env, throttle="off" if off else "postgresql")
    stores = [store for store in THROTTLE_STORES if store != "off"]
    if "redis" in stores and not redis_answers(redis_url):
        log(
            f"Skipping the Redis throttle row: nothing answers PING at {redis_url} "
            "(start redis-server, or set BENCH_REDIS_URL)."
        )
        stores.remove("redis")
    throttle_pairs = {
        store: tuple(
            project_server(
                throttle_env(project_env, variant, redis_url),
                THROTTLE_VARIANTS[variant] + ("" if variant == store else f", beside {store}"),
                serves=API_PATHS,
                concurrencies=[EXTRA_CONCURRENCY],
                throttle=variant,
            )
            for variant in ("off", store)
        )
        for store in stores
    }
    throttled = [server for pair in throttle_pairs.values() for server in pair]
    peer = fastapi_server(dict(env, BENCH_DATABASE_URL=database_url))
    baseline = Server(
        "baseline (gunicorn, 3 sync workers)",
        [
            str(BIN / "gunicorn"),
            "bench.sync_app:application",
            "-w",
            "3",
            "-b",
            "127.0.0.1:{port}",
            "--log-level",
            "warning",
            "--backlog",
            "2048",
        ],
        baseline_env,
        workers=3,
        max_connections_per_worker=1,
    )
    servers = [project, *throttled, *([peer] if peer else []), baseline]
    measured_alone = [server for server in servers if server not in throttled]
    if args.stock:
        servers.insert(
            1,
            Server(
                "stock Django ASGI (uvicorn, 2 workers, async ORM only)",
                [
                    str(BIN / "uvicorn"),
                    "bench.stock_asgi:application",
                    *UVICORN_OPTIONS,
                    "--lifespan",
                    "off",
                ],  # fmt: skip
                dict(project_env, NATIVE_ASYNC_DB="0"),
                workers=2,
                max_connections_per_worker=pool_max,
            ),
        )
    concurrencies = [400] if args.quick else [400, 64]
    seconds = 3 if args.quick else 8

    # Same request, same body: check before measuring anything.
    bodies = {}
    for server in servers:
        server.start()
        try:
            bodies[server.name] = {
                key: fetch(server.url(path))
                for key, path in paths.items()
                if server.serves_key(key)
            }
        finally:
            server.stop()
    project_bodies, baseline_bodies = bodies[project.name], bodies[baseline.name]
    for key in paths:
        if project_bodies[key] != baseline_bodies[key]:
            sys.exit(f"{key}: the two servers answered differently; fix that before measuring.")
        if project_bodies[key][0] != 200:
            sys.exit(f"{key}: status {project_bodies[key][0]}")
    log("The project and the baseline return identical bodies for every URL.")
    for server in throttled:
        for key, (status, _) in bodies[server.name].items():
            if bodies[server.name][key] != project_bodies[key]:
                sys.exit(f"{key}: {server.name} answered {status} and not the project's body.")
    if throttled:
        log("The throttle rows' project servers return the same bodies.")
    if peer:
        for key, (status, body) in bodies[peer.name].items():
            if status != project_bodies[key][0] or not same_json(body, project_bodies[key][1]):
                sys.exit(
                    f"{key}: the FastAPI peer answered {status} and not the project's JSON; "
                    "fix bench/fastapi_app.py before measuring."
                )
        log(f"The FastAPI peer returns the project's JSON for {', '.join(bodies[peer.name])}.")

    results = {}
    for server in measured_alone:
        server.start()
        try:
            log(f"\n== {server.name}")
            figures = {}
            for key, path in paths.items():
                if not server.serves_key(key):
                    continue
                wrk(server.url(path), 64, 2)  # warm-up: pools filled, code paths hot
                for connections in server.concurrencies or concurrencies:
                    # Median of repeated runs at c=400 (by req/s): one run on a
                    # shared 2-core machine swings by a third. Errors add up.
                    repeats = 1 if args.quick or connections != 400 else 3
                    row = measure(server, path, connections, seconds, repeats)
                    figures[f"{key}@c{connections}"] = row
                    log_row(path, connections, row)
            if server is project:
                path = paths["movies_list"]
                row = measure_not_modified(server, path, seconds, 1 if args.quick else 3)
                figures[f"movies_list_304@c{EXTRA_CONCURRENCY}"] = row
                log_row(f"{path} (304)", EXTRA_CONCURRENCY, row)
            if server.throttle == "postgresql" and not anonymous_hits(  # --with-throttle
                "postgresql", database_url, redis_url, server.started_at
            ):
                sys.exit(f"{server.name}: no anonymous hits counted; the throttle was not on.")
            time.sleep(1)
            open_connections = db_connections(database_url)
            total_requests = sum(row["requests"] for row in figures.values())
            results[server.name] = {
                "figures": figures,
                "db_connections_after": open_connections,
                "db_connections_bound": server.max_connections,
                "requests_served": total_requests,
            }
            log(
                f"  after {total_requests} requests: {open_connections} database connections "
                f"open (bound {server.max_connections})"
            )
        finally:
            server.stop()
    ours = results[project.name]["figures"]
    ratios = ratios_to(ours, results[baseline.name]["figures"])
    ratios_fastapi = ratios_to(ours, results[peer.name]["figures"]) if peer else {}
    log("\n== project / baseline" + ("      project / FastAPI" if peer else ""))
    for key, ratio in ratios.items():
        line = f"  {key:<24} req/s x{ratio['rps']:<5}  p99 x{ratio['p99']:<5}"
        if key in ratios_fastapi:
            line += f"  req/s x{ratios_fastapi[key]['rps']:<5}  p99 x{ratios_fastapi[key]['p99']}"
        log(line)

    # Each store's throttled server and its unthrottled twin run side by
    # side and are measured in turn, so the machine's drift during the run
    # falls on both alike.
    ratios_throttle = {}
    for store, (twin, counting) in throttle_pairs.items():
        log(f"\n== {counting.name}, in turn with {twin.name}")
        for server in (twin, counting):
            server.start()
        try:
            figures = {twin.name: {}, counting.name: {}}
            for key, path in paths.items():
                if not counting.serves_key(key):
                    continue
                rows = measure_alternating(
                    (twin, counting), path, EXTRA_CONCURRENCY, seconds, 1 if args.quick else 3
                )
                for server, row in zip((twin, counting), rows, strict=True):
                    figures[server.name][f"{key}@c{EXTRA_CONCURRENCY}"] = row
                    log_row(
                        f"{path} ({'on' if server is counting else 'off'})", EXTRA_CONCURRENCY, row
                    )
            hits = anonymous_hits(store, database_url, redis_url, counting.started_at)
            if not hits:
                sys.exit(f"{counting.name}: no anonymous hits counted; the throttle was not on.")
            log(f"  the throttle counted in {STORE_NAMES[store]} ({hits} hits kept)")
            time.sleep(1)
            open_connections = db_connections(database_url)
            for server in (twin, counting):
                results[server.name] = {
                    "figures": figures[server.name],
                    "db_connections_after": open_connections,
                    "db_connections_bound": twin.max_connections + counting.max_connections,
                    "requests_served": sum(
                        row["requests"] for row in figures[server.name].values()
                    ),
                }
            log(
                f"  {open_connections} database connections open for the two "
                f"(bound {twin.max_connections + counting.max_connections})"
            )
        finally:
            for server in (twin, counting):
                server.stop()
        ratios_throttle[store] = ratios_to(figures[counting.name], figures[twin.name])
    throttle_servers = {store: pair[1].name for store, pair in throttle_pairs.items()}
    log(f"\n== throttle on / off (project, c={EXTRA_CONCURRENCY}; target >= 0.9)")
    for store, store_ratios in ratios_throttle.items():
        for key, ratio in store_ratios.items():
            log(
                f"  {key:<24} counters in {STORE_NAMES[store]:<10}  "
                f"req/s x{ratio['rps']:<5}  p99 x{ratio['p99']}"
            )

    key = f"movies_list@c{EXTRA_CONCURRENCY}"
    ok, full = ours[f"movies_list_304@c{EXTRA_CONCURRENCY}"], ours[key]
    not_modified = {
        "key": key,
        "server": project.name,
        "rps_304": ok["rps"],
        "rps_200": full["rps"],
        "ratio": round(ok["rps"] / full["rps"], 2),
        "p99_ms_304": ok["p99_ms"],
        "p99_ms_200": full["p99_ms"],
        "bytes_per_response": ok["max_bytes_per_response"],
        "bytes_304": ok["bytes_304"],
        "bytes_200": ok["bytes_200"],
    }
    log(f"\n== 304 / 200 (project list, c={EXTRA_CONCURRENCY}; target >= 2)")
    log(
        f"  {key:<24} {ok['rps']:.0f} / {full['rps']:.0f} req/s  x{not_modified['ratio']}  "
        f"p99 {ok['p99_ms']:.1f} / {full['p99_ms']:.1f} ms  "
        f"({ok['max_bytes_per_response']:.0f} bytes per response at most; "
        f"a 304 is {ok['bytes_304']}, a 200 {ok['bytes_200']})"
    )
    return {
        "servers": results,
        "project": project.name,
        "baseline": baseline.name,
        "fastapi": peer.name if peer else None,
        "ratios": ratios,
        "ratios_fastapi": ratios_fastapi,
        "throttle_servers": throttle_servers,
        "ratios_throttle": ratios_throttle,
        "not_modified": not_modified,
        "paths": paths,
    }


def ratios_to(ours: dict, theirs: dict) -> dict:
    """req/s and p99 of ``ours`` over ``theirs``, for the URLs both measured."""
    return {
        key: {
            "rps": round(ours[key]["rps"] / theirs[key]["rps"], 2),
            "p99": round(ours[key]["p99_ms"] / theirs[key]["p99_ms"], 2),
        }
        for key in ours
        if key in theirs
    }


def create_bench_token(database_url: str) -> str:
    env = base_env(database_url)
    code = (
        "from django.contrib.auth import get_user_model; "
        "from config.access.models import api_token_create; "
        "user, _ = get_user_model().objects.get_or_create(username='bench-soak'); "
        "print(api_token_create(user=user, name='soak')[1])"
    )
    out = subprocess.run(
        [PYTHON, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip().splitlines()[-1]


def current_rss_mb(server: Server) -> dict[int, float]:
    sizes = {}
    for pid in server.worker_pids():
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        if match:
            sizes[pid] = int(match.group(1)) / 1024
    return sizes


def catalog_totals(database_url: str) -> dict:
    with psycopg.connect(database_url) as conn:
        stock = conn.execute("SELECT coalesce(sum(stock), 0) FROM catalog_product").fetchone()[0]
        ordered = conn.execute(
            "SELECT coalesce(sum(i.quantity), 0) FROM catalog_orderitem i "
            "JOIN catalog_order o ON o.id = i.order_id WHERE o.status <> 'cancelled'"
        ).fetchone()[0]
        orders = conn.execute("SELECT count(*) FROM catalog_order").fetchone()[0]
        mismatched = conn.execute(
            "SELECT count(*) FROM catalog_order o WHERE o.subtotal <> ("
            "  SELECT coalesce(sum(i.quantity * i.unit_price), 0) FROM catalog_orderitem i"
            "  WHERE i.order_id = o.id) OR o.total <> o.subtotal + o.tax"
        ).fetchone()[0]
        product_ids = [
            row[0]
            for row in conn.execute(
                "SELECT id FROM catalog_product WHERE is_active AND stock > 0 ORDER BY id LIMIT 50"
            )
        ]
    return {
        "stock": int(stock),
        "ordered": int(ordered),
        "orders": orders,
        "orders_with_wrong_totals": mismatched,
        "product_ids": product_ids,
    }


def soak(args) -> dict:
    """60 s at c=400 on the list endpoint with orders mixed in; checks errors,
    connections, RSS growth and that stock and orders still add up."""
    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: sudo apt-get install wrk (Debian/Ubuntu), then rerun.")
    prepare_database(database_url)
    token = create_bench_token(database_url)
    before = catalog_totals(database_url)
    env = dict(
        base_env(database_url), API_THROTTLE_WRITE="1000000/min", API_THROTTLE_TOKEN="1000000/min"
    )
    server = project_server(env)
    seconds = 10 if args.quick else 60
    orders_per_second = 4
    statuses: dict[int, int] = {}
    stop = threading.Event()

    def place_orders():
        rng = random.Random(1)
        url = server.url("/api/orders")
        while not stop.is_set():
            product = rng.choice(before["product_ids"])
            body = json.dumps({"items": [{"product_id": product, "quantity": 1}]}).encode()
            request = urllib.request.Request(
                url,
                data=body,
                method="POST",
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    status = response.status
            except urllib.error.HTTPError as error:
                status = error.code
            except OSError:
                status = 0
            statuses[status] = statuses.get(status, 0) + 1
            stop.wait(1 / orders_per_second)

    server.start()
    try:
        # Warm up at full concurrency, so the start figure already holds the
        # buffers, pooled connections and caches a loaded worker keeps; growth
        # after that is what could be a leak.
        wrk(server.url("/api/movies?limit=10"), 400, 5 if args.quick else 10)
        rss_start = current_rss_mb(server)
        writer = threading.Thread(target=place_orders)
        writer.start()
        try:
            load = wrk(server.url("/api/movies?limit=10"), 400, seconds)
        finally:
            stop.set()
            writer.join(timeout=15)
        rss_end = current_rss_mb(server)
        time.sleep(1)
        open_connections = db_connections(database_url)
    finally:
        server.stop()
    after = catalog_totals(database_url)
    created = statuses.get(201, 0)
    growth = {
        pid: round((rss_end[pid] - rss_start[pid]) / rss_start[pid] * 100, 1)
        for pid in rss_start
        if pid in rss_end
    }
    checks = {
        "zero socket errors and non-2xx on the list": load["socket_errors"] == 0
        and load["non_2xx"] == 0,
        "every order answered 201 or 409": set(statuses) <= {201, 409},
        "stock + ordered units unchanged": before["stock"] + before["ordered"]
        == after["stock"] + after["ordered"],
        "one order row per 201": after["orders"] - before["orders"] == created,
        "every order's totals add up": after["orders_with_wrong_totals"] == 0,
        "no leaked database connections": open_connections <= server.max_connections,
        "RSS growth per worker under 10%": bool(growth) and max(growth.values()) < 10,
    }
    report = {
        "seconds": seconds,
        "list": load,
        "orders": statuses,
        "rss_start_mb": {str(k): round(v, 1) for k, v in rss_start.items()},
        "rss_end_mb": {str(k): round(v, 1) for k, v in rss_end.items()},
        "rss_growth_percent": {str(k): v for k, v in growth.items()},
        "db_connections_after": open_connections,
        "db_connections_bound": server.max_connections,
        "stock_before_after": [before["stock"], after["stock"]],
        "checks": checks,
    }
    log(f"\n== soak: {seconds} s at c=400 on /api/movies?limit=10, ~{orders_per_second} orders/s")
    log(
        f"  list: {load['rps']:.0f} req/s, p99 {load['p99_ms']:.0f} ms, "
        f"errors {load['socket_errors']}, non-2xx {load['non_2xx']}"
    )
    log(f"  orders: {statuses}")
    log(f"  RSS growth per worker: {growth} %; connections open after: {open_connections}")
    for name, passed in checks.items():
        log(f"  [{'ok' if passed else 'FAIL'}] {name}")
    return report


def record_soak(report: dict, args) -> None:
    report["date"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    report["commit"] = git_commit()
    report["command"] = "make soak" + (' BENCH_ARGS="--quick"' if args.quick else "")
    (ROOT / "bench" / "last-soak.json").write_text(json.dumps(report, indent=2) + "\n")
    load = report["list"]
    lines = [
        f"\n### Soak {report['date']} · commit {report['commit']} · `{report['command']}`\n",
        f"{report['seconds']} s at c=400 on `/api/movies?limit=10` with orders mixed in: "
        f"{load['rps']:.0f} req/s, p99 {load['p99_ms']:.0f} ms, socket errors "
        f"{load['socket_errors']}, non-2xx {load['non_2xx']}; orders {report['orders']}; "
        f"RSS growth per worker {report['rss_growth_percent']} %; "
        f"{report['db_connections_after']} database connections open after "
        f"(bound {report['db_connections_bound']}).\n",
    ]
    lines += [f"- {'ok' if ok else 'FAIL'}: {name}" for name, ok in report["checks"].items()]
    with open(ROOT / "bench" / "RESULTS.md", "a") as results:
        results.write("\n".join(lines) + "\n")


def git_commit() -> str:
    result = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return result.stdout.strip() + ("+dirty" if dirty else "")


def record(report: dict, args) -> None:
    report["date"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    report["commit"] = git_commit()
    flags = " ".join(
        flag
        for flag, on in (
            ("--quick", args.quick),
            ("--stock", args.stock),
            ("--with-throttle", args.with_throttle),
        )
        if on
    )
    report["command"] = "make bench" + (f' BENCH_ARGS="{flags}"' if flags else "")
    if os.environ.get("ASGI_SYNC_THREADS"):
        report["command"] = (
            f"ASGI_SYNC_THREADS={os.environ['ASGI_SYNC_THREADS']} " + report["command"]
        )
    (ROOT / "bench" / "last-run.json").write_text(json.dumps(report, indent=2) + "\n")
    names = list(report["servers"])
    baseline = report["servers"][report["baseline"]]["figures"]
    peer = report["servers"][report["fastapi"]]["figures"] if report["fastapi"] else {}
    lines = [
        f"\n### {report['date']} · commit {report['commit']} · `{report['command']}`\n",
        "| URL @ connections | server | req/s | × baseline | × FastAPI | p50 ms | p99 ms "
        "| socket errors (timeouts) | non-2xx | peak RSS/worker MB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key in baseline:
        for name in names:
            row = report["servers"][name]["figures"].get(key)
            if row is None:  # a server that does not serve this URL
                continue
            versus_peer = f"{row['rps'] / peer[key]['rps']:.2f}" if key in peer else "–"
            lines.append(
                f"| {key} | {name} | {row['rps']:.0f} | {row['rps'] / baseline[key]['rps']:.2f} "
                f"| {versus_peer} | {row['p50_ms']:.1f} | {row['p99_ms']:.1f} "
                f"| {row['socket_errors']} ({row['timeouts']}) | {row['non_2xx']} "
                f"| {row['rss_mb']:.0f} |"
            )
    lines += [
        "\n| URL @ connections | project/baseline req/s | p99 | project/FastAPI req/s | p99 |",
        "|---|---|---|---|---|",
    ]
    for key, ratio in report["ratios"].items():
        versus_peer = report["ratios_fastapi"].get(key)
        lines.append(
            f"| {key} | {ratio['rps']:.2f} | {ratio['p99']:.2f} "
            + (
                f"| {versus_peer['rps']:.2f} | {versus_peer['p99']:.2f} |"
                if versus_peer
                else "| – | – |"
            )
        )
    lines += [
        "\n| URL @ connections | counters | throttle on / off req/s | p99 | server |",
        "|---|---|---|---|---|",
    ]
    for store, store_ratios in report["ratios_throttle"].items():
        for key, ratio in store_ratios.items():
            lines.append(
                f"| {key} | {STORE_NAMES[store]} | {ratio['rps']:.2f} | {ratio['p99']:.2f} "
                f"| {report['throttle_servers'][store]} |"
            )
    not_modified = report["not_modified"]
    row = report["servers"][not_modified["server"]]["figures"][
        not_modified["key"].replace("@", "_304@")
    ]
    lines += [
        "\n| URL @ connections | 304 req/s | 200 req/s | 304 / 200 | p50 ms | p99 ms "
        "| socket errors (timeouts) | non-2xx | bytes per response (a 304, a 200) |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| {not_modified['key']} If-None-Match | {row['rps']:.0f} | "
        f"{not_modified['rps_200']:.0f} | {not_modified['ratio']:.2f} | {row['p50_ms']:.1f} "
        f"| {row['p99_ms']:.1f} | {row['socket_errors']} ({row['timeouts']}) "
        f"| {row['non_2xx']} | {row['max_bytes_per_response']:.0f} ({row['bytes_304']}, "
        f"{row['bytes_200']}) |",
    ]
    for name, server in report["servers"].items():
        lines.append(
            f"\n{name}: {server['requests_served']} requests, then "
            f"{server['db_connections_after']} database connections open "
            f"(bound {server['db_connections_bound']})."
        )
    with open(ROOT / "bench" / "RESULTS.md", "a") as results:
        results.write("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3-second runs at c=400 only")
    parser.add_argument(
        "--stock", action="store_true", help="also measure Django's stock ASGI handler"
    )
    parser.add_argument("--no-record", action="store_true", help="print only")
    parser.add_argument(
        "--soak", action="store_true", help="60 s at c=400 with orders mixed in, then checks"
    )
    parser.add_argument(
        "--with-throttle",
        action="store_true",
        help="keep the anonymous rate limit counting (raised out of reach, in PostgreSQL) "
        "on the main rows of every server too; the throttle rows are measured in any case",
    )
    args = parser.parse_args()
    if args.with_throttle:
        os.environ["BENCH_THROTTLE_ANON"] = THROTTLE_OUT_OF_REACH
    if args.soak:
        report = soak(args)
        if not args.no_record:
            record_soak(report, args)
        if not all(report["checks"].values()):
            sys.exit(1)
        return
    report = run(args)
    if not args.no_record:
        record(report, args)
        log("\nRecorded in bench/RESULTS.md and bench/last-run.json")


if __name__ == "__main__":
    main()
