// Limits on invitation mail (docs/SECURITY.md "Mail the app sends"). An invitation is a
// mail from our domain to any address, with a subject carrying a business name the
// inviter chose: without limits one account could flood an address (or many) through us.
// Three fixed-window budgets, checked in this order and only once the caller is known
// to be allowed to invite (a member's 403 costs nothing):
//   inviter    — one account, whatever business it invites for (an attacker can create
//                businesses at will, so a per-business budget alone is not enough);
//   business   — all of one business's admins together;
//   recipient  — one address, from every business on this installation.
// The first budget that is spent refuses the invitation, and the later ones are not
// counted, so an inviter who is refused for her own budget does not use up an address's.
// Counters are shared by every node through Redis when REDIS_URL is set (keys
// capto-rl:invite.<scope>:<hmac>, no plain address), in memory otherwise; a Redis
// failure fails open like the auth limits (logged). A refusal is a 429 with retry_after
// and a `rate_limited` auth event of the inviter.
import type { FastifyRequest } from 'fastify';
import { recordAuthEvent } from '../auth/events.ts';
import type { Config } from '../config/index.ts';
import type { Database } from '../db/index.ts';
import type { Logger } from '../observability/logger.ts';
import { AppError } from '../shared/errors.ts';
import { createRateCounter } from '../shared/rate-counter.ts';

export const INVITATION_LIMITS = ['inviter', 'business', 'recipient'] as const;
export type InvitationLimit = (typeof INVITATION_LIMITS)[number];

const REFUSAL: Record<InvitationLimit, string> = {
  inviter: 'you have sent too many invitations for now',
  business: 'this business has sent too many invitations for now',
  recipient: 'this address has received too many invitations for now',
};

export interface InvitationAttempt {
  inviterId: string;
  sessionId: string | null;
  businessId: string;
  email: string;
}

export interface InvitationLimits {
  /** Count one invitation mail; throws 429 rate_limited (recorded) when a budget is spent. */
  admit(request: FastifyRequest, attempt: InvitationAttempt): Promise<void>;
  close(): void;
}

export interface InvitationLimitsDeps {
  config: Pick<Config, 'redisUrl' | 'inviteRateLimit'>;
  db: Database;
  logger: Logger;
  /** HMAC key of the counter keys, derived from the master key (same on every node). */
  keySecret: Buffer;
}

export function createInvitationLimits(deps: InvitationLimitsDeps): InvitationLimits {
  const { windowSeconds, perInviter, perBusiness, perRecipient } = deps.config.inviteRateLimit;
  const counter = createRateCounter({
    redisUrl: deps.config.redisUrl,
    secret: deps.keySecret,
    onError: (e) => deps.logger.warn({ err_message: e.message }, 'rate-limit store (Redis) error'),
  });
  const budgets: Array<[InvitationLimit, number, (a: InvitationAttempt) => string]> = [
    ['inviter', perInviter, (a) => a.inviterId],
    ['business', perBusiness, (a) => a.businessId],
    ['recipient', perRecipient, (a) => a.email.trim().toLowerCase()],
  ];

  const record = async (request: FastifyRequest, attempt: InvitationAttempt, limit: InvitationLimit) => {
    const ua = request.headers['user-agent'];
    request.log.warn(
      { business_id: attempt.businessId, user_id: attempt.inviterId, limit },
      'invitation limit reached',
    );
    await deps.db
      .asService('tenancy.invitation_limited', (tx) =>
        recordAuthEvent(tx, {
          type: 'rate_limited',
          userId: attempt.inviterId,
          sessionId: attempt.sessionId,
          ip: request.ip,
          userAgent: typeof ua === 'string' ? ua : null,
          // Never the invited address: the event is the inviter's, and she may read it.
          details: { action: 'invite', limit, business_id: attempt.businessId },
        }),
      )
      .catch((e: unknown) => deps.logger.error({ err: e }, 'could not record the invitation refusal'));
  };

  return {
    async admit(request, attempt) {
      for (const [limit, max, subject] of budgets) {
        const hit = await counter.hit(`invite.${limit}`, subject(attempt), windowSeconds * 1000);
        if (!hit || hit.count <= max) continue;
        await record(request, attempt, limit);
        const retryAfter = Math.max(1, Math.ceil(hit.ttlMs / 1000));
        throw new AppError('rate_limited', `${REFUSAL[limit]}; try again in ${retryAfter} s`, {
          details: { retry_after: retryAfter, limit },
        });
      }
    },
    close() {
      counter.close();
    },
  };
}
