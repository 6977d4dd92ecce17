// The SQL of one import batch. Every statement is set-based — one multi-row
// INSERT … SELECT FROM unnest(arrays) per batch rather than a statement per row — and
// runs in the caller's transaction as the importing user, so the contacts policies
// (business membership) apply to every row exactly as they do to the contact form.
import type { Tx } from '../../db/index.ts';
import type { ContactDraft } from './row-validation.ts';
import type { ExistingContact } from './batch-plan.ts';

const customColumn = (drafts: ContactDraft[]) => drafts.map((d) => (d.custom ? JSON.stringify(d.custom) : null));

/** Live contacts of the business that share an email or a phone with the batch. */
export async function findExistingContacts(
  tx: Tx,
  businessId: string,
  emails: string[],
  phones: string[],
): Promise<ExistingContact[]> {
  if (emails.length === 0 && phones.length === 0) return [];
  // Two index probes (the partial unique indexes of 0004) instead of one OR that
  // could degrade into a scan of the business's contacts. Emails are stored and looked
  // up lower-case (normaliseEmail), so a plain `=` is exact (0008).
  const r = await tx.query<ExistingContact>(
    `SELECT id, email::text AS email, phone FROM app.contacts
      WHERE business_id = $1 AND deleted_at IS NULL AND email IS NOT NULL AND email = ANY ($2::text[])
     UNION
     SELECT id, email::text AS email, phone FROM app.contacts
      WHERE business_id = $1 AND deleted_at IS NULL AND phone IS NOT NULL AND phone = ANY ($3::text[])`,
    [businessId, emails, phones],
  );
  return r.rows;
}

/**
 * Inserts the drafts; returns how many. A draft whose email or phone a concurrent writer took since the
 * lookup fails the statement (unique violation → `conflict`); the runner then splits
 * the batch, and each half plans again against a fresh lookup, which now sees that
 * contact. No ON CONFLICT clause: its pre-check probed all four unique indexes of every
 * row again (~10% of a batch) to cover a race that almost never happens.
 */
export async function insertContacts(
  tx: Tx,
  businessId: string,
  ownerId: string,
  jobId: string,
  drafts: ContactDraft[],
): Promise<number> {
  if (drafts.length === 0) return 0;
  const col = <K extends keyof ContactDraft>(k: K) => drafts.map((d) => d[k]);
  // import_job_id stands in for a per-contact 'imported' event: the timeline derives it (0008).
  // Custom values go as JSON text (NULL when the row has none, so such rows keep '{}' and
  // skip the custom-values trigger); the trigger checks the others against the definitions.
  const r = await tx.query(
    `INSERT INTO app.contacts (business_id, owner_id, import_job_id, first_name, last_name, phone, email, source, status, notes, custom)
     SELECT $1, $2, $3, coalesce(f, ''), coalesce(l, ''), p, e, coalesce(s, 'import')::app.contact_source,
            coalesce(st, 'lead')::app.contact_status, coalesce(n, ''), coalesce(cu::jsonb, '{}'::jsonb)
       FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[])
         AS u(f, l, p, e, s, st, n, cu)`,
    [
      businessId,
      ownerId,
      jobId,
      col('first_name'),
      col('last_name'),
      col('phone'),
      col('email'),
      col('source'),
      col('status'),
      col('notes'),
      customColumn(drafts),
    ],
  );
  return r.rowCount;
}

/** Applies the non-empty fields (and the given custom values) of each draft to its contact; returns the ids updated. */
export async function updateContacts(
  tx: Tx,
  businessId: string,
  updates: { contactId: string; draft: ContactDraft }[],
): Promise<string[]> {
  if (updates.length === 0) return [];
  const col = <K extends keyof ContactDraft>(k: K) => updates.map((u) => u.draft[k]);
  const r = await tx.query<{ id: string }>(
    `UPDATE app.contacts c SET
        first_name = coalesce(u.f, c.first_name),
        last_name = coalesce(u.l, c.last_name),
        phone = coalesce(u.p, c.phone),
        email = coalesce(u.e, c.email::text),
        source = coalesce(u.s::app.contact_source, c.source),
        status = coalesce(u.st::app.contact_status, c.status),
        notes = coalesce(u.n, c.notes),
        custom = CASE WHEN u.cu IS NULL THEN c.custom ELSE c.custom || u.cu::jsonb END
       FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
            AS u(id, f, l, p, e, s, st, n, cu)
      WHERE c.business_id = $1 AND c.id = u.id AND c.deleted_at IS NULL
     RETURNING c.id`,
    [
      businessId,
      updates.map((u) => u.contactId),
      col('first_name'),
      col('last_name'),
      col('phone'),
      col('email'),
      col('source'),
      col('status'),
      col('notes'),
      customColumn(updates.map((u) => u.draft)),
    ],
  );
  return r.rows.map((x) => x.id);
}

export interface ImportErrorRow {
  rowNumber: number;
  line: number;
  column: string | null;
  code: string;
  message: string;
  raw: string[];
}

export async function insertImportErrors(
  tx: Tx,
  businessId: string,
  jobId: string,
  errors: ImportErrorRow[],
): Promise<void> {
  if (errors.length === 0) return;
  await tx.query(
    `INSERT INTO app.import_errors (business_id, job_id, row_number, line, column_name, code, message, raw)
     SELECT $1, $2, r, l, c, k, m, w
       FROM unnest($3::int[], $4::int[], $5::text[], $6::text[], $7::text[], $8::jsonb[]) AS u(r, l, c, k, m, w)`,
    [
      businessId,
      jobId,
      errors.map((e) => e.rowNumber),
      errors.map((e) => e.line),
      errors.map((e) => e.column?.slice(0, 200) ?? null),
      errors.map((e) => e.code),
      errors.map((e) => e.message.slice(0, 500)),
      errors.map((e) => JSON.stringify(e.raw)),
    ],
  );
}
