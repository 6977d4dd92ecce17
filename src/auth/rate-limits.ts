// Rate limits on the credential endpoints (ASVS 6.3.1): per client IP
// (a route hook of @fastify/rate-limit) and per account (the email, or the session,
// checked once the body is parsed). Fixed windows, no permanent lockout: an attacker
// can slow a victim's sign-in for one window, never lock her out. Counters live in
// Redis when REDIS_URL is set, so every app node shares them; in memory otherwise.
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { connectRedis } from '../shared/redis.ts';
import type { Config } from '../config/index.ts';
import type { Database } from '../db/index.ts';
import { AppError } from '../shared/errors.ts';
import { createRateCounter } from '../shared/rate-counter.ts';
import { recordAuthEvent } from './events.ts';
import { requestMeta } from './http.ts';

export type LimitedAction = 'signin' | 'signup' | 'forgot' | 'reset' | 'refresh' | 'verify' | 'password';

// Refresh is routine (every few minutes per open tab, many users behind one office
// NAT), so its per-IP budget is larger than the credential-guessing endpoints'.
const IP_MULTIPLIER: Record<LimitedAction, number> = {
  signin: 1,
  signup: 1,
  forgot: 1,
  reset: 1,
  refresh: 10,
  verify: 1,
  password: 1,
};

export interface AuthRateLimits {
  /** Route config for the per-IP limit of an action. */
  perIp(action: LimitedAction): { rateLimit: Record<string, unknown> };
  /** Count one attempt against an account key (an email, a user id); throws 429 beyond the limit. */
  perAccount(request: FastifyRequest, reply: FastifyReply, action: LimitedAction, account: string): Promise<void>;
  /**
   * Spend one of an address's account mails (password reset, verification resend): a
   * mail the app sends to an address whoever asks for it. Per hour, shared by every node.
   */
  spendMail(address: string): Promise<{ allowed: true } | { allowed: false; retryAfter: number }>;
  close(): Promise<void>;
}

export async function installAuthRateLimits(
  app: FastifyInstance,
  config: Config,
  db: Database,
  /** HMAC key for per-account counter keys (no plain email in Redis): derived from the master key. */
  keySecret: Buffer,
): Promise<AuthRateLimits> {
  const { windowSeconds, perIp, perAccount } = config.authRateLimit;
  const redis = config.redisUrl
    ? connectRedis(config.redisUrl, { maxRetriesPerRequest: 1, connectTimeout: 2_000 })
    : undefined;
  redis?.on('error', (e: Error) => app.log.warn({ err_message: e.message }, 'rate-limit store (Redis) error'));
  const limited = (request: FastifyRequest, key: string) => {
    request.log.warn({ rate_limit_key_kind: key.split(':')[1] }, 'auth rate limit reached');
    return db
      .asService('auth.rate_limited', (tx) =>
        recordAuthEvent(tx, {
          type: 'rate_limited',
          ...requestMeta(request),
          details: { action: key.split(':')[0] ?? 'unknown' },
        }),
      )
      .catch(() => undefined);
  };
  await app.register(rateLimit, {
    global: false,
    redis,
    nameSpace: 'capto-rl:',
    // Fail open when Redis is unreachable: every attempt still costs an argon2id verify,
    // and a Redis outage must not become a sign-in outage (the error is logged).
    skipOnError: true,
    timeWindow: windowSeconds * 1000,
    // retry_after in the body too, like every other 429 (the plugin also sets Retry-After).
    errorResponseBuilder: (_request, context) =>
      new AppError('rate_limited', 'too many attempts; wait a little and try again', {
        details: { retry_after: Math.max(1, Math.ceil(context.ttl / 1000)) },
      }),
  });
  // Per-account counters: our own keys (capto-rl:acct.<action>:<hmac>), never the plain
  // email, and never @fastify/rate-limit's createRateLimit, whose Redis keys carry
  // "undefinedundefined" for the missing route.
  const accounts = createRateCounter({
    redisUrl: config.redisUrl,
    secret: keySecret,
    onError: (e) => app.log.warn({ err_message: e.message }, 'rate-limit store (Redis) error'),
  });
  return {
    perIp(action) {
      return {
        rateLimit: {
          max: perIp * IP_MULTIPLIER[action],
          timeWindow: windowSeconds * 1000,
          keyGenerator: (req: FastifyRequest) => `${action}:ip:${req.ip}`,
          onExceeded: (req: FastifyRequest, key: string) => void limited(req, key),
        },
      };
    },
    async perAccount(request, reply, action, account) {
      const hit = await accounts.hit(`acct.${action}`, account.toLowerCase(), windowSeconds * 1000);
      if (hit && hit.count > perAccount) {
        await limited(request, `${action}:acct`);
        throw new AppError('rate_limited', 'too many attempts for this account; wait a little and try again', {
          details: { retry_after: Math.max(1, Math.ceil(hit.ttlMs / 1000)) },
        });
      }
    },
    async spendMail(address) {
      const hit = await accounts.hit('acct.mail', address.toLowerCase(), 3_600_000);
      if (!hit || hit.count <= config.authRateLimit.mailsPerHour) return { allowed: true };
      return { allowed: false, retryAfter: Math.max(1, Math.ceil(hit.ttlMs / 1000)) };
    },
    async close() {
      redis?.disconnect();
      accounts.close();
    },
  };
}
