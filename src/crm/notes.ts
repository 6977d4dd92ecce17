// Notes on a contact or on a deal. The author edits her own notes; the author or an
// admin deletes them — both enforced by the notes policies, so a refused change is
// told apart from a missing note only after RLS has decided.
import type { Tx } from '../db/index.ts';
import { AppError, notFound } from '../shared/errors.ts';
import { decodeCursor, isoSql, page } from './cursor.ts';

export const NOTE_MAX = 10_000;

export interface Note {
  id: string;
  business_id: string;
  contact_id: string | null;
  deal_id: string | null;
  body: string;
  author_id: string | null;
  created_at: string;
  updated_at: string;
}

export type NoteTarget = { contact_id: string } | { deal_id: string };

// Rows come back in the API's shape: timestamps written by the database (`isoSql`).
const NOTE_COLUMNS = `n.id, n.business_id, n.contact_id, n.deal_id, n.body, n.author_id,
  ${isoSql('n.created_at')} AS created_at, ${isoSql('n.updated_at')} AS updated_at`;

async function assertTarget(tx: Tx, businessId: string, target: NoteTarget): Promise<void> {
  const [table, id, what] =
    'contact_id' in target ? ['contacts', target.contact_id, 'contact'] : ['deals', target.deal_id, 'deal'];
  const r = await tx.query(`SELECT 1 FROM app.${table} WHERE business_id = $1 AND id = $2`, [businessId, id]);
  if (r.rowCount === 0) throw notFound(what);
}

export async function createNote(tx: Tx, businessId: string, target: NoteTarget, body: string): Promise<Note> {
  await assertTarget(tx, businessId, target);
  const r = await tx.query<Note>(
    `INSERT INTO app.notes AS n (business_id, contact_id, deal_id, body, author_id) VALUES ($1, $2, $3, $4, (select app.uid()))
     RETURNING ${NOTE_COLUMNS}`,
    [businessId, 'contact_id' in target ? target.contact_id : null, 'deal_id' in target ? target.deal_id : null, body],
  );
  return r.rows[0]!;
}

export async function listNotes(
  tx: Tx,
  businessId: string,
  target: NoteTarget,
  query: { limit: number; cursor?: string },
): Promise<{ items: Note[]; next_cursor: string | null }> {
  await assertTarget(tx, businessId, target);
  const column = 'contact_id' in target ? 'contact_id' : 'deal_id';
  const params: unknown[] = [businessId, 'contact_id' in target ? target.contact_id : target.deal_id];
  let keyset = '';
  const cursor = decodeCursor(query.cursor, 2);
  if (cursor) {
    params.push(cursor[0], cursor[1]);
    keyset = 'AND (n.created_at, n.id) < ($3::timestamptz, $4::uuid)';
  }
  params.push(query.limit + 1);
  const r = await tx.query<Note & { k: string }>(
    `SELECT ${NOTE_COLUMNS}, n.created_at::text AS k FROM app.notes n WHERE n.business_id = $1 AND n.${column} = $2 ${keyset}
      ORDER BY n.created_at DESC, n.id DESC LIMIT $${params.length}`,
    params,
  );
  const out = page(r.rows, query.limit, (row) => [row.k, row.id]);
  return { items: out.items.map(({ k: _k, ...row }) => row), next_cursor: out.next_cursor };
}

export async function updateNote(tx: Tx, businessId: string, id: string, body: string): Promise<Note> {
  const r = await tx.query<Note>(
    `UPDATE app.notes n SET body = $3 WHERE n.business_id = $1 AND n.id = $2 RETURNING ${NOTE_COLUMNS}`,
    [businessId, id, body],
  );
  if (r.rows[0]) return r.rows[0];
  await assertVisible(tx, businessId, id);
  throw new AppError('forbidden', 'only the author can edit a note');
}

export async function deleteNote(tx: Tx, businessId: string, id: string): Promise<void> {
  const r = await tx.query('DELETE FROM app.notes WHERE business_id = $1 AND id = $2', [businessId, id]);
  if (r.rowCount === 1) return;
  await assertVisible(tx, businessId, id);
  throw new AppError('forbidden', 'only the author or an admin can delete a note');
}

async function assertVisible(tx: Tx, businessId: string, id: string): Promise<void> {
  const r = await tx.query('SELECT 1 FROM app.notes WHERE business_id = $1 AND id = $2', [businessId, id]);
  if (r.rowCount === 0) throw notFound('note');
}
