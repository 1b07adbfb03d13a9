"""Rate limits on the ``limits`` library: in memory, or in Redis when configured.

With Redis every instance and worker spends one budget; in memory each process has its
own (the lockout's counts are kept apart, in ``attempts``). When Redis cannot be
reached every call raises Unavailable: sign-in and the limited endpoints answer 503
rather than allow unlimited guessing (fail closed). The Redis client reconnects by
itself on the next call, so service resumes as soon as Redis is back.
"""

from __future__ import annotations

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
from redis.asyncio import BlockingConnectionPool, ConnectionPool, Redis

from portcullis.config import Settings
from portcullis.core.errors import TooManyAttempts, Unavailable
from portcullis.observability.meters import Meters

log = logging.getLogger("portcullis.throttling")
T = TypeVar("T")

# A down Redis must cost a request a second at most, not a hung worker.
REDIS_TIMEOUT_SECONDS = 1.0
# Connections a worker keeps to Redis. A burst of more concurrent requests waits for one
# (at most REDIS_TIMEOUT_SECONDS) instead of failing: redis-py's plain pool refuses the
# 101st at once ("Too many connections"), which answered 503 to a burst of 120 sign-ins.
REDIS_CONNECTIONS = 50


class LimitsStore:
    """The ``limits`` storage the settings name, and what it takes to close it."""

    def __init__(self, settings: Settings):
        self._pool: ConnectionPool | None = None
        self._key_prefix = settings.redis_key_prefix
        if not settings.redis_url:
            self.storage: Storage = MemoryStorage()
            return
        # Our own pool, so the connections can be closed when the app stops.
        self._pool = BlockingConnectionPool.from_url(
            settings.redis_url,
            max_connections=REDIS_CONNECTIONS,
            timeout=REDIS_TIMEOUT_SECONDS,
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

    def redis(self) -> Redis | None:
        """A client on this store's Redis connections; None when it is in memory."""
        return None if self._pool is None else Redis(connection_pool=self._pool)

    @property
    def key_prefix(self) -> str:
        return self._key_prefix

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


async def guarded(call: Callable[[], Awaitable[T]], meters: Meters) -> T:
    try:
        return await call()
    except (StorageError, RedisError, ConnectionError, TimeoutError, OSError) as error:
        log.warning("the limits store is unreachable: %s", error)
        meters.backing_error("redis")
        raise Unavailable() from None


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

    def __init__(
        self, storage: Storage, rules: Mapping[str, RateLimitItem], meters: Meters | None = None
    ):
        self._limiter = SlidingWindowCounterRateLimiter(storage)
        self._rules = rules
        self._meters = meters or Meters()

    async def hit(self, rule: str, *identifiers: str) -> None:
        item = self._rules[rule]
        if await guarded(lambda: self._limiter.hit(item, rule, *identifiers), self._meters):
            return
        self._meters.rate_limited(rule)
        stats = await guarded(
            lambda: self._limiter.get_window_stats(item, rule, *identifiers), self._meters
        )
        raise TooManyAttempts(math.ceil(stats.reset_time - time.time()))
