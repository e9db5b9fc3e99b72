"""The Redis quota store's layout: its keys and its Lua scripts (no I/O).

Every change to shared quota state is one of these scripts, run atomically on
the Redis server (``EVALSHA``), or a single ``SET ... PX`` for a take-out; the
client never reads a value to write it back.

Keys, all under the prefix (default ``aichatfree:``), all with an expiry::

    {prefix}{group}:cool          hash: until, reason, strikes, probe
                                  (expires `RECUR_WINDOW` after the deadline)
    {prefix}{group}:lease         the probe lease (SET NX PX semantics)
    {prefix}{group}:rpm           sorted set: the minute window's requests
    {prefix}{group}:rpd:{day}     counter: the Pacific day's requests
    {prefix}{group}:out           why the group was taken out (401)

Nothing else is written: group names, counters, deadlines and reason words; no
password, no request text.
"""

from __future__ import annotations

from typing import Final, NamedTuple

__all__ = [
    "ACQUIRE",
    "COOL_DOWN",
    "DAY_KEY_GRACE",
    "MERGE_COUNTS",
    "RELEASE",
    "STATUS",
    "GroupKeys",
    "group_keys",
]


class GroupKeys(NamedTuple):
    """The Redis keys of one quota group (the layout in the module docstring).

    Attributes:
        cool: The cooldown hash: until, reason, strikes, probe.
        lease: The probe lease.
        rpm: The sorted set of the minute window's requests.
        out: Why the group was taken out.
        day_prefix: The start of every per-day counter's key (see `rpd`).
    """

    cool: str
    lease: str
    rpm: str
    out: str
    day_prefix: str

    def rpd(self, day: str) -> str:
        """The counter of one Pacific day's requests.

        Args:
            day: The ISO date (`pacific_day`).

        Returns:
            The key.
        """
        return self.day_prefix + day


def group_keys(prefix: str, group: str) -> GroupKeys:
    """The keys of ``group`` under ``prefix``.

    Args:
        prefix: Every key starts with it.
        group: The quota group.

    Returns:
        The group's keys.
    """
    base = f"{prefix}{group}:"
    return GroupKeys(
        cool=base + "cool",
        lease=base + "lease",
        rpm=base + "rpm",
        out=base + "out",
        day_prefix=base + "rpd:",
    )


DAY_KEY_GRACE: Final = 3600
"""A day counter outlives its day by this many seconds."""

# Shared head of every script: `now` is ARGV[1], or the server's clock.
_NOW: Final = """
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function fmt(x) return string.format('%.6f', x) end
"""

ACQUIRE: Final = (
    _NOW
    + """
-- KEYS: cool, lease, rpm, rpd, out
-- ARGV: now, rpm limit, rpd limit, window, member, lease ms, rpd ttl s, midnight
local out = redis.call('GET', KEYS[5])
if out then
  local ttl = redis.call('PTTL', KEYS[5])
  return {0, 0, fmt(now + math.max(ttl, 0) / 1000), 'out: ' .. out, false}
end
local cool = redis.call('HMGET', KEYS[1], 'until', 'reason', 'probe')
local cooling_until = tonumber(cool[1])
if cooling_until and cooling_until > now then
  return {0, 0, cool[1], 'cooling: ' .. (cool[2] or 'rate limit'), false}
end
local probe = cool[3] == '1'
if probe then
  local ttl = redis.call('PTTL', KEYS[2])
  if ttl > 0 then return {0, 0, fmt(now + ttl / 1000), 'probing', false} end
end
local window = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - window)
local rpm = tonumber(ARGV[2])
if rpm and redis.call('ZCARD', KEYS[3]) >= rpm then
  local oldest = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
  local free = now + window
  if oldest[2] then free = tonumber(oldest[2]) + window end
  return {0, 0, fmt(free), 'rpm', false}
end
local rpd = tonumber(ARGV[3])
if rpd and tonumber(redis.call('GET', KEYS[4]) or '0') >= rpd then
  return {0, 0, ARGV[8], 'rpd', false}
end
redis.call('ZADD', KEYS[3], now, ARGV[5])
redis.call('PEXPIRE', KEYS[3], math.ceil(window * 1000) + 1000)
redis.call('INCR', KEYS[4])
redis.call('EXPIRE', KEYS[4], ARGV[7])
if probe then
  -- the lease's token is this request's member: release ends this lease only
  redis.call('SET', KEYS[2], ARGV[5], 'NX', 'PX', ARGV[6])
  return {1, 1, false, false, ARGV[5]}
end
return {1, 0, false, false, false}
"""
)

COOL_DOWN: Final = (
    _NOW
    + """
-- KEYS: cool
-- ARGV: now, recur, reason, delay for 1 strike, for 2 strikes, ...
local recur = tonumber(ARGV[2])
local cool = redis.call('HMGET', KEYS[1], 'until', 'reason', 'strikes')
local cooling_until = tonumber(cool[1])
local strikes = tonumber(cool[3]) or 0
if not cooling_until or strikes < 1 then
  strikes = 1
elseif now < cooling_until then
  strikes = strikes
elseif now < cooling_until + recur then
  strikes = strikes + 1
else
  strikes = 1
end
local levels = #ARGV - 3
local deadline = now + tonumber(ARGV[3 + math.min(strikes, levels)])
local reason = ARGV[3]
if cooling_until and cooling_until >= deadline then
  deadline = cooling_until
  reason = cool[2] or reason
end
redis.call('HSET', KEYS[1], 'until', fmt(deadline), 'reason', reason,
  'strikes', strikes, 'probe', '1')
redis.call('PEXPIRE', KEYS[1], math.ceil((deadline + recur - now) * 1000))
return {fmt(deadline), reason}
"""
)

RELEASE: Final = """
-- KEYS: cool, lease; ARGV: success ('1' or '0'), the lease's token ('': any)
if ARGV[2] == '' or redis.call('GET', KEYS[2]) == ARGV[2] then
  redis.call('DEL', KEYS[2])
end
if ARGV[1] == '1' and redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'probe', '0', 'strikes', '0')
end
return 1
"""

STATUS: Final = (
    _NOW
    + """
-- KEYS: cool, rpm, rpd, out; ARGV: now, window
local cool = redis.call('HMGET', KEYS[1], 'until', 'reason')
local cooling_until = tonumber(cool[1])
local window = tonumber(ARGV[2])
local used = redis.call('ZCOUNT', KEYS[2], '(' .. (now - window), '+inf')
local day = tonumber(redis.call('GET', KEYS[3]) or '0')
local out = redis.call('GET', KEYS[4])
if cooling_until and cooling_until > now then
  return {cool[1], cool[2] or 'rate limit', used, day, out or false}
end
return {false, false, used, day, out or false}
"""
)

MERGE_COUNTS: Final = """
-- KEYS: rpm, rpd; ARGV: window, rpd count, rpd ttl s, timestamp, member, ...
local window = tonumber(ARGV[1])
for i = 4, #ARGV, 2 do
  redis.call('ZADD', KEYS[1], ARGV[i], ARGV[i + 1])
end
if #ARGV >= 4 then
  redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000) + 1000)
end
if tonumber(ARGV[2]) > 0 then
  redis.call('INCRBY', KEYS[2], ARGV[2])
  redis.call('EXPIRE', KEYS[2], ARGV[3])
end
return 1
"""
