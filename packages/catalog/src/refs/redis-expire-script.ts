import { createHash } from 'node:crypto';

/**
 * Reflog expiry of one ref as one Lua script, so it is atomic with the CAS script (redis-cas-script.ts)
 * on the same keys: a CAS lands wholly before or after it.
 *
 * KEYS: 1 value (string), 2 reflog (sorted set scored by time, members `<16-digit seq><json>`),
 *       3 reflog sequence counter.
 * ARGV: 1 before (ms; entries scored strictly below it are old).
 * Returns {entries removed, 1 if the ref was forgotten else 0}.
 *
 * Members of equal score sort by their sequence prefix, i.e. in append order, so ranks 0..old-1 are the
 * old entries oldest first and rank old-1 is the newest of them, the one kept. A deleted ref with only
 * old entries loses its reflog and its counter (a later create starts a fresh log).
 */
export const EXPIRE_SCRIPT = `
local old = redis.call('ZCOUNT', KEYS[2], '-inf', '(' .. ARGV[1])
if old == 0 then return {0, 0} end
if redis.call('EXISTS', KEYS[1]) == 0 and old == redis.call('ZCARD', KEYS[2]) then
  redis.call('DEL', KEYS[2], KEYS[3])
  return {old, 1}
end
if old > 1 then redis.call('ZREMRANGEBYRANK', KEYS[2], 0, old - 2) end
return {old - 1, 0}
`;

export const EXPIRE_SCRIPT_SHA = createHash('sha1').update(EXPIRE_SCRIPT).digest('hex');
