"""CPU instructions per request, in process: a figure that does not drift with
the machine's load, unlike req/s.

    python bench/instructions.py                 # every URL, 200 requests each
    python bench/instructions.py --requests 500 /api/movies/1
    python bench/instructions.py --peer          # the FastAPI peer, same URLs
    python bench/instructions.py --pg-cpu        # PostgreSQL's CPU per request instead

Each URL is served twice under ``valgrind --tool=callgrind`` in a fresh
process: once with a few warm-up requests only, once with ``--requests``
more. ``--peer`` serves bench/fastapi_app.py's application instead, so the
two costs compare. The difference of the two instruction totals, divided by
``--requests``, is the cost of one request (start-up and warm-up cancel
out). Requests go straight into the project's ASGI application (the one
``config.asgi`` builds, lifespan included) on one event loop, one at a time,
with production settings on the bench database; only this process's
instructions count, not PostgreSQL's. Needs valgrind and the bench database
(``make bench`` seeds it; ``BENCH_DATABASE_URL``).

The database server's work is not in those counts. ``--pg-cpu`` measures it
instead: the CPU time the PostgreSQL processes of this machine spent while
``--requests`` requests (after the warm-up) were served, without valgrind,
divided by their number (read from /proc; so the machine's PostgreSQL must
be the bench database's, and mostly idle otherwise).
"""

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import uvloop

ROOT = Path(__file__).resolve().parent.parent
WARM_UP = 20
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/bench"


def environment(database_url: str) -> dict[str, str]:
    """make bench's server environment, with string hashing fixed so two
    runs execute the same instructions."""
    from run import base_env  # bench/run.py, beside this script

    return dict(base_env(database_url), PYTHONHASHSEED="0")


def load_application(peer: bool):
    sys.path.insert(0, str(ROOT))
    if peer:
        from bench.fastapi_app import app

        return app
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from config.asgi import application

    return application


async def serve(path: str, count: int, peer: bool = False, warm_up: int = 0) -> float:
    """Send ``warm_up`` and then ``count`` GETs of ``path`` to the
    application; check each is 200. Returns the PostgreSQL CPU seconds spent
    during the ``count`` requests."""
    application = load_application(peer)

    # Lifespan startup, as uvicorn sends it (binds the native reads to this
    # loop); Django's stock handler refuses the lifespan scope, which is fine.
    lifespan_messages: asyncio.Queue[dict] = asyncio.Queue()
    await lifespan_messages.put({"type": "lifespan.startup"})
    started = asyncio.Event()

    async def lifespan_send(message: dict) -> None:
        started.set()

    # The state a lifespan handler fills is copied into each request's scope,
    # as uvicorn does (the peer keeps its pool there).
    state: dict = {}
    lifespan_scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": state}
    lifespan = asyncio.create_task(
        application(lifespan_scope, lifespan_messages.get, lifespan_send)
    )
    waiting = asyncio.create_task(started.wait())
    await asyncio.wait([lifespan, waiting], return_when=asyncio.FIRST_COMPLETED)
    if lifespan.done():
        lifespan.exception()  # retrieved: the handler does not speak lifespan
    path_only, _, query = path.partition("?")
    database_seconds = 0.0
    for index in range(warm_up + count):
        if index == warm_up:
            database_seconds = -postgresql_cpu_seconds()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path_only,
            "raw_path": path_only.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": [(b"host", b"127.0.0.1")],
            "client": ("127.0.0.1", 40000),
            "server": ("127.0.0.1", 8000),
            "state": dict(state),
        }
        messages: list[dict] = []
        request_sent = False

        async def receive():
            nonlocal request_sent
            if not request_sent:
                request_sent = True
                return {"type": "http.request", "body": b"", "more_body": False}
            return await asyncio.Future()  # the client never goes away

        async def send(message, messages=messages):
            messages.append(message)

        await application(scope, receive, send)
        status = messages[0]["status"]
        if status != 200:
            raise SystemExit(f"{path}: status {status}")
    return database_seconds + postgresql_cpu_seconds()


def postgresql_cpu_seconds() -> float:
    """User and system CPU time of every PostgreSQL process running here."""
    ticks = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            command = Path(f"/proc/{pid}/comm").read_text().strip()
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if command.startswith("postgres"):
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def count_instructions(path: str, requests: int, env: dict[str, str], peer: bool) -> int:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "callgrind.out"
        subprocess.run(  # noqa: S603
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                sys.executable,
                __file__,
                "--serve",
                str(requests),
                *(["--peer"] if peer else []),
                path,
            ],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        summary = re.search(r"^summary: (\d+)", out.read_text(), re.MULTILINE)
        if summary is None:
            raise SystemExit(f"no callgrind summary for {path}")
        return int(summary.group(1))


def database_seconds(path: str, requests: int, env: dict[str, str], peer: bool) -> float:
    """PostgreSQL's CPU seconds for ``requests`` requests of ``path``, served
    in a fresh process after the warm-up."""
    served = subprocess.run(  # noqa: S603
        [
            sys.executable,
            __file__,
            "--serve",
            str(requests),
            "--warm-up",
            str(WARM_UP),
            *(["--peer"] if peer else []),
            path,
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return float(served.stdout.split()[-1])


def first_movie_id(database_url: str) -> int:
    import psycopg

    with psycopg.connect(database_url) as conn:
        return conn.execute("SELECT min(id) FROM movies_movie").fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", help="default: the benchmarked API URLs")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--peer", action="store_true", help="count the FastAPI peer instead")
    parser.add_argument(
        "--pg-cpu", action="store_true", help="PostgreSQL's CPU per request, not instructions"
    )
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--warm-up", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            seconds = runner.run(serve(args.paths[0], args.serve, args.peer, warm_up=args.warm_up))
        print(seconds)
        return
    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
    env = environment(database_url)
    paths = args.paths or ["/api/movies?limit=10", f"/api/movies/{first_movie_id(database_url)}"]
    if args.pg_cpu:
        for path in paths:
            seconds = database_seconds(path, args.requests, env, args.peer)
            per_request = seconds / args.requests * 1000
            print(f"{path}: {per_request:.3f} ms of PostgreSQL CPU per request", flush=True)
        return
    for path in paths:
        base = count_instructions(path, WARM_UP, env, args.peer)
        loaded = count_instructions(path, WARM_UP + args.requests, env, args.peer)
        per_request = (loaded - base) / args.requests
        print(f"{path}: {per_request:,.0f} instructions per request", flush=True)


if __name__ == "__main__":
    main()
