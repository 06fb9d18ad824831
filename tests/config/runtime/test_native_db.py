"""config.runtime.native_db gives the same rows as the ORM, natively on PostgreSQL and
through the async ORM elsewhere."""

import pytest
from django.contrib.auth.models import User

from config.runtime import native_db

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def users(django_user_model):
    return [
        django_user_model.objects.create_user(username=f"user{i}", is_staff=i % 2 == 0)
        for i in range(5)
    ]


async def test_fetch_values_matches_the_orm(users):
    queryset = (
        User.objects.filter(is_staff=True)
        .order_by("username")
        .values("id", "username", "date_joined")
    )
    rows = await native_db.fetch_values(queryset)
    expected = [row async for row in queryset]
    assert rows == expected
    assert [row["username"] for row in rows] == ["user0", "user2", "user4"]
    # Converters ran: datetimes come back timezone-aware, as from the ORM.
    assert rows[0]["date_joined"].tzinfo is not None


async def test_cached_sql_is_keyed_by_the_callers_key(users):
    def staff(flag):
        return User.objects.filter(is_staff=flag).order_by("username").values("username")

    staff_rows = await native_db.fetch_values(staff(True), cache_key=("staff", True))
    others = await native_db.fetch_values(staff(False), cache_key=("staff", False))
    again = await native_db.fetch_values(staff(True), cache_key=("staff", True))
    assert [r["username"] for r in staff_rows] == ["user0", "user2", "user4"]
    assert [r["username"] for r in others] == ["user1", "user3"]
    assert again == staff_rows


async def test_rows_written_after_a_cached_read_are_seen(users):
    key = ("all-users",)
    queryset = User.objects.order_by("username").values("username")
    before = await native_db.fetch_values(queryset, cache_key=key)
    await User.objects.acreate(username="zed")
    after = await native_db.fetch_values(queryset, cache_key=key)
    assert len(after) == len(before) + 1
    assert after[-1]["username"] == "zed"


async def test_fetch_count(users):
    assert await native_db.fetch_count(User.objects.filter(is_staff=True)) == 3
    assert await native_db.fetch_count(User.objects.filter(username="nobody")) == 0
    assert await native_db.fetch_count(User.objects.none()) == 0


async def test_empty_queryset_reads_nothing(users):
    assert await native_db.fetch_values(User.objects.none().values("id")) == []


async def test_execute_runs_statements_that_return_no_rows(users):
    if not native_db.native_enabled():
        pytest.skip("native_db.execute is used on PostgreSQL only (callers check native_enabled)")
    rows = await native_db.execute("DELETE FROM auth_user WHERE username = %s", ["user1"])
    assert rows == []
    assert not await User.objects.filter(username="user1").aexists()
    rows = await native_db.execute("SELECT count(*) FROM auth_user")
    assert rows == [(4,)]


async def test_a_request_that_purges_old_rate_limit_counters_is_served(
    async_client, settings, monkeypatch
):
    """The purge (a DELETE, no rows back) runs on about one new window in
    fifty; force it."""
    from config.access import ratelimit

    settings.API_THROTTLE_ANON = "1000/min"
    monkeypatch.setattr(ratelimit.random, "randrange", lambda n: 0)
    response = await async_client.get("/api/genres")
    assert response.status_code == 200
    assert "items" in response.json()
