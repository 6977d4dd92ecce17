// Creating one valid row in any table, as capto_owner inside the probe's rolled-back
// transaction: parents first (walking foreign keys), the tenant key set to the
// business being populated, defaults kept, generated columns skipped. Each attempt
// runs in a savepoint; a table that still cannot get a row is reported with the
// database's reason instead of being skipped silently.
import pg from 'pg';
import type { Catalog, Column, Relation } from './catalog.ts';
import { tenantKey } from './catalog.ts';
import { generateValue } from './probe-values.ts';
import type { ScanConfig } from './types.ts';

export interface Scope {
  label: 'A' | 'B' | 'global';
  businessId?: string;
  /** The user that rows of this scope reference (the business owner). */
  userId?: string;
}

export interface MadeRow {
  row: Record<string, unknown>;
  ctid: string;
  /** Set when only an insert with ordinary triggers off worked: the trigger's complaint. */
  triggersOff?: string;
}

/**
 * Business-rule triggers (e.g. "an integration change needs an audit row by an admin in
 * the same transaction") guard workflows, not access. When they are all that stops a
 * probe row, the row is inserted by the session's superuser with
 * session_replication_role = replica (ENABLE ALWAYS triggers still fire); RLS, which the
 * probe tests, is not a trigger and is unaffected.
 */
export const TRIGGERS_OFF = 'SET LOCAL ROLE NONE; SET LOCAL session_replication_role = replica;';

export class RowError extends Error {}

export const qi = (ident: string) => `"${ident.replace(/"/g, '""')}"`;
export const qrel = (rel: Relation) => `${qi(rel.schema)}.${qi(rel.name)}`;

type Values = Map<string, string | null>;

/**
 * How to fill a row: only what NOT NULL demands, or every column; `alt` varies enum and
 * boolean picks; `onlyFk` fills exactly one optional foreign key (for CHECKs such as
 * num_nonnulls(contact_id, deal_id) = 1); `fresh` creates new parents instead of reusing.
 */
export interface Plan {
  full: boolean;
  alt: number;
  onlyFk?: string;
  fresh?: boolean;
}

/** Columns of a foreign key other than the tenant key (composite keys like (business_id, contact_id)). */
function ownFkColumns(rel: Relation, cols: number[], config: ScanConfig): Column[] {
  const key = tenantKey(rel, config)?.name;
  return cols.map((n) => rel.columns.find((c) => c.num === n)!).filter((c) => c.name !== key);
}

export function plansFor(rel: Relation, config: ScanConfig, fresh = false): Plan[] {
  const optionalFks = rel.foreignKeys.filter(
    (fk) => fk.ref !== rel.oid && ownFkColumns(rel, fk.cols, config).every((c) => !c.notNull),
  );
  return [
    { full: false, alt: 0, fresh },
    { full: true, alt: 0, fresh },
    { full: true, alt: 1, fresh },
    ...optionalFks.map((fk) => ({ full: false, alt: 0, onlyFk: fk.name, fresh })),
  ];
}

export class RowMaker {
  private cache = new Map<string, MadeRow>();
  private building = new Set<number>();
  private seq = 0;

  private readonly client: pg.ClientBase;
  private readonly cat: Catalog;
  readonly config: ScanConfig;

  constructor(client: pg.ClientBase, cat: Catalog, config: ScanConfig) {
    this.client = client;
    this.cat = cat;
    this.config = config;
  }

  seed(rel: Relation, scope: Scope, made: MadeRow): void {
    this.cache.set(`${rel.oid}|${scope.label}`, made);
  }

  cached(rel: Relation, scope: Scope): MadeRow | undefined {
    return this.cache.get(`${rel.oid}|${scope.label}`);
  }

  /** The scope's row of `rel` (created on first use). */
  async ensure(rel: Relation, scope: Scope): Promise<MadeRow> {
    const hit = this.cached(rel, scope);
    if (hit) return hit;
    const made = await this.create(rel, scope, {});
    this.seed(rel, scope, made);
    return made;
  }

  /** A new row of `rel` in `scope`, with `overrides` (column → text value). */
  async create(rel: Relation, scope: Scope, overrides: Record<string, string | null>): Promise<MadeRow> {
    let last = 'no attempt';
    let first: string | undefined;
    for (const triggersOff of [false, true]) {
      for (const plan of plansFor(rel, this.config)) {
        let values: Values;
        try {
          values = await this.values(rel, scope, overrides, plan);
        } catch (e) {
          throw e instanceof RowError ? e : new RowError((e as Error).message);
        }
        const sp = `probe_row_${++this.seq}`;
        await this.client.query(`SAVEPOINT ${sp}`);
        try {
          if (triggersOff) await this.client.query(TRIGGERS_OFF);
          const made = await this.insert(rel, values);
          if (triggersOff) await this.client.query(this.triggersOn());
          await this.client.query(`RELEASE SAVEPOINT ${sp}`);
          return triggersOff ? { ...made, triggersOff: first } : made;
        } catch (e) {
          await this.client.query(`ROLLBACK TO SAVEPOINT ${sp}; RELEASE SAVEPOINT ${sp}`);
          last = (e as Error).message;
          first ??= last;
        }
      }
    }
    throw new RowError(first ?? last);
  }

  /** Column values for a row (parents created as needed), following `plan`. */
  async values(rel: Relation, scope: Scope, overrides: Record<string, string | null>, plan: Plan): Promise<Values> {
    if (this.building.has(rel.oid)) throw new RowError(`foreign-key cycle through ${rel.qname}`);
    this.building.add(rel.oid);
    try {
      const full = plan.full;
      const values: Values = new Map();
      const key = tenantKey(rel, this.config);
      if (key && scope.businessId && !(key.name in overrides)) values.set(key.name, scope.businessId);

      for (const fk of rel.foreignKeys) {
        if (fk.ref === rel.oid) continue; // self reference: leave NULL
        const cols = fk.cols.map((n) => rel.columns.find((c) => c.num === n)!);
        if (cols.every((c) => c.name in overrides)) continue;
        const required = ownFkColumns(rel, fk.cols, this.config).some((c) => c.notNull && !c.hasDefault);
        // Rows point at the business owner where they reference a user (created_by, owner_id…),
        // as real rows do; policies such as "creator sees her import" need it for the positive control.
        const userRef = this.isUserTable(fk.ref) && scope.userId !== undefined && cols.every((c) => !c.hasDefault);
        const needed = required || userRef || plan.onlyFk === fk.name || (full && cols.every((c) => !c.hasDefault));
        if (!needed) continue;
        const parent = this.cat.byOid.get(fk.ref);
        if (!parent)
          throw new RowError(`${rel.qname}: foreign key ${fk.name} references a table outside the scanned schemas`);
        const made = await this.parentRow(parent, scope, plan.fresh ?? false);
        fk.refCols.forEach((refNum, i) => {
          const refName = parent.columns.find((c) => c.num === refNum)!.name;
          const v = made.row[refName];
          values.set(
            cols[i]!.name,
            v === null || v === undefined ? null : typeof v === 'object' ? JSON.stringify(v) : String(v),
          );
        });
      }

      for (const col of rel.columns) {
        if (col.name in overrides) {
          values.set(col.name, overrides[col.name]!);
          continue;
        }
        if (values.has(col.name) || col.generated || col.identity) continue;
        if (col.hasDefault) continue;
        if (!col.notNull && !full) continue;
        const g = generateValue(rel, col, plan.alt);
        if (!g.ok) {
          if (!col.notNull) continue;
          throw new RowError(`${rel.qname}: ${g.reason}`);
        }
        values.set(col.name, g.text);
      }
      return values;
    } finally {
      this.building.delete(rel.oid);
    }
  }

  private async parentRow(parent: Relation, scope: Scope, fresh: boolean): Promise<MadeRow> {
    // A parent outside any business (e.g. a global lookup table) is shared by both scopes.
    const parentScope =
      tenantKey(parent, this.config) || parent.qname === this.config.membership.userTable
        ? scope
        : { label: 'global' as const };
    const seeded = [
      this.config.membership.userTable,
      this.config.membership.businessTable,
      this.config.membership.table,
    ].includes(parent.qname);
    if (fresh && !seeded && parentScope.label !== 'global') return this.create(parent, parentScope, {});
    return this.ensure(parent, parentScope);
  }

  isUserTable(oid: number): boolean {
    return this.cat.byOid.get(oid)?.qname === this.config.membership.userTable;
  }

  /** The INSERT as one literal statement (run by personas through the request-transaction prelude). */
  insertSql(rel: Relation, values: Values): string {
    const cols = [...values.keys()];
    const typed = cols.map(
      (c) => `${literal(values.get(c) ?? null)}::${(rel.columns.find((x) => x.name === c) as Column).type}`,
    );
    return cols.length
      ? `INSERT INTO ${qrel(rel)} (${cols.map(qi).join(', ')}) VALUES (${typed.join(', ')})`
      : `INSERT INTO ${qrel(rel)} DEFAULT VALUES`;
  }

  /** Does this row insert as the owner? (Then rolled back: a control for the personas' attempts.) */
  triggersOn(): string {
    return `SET LOCAL session_replication_role = origin; SET LOCAL ROLE ${this.config.roles.owner};`;
  }

  async tryInsert(
    values: Values,
    rel: Relation,
    triggersOff = false,
  ): Promise<{ ok: true } | { ok: false; error: string }> {
    await this.client.query('SAVEPOINT probe_control');
    try {
      if (triggersOff) await this.client.query(TRIGGERS_OFF);
      await this.client.query(this.insertSql(rel, values));
      return { ok: true };
    } catch (e) {
      return { ok: false, error: (e as Error).message };
    } finally {
      await this.client.query('ROLLBACK TO SAVEPOINT probe_control; RELEASE SAVEPOINT probe_control');
    }
  }

  async insert(rel: Relation, values: Values): Promise<MadeRow> {
    const cols = [...values.keys()];
    const types = cols.map((c) => (rel.columns.find((x) => x.name === c) as Column).type);
    const sql = cols.length
      ? `INSERT INTO ${qrel(rel)} AS t (${cols.map(qi).join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}::${types[i]}`).join(', ')}) RETURNING pg_catalog.to_jsonb(t.*) AS row, t.ctid::text AS ctid`
      : `INSERT INTO ${qrel(rel)} AS t DEFAULT VALUES RETURNING pg_catalog.to_jsonb(t.*) AS row, t.ctid::text AS ctid`;
    const r = await this.client.query<{ row: Record<string, unknown>; ctid: string }>(sql, [...values.values()]);
    return { row: r.rows[0]!.row, ctid: r.rows[0]!.ctid };
  }
}

/**
 * A predicate selecting exactly this row: by primary key (column-level SELECT grants
 * do not cover ctid, so personas could not use it), else by ctid.
 */
export function whereRow(rel: Relation, made: MadeRow): string {
  const pk = rel.uniques.find((u) => u.primary) ?? rel.uniques[0];
  if (!pk) return `ctid = ${literal(made.ctid)}::tid`;
  return pk.cols
    .map((n) => {
      const col = rel.columns.find((c) => c.num === n)!;
      const v = made.row[col.name];
      return `${qi(col.name)} = ${literal(v === null || v === undefined ? null : typeof v === 'object' ? JSON.stringify(v) : String(v))}::${col.type}`;
    })
    .join(' AND ');
}

/** Values as SQL literals, for one-round-trip multi-statement probes. */
export function literal(v: string | null): string {
  return v === null ? 'NULL' : pg.escapeLiteral(v);
}
