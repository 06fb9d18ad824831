"""Sessions for ``REDIS_URL`` deployments: Django's ``cached_db`` engine
(every session is a database row, read through the cache), made to read and
write the database alone while the cache is unreachable.

Django's own ``cached_db`` already survives a failed cache read, but not a
failed cache write after it, a logout's cache delete or ``exists``: with
Redis gone those raise, and every page that touches the session would answer
500. Here any cache error counts as a miss, is logged once per outage
(config.redis_client), and the session carries on from its row, so users
stay logged in and can log in and out while Redis is down.

A Redis that was cut off rather than restarted still holds its copies when it
answers again, and a session changed meanwhile (a logout above all) must not
come back from one: each process remembers the sessions whose cache write
failed and deletes their cached copies first thing once Redis answers.
"""

from typing import Any

from django.conf import settings
from django.contrib.sessions.backends import cached_db
from django.core.cache import caches

from config import redis_client

# Cache keys whose write failed in this process, to delete once Redis is back;
# bounded, since an outage under heavy traffic must not grow memory for ever.
_unsynced: set[str] = set()
_UNSYNCED_MAX = 100_000


class _FailSoftCache:
    """The session engine's view of the cache: a failed call is a miss."""

    def __init__(self, cache: Any):
        self._cache = cache

    def _call(self, name: str, *args: Any) -> Any:
        if redis_client.enabled():
            try:
                if _unsynced:
                    self._cache.delete_many(list(_unsynced))
                    _unsynced.clear()
                result = getattr(self._cache, name)(*args)
            except redis_client.ERRORS as exc:
                redis_client.failed("sessions", exc)
            else:
                redis_client.succeeded()
                return result
        if name in {"set", "delete"} and len(_unsynced) < _UNSYNCED_MAX:
            _unsynced.add(args[0])
        return None

    async def _acall(self, name: str, *args: Any) -> Any:
        if redis_client.enabled():
            try:
                if _unsynced:
                    await self._cache.adelete_many(list(_unsynced))
                    _unsynced.clear()
                result = await getattr(self._cache, name)(*args)
            except redis_client.ERRORS as exc:
                redis_client.failed("sessions", exc)
            else:
                redis_client.succeeded()
                return result
        if name in {"aset", "adelete"} and len(_unsynced) < _UNSYNCED_MAX:
            _unsynced.add(args[0])
        return None

    def get(self, key: str) -> Any:
        return self._call("get", key)

    def set(self, key: str, value: Any, seconds: int) -> None:
        self._call("set", key, value, seconds)

    def delete(self, key: str) -> None:
        self._call("delete", key)

    def __contains__(self, key: str) -> bool:
        return bool(self._call("has_key", key))

    async def aget(self, key: str) -> Any:
        return await self._acall("aget", key)

    async def aset(self, key: str, value: Any, seconds: int) -> None:
        await self._acall("aset", key, value, seconds)

    async def adelete(self, key: str) -> None:
        await self._acall("adelete", key)

    def __str__(self) -> str:
        return str(self._cache)


class SessionStore(cached_db.SessionStore):
    def __init__(self, session_key: str | None = None):
        super().__init__(session_key)
        self._cache: Any = _FailSoftCache(caches[settings.SESSION_CACHE_ALIAS])
