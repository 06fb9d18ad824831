"""Serve the project with uvicorn, each worker on its own listening socket.

    python -m config.runtime.serve --workers 2 [--host 127.0.0.1] [--port 8000]
    python -m config.runtime.serve --reload    # development: one worker, restarted on edits

``uvicorn --workers N`` binds one socket in its parent and every worker
accepts from it; with uvloop, a worker that wakes first accepts every
connection waiting. Keep-alive clients that connect in a burst can so land
mostly on one worker and stay there, and since a worker runs Python on one
core at most, the busier one's requests wait several times longer. Here each
worker binds its own socket with ``SO_REUSEPORT`` and Linux spreads new
connections over the workers by a hash of the client's address and port
(the splits measured are in bench/RESULTS.md).

Each worker is a ``uvicorn.Server`` with the settings of ``make run``
(uvloop, httptools, no access log) that accepts its connections itself
(``WorkerServer``): every connection waiting at once, where uvloop's own
server takes one per turn of the event loop. Forwarded headers (``X-Forwarded-For``,
``X-Forwarded-Proto``) count only when the settings declare a proxy:
``TRUSTED_PROXY_COUNT`` > 0 turns on uvicorn's proxy headers, trusted from
``TRUSTED_PROXY_IPS``; 0 turns them off (uvicorn's own default trusts them
from 127.0.0.1).

Time bounds on a connection, and what enforces each:

- until its request head is complete, ``HEAD_TIMEOUT`` seconds from the
  connection's opening or the request's first byte (``HeadTimeoutProtocol``
  here: uvicorn's httptools protocol has no such bound, so a connection that
  sends nothing, or half a head, would stay open for good);
- the body, ``BODY_TIMEOUT`` from the application's first read
  (config/access/body_limits.py, in the application, so under plain uvicorn
  too);
- idle between keep-alive requests, uvicorn's ``timeout_keep_alive`` (5 s).

Not bounded: the time to produce the response (the view's, and the
database timeouts'), nor a client that reads the response slowly.

A worker that dies is
replaced; one that fails at start-up (bad settings) stops the server with a
non-zero status, as uvicorn does. A port that anything already listens on,
another instance of this server included, stops start-up before any worker
starts (``ensure_port_free``). SIGTERM or
SIGINT stop the workers gracefully: uvicorn finishes the requests in flight.

The workers share a directory for their Prometheus samples
(``PROMETHEUS_MULTIPROC_DIR``, ``prepare_metrics_dir``), emptied at start;
a dead worker's gauges are dropped when it is replaced.

``--reload`` (what ``make run`` uses) is for development only: uvicorn's
reloader (watchfiles) runs one worker, with the same settings, and restarts it
when a Python file or a template of the project changes. Without it nothing
watches files.
"""

import argparse
import asyncio
import contextlib
import errno
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from functools import partial
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import cast

import uvicorn
from django.conf import settings
from uvicorn.config import LOG_LEVELS, STARTUP_FAILURE
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.supervisors import ChangeReload

APPLICATION = "config.asgi:application"
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
BACKLOG = 2048
# Replacing workers that keep dying faster than this would only spin the CPU.
RESTART_DELAY_SECONDS = 1.0

logger = logging.getLogger("config.runtime.serve")


def bind_reuse_port(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(BACKLOG)
    return sock


def ensure_port_free(host: str, port: int) -> None:
    """Raise ``OSError`` (EADDRINUSE) if anything listens on ``host:port``.

    The workers bind with ``SO_REUSEPORT``, which lets them join any socket
    that has it too, by the same user: another instance of this server (or
    any other program) would then get a share of the connections. A bind
    without ``SO_REUSEPORT`` conflicts with every listening socket on the
    port, theirs or another instance's; ``SO_REUSEADDR`` only lets it past
    connections of an earlier run lingering in TIME_WAIT. The probe is
    closed at once, before the workers bind.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))


def prepare_metrics_dir() -> str | None:
    """Point ``PROMETHEUS_MULTIPROC_DIR`` at an empty directory before any
    worker starts, so that the workers' Prometheus samples go to files there
    and a scrape of any one of them covers all (config/observability/metrics.py).
    A directory the operator set is emptied of an earlier run's files (they
    would count again); otherwise a temporary one is made, and returned so
    that ``run`` removes it at the end."""
    given = os.environ.get(METRICS_DIR_ENV)
    if given:
        os.makedirs(given, exist_ok=True)
        for name in os.listdir(given):
            if name.endswith(".db"):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(os.path.join(given, name))
        return None
    made = tempfile.mkdtemp(prefix="reelshelf-metrics-")
    os.environ[METRICS_DIR_ENV] = made
    return made


def forget_worker_metrics(pid: int) -> None:
    """Drop a dead worker's gauges from the scrape; its counts stay in the totals."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid, os.environ[METRICS_DIR_ENV])  # type: ignore[no-untyped-call]


class HeadTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, closing a connection whose request head
    is not complete ``head_timeout`` seconds after the connection opened (or,
    on a keep-alive connection, after the request's first byte)."""

    head_timeout = 10.0
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._head_timer is None:
            self._arm_head_timer()

    def on_headers_complete(self) -> None:
        self._cancel_head_timer()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def _arm_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.close()


def uvicorn_config(host: str, port: int, log_level: str) -> uvicorn.Config:
    """The worker's uvicorn settings, forwarded headers and head timeout
    from the project's settings. uvicorn's own logging set-up is skipped
    (``log_config=None``): its records go to the handlers of the project's
    ``LOGGING``, in the same format (``LOG_FORMAT``) as every other line."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    HeadTimeoutProtocol.head_timeout = settings.HEAD_TIMEOUT
    behind_proxy = settings.TRUSTED_PROXY_COUNT > 0
    return uvicorn.Config(
        APPLICATION,
        host=host,
        port=port,
        loop="uvloop",
        http=HeadTimeoutProtocol,
        access_log=False,
        log_config=None,
        log_level=log_level,
        backlog=BACKLOG,
        proxy_headers=behind_proxy,
        forwarded_allow_ips=list(settings.TRUSTED_PROXY_IPS) if behind_proxy else [],
    )


class WorkerServer(uvicorn.Server):
    """uvicorn's server, accepting its connections itself.

    Under uvloop, libuv accepts one connection per turn of the event loop
    (libuv/libuv#3696). A turn of a busy worker lasts tens of milliseconds,
    so a burst of new connections (a client's or a proxy's pool opening,
    clients coming back after a restart) waited seconds in the backlog
    while the connections already accepted were served: each new one's
    first request timed out. Here each readiness of the listening socket
    accepts every connection waiting, up to ``ACCEPT_BATCH``, as asyncio's
    own event loop does, and hands each to uvicorn's protocol with
    ``connect_accepted_socket``; everything else is uvicorn's."""

    ACCEPT_BATCH = 128
    # How long to stop accepting when the process is out of file descriptors
    # or memory (asyncio waits as long): the backlog keeps the connections.
    RETRY_DELAY_SECONDS = 1.0
    OUT_OF_RESOURCES = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)

    def __init__(self, config: uvicorn.Config, listener: socket.socket):
        super().__init__(config)
        self.listener = listener
        self.listener.setblocking(False)
        self.accepting: set[asyncio.Task[None]] = set()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        # No sockets for uvicorn to serve: the lifespan and its state only.
        await super().startup(sockets=[])
        # As uvicorn makes its protocols (typed there as a plain asyncio.Protocol).
        self.protocol_factory = partial(
            self.config.http_protocol_class,  # type: ignore[call-arg]
            config=self.config,
            server_state=self.server_state,
            app_state=self.lifespan.state,
        )
        self.start_accepting()

    def start_accepting(self) -> None:
        if self.listener.fileno() != -1:
            asyncio.get_running_loop().add_reader(self.listener.fileno(), self.accept_waiting)

    def stop_accepting(self) -> None:
        if self.listener.fileno() != -1:
            asyncio.get_running_loop().remove_reader(self.listener.fileno())

    def accept_waiting(self) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(self.ACCEPT_BATCH):
            try:
                connection, _address = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:
                if error.errno in self.OUT_OF_RESOURCES:
                    logging.getLogger("uvicorn.error").error(
                        "Cannot accept connections for now: %s", error
                    )
                    self.stop_accepting()
                    loop.call_later(self.RETRY_DELAY_SECONDS, self.start_accepting)
                    return
                continue  # that connection is gone (ECONNABORTED…); take the next
            task = loop.create_task(self.serve_connection(connection))
            self.accepting.add(task)
            task.add_done_callback(self.accepting.discard)

    async def serve_connection(self, connection: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.connect_accepted_socket(self.protocol_factory, connection)
        except OSError:
            connection.close()  # the client went away while it was handed over

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.stop_accepting()
        self.listener.close()
        await super().shutdown(sockets)


def run_worker(host: str, port: int, log_level: str) -> None:
    """One worker process: its own socket, one uvicorn server."""
    config = uvicorn_config(host, port, log_level)
    try:
        sock = bind_reuse_port(host, port)
    except OSError as error:
        logging.getLogger("uvicorn.error").error("Cannot listen on %s:%s: %s", host, port, error)
        sys.exit(STARTUP_FAILURE)
    WorkerServer(config, sock).run()


def run_reloaded_worker(host: str, port: int, log_level: str, sockets: list[socket.socket]) -> None:
    """The worker that ``--reload`` restarts, on the reloader's socket."""
    uvicorn.Server(uvicorn_config(host, port, log_level)).run(sockets=sockets)


def watched_dirs() -> list[Path]:
    """The project's own packages and template folders: not .venv, the tests
    or the docs."""
    base = Path(settings.BASE_DIR)
    packages = {app.split(".")[0] for app in settings.INSTALLED_APPS}
    dirs = [base / name for name in sorted(packages) if (base / name).is_dir()]
    for engine in settings.TEMPLATES:
        dirs += [Path(folder) for folder in cast(list[str], engine["DIRS"])]
    return dirs


def run_with_reload(host: str, port: int, log_level: str) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    config = uvicorn.Config(
        APPLICATION,
        host=host,
        port=port,
        log_level=log_level,
        reload=True,
        reload_dirs=[str(d) for d in watched_dirs()],
        reload_includes=["*.py", "*.html"],
    )
    sock = config.bind_socket()
    ChangeReload(
        config, target=partial(run_reloaded_worker, host, port, log_level), sockets=[sock]
    ).run()
    return 0


class Supervisor:
    """Keeps ``workers`` worker processes running until told to stop."""

    def __init__(self, host: str, port: int, workers: int, log_level: str):
        self.worker_args = (host, port, log_level)
        self.count = workers
        self.processes: list[BaseProcess] = []
        self.stopping = threading.Event()
        self.failed = False

    def start_worker(self) -> BaseProcess:
        # spawn, as uvicorn does: each worker imports Django afresh.
        context = multiprocessing.get_context("spawn")
        process = context.Process(target=run_worker, args=self.worker_args)
        process.start()
        return process

    def stop(self, *_signal_args: object) -> None:
        self.stopping.set()

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        host, port, _ = self.worker_args
        try:
            ensure_port_free(host, port)
        except OSError as error:
            logger.error("Cannot listen on %s:%s: %s; stopping", host, port, error)
            return 1
        metrics_dir = prepare_metrics_dir()
        try:
            self.processes = [self.start_worker() for _ in range(self.count)]
            logger.info("Serving on http://%s:%s with %s workers", host, port, self.count)
            while not self.stopping.wait(0.5):
                self.replace_dead_workers()
            for process in self.processes:
                if process.is_alive() and process.pid is not None:
                    os.kill(process.pid, signal.SIGTERM)
            for process in self.processes:
                process.join()
        finally:
            if metrics_dir is not None:
                shutil.rmtree(metrics_dir, ignore_errors=True)
        return 1 if self.failed else 0

    def replace_dead_workers(self) -> None:
        for index, process in enumerate(self.processes):
            if process.is_alive():
                continue
            if process.exitcode == STARTUP_FAILURE:
                logger.error("Worker %s failed to start; stopping", process.pid)
                self.failed = True
                self.stopping.set()
                return
            logger.warning(
                "Worker %s died (exit code %s); replacing it", process.pid, process.exitcode
            )
            if process.pid is not None:
                forget_worker_metrics(process.pid)
            time.sleep(RESTART_DELAY_SECONDS)
            self.processes[index] = self.start_worker()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
    parser.add_argument(
        "--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", 1)), metavar="N"
    )
    parser.add_argument("--log-level", default="info", choices=list(LOG_LEVELS))
    parser.add_argument(
        "--reload",
        action="store_true",
        help="development: one worker, restarted when code or templates change",
    )
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.reload:
        if args.workers != 1:
            parser.error("--reload runs one worker: leave out --workers (or give 1)")
        logging.basicConfig(level=LOG_LEVELS[args.log_level], format="%(levelname)s: %(message)s")
        return run_with_reload(args.host, args.port, args.log_level)
    if not hasattr(socket, "SO_REUSEPORT"):
        parser.error("this platform has no SO_REUSEPORT: run uvicorn --workers N instead")
    logging.basicConfig(level=LOG_LEVELS[args.log_level], format="%(levelname)s: %(message)s")
    return Supervisor(args.host, args.port, args.workers, args.log_level).run()


if __name__ == "__main__":
    sys.exit(main())
