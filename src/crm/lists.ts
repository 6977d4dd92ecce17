// Lists ("Past Clients", "Hot Leads", …): color-coded audiences of contacts. Bulk
// membership changes are single statements over the given ids, restricted to the
// caller's business by the WHERE clause, RLS and the composite foreign keys alike.
import type { Tx } from '../db/index.ts';
import { AppError, notFound } from '../shared/errors.ts';
import { recordContactEvents } from './contact-events.ts';
import { isoSql } from './cursor.ts';

export interface List {
  id: string;
  business_id: string;
  name: string;
  color: string;
  member_count: number;
  created_at: string;
  updated_at: string;
}

export const LIST_NAME_MAX = 100;
export const BULK_MAX = 1000;

interface ListRow {
  id: string;
  business_id: string;
  name: string;
  color: string;
  member_count: string | number;
  created_at: string;
  updated_at: string;
}

// Timestamps written by the database (`isoSql`, docs/ARCHITECTURE.md §3).
const LIST_COLUMNS = `l.id, l.business_id, l.name, l.color, ${isoSql('l.created_at')} AS created_at,
  ${isoSql('l.updated_at')} AS updated_at,
  (SELECT count(*) FROM app.list_members m WHERE m.business_id = l.business_id AND m.list_id = l.id) AS member_count`;

const toList = (r: ListRow): List => ({
  id: r.id,
  business_id: r.business_id,
  name: r.name,
  color: r.color,
  member_count: Number(r.member_count),
  created_at: r.created_at,
  updated_at: r.updated_at,
});

function nameTaken(): AppError {
  return new AppError('conflict', 'a list with this name already exists');
}

export async function listLists(tx: Tx, businessId: string): Promise<List[]> {
  const r = await tx.query<ListRow>(
    `SELECT ${LIST_COLUMNS} FROM app.lists l WHERE l.business_id = $1 ORDER BY lower(l.name), l.id`,
    [businessId],
  );
  return r.rows.map(toList);
}

export async function getList(tx: Tx, businessId: string, id: string): Promise<List> {
  const r = await tx.query<ListRow>(`SELECT ${LIST_COLUMNS} FROM app.lists l WHERE l.business_id = $1 AND l.id = $2`, [
    businessId,
    id,
  ]);
  if (!r.rows[0]) throw notFound('list');
  return toList(r.rows[0]);
}

export async function createList(tx: Tx, businessId: string, input: { name: string; color?: string }): Promise<List> {
  const r = await tx.query<{ id: string }>(
    `INSERT INTO app.lists (business_id, name, color, created_by) VALUES ($1, $2, coalesce($3, '#64748b'), (select app.uid()))
     ON CONFLICT DO NOTHING RETURNING id`,
    [businessId, input.name.trim(), input.color?.toLowerCase() ?? null],
  );
  if (!r.rows[0]) throw nameTaken();
  return getList(tx, businessId, r.rows[0].id);
}

export async function updateList(
  tx: Tx,
  businessId: string,
  id: string,
  input: { name?: string; color?: string },
): Promise<List> {
  if (input.name !== undefined) {
    const clash = await tx.query(
      'SELECT 1 FROM app.lists WHERE business_id = $1 AND lower(name) = lower($2) AND id <> $3',
      [businessId, input.name.trim(), id],
    );
    if (clash.rowCount > 0) throw nameTaken();
  }
  const r = await tx.query(
    `UPDATE app.lists SET name = coalesce($3, name), color = coalesce($4, color) WHERE business_id = $1 AND id = $2`,
    [businessId, id, input.name?.trim() ?? null, input.color?.toLowerCase() ?? null],
  );
  if (r.rowCount === 0) throw notFound('list');
  return getList(tx, businessId, id);
}

export async function deleteList(tx: Tx, businessId: string, id: string): Promise<void> {
  const r = await tx.query('DELETE FROM app.lists WHERE business_id = $1 AND id = $2', [businessId, id]);
  if (r.rowCount === 0) throw notFound('list');
}

async function assertList(tx: Tx, businessId: string, listId: string): Promise<{ name: string }> {
  const r = await tx.query<{ name: string }>('SELECT name FROM app.lists WHERE business_id = $1 AND id = $2', [
    businessId,
    listId,
  ]);
  if (!r.rows[0]) throw notFound('list');
  return r.rows[0];
}

/**
 * Add contacts to a list. Every id must be a live contact of this business: one
 * unknown (or foreign) id refuses the whole request with 404, and nothing is written.
 */
export async function addListMembers(
  tx: Tx,
  businessId: string,
  listId: string,
  contactIds: readonly string[],
): Promise<{ added: number }> {
  const list = await assertList(tx, businessId, listId);
  const ids = [...new Set(contactIds)];
  const found = await tx.query<{ n: string }>(
    'SELECT count(*) AS n FROM app.contacts WHERE business_id = $1 AND id = ANY ($2::uuid[]) AND deleted_at IS NULL',
    [businessId, ids],
  );
  if (Number(found.rows[0]?.n) !== ids.length) throw notFound('contact');
  const r = await tx.query<{ contact_id: string }>(
    `INSERT INTO app.list_members (business_id, list_id, contact_id, added_by)
     SELECT $1, $2, c, (select app.uid()) FROM unnest($3::uuid[]) AS c
     ON CONFLICT DO NOTHING RETURNING contact_id`,
    [businessId, listId, ids],
  );
  await recordContactEvents(
    tx,
    businessId,
    r.rows.map((x) => x.contact_id),
    'list_added',
    { list_id: listId, list_name: list.name },
  );
  return { added: r.rowCount };
}

export async function removeListMembers(
  tx: Tx,
  businessId: string,
  listId: string,
  contactIds: readonly string[],
): Promise<{ removed: number }> {
  const list = await assertList(tx, businessId, listId);
  const r = await tx.query<{ contact_id: string }>(
    'DELETE FROM app.list_members WHERE business_id = $1 AND list_id = $2 AND contact_id = ANY ($3::uuid[]) RETURNING contact_id',
    [businessId, listId, [...new Set(contactIds)]],
  );
  await recordContactEvents(
    tx,
    businessId,
    r.rows.map((x) => x.contact_id),
    'list_removed',
    { list_id: listId, list_name: list.name },
  );
  return { removed: r.rowCount };
}

/** The lists a contact belongs to. */
export async function listsOfContact(
  tx: Tx,
  businessId: string,
  contactId: string,
): Promise<Pick<List, 'id' | 'name' | 'color'>[]> {
  const c = await tx.query('SELECT 1 FROM app.contacts WHERE business_id = $1 AND id = $2', [businessId, contactId], {
    prepared: true,
  });
  if (c.rowCount === 0) throw notFound('contact');
  const r = await tx.query<{ id: string; name: string; color: string }>(
    `SELECT l.id, l.name, l.color FROM app.list_members m JOIN app.lists l ON l.business_id = m.business_id AND l.id = m.list_id
      WHERE m.business_id = $1 AND m.contact_id = $2 ORDER BY lower(l.name), l.id`,
    [businessId, contactId],
    { prepared: true }, // the contact page
  );
  return r.rows;
}
