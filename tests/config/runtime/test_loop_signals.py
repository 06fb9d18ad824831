"""request_started and request_finished under the runtime's handler
(config/runtime/handler.py, points 2 and 3): a request served on the event
loop leaves out only Django's receivers for the loop thread's database
connections; every other receiver, sync or async, hears both signals, for
requests on the loop and for requests that used a sync thread."""

import gc
import weakref

import pytest
from asgiref.sync import sync_to_async
from django import db
from django.core import signals
from django.core.cache import caches, close_caches
from django.core.cache.backends.locmem import LocMemCache

from config.runtime.handler import PooledThreadASGIHandler, _connection_receivers
from tests.config.runtime.test_cookieless_lane import request
from tests.movies.factories import make_movie

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def heard():
    """What the test's receivers heard: (signal name, sync or async)."""
    events: list[tuple[str, str]] = []

    def sync_started(**kwargs):
        events.append(("started", "sync"))

    def sync_finished(**kwargs):
        events.append(("finished", "sync"))

    async def async_started(**kwargs):
        events.append(("started", "async"))

    async def async_finished(**kwargs):
        events.append(("finished", "async"))

    pairs = [
        (signals.request_started, sync_started),
        (signals.request_started, async_started),
        (signals.request_finished, sync_finished),
        (signals.request_finished, async_finished),
    ]
    for signal, receiver in pairs:
        signal.connect(receiver)
    yield events
    for signal, receiver in pairs:
        signal.disconnect(receiver)


ALL_FOUR = {("started", "sync"), ("started", "async"), ("finished", "sync"), ("finished", "async")}


@pytest.mark.parametrize("path", ["/healthz", "/api/genres"])
async def test_requests_on_the_loop_send_both_signals_to_other_receivers(heard, path):
    handler = PooledThreadASGIHandler(thread_count=1)
    status, _, _ = await request(handler, "GET", path)
    assert status == 200
    assert set(heard) == ALL_FOUR
    assert len(heard) == 4


async def test_a_page_that_used_its_thread_sends_both_signals(heard):
    await sync_to_async(make_movie)("Signal Film")
    handler = PooledThreadASGIHandler(thread_count=1)
    status, _, body = await request(handler, "GET", "/movies/")
    assert status == 200
    assert b"Signal Film" in body
    assert set(heard) == ALL_FOUR


def test_only_receivers_with_nothing_to_do_on_the_loop_are_left_out(settings):
    settings.DEBUG = False
    assert _connection_receivers() == {db.close_old_connections, db.reset_queries, close_caches}
    # With DEBUG the loop's connections log native reads: reset them as Django does.
    settings.DEBUG = True
    assert _connection_receivers() == {db.close_old_connections, close_caches}


class ClosingCache(LocMemCache):
    """A cache backend with something to close after each request, as
    memcached's have."""

    closed = 0

    def close(self, **kwargs):
        type(self).closed += 1


async def test_a_cache_that_needs_closing_is_closed_after_each_request_on_the_loop(settings):
    settings.CACHES = {
        **settings.CACHES,
        "closing": {"BACKEND": f"{__name__}.ClosingCache", "LOCATION": "closing"},
    }
    ClosingCache.closed = 0
    handler = PooledThreadASGIHandler(thread_count=1)
    assert close_caches not in handler._connection_receivers

    async def use_the_cache_then(path):
        caches["closing"].get("anything")  # the cache made in this request's context
        return await request(handler, "GET", path)

    for _ in range(2):
        status, _, _ = await use_the_cache_then("/healthz")
        assert status == 200
    assert ClosingCache.closed == 2


async def test_receivers_connected_or_disconnected_between_requests_are_heard_from_then_on():
    handler = PooledThreadASGIHandler(thread_count=1)
    events = []

    def late(**kwargs):
        events.append("late")

    await request(handler, "GET", "/healthz")
    signals.request_started.connect(late)
    try:
        await request(handler, "GET", "/healthz")
        assert events == ["late"]
    finally:
        signals.request_started.disconnect(late)
    await request(handler, "GET", "/healthz")
    assert events == ["late"]


class Listener:
    def __init__(self, events):
        self.events = events

    def heard(self, **kwargs):
        self.events.append("listener")


async def test_a_weakly_connected_receiver_is_not_kept_alive_between_requests():
    handler = PooledThreadASGIHandler(thread_count=1)
    events = []
    listener = Listener(events)
    signals.request_finished.connect(listener.heard)  # weak, Django's default
    await request(handler, "GET", "/healthz")
    assert events == ["listener"]
    alive = weakref.ref(listener)
    del listener
    gc.collect()
    assert alive() is None  # nothing the handler keeps holds it
    await request(handler, "GET", "/healthz")
    assert events == ["listener"]
