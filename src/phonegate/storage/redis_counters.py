"""Token buckets in Redis, for several processes: each take is one Lua script, atomic on
the server, so no two processes can spend the same token."""

from __future__ import annotations

import math
from typing import Any

from phonegate.domain.ports import Taken

# Numbers are kept as text with every digit: Lua's tostring keeps 14, and the lost digits
# of a fractional token (then of its refill) can refuse a token that is there.
_EXACT = """
local function exact(x) return string.format('%.17g', x) end
"""

# KEYS[1] bucket; ARGV: capacity, per_second, now, cost. Returns {allowed, tokens}, the
# tokens as text: Redis truncates a Lua number to an integer, and Retry-After needs the
# fraction.
_TAKE = (
    _EXACT
    + """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil then
  tokens = capacity
  ts = now
end
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)
ts = math.max(ts, now)
local allowed = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', exact(tokens), 'ts', exact(ts))
local ttl = 86400
if rate > 0 then ttl = math.ceil(capacity / rate) + 60 end
redis.call('EXPIRE', KEYS[1], ttl)
return {allowed, exact(tokens)}
"""
)

_GIVE_BACK = (
    _EXACT
    + """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local amount = tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil then return 0 end
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate + amount)
redis.call('HSET', KEYS[1], 'tokens', exact(tokens), 'ts', exact(math.max(ts, now)))
return 1
"""
)


# KEYS[1] counter; ARGV: limit, ttl. Returns {allowed, spent}.
_SPEND = """
local limit = tonumber(ARGV[1])
local spent = tonumber(redis.call('GET', KEYS[1]) or '0')
if spent >= limit then return {0, spent} end
spent = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
return {1, spent}
"""
SPEND_TTL_SECONDS = 2 * 86400


class RedisCounters:
    def __init__(self, client: Any, *, prefix: str = "phonegate:") -> None:
        self._redis = client
        self._prefix = prefix
        self._take = client.register_script(_TAKE)
        self._give_back = client.register_script(_GIVE_BACK)
        self._spend = client.register_script(_SPEND)

    async def take(
        self, key: str, *, capacity: int, per_second: float, now: float, cost: int = 1
    ) -> Taken:
        if cost > capacity:
            return Taken(False, 0, math.inf)
        allowed, left = await self._take(
            keys=[self._prefix + "bucket:" + key], args=[capacity, per_second, now, cost]
        )
        tokens = float(left)
        if int(allowed) == 1:
            return Taken(True, int(tokens), 0.0)
        wait = (cost - tokens) / per_second if per_second > 0 else math.inf
        return Taken(False, int(tokens), max(wait, 0.0))

    async def give_back(
        self, key: str, *, capacity: int, per_second: float, now: float, amount: int = 1
    ) -> None:
        await self._give_back(
            keys=[self._prefix + "bucket:" + key], args=[capacity, per_second, now, amount]
        )

    async def spend(self, key: str, *, limit: int, now: float) -> Taken:
        allowed, spent = await self._spend(
            keys=[self._prefix + "spent:" + key], args=[limit, SPEND_TTL_SECONDS]
        )
        if int(allowed) == 1:
            return Taken(True, limit - int(spent), 0.0)
        return Taken(False, 0, math.inf)

    async def unspend(self, key: str, *, now: float) -> None:
        await self._redis.decr(self._prefix + "spent:" + key)

    async def purge_stale(self, *, now: float, idle_seconds: float) -> int:
        return 0  # every key here carries its own expiry

    async def block(self, key: str, *, until: float, now: float) -> None:
        seconds = max(1, math.ceil(until - now))
        await self._redis.set(self._prefix + "block:" + key, repr(until), ex=seconds)

    async def blocked_until(self, key: str, *, now: float) -> float | None:
        raw = await self._redis.get(self._prefix + "block:" + key)
        if raw is None:
            return None
        until = float(raw)
        return until if until > now else None
