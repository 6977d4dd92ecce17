// CSV export of a business's contacts, for owners and admins only. The role is checked
// twice: here, before anything is streamed (a member gets 403, a stranger 404), and in
// the SQL of every page (`app.has_role(…, 'admin')` in the WHERE clause), so a page
// query reused elsewhere, or a role lost mid-export, yields no rows. Pages are keyset
// reads in separate short transactions: an export of 100k contacts never holds one
// transaction open (on the embedded engine that would stall every other request).
import { Readable } from 'node:stream';
import type { Database, Tx } from '../../db/index.ts';
import { AppError } from '../../shared/errors.ts';
import { isoSql } from '../cursor.ts';
import { listCustomFields } from '../custom-fields.ts';
import { writeCustomCell, type FieldDef } from './custom-cells.ts';
import { csvLine, UTF8_BOM } from './csv-writer.ts';
import { customTarget } from './header-mapping.ts';

export const EXPORT_COLUMNS = [
  'id',
  'first_name',
  'last_name',
  'phone',
  'email',
  'source',
  'status',
  'notes',
  'owner_email',
  'created_at',
  'updated_at',
] as const;

interface ExportRow {
  id: string;
  first_name: string;
  last_name: string;
  phone: string | null;
  email: string | null;
  source: string;
  status: string;
  notes: string;
  owner_email: string | null;
  created_at: string;
  updated_at: string;
  custom: Record<string, unknown>;
  /** the page's keyset position: `created_at` as PostgreSQL writes it, microseconds included */
  k: string;
}

/** Where the next page starts: the last row's `k` and id (a JS Date would drop the microseconds). */
type After = { k: string; id: string };

/**
 * Headers of the custom columns, after the fixed ones: each field's label, or
 * `custom.<key>` when the label would repeat a header. The import maps both back.
 */
export function customHeaders(fields: readonly FieldDef[]): string[] {
  const norm = (h: string) => h.toLowerCase().replace(/[^a-z0-9]/g, '');
  const taken = new Set<string>(EXPORT_COLUMNS.map(norm));
  return fields.map((f) => {
    const header = taken.has(norm(f.label)) ? customTarget(f.key) : f.label;
    taken.add(norm(header));
    return header;
  });
}

/** Only owners and admins export; membership was checked by the caller (`inBusiness`, src/server/scope.ts). */
export async function assertCanExport(tx: Tx, businessId: string): Promise<void> {
  const r = await tx.query<{ admin: boolean }>(`SELECT app.has_role($1, 'admin') AS admin`, [businessId]);
  if (r.rows[0]?.admin !== true) throw new AppError('forbidden', 'only owners and admins can export contacts');
}

export async function exportPage(tx: Tx, businessId: string, after: After | null, limit: number): Promise<ExportRow[]> {
  const r = await tx.query<ExportRow>(
    `SELECT c.id, c.first_name, c.last_name, c.phone, c.email::text AS email, c.source::text AS source,
            c.status::text AS status, c.notes, u.email::text AS owner_email,
            ${isoSql('c.created_at')} AS created_at, ${isoSql('c.updated_at')} AS updated_at, c.custom,
            c.created_at::text AS k
       FROM app.contacts c
       LEFT JOIN auth.users u ON u.id = c.owner_id
      WHERE c.business_id = $1 AND c.deleted_at IS NULL
        AND (select app.has_role($1, 'admin'))
        AND ($2::timestamptz IS NULL OR (c.created_at, c.id) > ($2::timestamptz, $3::uuid))
      ORDER BY c.created_at, c.id
      LIMIT $4`,
    [businessId, after?.k ?? null, after?.id ?? null, limit],
  );
  return r.rows;
}

/**
 * A stream of the export, pulled page by page as the client reads (backpressure
 * from the socket pauses the queries). The caller has already run assertCanExport.
 */
export function exportContactsCsv(db: Database, userId: string, businessId: string, pageSize = 2000): Readable {
  let after: After | null = null;
  let fields: FieldDef[] | null = null;
  let done = false;
  return new Readable({
    async read() {
      try {
        if (!fields) {
          // The business's contact custom fields as they are when the export starts.
          const defs = await db.asUser({ sub: userId }, (tx) => listCustomFields(tx, businessId, 'contact'));
          fields = defs;
          this.push(UTF8_BOM + csvLine([...EXPORT_COLUMNS, ...customHeaders(defs)]));
          return;
        }
        const defs = fields;
        if (done) return;
        const rows = await db.asUser({ sub: userId }, async (tx) => {
          await assertCanExport(tx, businessId); // the role may have been revoked since the last page
          return exportPage(tx, businessId, after, pageSize);
        });
        const last = rows[rows.length - 1];
        if (last) after = { k: last.k, id: last.id };
        if (rows.length < pageSize) done = true;
        const text = rows
          .map((r) =>
            csvLine([...EXPORT_COLUMNS.map((c) => r[c]), ...defs.map((f) => writeCustomCell(f, r.custom[f.key]))]),
          )
          .join('');
        if (text) this.push(text);
        if (done) this.push(null);
      } catch (e) {
        this.destroy(e instanceof Error ? e : new Error(String(e)));
      }
    },
  });
}
