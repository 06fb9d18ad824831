"""The production ASGI handler (config/runtime/handler.py) under concurrency: async
API requests, sync pages and session-writing logins served at once by one
uvicorn process whose requests share two sync threads, every body checked."""

import asyncio
import gc
import re
import threading
import weakref

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpResponse

from config.runtime.handler import PooledThreadASGIHandler
from tests.catalog.factories import make_product
from tests.live import uvicorn_server
from tests.movies.factories import make_genre, make_movie, make_person

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "a-long-enough-password-42"


@pytest.fixture
def catalogue(django_user_model):
    drama = make_genre("Drama")
    director = make_person("Sidney Lumet")
    movies = [
        make_movie(f"Concurrent Film {i}", director=director, genres=[drama]) for i in range(6)
    ]
    users = [
        django_user_model.objects.create_user(
            username=f"viewer{i}", email=f"viewer{i}@example.com", password=PASSWORD
        )
        for i in range(3)
    ]
    return movies, users


async def login_and_read_profile(base_url: str, username: str) -> str:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as session:
        form = await session.get("/accounts/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
        response = await session.post(
            "/accounts/login/",
            data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token},
            headers={"Referer": f"{base_url}/accounts/login/"},
        )
        assert response.status_code == 302, response.text[:300]
        profile = await session.get("/accounts/profile/")
        assert profile.status_code == 200
        return profile.text


@pytest.mark.live
def test_concurrent_sync_and_async_requests_all_get_their_own_answers(catalogue):
    movies, users = catalogue
    with uvicorn_server(
        extra_env={
            "ASGI_SYNC_THREADS": "2",
            "API_THROTTLE_ANON": "off",
            # Plain HTTP on loopback: cookies must not be Secure-only here.
            "DJANGO_SECURE_COOKIES": "0",
        }
    ) as url:

        async def check_api_list(client):
            response = await client.get("/api/movies", params={"limit": 3, "q": "Concurrent"})
            assert response.status_code == 200
            body = response.json()
            assert body["count"] == len(movies)
            assert [item["title"] for item in body["items"]] == [m.title for m in movies[:3]]

        async def check_api_detail(client, movie):
            response = await client.get(f"/api/movies/{movie.pk}")
            assert response.status_code == 200
            assert response.json()["title"] == movie.title
            assert response.json()["director"]["name"] == "Sidney Lumet"

        async def check_page(client, movie):
            response = await client.get(f"/movies/{movie.slug}/")
            assert response.status_code == 200
            assert movie.title in response.text

        async def check_list_page(client):
            response = await client.get("/movies/", params={"q": "Concurrent"})
            assert response.status_code == 200
            assert all(movie.title in response.text for movie in movies)

        async def burst():
            limits = httpx.Limits(max_connections=50)
            async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
                checks = []
                for round_ in range(10):
                    movie = movies[round_ % len(movies)]
                    checks += [
                        check_api_list(client),
                        check_api_detail(client, movie),
                        check_page(client, movie),
                        check_list_page(client),
                    ]
                profiles = [login_and_read_profile(url, user.username) for user in users]
                results = await asyncio.gather(*checks, *profiles)
            return results[len(checks) :]

        profiles = asyncio.run(burst())

    # Each signed-in visitor saw their own profile and nobody else's.
    for user, html in zip(users, profiles, strict=True):
        assert user.email in html
        others = [other.email for other in users if other != user]
        assert not any(email in html for email in others)


def get_scope(path: str, query: bytes = b"") -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 80),
    }


async def call(application, path: str) -> tuple[int, bytes]:
    """One GET through an ASGI application, in process."""
    scope = get_scope(path)
    messages = []
    request_sent = asyncio.Event()

    async def receive():
        if not request_sent.is_set():
            request_sent.set()
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the client stays connected

    async def send(message):
        messages.append(message)

    await application(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return messages[0]["status"], body


async def test_sync_work_reuses_a_fixed_set_of_threads(catalogue, monkeypatch):
    movies, _ = catalogue
    handler = PooledThreadASGIHandler(thread_count=2)
    started = []
    original_start = threading.Thread.start

    def recording_start(thread):
        started.append(thread.name)
        return original_start(thread)

    monkeypatch.setattr(threading.Thread, "start", recording_start)
    for movie in movies * 3:
        status, body = await call(handler, f"/movies/{movie.slug}/")  # a sync view
        assert status == 200
        assert movie.title.encode() in body
    # Django's own handler starts a thread for every request (18 here).
    assert len(started) <= 2
    assert all(name.startswith("django-sync-") for name in started)


@pytest.fixture
def restore_garbage_collector():
    thresholds = gc.get_threshold()
    gc.unfreeze()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


async def test_startup_freezes_what_exists_and_collects_young_objects_less_often(
    settings, restore_garbage_collector
):
    settings.ASGI_GC_GEN0_THRESHOLD = 12_345
    handler = PooledThreadASGIHandler(thread_count=1)
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    at_startup = {}

    async def receive():
        return incoming.pop(0)

    async def send(message):
        if message["type"] == "lifespan.startup.complete":
            at_startup["threshold"] = gc.get_threshold()
            at_startup["frozen"] = gc.get_freeze_count()

    await handler.lifespan(receive, send)
    assert at_startup["threshold"] == (12_345, 10, 10)
    # Django's modules, URLconf and the objects above are out of every
    # collection's way.
    assert at_startup["frozen"] > 10_000


async def serve_like_uvicorn(handler, path: str, query: bytes = b""):
    """Call the handler as uvicorn does: after the response, ``receive``
    answers ``http.disconnect``."""
    scope = get_scope(path, query)
    messages = []
    request_sent = False
    response_complete = asyncio.Event()

    async def receive():
        nonlocal request_sent
        if not request_sent:
            request_sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await response_complete.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        messages.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            response_complete.set()

    await handler(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return messages[0]["status"], body


@pytest.fixture
def without_cyclic_collector():
    gc.collect()
    gc.disable()
    yield
    gc.enable()


@pytest.mark.parametrize(
    ("view", "path", "query", "expected"),
    [
        ("async API detail", "/api/movies/{pk}", b"", b"Concurrent Film 0"),
        ("async API list", "/api/movies", b"limit=3", b"Concurrent Film 2"),
        ("sync page", "/movies/{slug}/", b"", b"Concurrent Film 0"),
        ("sync template page", "/products/", b"", b"Freed Mug"),
    ],
)
async def test_a_finished_request_is_freed_at_once_not_by_the_cyclic_collector(
    catalogue, monkeypatch, without_cyclic_collector, view, path, query, expected
):
    # A request left in a reference cycle lives until a collection finds it;
    # under load that made the collector a quarter of a worker's CPU.
    movies, _ = catalogue
    await sync_to_async(make_product)(name="Freed Mug")
    handler = PooledThreadASGIHandler(thread_count=1)
    created = []
    create_request = handler.create_request

    def recording_create_request(scope, body_file):
        request, error_response = create_request(scope, body_file)
        created.append(weakref.ref(request))
        return request, error_response

    monkeypatch.setattr(handler, "create_request", recording_create_request)
    path = path.format(pk=movies[0].pk, slug=movies[0].slug)
    status, body = await serve_like_uvicorn(handler, path, query)
    assert status == 200, view
    assert expected in body
    assert created and created[0]() is None, f"the {view} request is still alive"


def receiving(*messages):
    queue = list(messages)

    async def receive():
        return queue.pop(0)

    return receive


@pytest.mark.parametrize(
    "messages",
    [
        [{"type": "http.request", "body": b"", "more_body": False}],
        [{"type": "http.request"}],
        [{"type": "http.request", "body": b'{"title": "One message"}'}],
        [
            {"type": "http.request", "body": b'{"title": ', "more_body": True},
            {"type": "http.request", "body": b'"Three ', "more_body": True},
            {"type": "http.request", "body": b'messages"}', "more_body": False},
        ],
    ],
)
async def test_the_body_read_is_the_body_sent(messages):
    handler = PooledThreadASGIHandler(thread_count=1)
    body_file = await handler.read_body(receiving(*messages))
    assert body_file.read() == b"".join(m.get("body", b"") for m in messages)


async def test_a_body_too_large_for_memory_still_spools(settings):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1000
    handler = PooledThreadASGIHandler(thread_count=1)
    body = b"x" * 5000
    body_file = await handler.read_body(receiving({"type": "http.request", "body": body}))
    assert body_file.read() == body
    assert body_file._rolled  # on disk, as Django's handler keeps it


async def test_a_client_gone_before_its_body_aborts_the_request():
    handler = PooledThreadASGIHandler(thread_count=1)
    with pytest.raises(RequestAborted):
        await handler.read_body(receiving({"type": "http.disconnect"}))


def request_then(later):
    """``receive`` giving the request, then awaiting ``later()`` for the next message."""
    sent = False

    async def receive():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        return await later()

    return receive


def never_answering(cancelled: asyncio.Event):
    """A view that answers nothing, and sets ``cancelled`` when it is cancelled."""

    async def view(request):
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    return view


async def gone_soon():
    await asyncio.sleep(0.05)
    return {"type": "http.disconnect"}


async def test_a_client_gone_mid_request_cancels_its_view_and_finishes_the_request(monkeypatch):
    handler = PooledThreadASGIHandler(thread_count=1)
    cancelled = asyncio.Event()
    monkeypatch.setattr(handler, "run_get_response", never_answering(cancelled))
    finished = []

    def on_finished(sender, **kwargs):
        finished.append(sender)

    signals.request_finished.connect(on_finished)
    sent = []
    try:

        async def send(message):
            sent.append(message)

        await asyncio.wait_for(handler(get_scope("/api/movies"), request_then(gone_soon), send), 5)
    finally:
        signals.request_finished.disconnect(on_finished)
    assert cancelled.is_set()
    assert sent == []  # nothing is sent to a client that has gone
    assert finished == [PooledThreadASGIHandler]


async def test_an_answer_sent_before_the_client_goes_is_sent_whole(catalogue):
    movies, _ = catalogue
    handler = PooledThreadASGIHandler(thread_count=1)
    sent = []

    async def send(message):
        sent.append(message)

    async def never_gone():
        return await asyncio.Event().wait()  # the listener is cancelled once answered

    path = f"/api/movies/{movies[0].pk}"
    await asyncio.wait_for(handler(get_scope(path), request_then(never_gone), send), 5)
    assert sent[0]["status"] == 200
    assert b"Concurrent Film 0" in b"".join(m.get("body", b"") for m in sent[1:])
    assert sent[-1]["more_body"] is False


async def test_an_invalid_message_after_the_body_is_an_error_and_cancels_the_view(monkeypatch):
    handler = PooledThreadASGIHandler(thread_count=1)
    cancelled = asyncio.Event()

    async def invalid():
        return {"type": "websocket.receive"}

    async def send(message):
        raise AssertionError("nothing should be sent")

    monkeypatch.setattr(handler, "run_get_response", never_answering(cancelled))
    with pytest.raises(AssertionError, match="Invalid ASGI message"):
        await asyncio.wait_for(handler(get_scope("/api/movies"), request_then(invalid), send), 5)
    assert cancelled.is_set()


async def test_a_response_is_sent_as_djangos_handler_sends_it():
    response = HttpResponse(b"x" * 10, content_type="text/plain; charset=utf-8")
    response["X-Mixed-Case"] = "caf\u00e9"
    response["ETag"] = b'"abc"'
    response["Content-Length"] = 10
    response.set_cookie("flavour", "oat", httponly=True)

    async def sent_by(handler):
        messages = []

        async def send(message):
            messages.append(message)

        await handler.send_response(response, send)
        return messages

    ours = await sent_by(PooledThreadASGIHandler(thread_count=1))
    djangos = await sent_by(ASGIHandler())
    assert ours == djangos
    assert (b"X-Mixed-Case", "caf\u00e9".encode("latin1")) in ours[0]["headers"]
