// Contacts: create, read, update, soft delete (the trash), restore, and the purge of
// contacts that have been in the trash for 30 days. Every function takes the caller's
// transaction first; RLS confines it to the caller's businesses, and every statement
// also names the business so an id from another business simply matches nothing (404).
import type { Tx } from '../db/index.ts';
import { AppError, notFound } from '../shared/errors.ts';
import { recordContactEvent } from './contact-events.ts';
import {
  normaliseEmail,
  normalisePhone,
  type ContactKind,
  type ContactSource,
  type ContactStatus,
} from './contact-fields.ts';
import { listCustomFields, mergeCustomValues, type CustomValues } from './custom-fields.ts';
import { isoSql } from './cursor.ts';

export const TRASH_DAYS = 30;

export interface Contact {
  id: string;
  business_id: string;
  first_name: string;
  last_name: string;
  phone: string | null;
  email: string | null;
  source: ContactSource;
  status: ContactStatus;
  kind: ContactKind;
  notes: string;
  owner_id: string | null;
  /** Custom field values by key (docs/ARCHITECTURE.md §12). */
  custom: CustomValues;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
}

export interface ContactInput {
  first_name?: string;
  last_name?: string;
  phone?: string | null;
  email?: string | null;
  source?: ContactSource;
  status?: ContactStatus;
  kind?: ContactKind;
  notes?: string;
  owner_id?: string | null;
  /** A patch of custom values: {key: value}, null removes the key. */
  custom?: Record<string, unknown>;
}

export const CONTACT_COLUMNS = `c.id, c.business_id, c.first_name, c.last_name, c.phone, c.email::text AS email, c.source,
  c.status, c.kind, c.notes, c.owner_id, c.custom, ${isoSql('c.created_at')} AS created_at,
  ${isoSql('c.updated_at')} AS updated_at, ${isoSql('c.deleted_at')} AS deleted_at`;

/** A row of CONTACT_COLUMNS: already the API's shape (timestamps written by the database, `isoSql`). */
type ContactRow = Contact;

export function toContact(r: ContactRow): Contact {
  return {
    id: r.id,
    business_id: r.business_id,
    first_name: r.first_name,
    last_name: r.last_name,
    phone: r.phone,
    email: r.email,
    source: r.source,
    status: r.status,
    kind: r.kind,
    notes: r.notes,
    owner_id: r.owner_id,
    custom: r.custom ?? {},
    created_at: r.created_at,
    updated_at: r.updated_at,
    deleted_at: r.deleted_at,
  };
}

/** Normalise the phone and email of an input; untouched fields stay undefined. */
function normalise(input: ContactInput): ContactInput {
  const out: ContactInput = { ...input };
  if (typeof input.first_name === 'string') out.first_name = input.first_name.trim();
  if (typeof input.last_name === 'string') out.last_name = input.last_name.trim();
  if (typeof input.phone === 'string') out.phone = input.phone.trim() === '' ? null : normalisePhone(input.phone);
  if (typeof input.email === 'string') out.email = input.email.trim() === '' ? null : normaliseEmail(input.email);
  return out;
}

async function assertOwnerIsMember(tx: Tx, businessId: string, ownerId: string | null | undefined): Promise<void> {
  if (!ownerId) return;
  const r = await tx.query('SELECT 1 FROM app.memberships WHERE business_id = $1 AND user_id = $2', [
    businessId,
    ownerId,
  ]);
  if (r.rowCount === 0) throw new AppError('validation_failed', 'owner_id must be a member of this business');
}

/** A live contact of the business with this email or phone (other than `exceptId`), if any. */
export async function findDuplicate(
  tx: Tx,
  businessId: string,
  email: string | null | undefined,
  phone: string | null | undefined,
  exceptId?: string,
): Promise<string | undefined> {
  if (!email && !phone) return undefined;
  const r = await tx.query<{ id: string }>(
    `SELECT id FROM app.contacts
      WHERE business_id = $1 AND deleted_at IS NULL AND id IS DISTINCT FROM $4::uuid
        AND (email = $2 OR phone = $3)
      ORDER BY created_at LIMIT 1`,
    [businessId, email ?? null, phone ?? null, exceptId ?? null],
  );
  return r.rows[0]?.id;
}

function duplicate(existingId: string): AppError {
  return new AppError('duplicate_contact', 'a contact with this email or phone already exists', {
    details: { existing_id: existingId },
  });
}

export async function createContact(tx: Tx, businessId: string, input: ContactInput): Promise<Contact> {
  const c = normalise(input);
  if (!c.first_name && !c.last_name && !c.phone && !c.email) {
    throw new AppError('validation_failed', 'a contact needs a name, a phone or an email');
  }
  await assertOwnerIsMember(tx, businessId, c.owner_id);
  const custom =
    input.custom && Object.keys(input.custom).length > 0
      ? mergeCustomValues(await listCustomFields(tx, businessId, 'contact'), {}, input.custom)
      : {};
  const existing = await findDuplicate(tx, businessId, c.email, c.phone);
  if (existing) throw duplicate(existing);
  // ON CONFLICT: a concurrent create of the same email/phone loses to the unique index
  // instead of failing the transaction; we then report the winner as the duplicate.
  const r = await tx.query<ContactRow>(
    `INSERT INTO app.contacts AS c (business_id, first_name, last_name, phone, email, source, status, notes, owner_id, kind, custom)
     VALUES ($1, $2, $3, $4, $5, coalesce($6::app.contact_source, 'manual'), coalesce($7::app.contact_status, 'lead'), $8,
             CASE WHEN $10 THEN $9::uuid ELSE (select app.uid()) END, coalesce($11::app.contact_kind, 'person'), $12::jsonb)
     ON CONFLICT DO NOTHING
     RETURNING ${CONTACT_COLUMNS}`,
    [
      businessId,
      c.first_name ?? '',
      c.last_name ?? '',
      c.phone ?? null,
      c.email ?? null,
      c.source ?? null,
      c.status ?? null,
      c.notes ?? '',
      c.owner_id ?? null,
      c.owner_id !== undefined,
      c.kind ?? null,
      JSON.stringify(custom),
    ],
  );
  const row = r.rows[0];
  if (!row) throw duplicate((await findDuplicate(tx, businessId, c.email, c.phone)) ?? '');
  await recordContactEvent(tx, businessId, row.id, 'created', { source: row.source });
  return toContact(row);
}

export async function getContact(tx: Tx, businessId: string, id: string): Promise<Contact> {
  const r = await tx.query<ContactRow>(
    `SELECT ${CONTACT_COLUMNS} FROM app.contacts c WHERE c.business_id = $1 AND c.id = $2`,
    [businessId, id],
    { prepared: true }, // the contact page
  );
  if (!r.rows[0]) throw notFound('contact');
  return toContact(r.rows[0]);
}

const UPDATABLE = [
  'first_name',
  'last_name',
  'phone',
  'email',
  'source',
  'status',
  'kind',
  'notes',
  'owner_id',
] as const;

export async function updateContact(tx: Tx, businessId: string, id: string, input: ContactInput): Promise<Contact> {
  const c = normalise(input);
  // Lock the row: the duplicate check and the write must see the same contact.
  const before = await tx.query<ContactRow>(
    `SELECT ${CONTACT_COLUMNS} FROM app.contacts c WHERE c.business_id = $1 AND c.id = $2 AND c.deleted_at IS NULL FOR UPDATE`,
    [businessId, id],
  );
  const old = before.rows[0];
  if (!old) throw notFound('contact');
  const fields: string[] = UPDATABLE.filter((f) => c[f] !== undefined && c[f] !== old[f]);
  let custom = old.custom ?? {};
  if (input.custom && Object.keys(input.custom).length > 0) {
    custom = mergeCustomValues(await listCustomFields(tx, businessId, 'contact'), custom, input.custom);
    if (JSON.stringify(custom) !== JSON.stringify(old.custom ?? {})) fields.push('custom');
  }
  if (fields.length === 0) return toContact(old);
  if (fields.includes('owner_id')) await assertOwnerIsMember(tx, businessId, c.owner_id);
  const next = {
    ...old,
    ...Object.fromEntries(UPDATABLE.filter((f) => fields.includes(f)).map((f) => [f, c[f]])),
  } as ContactRow;
  if (!next.first_name && !next.last_name && !next.phone && !next.email) {
    throw new AppError('validation_failed', 'a contact needs a name, a phone or an email');
  }
  if (fields.includes('email') || fields.includes('phone')) {
    const dup = await findDuplicate(
      tx,
      businessId,
      fields.includes('email') ? next.email : null,
      fields.includes('phone') ? next.phone : null,
      id,
    );
    if (dup) throw duplicate(dup);
  }
  const r = await tx.query<ContactRow>(
    `UPDATE app.contacts c SET first_name = $3, last_name = $4, phone = $5, email = $6, source = $7, status = $8, notes = $9, owner_id = $10,
        kind = $11, custom = $12::jsonb
      WHERE c.business_id = $1 AND c.id = $2 RETURNING ${CONTACT_COLUMNS}`,
    [
      businessId,
      id,
      next.first_name,
      next.last_name,
      next.phone,
      next.email,
      next.source,
      next.status,
      next.notes,
      next.owner_id,
      next.kind,
      JSON.stringify(custom),
    ],
  );
  if (fields.includes('status'))
    await recordContactEvent(tx, businessId, id, 'status_changed', { from: old.status, to: next.status });
  if (fields.includes('owner_id'))
    await recordContactEvent(tx, businessId, id, 'owner_changed', { from: old.owner_id, to: next.owner_id });
  const other = fields.filter((f) => f !== 'status' && f !== 'owner_id');
  if (other.length > 0) await recordContactEvent(tx, businessId, id, 'updated', { fields: other });
  return toContact(r.rows[0]!);
}

/** Move a contact to the trash; it can be restored for TRASH_DAYS days. */
export async function trashContact(tx: Tx, businessId: string, id: string): Promise<Contact> {
  const r = await tx.query<ContactRow>(
    `UPDATE app.contacts c SET deleted_at = now() WHERE c.business_id = $1 AND c.id = $2 AND c.deleted_at IS NULL RETURNING ${CONTACT_COLUMNS}`,
    [businessId, id],
  );
  if (!r.rows[0]) throw notFound('contact');
  await recordContactEvent(tx, businessId, id, 'deleted');
  return toContact(r.rows[0]);
}

export async function restoreContact(tx: Tx, businessId: string, id: string): Promise<Contact> {
  const r0 = await tx.query<ContactRow>(
    `SELECT ${CONTACT_COLUMNS} FROM app.contacts c
      WHERE c.business_id = $1 AND c.id = $2 AND c.deleted_at IS NOT NULL AND c.deleted_at > now() - make_interval(days => $3)
      FOR UPDATE`,
    [businessId, id, TRASH_DAYS],
  );
  const row = r0.rows[0];
  if (!row) throw notFound('contact in the trash');
  // Someone may have created the same person again while this one was in the trash.
  const dup = await findDuplicate(tx, businessId, row.email, row.phone, id);
  if (dup) throw duplicate(dup);
  const r = await tx.query<ContactRow>(
    `UPDATE app.contacts c SET deleted_at = NULL WHERE c.business_id = $1 AND c.id = $2 RETURNING ${CONTACT_COLUMNS}`,
    [businessId, id],
  );
  await recordContactEvent(tx, businessId, id, 'restored');
  return toContact(r.rows[0]!);
}

/** "Delete forever" from the trash: admins and owners only (enforced by the DELETE policy). */
export async function deleteContactForever(tx: Tx, businessId: string, id: string): Promise<void> {
  const r = await tx.query('DELETE FROM app.contacts WHERE business_id = $1 AND id = $2 AND deleted_at IS NOT NULL', [
    businessId,
    id,
  ]);
  if (r.rowCount === 1) return;
  const visible = await tx.query<{ trashed: boolean }>(
    'SELECT deleted_at IS NOT NULL AS trashed FROM app.contacts WHERE business_id = $1 AND id = $2',
    [businessId, id],
  );
  const seen = visible.rows[0];
  if (!seen) throw notFound('contact');
  if (!seen.trashed) throw new AppError('conflict', 'move the contact to the trash before deleting it forever');
  throw new AppError('forbidden', 'only owners and admins can delete contacts forever');
}

/**
 * Purge contacts that have been in the trash for more than TRASH_DAYS days, in every
 * business. Meant for the service role (`db.asService('crm.purge', purgeDeletedContacts)`),
 * whose DELETE policy allows nothing younger. Batched so one run never holds a huge
 * transaction; call again while it returns `batch`.
 */
export async function purgeDeletedContacts(tx: Tx, batch = 5000): Promise<number> {
  const r = await tx.query(
    `DELETE FROM app.contacts WHERE (business_id, id) IN (
       SELECT business_id, id FROM app.contacts WHERE deleted_at < now() - make_interval(days => $1) LIMIT $2)`,
    [TRASH_DAYS, batch],
  );
  return r.rowCount;
}
