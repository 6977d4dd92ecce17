// The integration audit log (P6). This module is the ONLY writer of
// audit.integration_events: every Twilio configuration change and Google
// connect/disconnect calls recordIntegrationChange with the transaction that makes
// the change, so a failed change leaves no row and a failed audit write rolls the
// change back (the database also refuses a change without its row: see 0005).
//
// Rows form a SHA-256 chain per business: hash = SHA-256 of a canonical JSON array of
// the row's fields and the previous row's hash. The chain makes an edit, insertion or
// deletion inside the history detectable by `capto audit verify`, even by someone who
// disabled the append-only triggers.
import { createHash } from 'node:crypto';
import type { Tx } from '../db/index.ts';

/** The closed set of audited actions. */
export type IntegrationAuditAction =
  | 'twilio.config.added'
  | 'twilio.config.removed'
  | 'twilio.config.default_set'
  | 'twilio.config.updated'
  | 'google.connected'
  | 'google.disconnected'
  | 'google.scopes_added'
  | 'email.sender.added'
  | 'email.sender.removed'
  | 'email.sender.default_set'
  | 'email.sender.updated'
  | 'ai.provider.set'
  | 'ai.provider.removed'
  | 'gbp.location.attached'
  | 'gbp.location.detached';

/** What a row may say about its subject: display data only, never a credential. */
export type AuditDetails = {
  friendly_name?: string;
  phone_number?: string;
  account_sid_masked?: string;
  google_email?: string;
  /** Incremental consent: the scopes Google granted on top of those held (space-separated). */
  scopes_added?: string;
  is_default?: boolean;
  reason?: string;
  // email senders: where mail goes and as whom — never the password
  kind?: string;
  from_name?: string;
  from_email?: string;
  host?: string;
  port?: number;
  security?: string;
  username?: string;
  changed?: string[];
  /** Twilio configuration changes: the number's throughput cap, before and after. */
  messages_per_second?: number;
  previous_messages_per_second?: number;
  /** AI provider changes: the kind, the model and the base URL's host (never the key). */
  provider?: string;
  model?: string;
  base_url_host?: string;
  /** Business Profile location changes: Google's location name and its title. */
  location_name?: string;
  location_title?: string;
};

export interface IntegrationChange {
  businessId: string;
  actorUserId: string;
  action: IntegrationAuditAction;
  subjectId: string | null;
  details: AuditDetails;
  ip?: string | null;
  userAgent?: string | null;
}

/** A row as the chain sees it (timestamps in the fixed text form below). */
export interface ChainedEvent {
  prev_hash: string | null;
  business_id: string;
  occurred_at: string;
  actor_user_id: string | null;
  actor_email: string | null;
  action: string;
  subject_id: string | null;
  details: unknown;
  ip: string | null;
  user_agent: string | null;
}

/** occurred_at rendered the same way on write and on verify: UTC, microseconds. */
export const OCCURRED_AT_TEXT = `to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** JSON with object keys sorted at every level, so jsonb's reordering cannot change a hash. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export function eventHash(e: ChainedEvent): string {
  const material = canonicalJson([
    'capto.audit.v1',
    e.prev_hash,
    e.business_id,
    e.occurred_at,
    e.actor_user_id,
    e.actor_email,
    e.action,
    e.subject_id,
    e.details ?? {},
    e.ip,
    e.user_agent,
  ]);
  return createHash('sha256').update(material, 'utf8').digest('hex');
}

/** The advisory lock key shared with the database trigger (audit.prepare_integration_event). */
const LOCK_SQL = `SELECT pg_advisory_xact_lock(hashtextextended('capto.audit:' || $1::text, 0))`;

/**
 * Append one audit row in `tx` (a capto_service transaction that also makes the
 * change). Returns the new row's id.
 */
export async function recordIntegrationChange(
  tx: Tx,
  change: IntegrationChange,
): Promise<{ id: string; hash: string }> {
  // Serialise writers of this business before reading the head: two concurrent
  // changes must not both link to the same previous hash.
  await tx.query(LOCK_SQL, [change.businessId]);
  const head = await tx.query<{ hash: string | null; now: string; email: string | null }>(
    `SELECT (SELECT e.hash FROM audit.integration_events e WHERE e.business_id = $1 ORDER BY e.seq DESC LIMIT 1) AS hash,
            to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS now,
            (SELECT u.email::text FROM auth.users u WHERE u.id = $2) AS email`,
    [change.businessId, change.actorUserId],
  );
  const row = head.rows[0]!;
  const details = JSON.parse(canonicalJson(change.details)) as Record<string, unknown>;
  const event: ChainedEvent = {
    prev_hash: row.hash,
    business_id: change.businessId.toLowerCase(),
    // now() is the transaction's start time; the trigger sets occurred_at to the same value.
    occurred_at: row.now,
    actor_user_id: change.actorUserId.toLowerCase(),
    actor_email: row.email,
    action: change.action,
    subject_id: change.subjectId?.toLowerCase() ?? null,
    details,
    ip: change.ip?.slice(0, 64) ?? null,
    user_agent: change.userAgent?.slice(0, 512) ?? null,
  };
  const hash = eventHash(event);
  const inserted = await tx.query<{ id: string; occurred: string }>(
    `INSERT INTO audit.integration_events
       (business_id, actor_user_id, actor_email, action, subject_id, details, ip, user_agent, prev_hash, hash)
     VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10)
     RETURNING id, ${OCCURRED_AT_TEXT} AS occurred`,
    [
      event.business_id,
      event.actor_user_id,
      event.actor_email,
      event.action,
      event.subject_id,
      JSON.stringify(details),
      event.ip,
      event.user_agent,
      event.prev_hash,
      hash,
    ],
  );
  const out = inserted.rows[0]!;
  // Defensive: the chain is only verifiable if what we hashed is what was stored.
  if (out.occurred !== event.occurred_at) throw new Error('audit: occurred_at differs from the hashed value');
  return { id: out.id, hash };
}

export interface AuditPage {
  items: Array<{
    id: string;
    seq: number;
    occurred_at: string;
    actor_user_id: string | null;
    actor_email: string | null;
    action: IntegrationAuditAction;
    subject_id: string | null;
    details: AuditDetails;
    ip: string | null;
    user_agent: string | null;
  }>;
  next_cursor: string | null;
}

/** Newest first, keyset-paged by seq. `tx` is the caller's user transaction: RLS decides who reads. */
export async function listIntegrationEvents(
  tx: Tx,
  businessId: string,
  page: { limit: number; cursor?: string },
): Promise<AuditPage> {
  const before = page.cursor !== undefined ? Number(page.cursor) : null;
  const r = await tx.query<AuditPage['items'][number] & { seq: string }>(
    `SELECT id, seq::text AS seq, ${OCCURRED_AT_TEXT} AS occurred_at, actor_user_id, actor_email, action, subject_id, details, ip, user_agent
       FROM audit.integration_events e
      WHERE e.business_id = $1 AND ($2::bigint IS NULL OR e.seq < $2::bigint)
      ORDER BY e.seq DESC
      LIMIT $3`,
    [businessId, before, page.limit + 1],
  );
  const rows = r.rows.slice(0, page.limit).map((x) => ({ ...x, seq: Number(x.seq) }));
  return { items: rows, next_cursor: r.rows.length > page.limit ? String(rows[rows.length - 1]!.seq) : null };
}
