"""Counters and rate limits on the ``limits`` library: in memory, or in Redis when configured.

With Redis every instance and worker spends one budget; in memory each process has its
own. When Redis cannot be reached every call raises Unavailable: sign-in and the limited
endpoints answer 503 rather than allow unlimited guessing (fail closed). The Redis client
reconnects by itself on the next call, so service resumes as soon as Redis is back.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.errors import StorageError
from redis import RedisError
from redis.asyncio import ConnectionPool, Redis

from portcullis.config import Settings
from portcullis.core.errors import TooManyAttempts, Unavailable

log = logging.getLogger("portcullis.throttling")
T = TypeVar("T")

# A down Redis must cost a request a second at most, not a hung worker.
REDIS_TIMEOUT_SECONDS = 1.0


class LimitsStore:
    """The ``limits`` storage the settings name, and what it takes to close it."""

    def __init__(self, settings: Settings):
        self._pool: ConnectionPool | None = None
        self._key_prefix = settings.redis_key_prefix
        if not settings.redis_url:
            self.storage: Storage = MemoryStorage()
            return
        # Our own pool, so the connections can be closed when the app stops.
        self._pool = ConnectionPool.from_url(
            settings.redis_url,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        )
        self.storage = RedisStorage(
            f"async+{settings.redis_url}",
            implementation="redispy",
            key_prefix=settings.redis_key_prefix,
            wrap_exceptions=True,
            connection_pool=self._pool,  # type: ignore[arg-type]
        )

    def counters(self) -> StorageCounters:
        if self._pool is None:
            return StorageCounters(self.storage)
        return RedisCounters(self.storage, Redis(connection_pool=self._pool), self._key_prefix)

    async def ping(self) -> str:
        """ "ok", "not configured" (in memory), or raises when Redis does not answer."""
        if self._pool is None:
            return "not configured"
        if not await self.storage.check():
            raise Unavailable()
        return "ok"

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()


async def _guarded(call: Callable[[], Awaitable[T]]) -> T:
    try:
        return await call()
    except (StorageError, RedisError, ConnectionError, TimeoutError, OSError) as error:
        log.warning("the limits store is unreachable: %s", error)
        raise Unavailable() from None


class StorageCounters:
    """The core's Counters port on a ``limits`` storage."""

    def __init__(self, storage: Storage):
        self._storage = storage

    async def incr(self, key: str, expiry_seconds: int) -> int:
        return await _guarded(lambda: self._storage.incr(key, expiry_seconds))

    async def values(self, *keys: str) -> list[int]:
        return [await _guarded(functools.partial(self._storage.get, key)) for key in keys]

    async def seconds_left(self, key: str) -> int:
        [value] = await self.values(key)
        if value <= 0:
            return 0
        expires = await _guarded(lambda: self._storage.get_expiry(key))
        return max(0, math.ceil(expires - time.time()))

    async def clear(self, *keys: str) -> None:
        for key in keys:
            await _guarded(functools.partial(self._storage.clear, key))


class RedisCounters(StorageCounters):
    """In Redis, what every sign-in reads and clears takes one command each (MGET, DEL).

    Through ``limits`` each key is a round trip of its own: five a sign-in with the rate
    limit, three now. The keys are the ones ``limits`` writes (``<prefix>:<key>``), so
    counting and expiry stay with the library and counters from before carry on.
    """

    def __init__(self, storage: Storage, client: Redis, key_prefix: str):
        super().__init__(storage)
        self._client = client
        self._key_prefix = key_prefix

    def _key(self, key: str) -> str:
        return f"{self._key_prefix}:{key}"

    async def values(self, *keys: str) -> list[int]:
        raw = await _guarded(lambda: self._client.mget([self._key(key) for key in keys]))
        return [int(value or 0) for value in raw]

    async def clear(self, *keys: str) -> None:
        await _guarded(lambda: self._client.delete(*(self._key(key) for key in keys)))


def rules_of(settings: Settings) -> dict[str, RateLimitItem]:
    """Rule name to limit, e.g. ``login`` to 30 per minute (per client address)."""
    return {
        "login": parse(settings.rate_limit_login),
        "register": parse(settings.rate_limit_register),
        "mail": parse(settings.rate_limit_mail),
        "key": parse(settings.rate_limit_key),
        "reset_per_account": parse(settings.rate_limit_reset_per_account),
    }


class LimitsRateLimiter:
    """The core's RateLimiter port: a sliding-window counter per rule and identifiers."""

    def __init__(self, storage: Storage, rules: Mapping[str, RateLimitItem]):
        self._limiter = SlidingWindowCounterRateLimiter(storage)
        self._rules = rules

    async def hit(self, rule: str, *identifiers: str) -> None:
        item = self._rules[rule]
        if await _guarded(lambda: self._limiter.hit(item, rule, *identifiers)):
            return
        stats = await _guarded(lambda: self._limiter.get_window_stats(item, rule, *identifiers))
        raise TooManyAttempts(math.ceil(stats.reset_time - time.time()))
