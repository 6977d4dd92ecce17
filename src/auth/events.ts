// Authentication events (P10): one closed set of types, written to auth.audit_events
// in the caller's transaction (as capto_service) and to the structured log. Details
// must never carry a secret; the logger's redaction is a second net, not the first.
import type { Tx } from '../db/index.ts';
import type { Logger } from '../observability/logger.ts';
import { metrics } from '../observability/metrics.ts';

export const AUTH_EVENT_TYPES = [
  'sign_up',
  'sign_in',
  'sign_in_failed',
  'sign_out',
  'token_refreshed',
  'refresh_token_reused',
  'session_revoked',
  'password_changed',
  'password_reset_requested',
  'password_reset',
  'email_verified',
  'identity_linked',
  'password_check_pending',
  'rate_limited',
  // Workspaces: an owner deleted a business; migration 0003 allows it in the table.
  'business_deleted',
] as const;

export type AuthEventType = (typeof AUTH_EVENT_TYPES)[number];

export interface AuthEvent {
  type: AuthEventType;
  userId?: string | null;
  sessionId?: string | null;
  ip?: string | null;
  userAgent?: string | null;
  details?: Record<string, string | number | boolean | null>;
}

let eventLogger: Logger | undefined;

/** The composition root hands in the logger once; events are logged from then on. */
export function setAuthEventLogger(logger: Logger): void {
  eventLogger = logger;
}

export async function recordAuthEvent(tx: Tx, event: AuthEvent): Promise<void> {
  const userAgent = event.userAgent ? event.userAgent.slice(0, 512) : null;
  const ip = event.ip ? event.ip.slice(0, 64) : null;
  await tx.query(
    `INSERT INTO auth.audit_events (user_id, session_id, type, ip, user_agent, details) VALUES ($1, $2, $3, $4, $5, $6)`,
    [event.userId ?? null, event.sessionId ?? null, event.type, ip, userAgent, JSON.stringify(event.details ?? {})],
  );
  metrics.authEvents.inc({ type: event.type });
  eventLogger?.info(
    {
      auth_event: event.type,
      user_id: event.userId ?? null,
      session_id: event.sessionId ?? null,
      ip,
      user_agent: userAgent,
      details: event.details ?? {},
    },
    `auth event ${event.type}`,
  );
}
