// The timeline's own entries (app.contact_events). Notes, messages and stage changes
// live in their own tables and are merged in by the timeline query; this records the
// rest: created, imported, list changes, status/owner changes, trash and restore.
import type { Tx } from '../db/index.ts';

export type ContactEventKind =
  | 'created'
  | 'imported'
  | 'updated'
  | 'deleted'
  | 'restored'
  | 'list_added'
  | 'list_removed'
  | 'status_changed'
  | 'owner_changed'
  | 'opted_out'
  | 'opted_in';

/** Record one event; the actor is the transaction's user (NULL for the service role). */
export async function recordContactEvent(
  tx: Tx,
  businessId: string,
  contactId: string,
  kind: ContactEventKind,
  details: Record<string, unknown> = {},
): Promise<void> {
  await tx.query(
    `INSERT INTO app.contact_events (business_id, contact_id, kind, actor_id, details)
     VALUES ($1, $2, $3, (select app.uid()), $4::jsonb)`,
    [businessId, contactId, kind, JSON.stringify(details)],
  );
}

/** The same event for many contacts in one statement (bulk list changes, imports). */
export async function recordContactEvents(
  tx: Tx,
  businessId: string,
  contactIds: readonly string[],
  kind: ContactEventKind,
  details: Record<string, unknown> = {},
): Promise<void> {
  if (contactIds.length === 0) return;
  await tx.query(
    `INSERT INTO app.contact_events (business_id, contact_id, kind, actor_id, details)
     SELECT $1, c, $3, (select app.uid()), $4::jsonb FROM unnest($2::uuid[]) AS c`,
    [businessId, contactIds, kind, JSON.stringify(details)],
  );
}
