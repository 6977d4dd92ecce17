// A user's notifications (docs/ARCHITECTURE.md §12.1): listed,
// counted and marked read in the caller's own transaction. The policies of migration
// 0071 confine every statement to her rows of businesses she is still a member of, so
// nothing here filters by user for safety — only for the index.
import type { Tx } from '../db/index.ts';
import { AppError } from '../shared/errors.ts';
import { decodeCursor, isoSql, page } from '../crm/cursor.ts';

export const NOTIFICATION_KINDS = [
  'inbound_text',
  'task_due',
  'assignment',
  'import_finished',
  'invitation_accepted',
  'automation',
  'gbp_review',
] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];

export interface Notification {
  id: string;
  business_id: string;
  business_name: string;
  kind: NotificationKind;
  title: string;
  body: string;
  link: string | null;
  subject_id: string | null;
  created_at: string;
  read_at: string | null;
}

// Timestamps written by the database (`isoSql`, docs/ARCHITECTURE.md §3); k0 keeps the microseconds for `after`.
type Row = Notification & { k0: string };
const COLUMNS = `n.id, n.business_id, b.name AS business_name, n.kind, n.title, n.body, n.link, n.subject_id,
  ${isoSql('n.created_at')} AS created_at, ${isoSql('n.read_at')} AS read_at, n.created_at::text AS k0`;
const toNotification = (r: Row): Notification => ({
  id: r.id,
  business_id: r.business_id,
  business_name: r.business_name,
  kind: r.kind,
  title: r.title,
  body: r.body,
  link: r.link,
  subject_id: r.subject_id,
  created_at: r.created_at,
  read_at: r.read_at,
});

export interface NotificationQuery {
  limit: number;
  cursor?: string;
  unread?: boolean;
  business_id?: string;
}

export async function listNotifications(
  tx: Tx,
  query: NotificationQuery,
): Promise<{ items: Notification[]; next_cursor: string | null }> {
  const params: unknown[] = [];
  const p = (v: unknown) => `$${params.push(v)}`;
  const where = ['n.user_id = (select app.uid())'];
  if (query.unread) where.push('n.read_at IS NULL');
  if (query.business_id) where.push(`n.business_id = ${p(query.business_id)}::uuid`);
  const cursor = decodeCursor(query.cursor, 2);
  if (cursor) where.push(`(n.created_at, n.id) < (${p(cursor[0])}::timestamptz, ${p(cursor[1])}::uuid)`);
  const r = await tx.query<Row>(
    `SELECT ${COLUMNS} FROM app.notifications n JOIN app.businesses b ON b.id = n.business_id
      WHERE ${where.join(' AND ')} ORDER BY n.created_at DESC, n.id DESC LIMIT ${p(query.limit + 1)}`,
    params,
  );
  const out = page(r.rows, query.limit, (row) => [row.k0, row.id]);
  return { items: out.items.map(toNotification), next_cursor: out.next_cursor };
}

/** How far back the stream looks again for rows whose transaction committed late. */
export const STREAM_LOOK_BACK_SECONDS = 120;

/**
 * The stream's catch-up (docs/ARCHITECTURE.md §12.1): the caller's notifications created
 * after `floor` (the stream's start, `created_at` as text: microseconds kept, §3) and within
 * STREAM_LOOK_BACK_SECONDS of `newest` (epoch seconds of the newest one it has sent), oldest
 * first, leaving out the ids it already sent. A row's `created_at` is its transaction's
 * start, and transactions commit out of that order: a position that only moved forward
 * would skip a row committed after a newer one was streamed, so the window looks back and
 * the ids keep anything from being sent twice.
 */
export async function notificationsSince(
  tx: Tx,
  q: { floor: string; newest: number | null; sent: string[]; limit: number },
): Promise<(Notification & { t: number })[]> {
  const r = await tx.query<Row & { t: number }>(
    `SELECT ${COLUMNS}, extract(epoch FROM n.created_at)::float8 AS t
       FROM app.notifications n JOIN app.businesses b ON b.id = n.business_id
      WHERE n.user_id = (select app.uid()) AND n.created_at > $1::timestamptz
        AND ($2::float8 IS NULL OR n.created_at > to_timestamp($2::float8) - make_interval(secs => $3))
        AND n.id <> ALL ($4::uuid[])
      ORDER BY n.created_at, n.id LIMIT $5`,
    [q.floor, q.newest, STREAM_LOOK_BACK_SECONDS, q.sent, q.limit],
  );
  return r.rows.map((row) => ({ ...toNotification(row), t: Number(row.t) }));
}

/** The caller's newest notification's position (`created_at` as text), if any. */
export async function newestNotificationAt(tx: Tx): Promise<string | null> {
  const r = await tx.query<{ k0: string }>(
    `SELECT n.created_at::text AS k0 FROM app.notifications n WHERE n.user_id = (select app.uid())
      ORDER BY n.created_at DESC LIMIT 1`,
  );
  return r.rows[0]?.k0 ?? null;
}

export async function unreadCount(tx: Tx, businessId?: string): Promise<number> {
  const r = await tx.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM app.notifications n
      WHERE n.user_id = (select app.uid()) AND n.read_at IS NULL AND ($1::uuid IS NULL OR n.business_id = $1)`,
    [businessId ?? null],
  );
  return r.rows[0]?.n ?? 0;
}

/** Marks the given notifications (or all, optionally of one business) read; returns the new unread count. */
export async function markRead(
  tx: Tx,
  input: { ids?: string[]; all?: boolean; business_id?: string },
): Promise<{ updated: number; unread_count: number }> {
  if (!input.all && (!input.ids || input.ids.length === 0))
    throw new AppError('validation_failed', 'Say which notifications to mark read (ids) or all');
  const r = await tx.query(
    `UPDATE app.notifications n SET read_at = now()
      WHERE n.user_id = (select app.uid()) AND n.read_at IS NULL
        AND ($1::uuid[] IS NULL OR n.id = ANY($1::uuid[])) AND ($2::uuid IS NULL OR n.business_id = $2)`,
    [input.all ? null : input.ids, input.business_id ?? null],
  );
  return { updated: r.rowCount, unread_count: await unreadCount(tx) };
}

// --- settings ----------------------------------------------------------------------
export interface NotificationSettings {
  time_zone: string;
  digest_hour: number;
  email_kinds: NotificationKind[];
}

export const DEFAULT_SETTINGS: NotificationSettings = {
  time_zone: 'America/New_York',
  digest_hour: 8,
  email_kinds: [],
};

export async function getSettings(tx: Tx): Promise<NotificationSettings> {
  const r = await tx.query<NotificationSettings>(
    `SELECT time_zone, digest_hour, email_kinds FROM app.notification_settings WHERE user_id = (select app.uid())`,
  );
  return r.rows[0] ?? DEFAULT_SETTINGS;
}

export async function putSettings(tx: Tx, input: NotificationSettings): Promise<NotificationSettings> {
  const tz = await tx.query<{ ok: boolean }>('SELECT app.is_time_zone($1) AS ok', [input.time_zone]);
  if (tz.rows[0]?.ok !== true)
    throw new AppError('validation_failed', 'Time zone must be an IANA name such as America/Chicago');
  const r = await tx.query<NotificationSettings>(
    `INSERT INTO app.notification_settings AS s (user_id, time_zone, digest_hour, email_kinds)
     VALUES ((select app.uid()), $1, $2, $3::text[])
     ON CONFLICT (user_id) DO UPDATE SET time_zone = EXCLUDED.time_zone, digest_hour = EXCLUDED.digest_hour,
       email_kinds = EXCLUDED.email_kinds
     RETURNING s.time_zone, s.digest_hour, s.email_kinds`,
    [input.time_zone, input.digest_hour, [...new Set(input.email_kinds)]],
  );
  return r.rows[0]!;
}
