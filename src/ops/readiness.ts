// Readiness that tells the truth (docs/OPERATIONS.md §1): /readyz is 200 only when this
// node can really serve. Besides "the database answers" it proves that the configured
// master key opens the vault (the current JWT signing key and one data key — a node
// started with another key would answer 500 to every sign-in), that every migration
// this code knows is applied, and that the start-up security scan found no ERROR. A
// node that is not ready says why in its log; the response only names the failing
// checks.
import { readMigrations } from '../db/migrator.ts';
import { asOwner, type Engine } from '../db/engine.ts';
import type { Database } from '../db/index.ts';
import type { Logger } from '../observability/logger.ts';
import { isEnvelope, open, VaultError, type Envelope } from '../vault/envelope.ts';
import type { MasterKey } from '../vault/master-key.ts';
import { JWT_SIGNING_KEY_AAD } from '../vault/sealed-kinds.ts';
import { unwrapDataKey } from '../vault/secrets.ts';

export interface ReadinessProblem {
  check: 'vault' | 'migrations' | 'scan';
  detail: string;
}

/**
 * Open the newest active JWT signing key and the newest data key with `master`.
 * Returns what failed (empty: the key opens the vault, or the vault is still empty).
 */
export async function proveVaultOpens(db: Database, master: MasterKey): Promise<ReadinessProblem[]> {
  return db.asService('ops.readiness.vault', async (tx) => {
    const problems: ReadinessProblem[] = [];
    const jwt = await tx.query<{ kid: string; private_key: Envelope }>(
      `SELECT kid, private_key FROM vault.jwt_signing_keys WHERE retired_at IS NULL ORDER BY created_at DESC LIMIT 1`,
    );
    const key = jwt.rows[0];
    if (key) {
      const version = isEnvelope(key.private_key) ? key.private_key.key_version : undefined;
      const kek = version === undefined ? undefined : master.version(version);
      if (!kek)
        problems.push({
          check: 'vault',
          detail: `the current JWT signing key ${key.kid} is sealed under master key version ${version}, which CAPTO_MASTER_KEY does not list`,
        });
      else {
        try {
          open(kek, key.private_key, JWT_SIGNING_KEY_AAD(key.kid));
        } catch {
          problems.push({
            check: 'vault',
            detail: `CAPTO_MASTER_KEY (version ${version}) does not open the current JWT signing key ${key.kid}: this node has a different master key than the one that sealed the vault`,
          });
        }
      }
    }
    const dk = await tx.query<{ business_id: string; version: number; wrapped: Envelope }>(
      `SELECT business_id, version, wrapped FROM vault.data_keys ORDER BY created_at DESC LIMIT 1`,
    );
    const row = dk.rows[0];
    if (row) {
      try {
        unwrapDataKey(master, row.business_id, row);
      } catch (e) {
        if (!(e instanceof VaultError)) throw e;
        problems.push({
          check: 'vault',
          detail: `CAPTO_MASTER_KEY does not open the data key of business ${row.business_id} (${e.message})`,
        });
      }
    }
    return problems;
  });
}

/** Migrations this code has that the database has not applied. */
export async function pendingMigrations(engine: Engine): Promise<string[]> {
  const applied = await asOwner(engine, async (c) => {
    const exists = await c.query(`SELECT to_regclass('capto_meta.schema_migrations') IS NOT NULL AS ok`);
    if (!(exists.rows[0] as { ok: boolean }).ok) return new Set<string>();
    const r = await c.query<{ version: string }>('SELECT version FROM capto_meta.schema_migrations');
    return new Set(r.rows.map((x) => x.version));
  });
  return readMigrations()
    .filter((m) => !applied.has(m.version))
    .map((m) => `${m.version}_${m.name}`);
}

export interface Readiness {
  /** The current problems (empty: ready). Cached briefly; a failure is re-checked at every call. */
  problems(): Promise<ReadinessProblem[]>;
}

export interface ReadinessOptions {
  db: Database;
  engine: Engine;
  masterKey: MasterKey;
  logger: Logger;
  /** Unwaived ERRORs of the start-up scan (undefined: the scan did not run). */
  scanErrors?: number;
  /** How long a passing result is trusted (ms): the vault check, and 4× that for migrations. */
  recheckMs?: number;
}

export function createReadiness(options: ReadinessOptions): Readiness {
  const ttl = options.recheckMs ?? 15_000;
  let vault: { at: number; problems: ReadinessProblem[] } | undefined;
  let migrations: { at: number; problems: ReadinessProblem[] } | undefined;
  let lastLogged: string | undefined;
  const scan: ReadinessProblem[] = options.scanErrors
    ? [
        {
          check: 'scan',
          detail: `the database security scan at start-up found ${options.scanErrors} error(s); run "capto scan"`,
        },
      ]
    : [];

  async function fresh<T extends { at: number; problems: ReadinessProblem[] }>(
    cached: T | undefined,
    maxAge: number,
    compute: () => Promise<ReadinessProblem[]>,
  ): Promise<{ at: number; problems: ReadinessProblem[] }> {
    if (cached && cached.problems.length === 0 && Date.now() - cached.at < maxAge) return cached;
    return { at: Date.now(), problems: await compute() };
  }

  return {
    async problems() {
      vault = await fresh(vault, ttl, () => proveVaultOpens(options.db, options.masterKey));
      migrations = await fresh(migrations, ttl * 4, async () =>
        (await pendingMigrations(options.engine)).map((m) => ({
          check: 'migrations' as const,
          detail: `migration ${m} is not applied to this database`,
        })),
      );
      const all = [...vault.problems, ...migrations.problems, ...scan];
      const key = all.map((p) => p.detail).join('\n');
      if (key !== lastLogged) {
        lastLogged = key;
        if (all.length > 0)
          options.logger.error(
            { problems: all.map((p) => p.detail) },
            `NOT READY: ${all.map((p) => p.detail).join('; ')}`,
          );
        else options.logger.info('ready: the master key opens the vault, migrations are applied, the scan is clean');
      }
      return all;
    },
  };
}
