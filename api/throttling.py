"""The API's rate per token's owner, which a cache outage costs its count, never a request.

A token reads clinical records, and the rate is what bounds a leaked one's scraping, so the
count holds when the owner's requests arrive at once (several gunicorn workers or threads,
several hosts). DRF's own count read the owner's list of request times from the cache,
checked its length, appended and wrote it back: requests sent together all read the same
list, all passed, and each wrote back its own, losing the others' (20 sent at once with
room for 4 all passed; `api/tests/test_api_rate.py`). Here the check and the record are one
step that nothing else comes between:

- Redis (`CACHE_URL`, Django's RedisCache): one Lua script, which Redis runs with nothing
  else in between. The owner's key is a sorted set of request times; the script drops those
  past the window, counts the rest and, below the rate, adds this one.
- The memory cache (no `CACHE_URL`; one process's, like its count): the same steps under one
  lock for the process, so its threads take turns (microseconds each).

It is a sliding window, exact, as DRF's was meant to be: no more than the rate in any stretch
of the window's length, and `Retry-After` says when enough of those counted have left it
for one more.
Fixed windows, counted with `add`/`incr` on any cache, would cost less but let twice the
rate through across a window's edge (600 before 10:00, 600 after); the log costs one entry
per request counted (≈ 120 bytes in Redis: at 600 an hour, 70 kB per owner at most; a bulk
reader's 100,000 an hour, 12 MB), gone as they leave the window, and a key that expires a
window after its last request. Refused
requests are not counted, so a client that keeps asking is let in as soon as the window
has room.

Times are the web host's clock (`time.time`, NTP-kept across hosts): a host ahead of the
others by a fraction of a second lets a request in that much early, no more. The Redis key
(`api-requests:user:<owner>`) is not DRF's (`throttle_user_<owner>`, a pickled list): during
a deploy the previous release's processes keep a count of their own (an owner may have the
rate from each, for that while) rather than failing on the other's.
"""

from __future__ import annotations

import logging
import secrets
import threading
from typing import Any

from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.redis import RedisCache
from rest_framework.request import Request
from rest_framework.throttling import UserRateThrottle

from alliance.net import client_address

logger = logging.getLogger(__name__)

# KEYS[1]: the owner's requests (a sorted set, by time); ARGV: now, the window in seconds,
# the rate, a name for this request (random: two requests may share a time). Answers
# {1} when the request is counted, {0, seconds until the next is taken} when refused; the
# seconds as text, since Redis turns a Lua number into a whole one.
RECORD_IF_ROOM = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local rate = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local counted = redis.call('ZCARD', KEYS[1])
if counted < rate then
    redis.call('ZADD', KEYS[1], now, ARGV[4])
    redis.call('EXPIRE', KEYS[1], window)
    return {1}
end
local leaving = redis.call('ZRANGE', KEYS[1], counted - rate, counted - rate, 'WITHSCORES')
return {0, tostring(tonumber(leaving[2]) + window - now)}
"""

# The memory cache is this process's, so a lock of this process is enough to make its
# read, check and write one step.
_in_memory = threading.Lock()


def record_if_room(
    cache: BaseCache, key: str, *, now: float, rate: int, window: int
) -> tuple[bool, float | None]:
    """Count a request made at `now` under `key` if fewer than `rate` are counted in the
    `window` seconds up to it: (True, None); else (False, seconds until enough have left
    it for one more)."""
    if isinstance(cache, RedisCache):
        return _record_in_redis(cache, key, now=now, rate=rate, window=window)
    with _in_memory:
        # Oldest first; a time on the window's edge has left it (as in DRF's count).
        times = [at for at in cache.get(key, []) if at > now - window]
        if len(times) >= rate:
            return False, times[len(times) - rate] + window - now
        times.append(now)
        cache.set(key, times, window)
    return True, None


def _record_in_redis(
    cache: RedisCache, key: str, *, now: float, rate: int, window: int
) -> tuple[bool, float | None]:
    key = cache.make_and_validate_key(key)
    # Django's cache has no public way to run a script: its client for writes is the
    # server it writes to (the first of several), with CACHE_URL's pool and timeouts.
    client = cache._cache.get_client(key, write=True)
    answer = client.register_script(RECORD_IF_ROOM)(
        keys=[key], args=[repr(now), window, rate, secrets.token_hex(8)]
    )
    if answer[0] == 1:
        return True, None
    return False, float(answer[1])


class OwnerRateThrottle(UserRateThrottle):
    """`ALLIANCE_API_RATE` requests per token's owner, counted in the cache (`CACHE_URL`),
    requests sent at once included (see above).

    While the cache is down or stalled the request goes through, unmetered, and a warning
    is logged: a clinic's nightly pull should not fail on a counter, as a client's rating
    link does not (measures/public.py). Before, every API request answered 500."""

    cache_format = "api-requests:%(scope)s:%(ident)s"
    retry_after: float | None = None

    def get_ident(self, request: Request) -> str:
        """Without a token (the schema) the count is per address, read as every limit here
        reads it (`ALLIANCE_TRUSTED_PROXY_HOPS`). DRF's own reads a client's whole
        X-Forwarded-For unless told how many proxies there are: one the client wrote itself
        was a new address each time, and the schema (0.1–0.2 s to build) unlimited."""
        return client_address(request)

    def allow_request(self, request: Request, view: Any) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        self.now = self.timer()
        try:
            allowed, self.retry_after = record_if_room(
                caches["default"],
                self.key,
                now=self.now,
                rate=self.num_requests,
                window=self.duration,
            )
        except Exception:  # any cache backend's error: the count is lost for now
            logger.warning("API request counts are unavailable (cache down); not limited.")
            return True
        return allowed

    def wait(self) -> float | None:
        """Seconds until the next request is taken, for `Retry-After`: until enough of those
        counted leave the window. DRF's own gives none (and no `Retry-After`) while more are
        counted than the rate allows, as after a rate raised for a bulk reader was lowered
        again, until the window has passed."""
        return self.retry_after
