// `capto keys rotate`: re-wrap EVERY value sealed by the master key (the kinds listed
// in sealed-kinds.ts: per-business data keys, JWT signing keys, …) under the current
// master key version, then prove that nothing is left under an old version. The
// wrapped values themselves do not change (a data key stays the same key, so no tenant
// secret is re-encrypted), and every node that knows both master key versions keeps
// working while this runs: each item is re-wrapped in its own short transaction (a row
// lock on that item only), so there is no downtime and a crash halfway leaves a
// consistent mix that a re-run finishes.
//
// Procedure (docs/OPERATIONS.md §4): CAPTO_MASTER_KEY="<new>:<key>,<old>:<key>" on every
// node (rolling restart), `capto keys rotate` until it reports "complete", then drop the
// old key. A report that is not complete means: do not drop the old key yet.
import type { Database } from '../db/index.ts';
import { isEnvelope, open, seal, VaultError, type Envelope } from './envelope.ts';
import type { MasterKey } from './master-key.ts';
import { MASTER_SEALED_KINDS, type MasterSealedKind } from './sealed-kinds.ts';

export interface KindRotation {
  label: string;
  table: string;
  /** Items re-wrapped by this run. */
  rewrapped: number;
  /** Items under the current version before this run touched them (already rotated). */
  alreadyCurrent: number;
  /** Items still sealed under another version after the run, and those versions. */
  remaining: number;
  remainingVersions: number[];
}

export interface RotationResult {
  masterKeyVersion: number;
  kinds: KindRotation[];
  /** Items that could not be opened (tampered, or sealed by a version CAPTO_MASTER_KEY does not list). */
  failed: Array<{ kind: string; item: string; version: number | undefined; reason: string }>;
  /** True only when every master-sealed item in the database is under the current version. */
  complete: boolean;
}

const IDENT = /^[a-z_]+(\.[a-z_]+)?$/;

function checked(kind: MasterSealedKind): MasterSealedKind {
  for (const name of [kind.table, kind.column, ...kind.key])
    if (!IDENT.test(name)) throw new Error(`sealed kind ${kind.label}: bad identifier ${name}`);
  return kind;
}

const staleFilter = (kind: MasterSealedKind) => `(${kind.column}->>'key_version')::int IS DISTINCT FROM $1::int`;

async function rotateKind(db: Database, master: MasterKey, kind: MasterSealedKind, result: RotationResult) {
  const current = master.current.version;
  const keyList = kind.key.join(', ');
  const where = kind.key.map((k, i) => `${k} = $${i + 1}`).join(' AND ');
  const summary: KindRotation = {
    label: kind.label,
    table: kind.table,
    rewrapped: 0,
    alreadyCurrent: 0,
    remaining: 0,
    remainingVersions: [],
  };
  const counts = await db.asService('vault.keys_rotate', (tx) =>
    tx.query<{ n: string }>(`SELECT count(*) AS n FROM ${kind.table} WHERE NOT ${staleFilter(kind)}`, [current]),
  );
  summary.alreadyCurrent = Number(counts.rows[0]?.n ?? 0);
  // Only the keys of stale rows are listed up front (small); each row is then locked,
  // re-checked and re-wrapped in its own transaction.
  const stale = await db.asService('vault.keys_rotate', (tx) =>
    tx.query<Record<string, unknown>>(
      `SELECT ${keyList} FROM ${kind.table} WHERE ${staleFilter(kind)} ORDER BY ${keyList}`,
      [current],
    ),
  );
  for (const keyRow of stale.rows) {
    const keyValues = kind.key.map((k) => keyRow[k]);
    const item = kind.key.map((k) => `${k}=${String(keyRow[k])}`).join(' ');
    let version: number | undefined;
    try {
      const done = await db.asService('vault.keys_rotate', async (tx) => {
        const r = await tx.query<{ sealed: Envelope }>(
          `SELECT ${kind.column} AS sealed FROM ${kind.table} WHERE ${where} FOR UPDATE`,
          keyValues,
        );
        const sealed = r.rows[0]?.sealed;
        if (sealed === undefined) return false; // deleted meanwhile
        if (!isEnvelope(sealed)) throw new VaultError('the stored value is not a vault envelope');
        version = sealed.key_version;
        if (version === current) return false; // rotated concurrently
        const kek = master.version(version);
        if (!kek) throw new VaultError(`master key version ${version} is not listed in CAPTO_MASTER_KEY`);
        const plaintext = open(kek, sealed, kind.aad(keyRow));
        const resealed = seal(master.current, plaintext, kind.aad(keyRow));
        const n = kind.key.length;
        const also = kind.alsoSet ? `, ${kind.alsoSet.replaceAll('$1', `$${n + 2}::int`)}` : '';
        await tx.query(`UPDATE ${kind.table} SET ${kind.column} = $${n + 1}::jsonb${also} WHERE ${where}`, [
          ...keyValues,
          JSON.stringify(resealed),
          ...(kind.alsoSet ? [current] : []),
        ]);
        return true;
      });
      if (done) summary.rewrapped++;
    } catch (e) {
      if (!(e instanceof VaultError)) throw e;
      result.failed.push({ kind: kind.label, item, version, reason: e.message });
    }
  }
  // The proof: count what is still under another version, after every item was tried.
  const left = await db.asService('vault.keys_rotate', (tx) =>
    tx.query<{ v: number | null; n: string }>(
      `SELECT (${kind.column}->>'key_version')::int AS v, count(*) AS n FROM ${kind.table}
        WHERE ${staleFilter(kind)} GROUP BY 1 ORDER BY 1`,
      [current],
    ),
  );
  for (const row of left.rows) {
    summary.remaining += Number(row.n);
    if (row.v !== null) summary.remainingVersions.push(row.v);
  }
  result.kinds.push(summary);
}

/** Re-wrap every master-sealed item under the current master key version; see the file comment. */
export async function rotateMasterKey(db: Database, master: MasterKey): Promise<RotationResult> {
  const result: RotationResult = { masterKeyVersion: master.current.version, kinds: [], failed: [], complete: false };
  for (const kind of MASTER_SEALED_KINDS) await rotateKind(db, master, checked(kind), result);
  result.complete = result.failed.length === 0 && result.kinds.every((k) => k.remaining === 0);
  return result;
}

/** The lines `capto keys rotate` prints. */
export function formatRotation(result: RotationResult): string[] {
  const lines = result.kinds.map(
    (k) =>
      `${k.label} (${k.table}): re-wrapped ${k.rewrapped}, already on version ${result.masterKeyVersion}: ${k.alreadyCurrent}, still under an old version: ${k.remaining}${k.remainingVersions.length ? ` (version ${k.remainingVersions.join(', ')})` : ''}`,
  );
  for (const f of result.failed)
    lines.push(
      `could not re-wrap ${f.kind} ${f.item}${f.version === undefined ? '' : ` (master key version ${f.version})`}: ${f.reason}`,
    );
  lines.push(
    result.complete
      ? `complete: everything sealed by the master key is under version ${result.masterKeyVersion}; the old versions may be removed from CAPTO_MASTER_KEY`
      : `NOT complete: items are still sealed under an old master key version — keep the old key in CAPTO_MASTER_KEY and run "capto keys rotate" again (every node must run with the new key first)`,
  );
  return lines;
}
