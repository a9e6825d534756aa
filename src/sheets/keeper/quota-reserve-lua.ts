// The room the shared quota window (shared-quota-scripts.ts) keeps for what each keeper may still
// spend alone. Any keeper may lose Redis at any moment, and it then spends its share of the limit
// less the calls it last read in the window (own-share.ts). When the others had meanwhile been
// granted what that reading showed free, the minute held the limit and that share on top: a host
// whose commands timed out for a few seconds (its loop blocked by a large range) spent 3 reads
// alone while the host still sharing was granted all 6 of the limit, 9 in a minute of 6. Redis
// cannot tell such a host from one merely quiet between two presences, nor know when it went
// alone; so it grants no call that would leave no room for what any set of keepers could spend
// alone from what each of them last read.
//
// Per keeper and kind, Redis keeps the reading the keeper counts from (Redis's time at that
// answer; the keeper sends it with every script, and again right after each presence answer, so
// it is at most a presence interval old) and the calls granted to it or written back by it since.
// Not the time of its last script: a reply the keeper never took in (lost, or its loop blocked
// past the command timeout) would have Redis believe it knows calls it does not. Every call of the
// window is dated when it went in (`inserted`: a call written back goes in when written back,
// whatever its age). A call is granted only if, for every keeper m and every set K of keepers
// whose readings are no newer than m's, m among them:
//
//   the calls inserted since m's reading that were granted to no keeper of K
//   + the share of each keeper of K
//   <= the limit
//
// (a keeper k adds its share less its own calls inserted since m's reading, so the worst K is m
// and every keeper for which that is positive). None of K knows the first calls; each keeper of K
// that goes alone spends at most its share less the calls it knows of (each counted for as long as
// the window holds it), so the calls they know and those they spend alone make at most their
// shares. Whatever keepers lose Redis, and whenever, the minute holds no more than the limit. The share taken here is the limit over the keepers present
// now: a keeper that has not yet heard of one that joined (at most a presence interval) takes its
// share over fewer, by that much over.
//
// The cost: a keeper idle beside a busy one keeps its share free until it has read the busy one's
// calls (its next presence, within 5 s), so a host spends past its share of a quiet window only
// what the others have read. A keeper that stops saying it is present (gone, or cut off) keeps its
// room until Redis forgets it, two windows after its last word; one that closes cleanly leaves at
// once (LEAVE_SCRIPT), unless it holds calls the window lacks.

/**
 * Lua (needs `now`, NOW_LUA's): a keeper's reading of a window, and its calls inserted since, kept
 * in the hash `readings` (keeper id -> JSON {r: Redis time of the reading, 0 before any; o: member
 * -> when it was inserted}).
 */
export const READINGS_LUA = `
-- An entry as kept; one that does not decode (written by another version) as no reading, its whole
-- share kept: a script that failed would send its keeper alone.
local function entryOf(v)
  local ok, e = pcall(cjson.decode, v or '{}')
  if not ok or type(e) ~= 'table' then e = {} end
  if type(e.r) ~= 'number' then e.r = 0 end
  if type(e.o) ~= 'table' then e.o = {} end
  return e
end

local function readingOf(readings, id)
  return entryOf(redis.call('HGET', readings, id))
end

-- Saves a keeper's entry, its calls inserted before its reading (the reading holds them) or that
-- left the inserted set (as a window's) forgotten.
local function keepReading(readings, id, e, window)
  local o = {}
  for m, at in pairs(e.o) do
    if type(at) == 'number' and at >= e.r and at > now - window then o[m] = at end
  end
  e.o = o
  redis.call('HSET', readings, id, cjson.encode(e))
  redis.call('PEXPIRE', readings, 2 * window)
end

-- The reading keeper id says it counts from (Redis's time at that answer; '' or 0: none), if newer.
local function learnReading(readings, id, r)
  local e = readingOf(readings, id)
  local at = tonumber(r)
  if at and at > e.r then e.r = at end
  return e
end

-- Dates member's entry into the window now (the sorted set inserted) and counts it as keeper e's.
local function inserted(insertedKey, e, member, window)
  redis.call('ZADD', insertedKey, now, member)
  redis.call('PEXPIRE', insertedKey, window)
  e.o[member] = now
end`;

/**
 * Lua (needs `now` and READINGS_LUA): `leavesRoom(insertedKey, readings, presentKey, present,
 * limit, asker)`, whether one more call granted now to keeper `asker` (its entry saved) keeps the
 * room for what every set of keepers may still spend alone. Forgets the entries of keepers no
 * longer present.
 */
export const LEAVES_ROOM_LUA = `
local function leavesRoom(insertedKey, readings, presentKey, present, limit, asker)
  local share = math.floor(limit / math.max(1, present))
  local all = redis.call('HGETALL', readings)
  local keepers = {}
  for i = 1, #all, 2 do
    if redis.call('ZSCORE', presentKey, all[i]) then
      local e = entryOf(all[i + 1])
      local own = {}
      for _, at in pairs(e.o) do
        if type(at) == 'number' then own[#own + 1] = at end
      end
      if all[i] == asker then own[#own + 1] = now end
      keepers[#keepers + 1] = {r = e.r, own = own}
    else
      redis.call('HDEL', readings, all[i])
    end
  end
  for _, m in ipairs(keepers) do
    -- The call asked for is inserted now, after every reading.
    local worst = redis.call('ZCOUNT', insertedKey, m.r, '+inf') + 1
    for _, k in ipairs(keepers) do
      if k.r <= m.r then
        local since = 0
        for _, at in ipairs(k.own) do
          if at >= m.r then since = since + 1 end
        end
        if k == m or share - since > 0 then worst = worst + share - since end
      end
    end
    if worst > limit then return false end
  end
  return true
end`;
