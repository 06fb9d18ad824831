"""config.runtime.serve.WorkerServer: each worker accepts its connections
itself, every connection waiting at each readiness of its socket, on the
event loop the workers run (uvloop), and hands them to uvicorn's protocol."""

import asyncio
import errno
import logging
import socket
from collections.abc import Awaitable, Callable

import uvicorn
import uvloop

from config.runtime.serve import WorkerServer

REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


async def hello(scope, receive, send):
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"5")]}
    )
    await send({"type": "http.response.body", "body": b"hello"})


def listening_socket(kind: type[socket.socket] = socket.socket) -> socket.socket:
    listener = kind(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    return listener


def run_on_uvloop(test: Callable[[], Awaitable[None]]) -> None:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(test())


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)


async def serving(listener: socket.socket) -> tuple[WorkerServer, asyncio.Task[None]]:
    config = uvicorn.Config(hello, lifespan="off", http="httptools", log_config=None)
    server = WorkerServer(config, listener)
    task = asyncio.create_task(server.serve())
    await until(lambda: server.started)
    assert server.started
    return server, task


async def ask(port: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(REQUEST)
    answer = await reader.readuntil(b"hello")
    writer.close()
    return answer


def test_one_readiness_of_the_socket_accepts_every_connection_waiting():
    async def test():
        listener = listening_socket()
        server, task = await serving(listener)
        # The readiness below is the test's own, not the loop's.
        server.stop_accepting()
        port = listener.getsockname()[1]
        clients = [await asyncio.open_connection("127.0.0.1", port) for _ in range(40)]
        assert len(server.server_state.connections) == 0

        server.accept_waiting()
        await until(lambda: len(server.server_state.connections) == 40)

        assert len(server.server_state.connections) == 40
        for reader, writer in clients:
            writer.write(REQUEST)
            assert (await reader.readuntil(b"hello")).startswith(b"HTTP/1.1 200 OK")
            writer.close()
        server.should_exit = True
        await task

    run_on_uvloop(test)


def test_connections_are_served_and_stopping_closes_the_socket():
    async def test():
        listener = listening_socket()
        port = listener.getsockname()[1]
        server, task = await serving(listener)

        answers = await asyncio.gather(*(ask(port) for _ in range(20)))

        assert all(answer.startswith(b"HTTP/1.1 200 OK") for answer in answers)
        server.should_exit = True
        await task
        assert listener.fileno() == -1
        try:
            await asyncio.open_connection("127.0.0.1", port)
        except ConnectionRefusedError:
            pass
        else:
            raise AssertionError("the port still accepts connections after shutdown")

    run_on_uvloop(test)


class OutOfDescriptorsOnce(socket.socket):
    """A listening socket whose first accept fails as it does when the
    process has no file descriptor left."""

    failed = False

    def accept(self):
        if not self.failed:
            self.failed = True
            raise OSError(errno.EMFILE, "Too many open files")
        return super().accept()


def test_out_of_file_descriptors_pauses_accepting_and_the_waiting_client_is_served(
    caplog, monkeypatch
):
    monkeypatch.setattr(WorkerServer, "RETRY_DELAY_SECONDS", 0.05)

    async def test():
        listener = listening_socket(OutOfDescriptorsOnce)
        server, task = await serving(listener)

        answer = await ask(listener.getsockname()[1])

        assert answer.startswith(b"HTTP/1.1 200 OK")
        server.should_exit = True
        await task

    with caplog.at_level(logging.ERROR, logger="uvicorn.error"):
        run_on_uvloop(test)
    assert "Cannot accept connections for now: [Errno 24] Too many open files" in caplog.text
