"""config.runtime.native_pool: more concurrent reads than connections are all
served, in arrival order, each within the pool's timeout, and no connection
place is lost to a request that times out or goes away while queued."""

import asyncio

import psycopg
import pytest
from django.db import connection
from psycopg_pool import PoolTimeout

from config.runtime.native_pool import QueuedAsyncConnectionPool

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="a psycopg pool is PostgreSQL's"),
]

SIZE = 2


@pytest.fixture
async def pool():
    kwargs = connection.get_connection_params()
    kwargs.update(autocommit=True, cursor_factory=psycopg.AsyncClientCursor)
    pool = QueuedAsyncConnectionPool(
        kwargs=kwargs, min_size=SIZE, max_size=SIZE, timeout=2.0, open=False
    )
    await pool.open(wait=True)
    yield pool
    await pool.close()


async def read(pool, label, order, hold=0.0, wait=None):
    conn = await pool.getconn(wait)
    try:
        order.append(label)
        cursor = await conn.execute("SELECT %s::text", [label])
        (value,) = await cursor.fetchone()
        await asyncio.sleep(hold)
        return value
    finally:
        await pool.putconn(conn)


async def test_more_reads_than_connections_are_all_answered_in_arrival_order(pool):
    order = []
    labels = [f"read {i}" for i in range(12)]
    answers = await asyncio.gather(*(read(pool, label, order, hold=0.01) for label in labels))
    assert answers == labels
    assert order == labels
    # They queued in front of psycopg's pool, whose own queue stayed empty.
    assert pool.get_stats().get("requests_queued", 0) == 0
    assert pool.queued == 0


async def test_a_queued_read_times_out_and_its_place_is_not_lost(pool):
    order = []
    holding = [asyncio.create_task(read(pool, f"slow {i}", order, hold=0.5)) for i in range(SIZE)]
    await asyncio.sleep(0.05)
    assert pool.queued == 0
    waiting = asyncio.create_task(read(pool, "late", order, wait=0.1))
    await asyncio.sleep(0.02)
    assert pool.queued == 1
    with pytest.raises(PoolTimeout, match="after 0.10 sec"):
        await waiting
    assert await asyncio.gather(*holding) == ["slow 0", "slow 1"]
    # Every connection can still be had at once.
    assert await asyncio.gather(*(read(pool, f"after {i}", order) for i in range(SIZE))) == [
        "after 0",
        "after 1",
    ]


async def test_a_read_cancelled_while_queued_gives_no_place_away(pool):
    order = []
    holding = [asyncio.create_task(read(pool, f"slow {i}", order, hold=0.2)) for i in range(SIZE)]
    await asyncio.sleep(0.05)
    gone = asyncio.create_task(read(pool, "gone", order))
    after = asyncio.create_task(read(pool, "after", order))
    await asyncio.sleep(0.02)
    gone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert await asyncio.wait_for(after, 2) == "after"
    await asyncio.gather(*holding)
    assert "gone" not in order
    assert await asyncio.gather(*(read(pool, f"then {i}", order) for i in range(SIZE))) == [
        "then 0",
        "then 1",
    ]


async def test_a_read_cancelled_just_as_it_is_handed_a_place_passes_it_on(pool):
    order = []
    conns = [await pool.getconn() for _ in range(SIZE)]
    handed = asyncio.create_task(pool.getconn())
    next_in_line = asyncio.create_task(read(pool, "next", order))
    await asyncio.sleep(0.02)
    assert pool.queued == 2
    await pool.putconn(conns.pop())  # the place goes to ``handed``...
    handed.cancel()  # ...which is cancelled before it can take it
    with pytest.raises(asyncio.CancelledError):
        await handed
    assert await asyncio.wait_for(next_in_line, 2) == "next"
    await pool.putconn(conns.pop())
    assert await asyncio.gather(*(read(pool, f"then {i}", order) for i in range(SIZE))) == [
        "then 0",
        "then 1",
    ]
