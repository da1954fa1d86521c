import { createHash } from 'node:crypto';

/**
 * The whole compare-and-swap of one ref as one Lua script, so Redis runs it atomically: compare the
 * value, set or delete it, keep the name index in step and append the reflog entry.
 *
 * KEYS: 1 value (string), 2 name index (sorted set, all scores 0, ordered by name),
 *       3 reflog (sorted set scored by entry time), 4 reflog sequence counter.
 * ARGV: 1 name, 2 expected ('' = absent), 3 next ('' = delete), 4 requested time (ms),
 *       5 the entry without its time, as JSON.
 * Returns {0, actual} on a conflict ('' = absent), {1, stored time} on success.
 *
 * Reflog members are `<16-digit sequence><json>`: the sequence keeps members unique and breaks ties
 * between entries of the same millisecond in append order; the time is the score, raised to the
 * previous entry's time if it would go backwards.
 */
export const CAS_SCRIPT = `
local cur = redis.call('GET', KEYS[1])
if not cur then cur = '' end
if cur ~= ARGV[2] then return {0, cur} end
if ARGV[3] == '' then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
else
  redis.call('SET', KEYS[1], ARGV[3])
  redis.call('ZADD', KEYS[2], 0, ARGV[1])
end
local t = ARGV[4]
local last = redis.call('ZREVRANGE', KEYS[3], 0, 0, 'WITHSCORES')
if last[2] and tonumber(last[2]) > tonumber(t) then t = last[2] end
local seq = redis.call('INCR', KEYS[4])
redis.call('ZADD', KEYS[3], t, string.format('%016d', seq) .. ARGV[5])
return {1, t}
`;

export const CAS_SCRIPT_SHA = createHash('sha1').update(CAS_SCRIPT).digest('hex');

/** Length of the sequence prefix of a reflog member. */
export const SEQ_DIGITS = 16;
