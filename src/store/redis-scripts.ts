/**
 * The Redis store's wire: its Lua scripts (each one atomic on the server, timed by Redis's own
 * clock) and the zod schemas every value read back from Redis or pub/sub is parsed with.
 */
import { z } from 'zod';

const NOW_MS = "local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)";

// KEYS[1] slots zset; ARGV: sid, max, leaseMs → 1 claimed (or already held), 0 full
export const CLAIM = `${NOW_MS}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1]) return 1 end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
return 1`;

// KEYS[1] slots; ARGV: keyPrefix, leaseMs, then (sid, json) pairs → writes each entry and its slot lease
export const REGISTER = `${NOW_MS}
local lease = tonumber(ARGV[2])
for i = 3, #ARGV, 2 do
  redis.call('SET', ARGV[1] .. ARGV[i], ARGV[i + 1], 'PX', lease)
  redis.call('ZADD', KEYS[1], now + lease, ARGV[i])
end
return 1`;

// KEYS[1] slots; ARGV[1] call-key prefix → JSON of each live entry
export const LIST = `${NOW_MS}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local sids = redis.call('ZRANGE', KEYS[1], 0, -1)
local out = {}
for _, sid in ipairs(sids) do
  local v = redis.call('GET', ARGV[1] .. sid)
  if v then out[#out + 1] = v end
end
return out`;

// KEYS[1] slots, KEYS[2] the call's entry; ARGV[1] sid, ARGV[2] owner ('' = any)
export const RELEASE = `local v = redis.call('GET', KEYS[2])
if ARGV[2] ~= '' and v then
  local ok, e = pcall(cjson.decode, v)
  if ok and type(e) == 'table' and e.replica ~= ARGV[2] then return 0 end
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
return 1`;

export const COUNT = `${NOW_MS}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZCARD', KEYS[1])`;

// KEYS[1] counter; ARGV[1] window ms → count in the window
export const INCR_WINDOW = `local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1])) end
return n`;

// KEYS[1] ended marker, KEYS[2] seen marker, KEYS[3] first answer; ARGV[1] remember ms
// → {'ended'} | {'new'} (claimed now) | {'answered', twiml} | {'seen'}
export const CLAIM_CALL = `if redis.call('EXISTS', KEYS[1]) == 1 then return {'ended'} end
if redis.call('SET', KEYS[2], '1', 'PX', tonumber(ARGV[1]), 'NX') then return {'new'} end
local a = redis.call('GET', KEYS[3])
if a then return {'answered', a} end
return {'seen'}`;

// KEYS[1] parked entry; ARGV[1] reason, ARGV[2] nonce ('' = any) → the entry (taken) | 'stale' (left parked) | false (none)
export const UNPARK_IF = `local v = redis.call('GET', KEYS[1])
if not v then return false end
local ok, e = pcall(cjson.decode, v)
if not ok or type(e) ~= 'table' or e.reason ~= ARGV[1] then return 'stale' end
if ARGV[2] ~= '' and e.nonce ~= ARGV[2] then return 'stale' end
redis.call('DEL', KEYS[1])
return v`;

export const entrySchema = z.object({
  callSid: z.string(),
  replica: z.string(),
  agent: z.string(),
  from: z.string().optional(),
  to: z.string().optional(),
  startedAt: z.number(),
  status: z.string(),
});
export const parkedSchema = z.object({
  callSid: z.string(),
  agent: z.string(),
  from: z.string().optional(),
  to: z.string().optional(),
  direction: z.string().optional(),
  turns: z
    .array(z.object({ role: z.enum(['user', 'assistant', 'system']), text: z.string(), atMs: z.number() }))
    .max(1000),
  reason: z.enum(['transfer', 'moved']),
  note: z.string().max(2000).optional(),
  nonce: z.string().max(64).optional(),
});
export const controlRequestSchema = z.object({
  id: z.string().max(64),
  from: z.string().max(128),
  callSid: z.string().max(64),
  cmd: z.union([
    z.object({ op: z.literal('hangup'), by: z.string().max(64).optional() }),
    z.object({ op: z.literal('transfer'), target: z.string().max(256).optional(), by: z.string().max(64).optional() }),
    z.object({
      op: z.literal('warm_accept'),
      nonce: z.string().max(64),
      humanSid: z.string().max(64),
      digits: z.string().max(32).optional(),
    }),
    z.object({
      op: z.literal('warm_status'),
      nonce: z.string().max(64),
      humanSid: z.string().max(64),
      status: z.string().max(32),
    }),
  ]),
});
export const controlReplySchema = z.object({
  id: z.string(),
  status: z.number(),
  body: z.record(z.string(), z.unknown()),
});

export function parseJson<T>(schema: z.ZodType<T>, raw: string | null | undefined): T | undefined {
  if (!raw) return undefined;
  try {
    const r = schema.safeParse(JSON.parse(raw));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}
