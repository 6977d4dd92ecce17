// Fixed-window counters for limits keyed by who or what is targeted (an account, an
// inviter, a recipient address) rather than by route: shared by every node through
// Redis when REDIS_URL is set, in memory otherwise (docs/SECURITY.md "Rate limits").
// Keys never carry the plain subject: it is HMAC-SHA256'd with a key derived from the
// master key (same on every node), so a Redis reader learns no email address, and a
// key is always `<prefix><scope>:<32 hex>` — never "undefined".
import { createHmac } from 'node:crypto';
import { connectRedis } from './redis.ts';

export interface RateHit {
  count: number;
  /** Milliseconds until the window ends. */
  ttlMs: number;
}

export interface RateCounter {
  /** Count one hit for `subject` in `scope`; undefined when the store failed (callers fail open). */
  hit(scope: string, subject: string, windowMs: number): Promise<RateHit | undefined>;
  /** The key a hit is stored under (for tests and operators: no plain subject). */
  keyOf(scope: string, subject: string): string;
  close(): void;
}

export interface RateCounterOptions {
  redisUrl?: string;
  /** 32 bytes; derive it from the master key so every node computes the same keys. */
  secret: Buffer;
  prefix?: string;
  onError?: (e: Error) => void;
}

const SCOPE = /^[a-z][a-z0-9_.-]{0,40}$/;
const HIT_SCRIPT = `local c = redis.call('INCR', KEYS[1])
if c == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local t = redis.call('PTTL', KEYS[1])
if t < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); t = tonumber(ARGV[1]) end
return {c, t}`;

export function createRateCounter(options: RateCounterOptions): RateCounter {
  const prefix = options.prefix ?? 'capto-rl:';
  const redis = options.redisUrl
    ? connectRedis(options.redisUrl, { maxRetriesPerRequest: 1, connectTimeout: 2_000, lazyConnect: false })
    : undefined;
  redis?.on('error', (e: Error) => options.onError?.(e));
  const memory = new Map<string, { count: number; resetAt: number }>();

  const keyOf = (scope: string, subject: string) => {
    if (!SCOPE.test(scope)) throw new Error(`bad rate-limit scope ${JSON.stringify(scope)}`);
    const digest = createHmac('sha256', options.secret).update(`${scope}|${subject}`).digest('hex').slice(0, 32);
    return `${prefix}${scope}:${digest}`;
  };

  return {
    keyOf,
    async hit(scope, subject, windowMs) {
      const key = keyOf(scope, subject);
      if (redis) {
        try {
          const [count, ttl] = (await redis.eval(HIT_SCRIPT, 1, key, String(windowMs))) as [number, number];
          return { count: Number(count), ttlMs: Number(ttl) };
        } catch (e) {
          options.onError?.(e as Error);
          return undefined;
        }
      }
      const now = Date.now();
      if (memory.size > 50_000) for (const [k, v] of memory) if (v.resetAt <= now) memory.delete(k);
      let entry = memory.get(key);
      if (!entry || entry.resetAt <= now) {
        entry = { count: 0, resetAt: now + windowMs };
        memory.set(key, entry);
      }
      entry.count++;
      return { count: entry.count, ttlMs: entry.resetAt - now };
    },
    close() {
      redis?.disconnect();
    },
  };
}
