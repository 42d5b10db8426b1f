"""Redis-backed state, shared by every worker.

Every call runs under a hard deadline and any Redis failure leaves as ``CacheError``; the
degradation policy lives in ``searchqa.state.resilient``. Replies are parsed in RESP2 shapes.
Cache values of 1 KiB or more (page text, answers) are stored zlib-compressed; callers always
pass and get raw bytes.

Key layout under ``prefix``: ``cache:<key>`` (string), ``rate:<key>`` (counter),
``stream:<id>`` (stream; entry ``<seq>-0`` per event, ``<last seq>-1`` marks the end),
``stream:<id>:stop`` (flag), ``stream:<id>:clients`` (sorted set of client -> expiry ms,
Redis clock), ``flight:<key>`` (leader's stream id), ``counters`` (hash).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import zlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from searchqa.errors import CacheError
from searchqa.settings import RedisSettings
from searchqa.state.protocols import (
    CounterKey,
    EventBatch,
    LogEntry,
    RateDecision,
    StateBackend,
    counter_key,
)

T = TypeVar("T")

_HIT = """
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {n, ttl}
"""
# ARGV: ttl ms, seq of the first event (0 = after the last), finish (0/1), then each event as
# two values, type and data. Writes only the events that continue the stream; returns
# {last seq, finished, written}.
_EXTEND = """
local last, done = 0, false
local tail = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if #tail > 0 then
  local ms, sq = string.match(tail[1][1], '^(%d+)-(%d+)$')
  last = tonumber(ms)
  done = sq ~= '0'
end
if done then return {last, 1, 0} end
local seq = tonumber(ARGV[2])
if seq == 0 then seq = last + 1 end
local wrote = 0
for i = 4, #ARGV, 2 do
  if seq == last + 1 then
    redis.call('XADD', KEYS[1], seq .. '-0', 't', ARGV[i], 'd', ARGV[i + 1])
    last = seq
    wrote = wrote + 1
  end
  seq = seq + 1
end
if ARGV[3] == '1' and seq == last + 1 then
  redis.call('XADD', KEYS[1], last .. '-1', 'end', '1')
  done = true
end
if last > 0 or done then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {last, done and 1 or 0, wrote}
"""
_ATTACH = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
"""
_ATTACHED = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
"""
_CLAIM = """
local held = redis.call('GET', KEYS[1])
if held and held ~= ARGV[1] then return held end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
"""
_COMPRESS_FROM = 1024
_OFF_LOOP_FROM = 256 * 1024
_RAW, _ZLIB = b"\x00", b"\x01"


_MAX_SEQ = 2**63 - 1  # stream ids hold 64-bit numbers; a wild Last-Event-ID must not error


def _ms(seconds: float) -> int:
    return max(1, round(min(seconds, 1e9) * 1000))


def redacted(url: str) -> str:
    """``url`` without credentials, fit for logs and health details."""
    parts = urlsplit(url)
    host = parts.hostname or parts.path or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path if parts.hostname else ''}"


class RedisConnection:
    """A pool for quick commands, a pool for blocking stream reads, and prefixed keys.

    Connect and command timeouts are ``op_timeout_s``. A command whose connection broke is retried
    once at once (this heals pooled connections that died with a Redis restart); timeouts are not
    retried, so an INCR is not counted twice. Each call also runs under a hard deadline of three
    timeouts (plus the blocking time of a blocking read).
    """

    def __init__(self, settings: RedisSettings) -> None:
        assert settings.url is not None
        self.url = redacted(settings.url)
        self.prefix = settings.prefix
        self.op_timeout_s = settings.op_timeout_s
        options: dict[str, Any] = {
            "socket_connect_timeout": settings.op_timeout_s,
            "retry": Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
            "protocol": 2,
        }
        self.quick = Redis.from_url(settings.url, socket_timeout=settings.op_timeout_s, **options)
        self.blocking = Redis.from_url(settings.url, socket_timeout=None, **options)

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    async def run(
        self, operation: str, call: Callable[[], Awaitable[T]], *, extra_s: float = 0
    ) -> T:
        """Await ``call()``; turn every Redis failure or overrun into CacheError."""
        try:
            async with asyncio.timeout(3 * self.op_timeout_s + extra_s):
                return await call()
        except (RedisError, OSError, TimeoutError) as exc:
            detail = str(exc) or type(exc).__name__
            raise CacheError(f"redis {operation} failed: {detail}") from exc

    async def ping(self) -> None:
        await self.run("ping", self.quick.ping)

    async def aclose(self) -> None:
        for client in (self.quick, self.blocking):
            with contextlib.suppress(RedisError, OSError):  # connections to a dead server
                await client.aclose()


async def _encode(value: bytes) -> bytes:
    if len(value) < _COMPRESS_FROM:
        return _RAW + value
    if len(value) >= _OFF_LOOP_FROM:
        return _ZLIB + await asyncio.to_thread(zlib.compress, value)
    return _ZLIB + zlib.compress(value)


async def _decode(stored: bytes) -> bytes | None:
    tag, body = stored[:1], stored[1:]
    try:
        if tag == _ZLIB:
            if len(body) >= _OFF_LOOP_FROM // 4:
                return await asyncio.to_thread(zlib.decompress, body)
            return zlib.decompress(body)
    except zlib.error:
        return None
    return body if tag == _RAW else None


class RedisCache:
    """Bytes with a TTL; values of 1 KiB or more are stored zlib-compressed (callers see raw)."""

    def __init__(self, conn: RedisConnection) -> None:
        self._conn = conn

    async def get(self, key: str) -> bytes | None:
        stored = await self._conn.run("cache.get", lambda: self._conn.quick.get(self._key(key)))
        return await _decode(stored) if isinstance(stored, bytes) else None

    async def set(self, key: str, value: bytes, *, ttl_s: float) -> None:
        stored = await _encode(value)
        await self._conn.run(
            "cache.set", lambda: self._conn.quick.set(self._key(key), stored, px=_ms(ttl_s))
        )

    def _key(self, key: str) -> str:
        return self._conn.key("cache", key)


class RedisRateLimiter:
    """Fixed window opened by a key's first hit: INCR, and PEXPIRE when new, in one script."""

    def __init__(self, conn: RedisConnection) -> None:
        self._conn = conn
        self._hit = conn.quick.register_script(_HIT)

    async def hit(self, key: str, *, limit: int, window_s: float) -> RateDecision:
        keys = [self._conn.key("rate", key)]
        count, ttl_ms = await self._conn.run(
            "limiter.hit", lambda: self._hit(keys=keys, args=[_ms(window_s)])
        )
        return RateDecision(count <= limit, limit, max(0, limit - count), ttl_ms / 1000)


class RedisEventLog:
    """Streams as Redis streams; blocking reads are XREAD BLOCK on a pool of their own."""

    def __init__(self, conn: RedisConnection, *, stream_ttl_s: float) -> None:
        self._conn = conn
        self._ttl_ms = _ms(stream_ttl_s)
        self._extend = conn.quick.register_script(_EXTEND)
        self._attach = conn.quick.register_script(_ATTACH)
        self._attached = conn.quick.register_script(_ATTACHED)

    def _key(self, stream_id: str, part: str = "") -> str:
        return self._conn.key("stream", stream_id + part)

    async def append(self, stream_id: str, event_type: str, data: str) -> int:
        last, finished, _ = await self.extend(stream_id, 0, [(event_type, data)])
        if finished:
            raise ValueError(f"stream {stream_id} is finished")
        return last

    async def finish(self, stream_id: str) -> None:
        await self.extend(stream_id, 0, [], finish=True)

    async def extend(
        self,
        stream_id: str,
        first_seq: int,
        events: Sequence[tuple[str, str]],
        *,
        finish: bool = False,
    ) -> tuple[int, bool, int]:
        """Write ``events`` (type, JSON) as seqs ``first_seq``... where they continue the
        stream.

        Returns (last seq in Redis, finished, events written); a last seq below the intended one
        means Redis lost the start (a restart) and the caller should resend from there.
        """
        pairs = [value for event in events for value in event]
        args: list[str | int] = [self._ttl_ms, first_seq, int(finish), *pairs]
        last, finished, wrote = await self._conn.run(
            "events.append", lambda: self._extend(keys=[self._key(stream_id)], args=args)
        )
        return int(last), bool(finished), int(wrote)

    async def read(self, stream_id: str, *, after: int, block_s: float = 0) -> EventBatch:
        key, start = self._key(stream_id), f"{min(max(after, 0), _MAX_SEQ)}-0"
        pipe = self._conn.quick.pipeline(transaction=False)
        pipe.xread({key: start})
        pipe.xrevrange(key, count=1)
        replies = await self._conn.run("events.read", pipe.execute)
        entries, tail = _entries(replies[0]), replies[1]
        exists = bool(tail)
        if not entries and block_s > 0 and not _is_end(tail):
            blocked = await self._conn.run(
                "events.read",
                lambda: self._conn.blocking.xread({key: start}, block=_ms(block_s)),
                extra_s=block_s,
            )
            entries = _entries(blocked)
            exists = exists or bool(entries)
        events: list[LogEntry] = []
        finished = _is_end(tail)
        for entry_id, fields in entries:
            seq, marker = entry_id.split(b"-")
            if marker == b"0":
                events.append(LogEntry(int(seq), fields[b"t"].decode(), fields[b"d"].decode()))
            else:
                finished = True
        return EventBatch(events, finished, exists)

    async def request_stop(self, stream_id: str) -> None:
        key = self._key(stream_id, ":stop")
        await self._conn.run(
            "events.stop", lambda: self._conn.quick.set(key, b"1", px=self._ttl_ms)
        )

    async def stop_requested(self, stream_id: str) -> bool:
        key = self._key(stream_id, ":stop")
        return bool(await self._conn.run("events.stop", lambda: self._conn.quick.exists(key)))

    async def attach(self, stream_id: str, client_id: str, *, ttl_s: float) -> None:
        keys, args = [self._key(stream_id, ":clients")], [client_id, str(_ms(ttl_s))]
        await self._conn.run("events.attach", lambda: self._attach(keys=keys, args=args))

    async def detach(self, stream_id: str, client_id: str) -> None:
        key = self._key(stream_id, ":clients")
        await self._conn.run("events.attach", lambda: self._conn.quick.zrem(key, client_id))

    async def attached(self, stream_id: str) -> int:
        keys = [self._key(stream_id, ":clients")]
        return int(await self._conn.run("events.attach", lambda: self._attached(keys=keys)))


def _entries(reply: Any) -> list[tuple[bytes, dict[bytes, bytes]]]:
    """The entries of a one-stream XREAD reply (RESP2: [[key, [[id, fields], ...]]])."""
    return list(reply[0][1]) if reply else []


def _is_end(tail: Any) -> bool:
    return bool(tail) and not tail[0][0].endswith(b"-0")


class RedisSingleFlight:
    """SET-if-absent claims (a script, so a leader re-claiming keeps its lead)."""

    def __init__(self, conn: RedisConnection) -> None:
        self._conn = conn
        self._claim = conn.quick.register_script(_CLAIM)
        self._release = conn.quick.register_script(_RELEASE)

    async def claim(self, key: str, stream_id: str, *, ttl_s: float) -> str | None:
        keys, args = [self._conn.key("flight", key)], [stream_id, str(_ms(ttl_s))]
        held = await self._conn.run("flights.claim", lambda: self._claim(keys=keys, args=args))
        return None if held is None else bytes(held).decode()

    async def release(self, key: str, stream_id: str) -> None:
        keys = [self._conn.key("flight", key)]
        await self._conn.run("flights.release", lambda: self._release(keys=keys, args=[stream_id]))


class RedisCounters:
    """One hash; a field per (name, labels) as JSON, summed with HINCRBYFLOAT."""

    def __init__(self, conn: RedisConnection) -> None:
        self._conn = conn
        self._key = conn.key("counters")

    async def incr(self, name: str, labels: Mapping[str, str], amount: float = 1) -> None:
        await self.add_all({counter_key(name, labels): amount})

    async def add_all(self, amounts: Mapping[CounterKey, float]) -> dict[CounterKey, float]:
        """Add several counters in one transaction (all or none); return their new totals."""
        pipe = self._conn.quick.pipeline(transaction=True)
        for key, amount in amounts.items():
            pipe.hincrbyfloat(self._key, json.dumps(key, separators=(",", ":")), amount)
        totals = await self._conn.run("counters.incr", pipe.execute)
        return {key: float(total) for key, total in zip(amounts, totals, strict=True)}

    async def snapshot(self) -> dict[CounterKey, float]:
        raw = await self._conn.run("counters.snapshot", lambda: self._conn.quick.hgetall(self._key))
        values: dict[CounterKey, float] = {}
        for field, value in raw.items():
            name, labels = json.loads(field)
            values[name, tuple((k, v) for k, v in labels)] = float(value)
        return values


def build_redis_state(settings: RedisSettings) -> StateBackend:
    """Plain Redis state: every failure raises CacheError (see resilient for the fallback)."""
    conn = RedisConnection(settings)

    async def probe() -> tuple[bool, str]:
        try:
            await conn.ping()
        except CacheError as exc:
            return False, f"{conn.url}: {exc.message}"
        return True, f"{conn.url}: ok"

    return StateBackend(
        cache=RedisCache(conn),
        limiter=RedisRateLimiter(conn),
        events=RedisEventLog(conn, stream_ttl_s=settings.stream_ttl_s),
        flights=RedisSingleFlight(conn),
        counters=RedisCounters(conn),
        kind="redis",
        probe=probe,
        closer=conn.aclose,
    )
