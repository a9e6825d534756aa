// The Lua scripts of the quota shared through Redis (shared-quota.ts). Each runs atomically on
// Redis's own clock, so no host's clock decides what the window holds. Every answer also says what
// the window holds, per second of its grants' age: a host that loses Redis then counts every
// host's calls of the window against its share, until they leave it (window-seen.ts). A grant
// also keeps the room for what the keepers may still spend alone (quota-reserve-lua.ts).

import { LEAVES_ROOM_LUA, READINGS_LUA } from './quota-reserve-lua.js';

/**
 * The name the quota's scripts (TAKE_SCRIPT, PRESENT_SCRIPT, READING_SCRIPT) answer and fail under on the link
 * (RedisLink.scriptAnswered): a refusal of theirs is ended by one of them, not by another script.
 */
export const QUOTA_SCRIPTS = 'quota';

/** Longest single wait before asking Redis again (a slot may free sooner: another host's grant expired). */
export const MAX_WAIT_MS = 1000;

/** The width of one count of the window's grants by age (HELD_LUA's). */
export const HELD_STEP_MS = 1000;

// Lua: Redis's time in ms, as `now`.
const NOW_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * Lua: `held(key, window)`, the grants of the window `key` by age: element i counts those aged
 * [i, i + 1) steps. A count per second (at most window / step ZCOUNTs, each O(log n)) rather than
 * every grant's time: a window may hold 100,000 grants, and every answer carries this. Stops at
 * the oldest grant.
 */
const HELD_LUA = `
local function held(key, window)
  local n = redis.call('ZCARD', key)
  local counts = {}
  local seen = 0
  local i = 0
  while seen < n and i * ${HELD_STEP_MS} < window do
    local c = redis.call('ZCOUNT', key, '(' .. (now - (i + 1) * ${HELD_STEP_MS}), now - i * ${HELD_STEP_MS})
    counts[i + 1] = c
    seen = seen + c
    i = i + 1
  end
  return counts
end`;

/**
 * Lua: says keeper `id` is present in the sorted set `key` (scored by Redis's time) and counts in
 * `present` the keepers heard from in two windows of `windowMs`.
 */
const presentLua = (key: string, id: string, windowMs: string) => `
redis.call('ZADD', ${key}, now, ${id})
redis.call('ZREMRANGEBYSCORE', ${key}, '-inf', now - 2 * tonumber(${windowMs}))
redis.call('PEXPIRE', ${key}, 2 * tonumber(${windowMs}))
local present = redis.call('ZCARD', ${key})`;

/**
 * Lua: `began(key)`, when the state of a window began (Redis's time in ms, kept in `key`): now,
 * if Redis does not have it (it lost its data, or this is the window's first word). A keeper whose
 * last answer came before it holds what the window held before the loss (heard, quota-kind-state.ts).
 */
const BEGAN_LUA = `
local function began(key)
  local since = tonumber(redis.call('GET', key))
  if not since then
    since = now
    redis.call('SET', key, now)
  end
  return since
end`;

// KEYS: the keepers present, the reads' window, the writes' window, the keepers of reads, of
// writes, when the reads' state began, the writes', the keepers' readings of the reads' window,
// of the writes' (quota-reserve-lua.ts). ARGV: keeper id, window ms, whether it holds grants of
// the reads' window (1|0), of the writes', then a grant of it each window must hold unless Redis
// lost data (or '', as TAKE_SCRIPT's), then the reading of each window it counts from (Redis's
// time at that answer, 0 before any). Returns {keepers present, Redis's time, the
// reads' window held, the writes', when the reads' state began, the writes', whether Redis lost
// its grants of the reads' window (1|0: it does not know the keeper, or lacks that grant), of the
// writes'}: a keeper that makes no call (it serves the others' copies) still learns what the
// windows hold, and writes back what Redis lost without waiting for its next call. One that holds
// no grant of a window has none to write back: it is counted among that window's keepers, so that
// after Redis lost its data the others are not held to their share waiting for it.
export const PRESENT_SCRIPT = `${NOW_LUA}${HELD_LUA}${BEGAN_LUA}${READINGS_LUA}${presentLua('KEYS[1]', 'ARGV[1]', 'ARGV[2]')}
local window = tonumber(ARGV[2])
local lost = {0, 0}
for i = 0, 1 do
  keepReading(KEYS[8 + i], ARGV[1], learnReading(KEYS[8 + i], ARGV[1], ARGV[7 + i]), window)
  if ARGV[3 + i] == '0' then
    redis.call('ZADD', KEYS[4 + i], now, ARGV[1])
    redis.call('ZREMRANGEBYSCORE', KEYS[4 + i], '-inf', now - 2 * window)
    redis.call('PEXPIRE', KEYS[4 + i], 2 * window)
  elseif not redis.call('ZSCORE', KEYS[4 + i], ARGV[1]) or (ARGV[5 + i] ~= '' and not redis.call('ZSCORE', KEYS[2 + i], ARGV[5 + i])) then
    lost[i + 1] = 1
  end
end
local readsSince = began(KEYS[6])
local writesSince = began(KEYS[7])
return {present, now, held(KEYS[2], window), held(KEYS[3], window), readsSince, writesSince, lost[1], lost[2]}
`;

/** PRESENT_SCRIPT's answer. */
export type PresentAnswer = [number, number, number[], number[], number, number, number, number];

// KEYS: the window's grants (sorted set scored by Redis's time in ms), the keepers seen (sorted
// set scored by their last call), when this state began (Redis's time in ms; a Redis that lost its
// data begins it again), the keepers present (as PRESENT_SCRIPT's), when each grant went into the
// window (sorted set scored by Redis's time then), the keepers' readings of the window
// (quota-reserve-lua.ts). ARGV: limit, window ms, keeper id, this grant's member (or '': write
// back only, take none), whether the keeper holds grants of the window that it does not send
// (1|0), the keepers it saw present before (its share applies while fewer are counted and the
// state is younger than a window), whether it is under its share (1|0), a grant of this keeper the
// window must hold unless Redis lost data (or ''), the reading of the window it counts from
// (Redis's time at that answer, 0 before any), then pairs of a grant's member and age (ms) to
// write back. Returns {1 granted | 0 wait | 2 unknown keeper: send every grant of the window
// first, ms until a slot frees, keepers, keepers present, Redis's time, the window held (nil for
// 2), when the state began}: a keeper's first ask, holding its predecessor's grants, learns from a
// 2 whether Redis lost them. A keeper stays unknown until it has sent them: its concurrent calls
// all wait for that, none is granted on a window that lacks them. A call the window has room for
// waits all the same (MAX_WAIT_MS, then asks again) while it would leave no room for what the
// keepers may still spend alone (leavesRoom): until they read the window again, or calls leave it.
export const TAKE_SCRIPT = `${NOW_LUA}${HELD_LUA}${BEGAN_LUA}${READINGS_LUA}${LEAVES_ROOM_LUA}${presentLua('KEYS[4]', 'ARGV[3]', 'ARGV[2]')}
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
if (ARGV[5] == '1' and not redis.call('ZSCORE', KEYS[2], ARGV[3])) or (ARGV[8] ~= '' and not redis.call('ZSCORE', KEYS[1], ARGV[8])) then
  return {2, 0, redis.call('ZCARD', KEYS[2]), present, now, false, began(KEYS[3])}
end
local since = began(KEYS[3])
redis.call('ZADD', KEYS[2], now, ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 2 * window)
redis.call('PEXPIRE', KEYS[2], 2 * window)
local keepers = redis.call('ZCARD', KEYS[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now - window)
local mine = learnReading(KEYS[6], ARGV[3], ARGV[9])
for i = 10, #ARGV, 2 do
  redis.call('ZADD', KEYS[1], now - tonumber(ARGV[i + 1]), ARGV[i])
  inserted(KEYS[5], mine, ARGV[i], window)
end
keepReading(KEYS[6], ARGV[3], mine, window)
if ARGV[4] == '' then
  redis.call('PEXPIRE', KEYS[1], window)
  return {0, 0, keepers, present, now, held(KEYS[1], window), since}
end
if ARGV[7] == '0' and keepers < tonumber(ARGV[6]) and now - since < window then
  return {0, ${MAX_WAIT_MS}, keepers, present, now, held(KEYS[1], window), since}
end
local n = redis.call('ZCARD', KEYS[1])
if n < limit then
  if not leavesRoom(KEYS[5], KEYS[6], KEYS[4], present, limit, ARGV[3]) then
    redis.call('PEXPIRE', KEYS[1], window)
    return {0, ${MAX_WAIT_MS}, keepers, present, now, held(KEYS[1], window), since}
  end
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], window)
  inserted(KEYS[5], mine, ARGV[4], window)
  keepReading(KEYS[6], ARGV[3], mine, window)
  return {1, 0, keepers, present, now, held(KEYS[1], window), since}
end
redis.call('PEXPIRE', KEYS[1], window)
local blocking = redis.call('ZRANGE', KEYS[1], n - limit, n - limit, 'WITHSCORES')
return {0, math.max(1, tonumber(blocking[2]) + window - now), keepers, present, now, held(KEYS[1], window), since}
`;

/**
 * TAKE_SCRIPT's answer: granted (1), wait (0) or unknown keeper (2); ms to wait; keepers; keepers
 * present; Redis's time, the window held (null for 2), and when the window's state began.
 */
export type TakeAnswer = [number, number, number, number, number?, (number[] | null)?, number?];

// KEYS: the keepers present, the keepers' readings of the reads' window, of the writes'. ARGV:
// keeper id, window ms, the reading of each window it counts from now (as PRESENT_SCRIPT's). Sent
// just after a presence answer, so that the reading Redis keeps for the keeper is that answer's
// and not the one before it, a presence interval older: a keeper idle beside a busy one holds the
// busy one past its share only until then (quota-reserve-lua.ts).
export const READING_SCRIPT = `${NOW_LUA}${READINGS_LUA}
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  for i = 0, 1 do
    keepReading(KEYS[2 + i], ARGV[1], learnReading(KEYS[2 + i], ARGV[1], ARGV[3 + i]), tonumber(ARGV[2]))
  end
end
return 1
`;

// KEYS: the keepers present, the keepers' readings of the reads' window, of the writes'. ARGV:
// keeper id. A keeper that closes cleanly, holding no call the windows lack, is no longer counted
// present and has no room kept for it: a host stopped is not held as one that may be spending its
// share alone, for the two windows Redis would count it otherwise.
export const LEAVE_SCRIPT = `
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return 1
`;
