// Custom fields (docs/ARCHITECTURE.md §12): per-business definitions of typed
// fields on contacts and deals, and the values on the records as `custom: {key: value}`.
// Owners and admins define (the policies of migration 0070 refuse anyone else); every
// member reads the definitions and writes values. Values are validated here against the
// definitions, with field-named messages, and again by the database trigger.
import type { Tx } from '../db/index.ts';
import { AppError, notFound } from '../shared/errors.ts';
import { isoSql } from './cursor.ts';

export const CUSTOM_FIELD_TYPES = ['text', 'number', 'money', 'date', 'choice', 'checkbox'] as const;
export const CUSTOM_ENTITIES = ['contact', 'deal'] as const;
export type CustomFieldType = (typeof CUSTOM_FIELD_TYPES)[number];
export type CustomEntity = (typeof CUSTOM_ENTITIES)[number];
export type CustomValue = string | number | boolean;
export type CustomValues = Record<string, CustomValue>;

/** At most this many fields per entity and business: every list row carries its values. */
export const MAX_FIELDS_PER_ENTITY = 50;
export const TEXT_MAX = 1000;
export const KEY_PATTERN = /^[a-z][a-z0-9_]{0,39}$/;

export interface CustomField {
  id: string;
  business_id: string;
  entity: CustomEntity;
  key: string;
  label: string;
  type: CustomFieldType;
  options: string[];
  position: number;
  created_at: string;
  updated_at: string;
}

/** Already the API's shape: the database writes the timestamps (`isoSql`, docs/ARCHITECTURE.md §3). */
const COLUMNS = `id, business_id, entity, key, label, type, options, position,
  ${isoSql('created_at')} AS created_at, ${isoSql('updated_at')} AS updated_at`;

export async function listCustomFields(tx: Tx, businessId: string, entity?: CustomEntity): Promise<CustomField[]> {
  const r = await tx.query<CustomField>(
    `SELECT ${COLUMNS} FROM app.custom_fields
      WHERE business_id = $1 AND ($2::text IS NULL OR entity = $2) ORDER BY entity, position, label, id`,
    [businessId, entity ?? null],
  );
  return r.rows;
}

async function assertAdmin(tx: Tx, businessId: string): Promise<void> {
  const r = await tx.query<{ ok: boolean }>(`SELECT app.has_role($1, 'admin') AS ok`, [businessId]);
  if (r.rows[0]?.ok !== true) throw new AppError('forbidden', 'only owners and admins can change custom fields');
}

function cleanOptions(type: CustomFieldType, options: string[] | undefined): string[] {
  if (type !== 'choice') {
    if (options && options.length > 0) throw new AppError('validation_failed', 'only a choice field has options');
    return [];
  }
  const out = [...new Set((options ?? []).map((o) => o.trim()).filter((o) => o !== ''))];
  if (out.length === 0) throw new AppError('validation_failed', 'a choice field needs at least one option');
  return out;
}

export interface CustomFieldCreate {
  entity: CustomEntity;
  key?: string;
  label: string;
  type: CustomFieldType;
  options?: string[];
  position?: number;
}

/** "Loan goal" → "loan_goal": the default key, safe as a merge-field name. */
export function keyFromLabel(label: string): string {
  const k = label
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^[^a-z]+/, '')
    .replace(/_+$/, '')
    .slice(0, 40)
    .replace(/_+$/, '');
  return k || 'field';
}

export async function createCustomField(tx: Tx, businessId: string, input: CustomFieldCreate): Promise<CustomField> {
  await assertAdmin(tx, businessId);
  const key = input.key ?? keyFromLabel(input.label);
  if (!KEY_PATTERN.test(key))
    throw new AppError('validation_failed', 'Key must start with a letter and use only a–z, 0–9 and _ (at most 40)');
  const options = cleanOptions(input.type, input.options);
  const count = await tx.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM app.custom_fields WHERE business_id = $1 AND entity = $2',
    [businessId, input.entity],
  );
  if ((count.rows[0]?.n ?? 0) >= MAX_FIELDS_PER_ENTITY)
    throw new AppError(
      'validation_failed',
      `A ${input.entity} can have at most ${MAX_FIELDS_PER_ENTITY} custom fields`,
    );
  const r = await tx.query<CustomField>(
    `INSERT INTO app.custom_fields (business_id, entity, key, label, type, options, position, created_by)
     VALUES ($1, $2, $3, $4, $5, $6::jsonb, coalesce($7, (SELECT count(*) FROM app.custom_fields x
       WHERE x.business_id = $1 AND x.entity = $2)), (select app.uid()))
     ON CONFLICT (business_id, entity, key) DO NOTHING
     RETURNING ${COLUMNS}`,
    [businessId, input.entity, key, input.label.trim(), input.type, JSON.stringify(options), input.position ?? null],
  );
  if (!r.rows[0])
    throw new AppError('conflict', `A ${input.entity} field with the key "${key}" already exists`, {
      details: { key },
    });
  return r.rows[0];
}

export interface CustomFieldUpdate {
  label?: string;
  options?: string[];
  position?: number;
}

export async function updateCustomField(
  tx: Tx,
  businessId: string,
  id: string,
  input: CustomFieldUpdate,
): Promise<CustomField> {
  await assertAdmin(tx, businessId);
  const cur = await tx.query<CustomField>(
    `SELECT ${COLUMNS} FROM app.custom_fields WHERE business_id = $1 AND id = $2 FOR UPDATE`,
    [businessId, id],
  );
  const field = cur.rows[0];
  if (!field) throw notFound('custom field');
  let options = field.options;
  if (input.options !== undefined) {
    options = cleanOptions(field.type, input.options);
    const removed = field.options.filter((o) => !options.includes(o));
    if (removed.length > 0) {
      const table = field.entity === 'contact' ? 'app.contacts' : 'app.deals';
      const used = await tx.query<{ v: string }>(
        `SELECT DISTINCT custom->>$2 AS v FROM ${table} WHERE business_id = $1 AND custom->>$2 = ANY($3::text[]) LIMIT 5`,
        [businessId, field.key, removed],
      );
      if (used.rows.length > 0)
        throw new AppError('conflict', `Some records still use ${used.rows.map((x) => `"${x.v}"`).join(', ')}`, {
          details: { in_use: used.rows.map((x) => x.v) },
        });
    }
  }
  const r = await tx.query<CustomField>(
    `UPDATE app.custom_fields SET label = coalesce($3, label), options = $4::jsonb, position = coalesce($5, position)
      WHERE business_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
    [businessId, id, input.label?.trim() ?? null, JSON.stringify(options), input.position ?? null],
  );
  return r.rows[0]!;
}

/** Deletes the definition and, in the same transaction, its values on every record. */
export async function deleteCustomField(tx: Tx, businessId: string, id: string): Promise<void> {
  await assertAdmin(tx, businessId);
  const cur = await tx.query<{ entity: CustomEntity; key: string }>(
    'SELECT entity, key FROM app.custom_fields WHERE business_id = $1 AND id = $2 FOR UPDATE',
    [businessId, id],
  );
  const field = cur.rows[0];
  if (!field) throw notFound('custom field');
  const table = field.entity === 'contact' ? 'app.contacts' : 'app.deals';
  await tx.query(`UPDATE ${table} SET custom = custom - $2::text WHERE business_id = $1 AND custom ? $2::text`, [
    businessId,
    field.key,
  ]);
  await tx.query('DELETE FROM app.custom_fields WHERE business_id = $1 AND id = $2', [businessId, id]);
}

/**
 * One value checked against its definition; returns the value to store. Messages are
 * for people ("Credit score must be a number"), since the web app shows them as they are.
 */
export function coerceCustomValue(field: Pick<CustomField, 'label' | 'type' | 'options'>, value: unknown): CustomValue {
  const bad = (what: string) => new AppError('validation_failed', `${field.label} must be ${what}`);
  switch (field.type) {
    case 'text':
      if (typeof value !== 'string') throw bad('text');
      if (value.length > TEXT_MAX) throw bad(`at most ${TEXT_MAX} characters`);
      return value;
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value) || Math.abs(value) >= 1e15) throw bad('a number');
      return value;
    case 'money':
      // Whole cents, like every amount in Capto.
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || Math.abs(value) > 100_000_000_000_000)
        throw bad('an amount in whole cents');
      return value;
    case 'date':
      if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value) || !isRealDate(value))
        throw bad('a date (YYYY-MM-DD)');
      return value;
    case 'choice':
      if (typeof value !== 'string' || !field.options.includes(value))
        throw bad(`one of ${field.options.map((o) => `"${o}"`).join(', ')}`);
      return value;
    case 'checkbox':
      if (typeof value !== 'boolean') throw bad('checked or unchecked (true or false)');
      return value;
  }
}

function isRealDate(s: string): boolean {
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
}

/**
 * Applies a patch ({key: value}, null removes the key) to the current values, checking
 * every key against the business's definitions for `entity`.
 */
export function mergeCustomValues(
  fields: CustomField[],
  current: CustomValues,
  patch: Record<string, unknown>,
): CustomValues {
  const byKey = new Map(fields.map((f) => [f.key, f]));
  const next: CustomValues = { ...current };
  for (const [key, value] of Object.entries(patch)) {
    const field = byKey.get(key);
    if (!field)
      throw new AppError('validation_failed', `There is no custom field "${key.slice(0, 40)}"`, { details: { key } });
    if (value === null || value === '') delete next[key];
    else next[key] = coerceCustomValue(field, value);
  }
  return next;
}

/** Sets a record's values from a patch, in the caller's transaction (RLS applies). */
export async function applyCustomPatch(
  tx: Tx,
  entity: CustomEntity,
  businessId: string,
  id: string,
  patch: Record<string, unknown> | undefined,
): Promise<CustomValues | undefined> {
  if (!patch || Object.keys(patch).length === 0) return undefined;
  const table = entity === 'contact' ? 'app.contacts' : 'app.deals';
  const cur = await tx.query<{ custom: CustomValues }>(
    `SELECT custom FROM ${table} WHERE business_id = $1 AND id = $2 FOR UPDATE`,
    [businessId, id],
  );
  if (!cur.rows[0]) throw notFound(entity);
  const next = mergeCustomValues(await listCustomFields(tx, businessId, entity), cur.rows[0].custom, patch);
  await tx.query(`UPDATE ${table} SET custom = $3::jsonb WHERE business_id = $1 AND id = $2`, [
    businessId,
    id,
    JSON.stringify(next),
  ]);
  return next;
}

export interface CustomFilter {
  key: string;
  value: string;
}

/** "credit_tier:A" → {key, value}; the split is at the first colon. */
export function parseCustomFilter(raw: string): CustomFilter {
  const i = raw.indexOf(':');
  if (i <= 0) throw new AppError('validation_failed', 'A custom-field filter is key:value');
  return { key: raw.slice(0, i), value: raw.slice(i + 1) };
}

/**
 * SQL conditions for list filters on custom values. Text compares case-insensitively;
 * every other type compares the typed JSON value by containment. `p` adds a parameter.
 */
export function customFilterSql(
  fields: CustomField[],
  filters: CustomFilter[],
  alias: string,
  p: (v: unknown) => string,
): string[] {
  const byKey = new Map(fields.map((f) => [f.key, f]));
  return filters.map(({ key, value }) => {
    const field = byKey.get(key);
    if (!field)
      throw new AppError('validation_failed', `There is no custom field "${key.slice(0, 40)}"`, { details: { key } });
    if (field.type === 'text') return `lower(${alias}.custom->>${p(key)}) = lower(${p(value)})`;
    let typed: unknown;
    if (field.type === 'checkbox') {
      if (value !== 'true' && value !== 'false')
        throw new AppError('validation_failed', `${field.label} filter is true or false`);
      typed = value === 'true';
    } else if (field.type === 'number' || field.type === 'money') {
      typed = Number(value);
      if (value.trim() === '' || !Number.isFinite(typed))
        throw new AppError('validation_failed', `${field.label} filter must be a number`);
    } else typed = coerceCustomValue(field, value);
    // Unchecked boxes are usually stored as absent: "false" also matches records without a value.
    if (typed === false) return `coalesce(${alias}.custom->${p(key)}, 'false'::jsonb) = 'false'::jsonb`;
    return `${alias}.custom @> ${p(JSON.stringify({ [key]: typed }))}::jsonb`;
  });
}
