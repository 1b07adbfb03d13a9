"""The lockout's counts in Redis: one Lua script a check, atomic across every instance."""

from __future__ import annotations

from redis.asyncio import Redis

from portcullis.core.lockout import DAY_SECONDS, MAX_DOUBLINGS, LockoutPolicy
from portcullis.core.models import Admission
from portcullis.observability.meters import Meters
from portcullis.throttling import guarded

# KEYS: the hold, the day's failures, the streak. Returns {refused for, hold started}.
# The keys and values are those the lockout wrote through ``limits`` before (integers
# under ``<prefix>:lockout:...``), so counts from before carry on.
ADMIT = """
local threshold, base, most = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local daily, day_seconds = tonumber(ARGV[4]), tonumber(ARGV[5])
local doublings = tonumber(ARGV[6])
local held = redis.call('PTTL', KEYS[1])
if held > 0 then
  return {math.ceil(held / 1000), 0}
end
if tonumber(redis.call('GET', KEYS[2]) or '0') >= daily then
  local left = redis.call('PTTL', KEYS[2])
  if left < 0 then left = day_seconds * 1000 end
  return {math.max(1, math.ceil(left / 1000)), 0}
end
local day = redis.call('INCR', KEYS[2])
if day == 1 then redis.call('EXPIRE', KEYS[2], day_seconds) end
local streak = redis.call('INCR', KEYS[3])
if streak == 1 then redis.call('EXPIRE', KEYS[3], day_seconds) end
local hold = 0
if streak >= threshold then
  hold = math.min(most, base * 2 ^ math.min(streak - threshold, doublings))
end
if day >= daily then
  hold = math.max(hold, math.ceil(redis.call('PTTL', KEYS[2]) / 1000))
end
hold = math.floor(hold)
if hold > 0 then redis.call('SET', KEYS[1], '1', 'EX', hold) end
return {0, hold}
"""

SUCCEEDED = """
redis.call('DEL', KEYS[1], KEYS[3])
if tonumber(redis.call('GET', KEYS[2]) or '0') > 0 then redis.call('DECR', KEYS[2]) end
return 0
"""


class RedisAttempts:
    """The Attempts port in Redis: each step one EVALSHA, so one round trip."""

    def __init__(
        self, client: Redis, key_prefix: str, policy: LockoutPolicy, meters: Meters | None = None
    ):
        self._meters = meters or Meters()
        self._admit = client.register_script(ADMIT)
        self._succeeded = client.register_script(SUCCEEDED)
        self._prefix = key_prefix
        self._policy_args = [
            policy.threshold,
            policy.base_seconds,
            policy.max_seconds,
            policy.daily_failures,
            DAY_SECONDS,
            MAX_DOUBLINGS,
        ]

    def _keys(self, subject: str) -> list[str]:
        return [f"{self._prefix}:lockout:{count}:{subject}" for count in ("hold", "day", "streak")]

    async def admit(self, subject: str) -> Admission:
        keys = self._keys(subject)
        refused, hold = await guarded(
            lambda: self._admit(keys=keys, args=self._policy_args), self._meters
        )
        return Admission(retry_after=int(refused), hold=int(hold))

    async def succeeded(self, subject: str) -> None:
        keys = self._keys(subject)
        await guarded(lambda: self._succeeded(keys=keys), self._meters)
