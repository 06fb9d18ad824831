"""config.runtime.serve, the production launcher: one uvicorn server per worker
process, each on its own SO_REUSEPORT socket, kept running by a supervisor.

Sockets and processes are read from /proc (Linux, where SO_REUSEPORT spreads
connections; elsewhere config.runtime.serve refuses to start)."""

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from config.runtime import serve
from tests.live import PROJECT_DIR, free_port, uvicorn_server

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads /proc (Linux only)"),
]

LISTEN, ESTABLISHED = "0A", "01"


def tcp_sockets(port: int, state: str) -> set[int]:
    """Inodes of the IPv4 TCP sockets on local ``port`` in ``state``."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].rsplit(":", 1)[1], 16)
        if local_port == port and fields[3] == state:
            inodes.add(int(fields[9]))
    return inodes


def socket_inodes(pid: int) -> set[int]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def supervisor_pid(port: int) -> int:
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"config.runtime.serve" in args and str(port).encode() in args:
            return int(cmdline.parent.name)
    raise AssertionError(f"no config.runtime.serve process on port {port}")


def workers_of(supervisor: int) -> list[int]:
    # A spawn-started worker may briefly share the supervisor with
    # multiprocessing's resource tracker, which holds no socket.
    return [pid for pid in children(supervisor) if b"spawn_main" in _cmdline(pid)]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def get_healthz(base_url: str) -> int:
    with urllib.request.urlopen(f"{base_url}/healthz", timeout=10) as response:  # noqa: S310
        return response.status


@pytest.mark.live
def test_each_worker_listens_on_its_own_socket_and_connections_reach_both():
    with uvicorn_server(workers=2) as base_url:
        port = urllib.parse.urlsplit(base_url).port
        workers = workers_of(supervisor_pid(port))
        assert len(workers) == 2
        listening = tcp_sockets(port, LISTEN)
        own_sockets = [socket_inodes(pid) & listening for pid in workers]
        assert all(len(sockets) == 1 for sockets in own_sockets), own_sockets
        assert own_sockets[0] != own_sockets[1]

        # 40 keep-alive connections, each answered: the kernel hashes them
        # over both sockets (all on one worker: odds of 2 in 2**40).
        connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(40)]
        try:
            for connection in connections:
                connection.request("GET", "/healthz")
                response = connection.getresponse()
                assert response.status == 200
                response.read()
            established = tcp_sockets(port, ESTABLISHED)
            served_by = [len(socket_inodes(pid) & established) for pid in workers]
        finally:
            for connection in connections:
                connection.close()
        assert sum(served_by) == 40
        assert min(served_by) > 0, served_by


@pytest.mark.live
def test_a_worker_that_dies_is_replaced_and_stop_ends_them_all():
    with uvicorn_server(workers=2) as base_url:
        supervisor = supervisor_pid(urllib.parse.urlsplit(base_url).port)
        first, second = workers_of(supervisor)
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while True:
            workers = workers_of(supervisor)
            if len(workers) == 2 and first not in workers:
                break
            assert time.monotonic() < deadline, f"workers now: {workers}"
            time.sleep(0.2)
        assert second in workers
        for _ in range(20):
            assert get_healthz(base_url) == 200
        replacement = next(pid for pid in workers if pid != second)
        while not tcp_sockets(urllib.parse.urlsplit(base_url).port, LISTEN) & socket_inodes(
            replacement
        ):
            assert time.monotonic() < deadline, "the replacement never listened"
            time.sleep(0.2)
    # uvicorn_server sent SIGTERM and waited for the supervisor.
    assert not Path(f"/proc/{second}").exists()
    assert not Path(f"/proc/{replacement}").exists()


def start_serve_expecting_failure(port: int) -> subprocess.CompletedProcess[str]:
    """Run config.runtime.serve on ``port``; it must exit by itself within
    30 s (a server that started instead is stopped, with its workers, and
    the test fails)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "config.runtime.serve", "--port", str(port), "--workers", "2"],
        cwd=PROJECT_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"config.runtime.serve started on port {port}, which was taken")
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def assert_refused_with_the_reason(result: subprocess.CompletedProcess[str], port: int) -> None:
    assert result.returncode == 1
    assert f"Cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Address already in use; stopping" in result.stderr
    # Refused before any worker started.
    assert "Serving on" not in result.stderr


def test_a_port_taken_by_another_program_stops_the_server_with_the_reason():
    port = free_port()
    with socket.socket() as other_program:
        other_program.bind(("127.0.0.1", port))
        other_program.listen()
        result = start_serve_expecting_failure(port)
    assert_refused_with_the_reason(result, port)


def test_a_port_another_program_shares_with_so_reuseport_is_refused_too():
    """A listener with SO_REUSEPORT (same user) would let the workers join
    it and the kernel split connections between the two."""
    port = free_port()
    with socket.socket() as other_program:
        other_program.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        other_program.bind(("127.0.0.1", port))
        other_program.listen()
        result = start_serve_expecting_failure(port)
    assert_refused_with_the_reason(result, port)


@pytest.mark.live
def test_a_second_instance_on_the_same_port_stops_with_the_reason_and_the_first_serves_on():
    with uvicorn_server(workers=1) as base_url:
        port = urllib.parse.urlsplit(base_url).port
        result = start_serve_expecting_failure(port)
        assert_refused_with_the_reason(result, port)
        assert get_healthz(base_url) == 200


def test_at_least_one_worker_is_required(capsys):
    with pytest.raises(SystemExit) as exit_info:
        serve.main(["--workers", "0"])
    assert exit_info.value.code == 2
    assert "--workers must be at least 1" in capsys.readouterr().err


def test_forwarded_headers_are_off_unless_a_proxy_is_declared(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    config = serve.uvicorn_config("127.0.0.1", 8000, "warning")
    assert config.proxy_headers is False
    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXY_IPS = ["10.0.0.5"]
    config = serve.uvicorn_config("127.0.0.1", 8000, "warning")
    assert config.proxy_headers is True
    assert config.forwarded_allow_ips == ["10.0.0.5"]


def closed_by_server(sock: socket.socket) -> bool:
    """True once the server has closed ``sock``; whatever it sent first (a
    408) is read past."""
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        pass
    return True


@pytest.mark.live
def test_connections_that_never_finish_a_request_are_closed_in_bounded_time():
    """20 slow clients: silent, half a request head, a head with half its
    body. Each is closed within the head or body timeout (1 s here), with a
    few seconds' margin; the server still answers afterwards."""
    env = {"DJANGO_HEAD_TIMEOUT": "1", "DJANGO_BODY_TIMEOUT": "1"}
    partial_head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
    partial_body = (
        b"POST /api/orders HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
    )
    with uvicorn_server(extra_env=env) as base_url:
        port = urllib.parse.urlsplit(base_url).port
        sockets = []
        try:
            for i in range(20):
                sock = socket.create_connection(("127.0.0.1", port), timeout=1)
                sockets.append(sock)
                if i % 3 == 1:
                    sock.sendall(partial_head)
                elif i % 3 == 2:
                    sock.sendall(partial_body)
            deadline = time.monotonic() + 8
            still_open = list(sockets)
            while still_open and time.monotonic() < deadline:
                still_open = [sock for sock in still_open if not closed_by_server(sock)]
            assert not still_open, f"{len(still_open)} of 20 still open after 8 s"
        finally:
            for sock in sockets:
                sock.close()
        assert get_healthz(base_url) == 200
